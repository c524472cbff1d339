/* The HTTP side's insides, shared by http.c (the server: listeners,
 * connection budgets, routing) and http_serve.c (the answers). Not a
 * public API. */
#ifndef SYSFEED_HTTP_IMPL_H
#define SYSFEED_HTTP_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <microhttpd.h>

#include "config.h"
#include "http.h"
#include "hub.h"

struct auth_db;
struct auth_limit;

#define HTTP_BLOCK_BYTES   256   /* the reader's block when not chunked (HTTP/1.0) */
#define HTTP_MAX_WAITING   128   /* connections without a full request: the oldest makes room */
#define HTTP_MAX_ACTIVE    64    /* answers under way besides streams: the oldest is cut */
#define HTTP_HEADER_MS     10000 /* accept (or the last answer) to a full request */
#define HTTP_ANSWER_MS     60000 /* a full request to the end of its answer */
#define HTTP_TIMEOUT_S     60    /* no progress for this long closes a connection */
#define HTTP_MAX_ARGS      32    /* query arguments; more get 414 */
#define HTTP_STREAM_SNDBUF (32 << 10) /* a stream's socket buffer: stalls show early */
#define HTTP_MAX_FILE      (16u << 20)
#define LOG_BURST          5 /* libmicrohttpd lines per minute before a summary */

struct listener {
	struct MHD_Daemon *mhd;
	struct http *http;
	int fd;
	bool tls;    /* https:// */
	bool authed; /* every request needs credentials (beyond loopback, or auth-loopback) */
};

/* What authentication counts (atomics). */
enum http_auth_count {
	HTTP_AUTH_OK_BASIC,
	HTTP_AUTH_OK_BEARER,
	HTTP_AUTH_OK_PROXY,
	HTTP_AUTH_MISSING,   /* no credentials: 401 with the challenge */
	HTTP_AUTH_BAD,       /* wrong ones: 401 */
	HTTP_AUTH_THROTTLED, /* 429 */
	HTTP_AUTH_COUNTS,
};

/* libmicrohttpd's messages: a few a minute, then a count. */
struct logsum {
	pthread_mutex_t lock;
	uint64_t window_ms;
	unsigned lines;
	uint64_t suppressed, total;
	char last[200];
};

struct http {
	struct listener ls[CONFIG_MAX_LISTEN];
	size_t n_ls;
	struct http_info info;
	uint64_t all_topics;
	pthread_mutex_t cfg_lock; /* guards cfg: reloads come from the loop thread */
	struct config cfg;
	int web_fd; /* --web-root, or -1 for the embedded assets */
	struct conns *conns;
	struct logsum log;
	uint64_t refused_busy, refused_args, refused_host, aborted; /* atomics */
	struct auth_db *auth;                   /* under cfg_lock; take a reference to use it */
	struct auth_limit *limit;               /* failure budgets, audit lines */
	uint64_t auth_counts[HTTP_AUTH_COUNTS]; /* atomics */
	struct writers *writers;                /* NULL: every stream goes through libmicrohttpd */
	/* scrapes suspended until the loop writes the metrics texts
	 * (http_metrics_fd), under metrics_lock */
	int metrics_fd;
	pthread_mutex_t metrics_lock;
	struct MHD_Connection **mwait;
	size_t n_mwait, cap_mwait;
};

struct writer;
struct writers;

/* An event stream: what the hub calls back with. */
struct stream {
	struct http *http;
	struct MHD_Connection *mc;
	struct conn_rec *rec;
	struct hub_client *client;
	int fd;
	bool writable; /* plain TCP: the writers may send it (not TLS) */
	bool chunked;  /* HTTP/1.1: the body goes in chunks */
	bool tried;    /* offered to the writers at its first read */
	/* The writer that sends it, from its first read to its end (NULL:
	 * libmicrohttpd's reader does, through its buffer). */
	struct writer *writer;
	/* the writer's: queued to it (under its lock), in its epoll set, in
	 * its list of streams */
	bool queued, in_ep, listed;
	struct stream *qnext, *prev, *next;
};

/* http_serve.c: the answers, each queued on conn (MHD_NO: drop it) */
enum MHD_Result http_serve_events(struct http *http, struct MHD_Connection *conn,
				  const char *version, bool head);
enum MHD_Result http_serve_snapshot(struct http *http, struct MHD_Connection *conn);
enum MHD_Result http_serve_history(struct http *http, struct MHD_Connection *conn);
/* minimal: {"status":...} only, for a client without credentials */
enum MHD_Result http_serve_healthz(struct http *http, struct MHD_Connection *conn, bool minimal);
enum MHD_Result http_serve_metrics(struct http *http, struct MHD_Connection *conn);
enum MHD_Result http_serve_static(struct http *http, struct MHD_Connection *conn, const char *url);
/* One line of text/plain: the reason a request was refused, with extra
 * headers (NULL-terminated name, value pairs; NULL for none). */
enum MHD_Result http_error_with(struct MHD_Connection *conn, unsigned status,
				const char *const *headers, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* The same without extra headers. */
#define http_error(conn, status, ...) http_error_with((conn), (status), NULL, __VA_ARGS__)

/* http_auth.c: the gate of authenticated listeners. Returns true when the
 * request may go on; else an answer (401, 429, the minimal /healthz) was
 * queued and *ret is the handler's result. */
bool http_auth_check(struct http *http, struct MHD_Connection *conn, const char *url,
		     enum MHD_Result *ret);
/* Loads the users and tokens files of cfg (NULL when it names none);
 * false with the reason in err. */
bool http_auth_load(const struct config *cfg, struct auth_db **ret, char *err, size_t err_len);
/* Whether cfg names a way to authenticate (users, tokens or a proxy). */
bool http_auth_configured(const struct config *cfg);
/* Loop thread: the summary of held-back audit lines, once a minute. */
void http_auth_housekeep(struct http *http);
/* http_writer.c: stream writers, threads that send plain-TCP event streams
 * straight to their sockets, one writev per stream and wake-up, from the
 * pieces the hub holds (no copy into a connection buffer). libmicrohttpd
 * sends the response head; at the stream's first read its connection is
 * suspended and a writer sends the body until the stream ends, then
 * resumes it (the reader then ends the body). Starts n threads; NULL when
 * none could start (streams then stay with libmicrohttpd). */
struct writers *writers_start(unsigned n);
/* After hub_close: ends the streams the writers still have (each resumed
 * into libmicrohttpd, whose reader ends it) and joins the threads. */
void writers_stop(struct writers *ws);
/* libmicrohttpd's thread, inside the stream's reader: suspends the
 * connection and hands the stream to a writer. False when the writers are
 * stopping (the reader goes on). */
bool writers_adopt(struct writers *ws, struct stream *st);
/* The hub's resume of a stream a writer sends: something is due. */
void writers_wake(struct stream *st);

/* The record conns_open made for this connection (NULL: none), its socket. */
struct conn_rec *http_conn_rec(struct MHD_Connection *conn);
int http_conn_fd(struct MHD_Connection *conn);

#endif
