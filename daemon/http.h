/* The HTTP side: libmicrohttpd daemons (one per listening address) in epoll
 * mode with an internal polling thread each, suspend/resume for streams. */
#ifndef SYSFEED_HTTP_H
#define SYSFEED_HTTP_H

#include <stddef.h>
#include <stdint.h>

struct config;
struct hub;
struct hub_conn_ops;
struct http;
struct store;

struct http_info {
	struct hub *hub;
	const char *const *topic_names; /* NULL-terminated, index = topic */
	int64_t start_ms;               /* CLOCK_REALTIME at start, for uptime */
	const int *fds;                 /* listening sockets handed over (socket activation) */
	size_t n_fds;                   /* when set, cfg->listen is not bound */
	struct store *store;            /* /api/history reads it */
};

/* Binds every address in cfg->listen (https:// ones with TLS) (a default address that fails is
 * skipped with a warning; an explicit one fails the start), or takes the
 * sockets in info->fds, and starts serving. Returns NULL with a one-line reason in err. */
struct http *http_start(const struct config *cfg, const struct http_info *info, char *err,
			size_t err_len);
/* --check-config: the listen rules (beyond loopback only with TLS and
 * authentication) and the TLS, users and tokens files, without binding.
 * Returns 0, or -EINVAL with a one-line reason in err. */
int http_check(const struct config *cfg, char *err, size_t err_len);
/* Applies what can change without a restart (allowed hosts, web root),
 * and reads the TLS, users and tokens files again: new handshakes and
 * requests use them, connections already up keep going. Returns 0, or
 * -errno with a one-line reason in err (then nothing changed). */
int http_reconfigure(struct http *http, const struct config *cfg, char *err, size_t err_len);
/* The hub operations that suspend, resume and abort a stream's connection. */
extern const struct hub_conn_ops http_conn_ops;
/* Loop thread, about once a second: closes connections past their
 * deadlines, prints held-back library messages once a minute. */
void http_housekeep(struct http *http);
/* An fd for the loop's epoll set, readable when a stream's peer went
 * away; then call http_reap, which ends those streams. */
int http_watch_fd(struct http *http);
void http_reap(struct http *http);
/* An fd for the loop's epoll set, readable when a scrape of /metrics
 * waits for the texts of the latest tick (hub_metrics_scrape): read it,
 * write them (topics_metrics), then call http_metrics_written, which
 * answers the waiting scrapes. */
int http_metrics_fd(struct http *http);
void http_metrics_written(struct http *http);
/* Stops accepting, ends every stream, and stops the daemons. */
void http_stop(struct http *http);

#endif
