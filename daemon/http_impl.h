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
	int fd;
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
};

/* An event stream: what the hub calls back with. */
struct stream {
	struct http *http;
	struct MHD_Connection *mc;
	struct conn_rec *rec;
	struct hub_client *client;
	int fd;
};

/* http_serve.c: the answers, each queued on conn (MHD_NO: drop it) */
enum MHD_Result http_serve_events(struct http *http, struct MHD_Connection *conn, bool head);
enum MHD_Result http_serve_snapshot(struct http *http, struct MHD_Connection *conn);
enum MHD_Result http_serve_healthz(struct http *http, struct MHD_Connection *conn);
enum MHD_Result http_serve_metrics(struct http *http, struct MHD_Connection *conn);
enum MHD_Result http_serve_static(struct http *http, struct MHD_Connection *conn, const char *url);
/* One line of text/plain: the reason a request was refused. */
enum MHD_Result http_error(struct MHD_Connection *conn, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* The record conns_open made for this connection (NULL: none), its socket. */
struct conn_rec *http_conn_rec(struct MHD_Connection *conn);
int http_conn_fd(struct MHD_Connection *conn);

#endif
