/* Libraries loaded with dlopen() on first need, so that a daemon that
 * does not use them never maps them (libcurl, SQLite, libcrypt). */
#ifndef SYSFEED_DL_H
#define SYSFEED_DL_H

#include <stddef.h>

/* A symbol and where its address goes. */
struct dl_sym {
	void **slot;
	const char *name;
};

/* Loads the first of names that opens (RTLD_NOW | RTLD_LOCAL) and fills
 * every slot. Returns the handle, or NULL with the reason in err (slots
 * then partly filled: use none). */
void *dl_load(const char *const *names, size_t n_names, const struct dl_sym *syms, size_t n_syms,
	      char *err, size_t err_len);

#endif
