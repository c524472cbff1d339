/* libcurl, loaded with dlopen() on first need: a daemon with no webhook
 * never maps it (libcurl and what it pulls in, libssh2's libcrypto among
 * them, cost about 5 MB of resident memory). Before the first transfer
 * the multi handle is a plain poll() on the caller's fds and a wake-up
 * eventfd; the first cdl_multi_add_handle() loads the library. The same
 * calls as libcurl's (the types are curl.h's), with cdl_ for curl_. */
#ifndef SYSFEED_CURL_DL_H
#define SYSFEED_CURL_DL_H

#include <stdbool.h>

#include <curl/curl.h>

struct cdl_multi;

/* Loads libcurl now (libcurl-gnutls.so.4, else libcurl.so.4); 0, or
 * -ENOENT with the reason in err. Thread-safe, once. */
int cdl_load(char *err, size_t err_len);
/* Whether it has been loaded. */
bool cdl_loaded(void);

struct cdl_multi *cdl_multi_init(void);
void cdl_multi_cleanup(struct cdl_multi *m);
/* Any thread. */
void cdl_multi_wakeup(struct cdl_multi *m);
CURLMcode cdl_multi_add_handle(struct cdl_multi *m, CURL *easy);
CURLMcode cdl_multi_remove_handle(struct cdl_multi *m, CURL *easy);
CURLMcode cdl_multi_poll(struct cdl_multi *m, struct curl_waitfd *fds, unsigned n, int timeout_ms);
CURLMcode cdl_multi_perform(struct cdl_multi *m, int *running);
CURLMsg *cdl_multi_info_read(struct cdl_multi *m, int *left);

/* These load libcurl (NULL or an error code when it cannot be). */
CURL *cdl_easy_init(void);
void cdl_easy_cleanup(CURL *c);
CURLcode cdl_easy_setopt(CURL *c, CURLoption opt, ...);
CURLcode cdl_easy_getinfo(CURL *c, CURLINFO info, void *ret);
const char *cdl_easy_strerror(CURLcode code);
struct curl_slist *cdl_slist_append(struct curl_slist *list, const char *s);
void cdl_slist_free_all(struct curl_slist *list);
/* At exit, when it was loaded. */
void cdl_global_cleanup(void);

#endif
