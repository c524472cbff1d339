/* Libraries loaded on first need: see dl.h. */
#include "dl.h"

#include <dlfcn.h>
#include <stdio.h>

void *dl_load(const char *const *names, size_t n_names, const struct dl_sym *syms, size_t n_syms,
	      char *err, size_t err_len)
{
	void *h = NULL;
	size_t i;

	for (i = 0; !h && i < n_names; i++) {
		if (!(h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL)) && i == 0) {
			const char *why = dlerror();

			/* the first name's reason: the others are fallbacks */
			snprintf(err, err_len, "%s", why ? why : names[0]);
		}
	}
	if (!h)
		return NULL;
	for (size_t k = 0; k < n_syms; k++) {
		if (!(*syms[k].slot = dlsym(h, syms[k].name))) {
			snprintf(err, err_len, "%s without %s", names[i - 1], syms[k].name);
			dlclose(h);
			return NULL;
		}
	}
	return h;
}
