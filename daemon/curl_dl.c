/* libcurl loaded on first need: see curl_dl.h. */
#include "curl_dl.h"

#include <dlfcn.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "dl.h"

#define MAX_FDS 64

/* The library's entry points. */
static struct {
	CURLcode (*global_init)(long flags);
	void (*global_cleanup)(void);
	CURLM *(*multi_init)(void);
	CURLMcode (*multi_cleanup)(CURLM *m);
	CURLMcode (*multi_add_handle)(CURLM *m, CURL *c);
	CURLMcode (*multi_remove_handle)(CURLM *m, CURL *c);
	CURLMcode (*multi_poll)(CURLM *m, struct curl_waitfd *fds, unsigned n, int timeout_ms,
				int *numfds);
	CURLMcode (*multi_perform)(CURLM *m, int *running);
	CURLMsg *(*multi_info_read)(CURLM *m, int *left);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *c);
	CURLcode (*easy_setopt)(CURL *c, CURLoption opt, ...);
	CURLcode (*easy_getinfo)(CURL *c, CURLINFO info, ...);
	const char *(*easy_strerror)(CURLcode code);
	struct curl_slist *(*slist_append)(struct curl_slist *list, const char *s);
	void (*slist_free_all)(struct curl_slist *list);
} lib;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static void *handle;
static char load_err[200];

struct cdl_multi {
	CURLM *real; /* NULL until the first transfer */
	int wake_fd; /* an eventfd: wake-ups in either state */
};

static void load_once(void)
{
	static const char *const names[] = {"libcurl-gnutls.so.4", "libcurl.so.4"};
	const struct dl_sym syms[] = {
#define SYM(f) {(void **)&lib.f, "curl_" #f}
	    SYM(global_init),      SYM(global_cleanup),      SYM(multi_init),   SYM(multi_cleanup),
	    SYM(multi_add_handle), SYM(multi_remove_handle), SYM(multi_poll),   SYM(multi_perform),
	    SYM(multi_info_read),  SYM(easy_init),           SYM(easy_cleanup), SYM(easy_setopt),
	    SYM(easy_getinfo),     SYM(easy_strerror),       SYM(slist_append), SYM(slist_free_all),
#undef SYM
	};
	char why[160];
	void *h = dl_load(names, sizeof(names) / sizeof(names[0]), syms,
			  sizeof(syms) / sizeof(syms[0]), why, sizeof(why));

	if (!h) {
		snprintf(load_err, sizeof(load_err), "libcurl not loaded: %s", why);
		return;
	}
	if (lib.global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(load_err, sizeof(load_err), "libcurl would not start");
		dlclose(h);
		return;
	}
	handle = h;
}

int cdl_load(char *err, size_t err_len)
{
	pthread_once(&once, load_once);
	if (handle)
		return 0;
	if (err)
		snprintf(err, err_len, "%s", load_err);
	return -ENOENT;
}

bool cdl_loaded(void)
{
	return __atomic_load_n(&handle, __ATOMIC_ACQUIRE) != NULL;
}

struct cdl_multi *cdl_multi_init(void)
{
	struct cdl_multi *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (m->wake_fd < 0) {
		free(m);
		return NULL;
	}
	return m;
}

void cdl_multi_cleanup(struct cdl_multi *m)
{
	if (!m)
		return;
	if (m->real)
		lib.multi_cleanup(m->real);
	close(m->wake_fd);
	free(m);
}

void cdl_multi_wakeup(struct cdl_multi *m)
{
	uint64_t one = 1;

	/* the eventfd is among the fds of every wait, the library's too */
	if (write(m->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		return;
}

CURLMcode cdl_multi_add_handle(struct cdl_multi *m, CURL *easy)
{
	if (!m->real && (cdl_load(NULL, 0) < 0 || !(m->real = lib.multi_init())))
		return CURLM_OUT_OF_MEMORY;
	return lib.multi_add_handle(m->real, easy);
}

CURLMcode cdl_multi_remove_handle(struct cdl_multi *m, CURL *easy)
{
	return m->real ? lib.multi_remove_handle(m->real, easy) : CURLM_BAD_EASY_HANDLE;
}

CURLMcode cdl_multi_poll(struct cdl_multi *m, struct curl_waitfd *fds, unsigned n, int timeout_ms)
{
	struct curl_waitfd all[MAX_FDS + 1];
	uint64_t count;
	CURLMcode r = CURLM_OK;

	if (n > MAX_FDS)
		n = MAX_FDS;
	memcpy(all, fds, n * sizeof(*fds));
	all[n] = (struct curl_waitfd){.fd = m->wake_fd, .events = CURL_WAIT_POLLIN};
	if (m->real) {
		r = lib.multi_poll(m->real, all, n + 1, timeout_ms, NULL);
	} else {
		struct pollfd p[MAX_FDS + 1];

		for (unsigned i = 0; i <= n; i++)
			p[i] = (struct pollfd){
			    .fd = all[i].fd,
			    .events = (short)((all[i].events & CURL_WAIT_POLLIN ? POLLIN : 0) |
					      (all[i].events & CURL_WAIT_POLLPRI ? POLLPRI : 0) |
					      (all[i].events & CURL_WAIT_POLLOUT ? POLLOUT : 0))};
		if (poll(p, n + 1, timeout_ms) < 0 && errno != EINTR)
			r = CURLM_INTERNAL_ERROR;
		for (unsigned i = 0; i < n; i++)
			fds[i].revents = (short)((p[i].revents & POLLIN ? CURL_WAIT_POLLIN : 0) |
						 (p[i].revents & POLLPRI ? CURL_WAIT_POLLPRI : 0) |
						 (p[i].revents & POLLOUT ? CURL_WAIT_POLLOUT : 0));
		if (read(m->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
			r = CURLM_INTERNAL_ERROR;
		return r;
	}
	for (unsigned i = 0; i < n; i++)
		fds[i].revents = all[i].revents;
	if (read(m->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		r = CURLM_INTERNAL_ERROR;
	return r;
}

CURLMcode cdl_multi_perform(struct cdl_multi *m, int *running)
{
	if (!m->real) {
		*running = 0;
		return CURLM_OK;
	}
	return lib.multi_perform(m->real, running);
}

CURLMsg *cdl_multi_info_read(struct cdl_multi *m, int *left)
{
	if (!m->real) {
		*left = 0;
		return NULL;
	}
	return lib.multi_info_read(m->real, left);
}

CURL *cdl_easy_init(void)
{
	return cdl_load(NULL, 0) < 0 ? NULL : lib.easy_init();
}

void cdl_easy_cleanup(CURL *c)
{
	if (c && cdl_loaded())
		lib.easy_cleanup(c);
}

/* Each option's one argument, passed on as its type: curl.h numbers the
 * options by the type of their argument. */
CURLcode cdl_easy_setopt(CURL *c, CURLoption opt, ...)
{
	va_list ap;
	CURLcode r;

	if (!cdl_loaded())
		return CURLE_FAILED_INIT;
	va_start(ap, opt);
	if (opt < CURLOPTTYPE_OBJECTPOINT)
		r = lib.easy_setopt(c, opt, va_arg(ap, long));
	else if (opt < CURLOPTTYPE_FUNCTIONPOINT)
		r = lib.easy_setopt(c, opt, va_arg(ap, void *));
	else if (opt < CURLOPTTYPE_OFF_T)
		r = lib.easy_setopt(c, opt, va_arg(ap, void (*)(void)));
	else if (opt < CURLOPTTYPE_BLOB)
		r = lib.easy_setopt(c, opt, va_arg(ap, curl_off_t));
	else
		r = lib.easy_setopt(c, opt, va_arg(ap, void *));
	va_end(ap);
	return r;
}

CURLcode cdl_easy_getinfo(CURL *c, CURLINFO info, void *ret)
{
	return cdl_loaded() ? lib.easy_getinfo(c, info, ret) : CURLE_FAILED_INIT;
}

const char *cdl_easy_strerror(CURLcode code)
{
	return cdl_loaded() ? lib.easy_strerror(code) : load_err;
}

struct curl_slist *cdl_slist_append(struct curl_slist *list, const char *s)
{
	return cdl_load(NULL, 0) < 0 ? NULL : lib.slist_append(list, s);
}

void cdl_slist_free_all(struct curl_slist *list)
{
	if (list && cdl_loaded())
		lib.slist_free_all(list);
}

void cdl_global_cleanup(void)
{
	if (cdl_loaded())
		lib.global_cleanup();
}
