#include "http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <microhttpd.h>
#include <zlib.h>

#include "assets.h"
#include "config.h"
#include "conns.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "clock.h"
#include "store.h"

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

static const char csp[] = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
			  "base-uri 'none'; form-action 'none'";

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

/* Markers in a request's context (*con_cls): request line in, headers in
 * (seen by the handler once), too many arguments. */
static int req_new, req_seen, req_too_many_args;

static void conn_suspend(void *conn)
{
	MHD_suspend_connection(((struct stream *)conn)->mc);
}

static void conn_resume(void *conn)
{
	MHD_resume_connection(((struct stream *)conn)->mc);
}

/* With the hub locked, so the stream (and its fd) still exists. */
static void conn_abort(void *conn)
{
	shutdown(((struct stream *)conn)->fd, SHUT_RDWR);
}

const struct hub_conn_ops http_conn_ops = {conn_suspend, conn_resume, conn_abort};

/* Prints the count of what was held back in the last window. */
static void logsum_flush(struct logsum *l, uint64_t now, bool force)
{
	if (!force && now - l->window_ms < 60000)
		return;
	if (l->suppressed)
		log_warnx("http: %" PRIu64 " more messages in the last minute (last: %s)",
			  l->suppressed, l->last);
	l->window_ms = now;
	l->lines = 0;
	l->suppressed = 0;
}

static void mhd_logger(void *cls, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
	struct http *http = cls;
	struct logsum *l = &http->log;
	uint64_t now = clock_mono_ms();
	char line[512];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = '\0';
	/* a client that goes away mid-stream is normal for an event stream */
	if (strstr(line, "Failed to send") || strstr(line, "reset by peer") ||
	    strstr(line, "Broken pipe"))
		return;
	pthread_mutex_lock(&l->lock);
	logsum_flush(l, now, false);
	l->total++;
	if (l->lines < LOG_BURST) {
		l->lines++;
		log_warnx("http: %s", line);
	} else {
		l->suppressed++;
		snprintf(l->last, sizeof(l->last), "%s", line);
	}
	pthread_mutex_unlock(&l->lock);
}

static void add_common_headers(struct MHD_Response *r)
{
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy", csp);
}

static enum MHD_Result queue_buffer(struct MHD_Connection *conn, unsigned status, const char *type,
				    void *data, size_t len, enum MHD_ResponseMemoryMode mode)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, data, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(data);
		return MHD_NO;
	}
	add_common_headers(r);
	MHD_add_response_header(r, "Content-Type", type);
	if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
		MHD_add_response_header(r, "Allow", "GET, HEAD");
	if (status >= 400 || strncmp(type, "application/json", 16) == 0)
		MHD_add_response_header(r, "Cache-Control", "no-store");
	ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

/* Queues a 200 with the headers every answer of ours carries, and drops
 * our reference to r. */
static enum MHD_Result queue_ok(struct MHD_Connection *conn, struct MHD_Response *r,
				const char *type, const char *cache, const char *vary, bool gzip)
{
	enum MHD_Result ret;

	add_common_headers(r);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", cache);
	MHD_add_response_header(r, "Vary", vary);
	if (gzip)
		MHD_add_response_header(r, "Content-Encoding", "gzip");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* One line of text/plain: the reason a request was refused. */
static enum MHD_Result queue_error(struct MHD_Connection *conn, unsigned status, const char *fmt,
				   ...) __attribute__((format(printf, 3, 4)));

static enum MHD_Result queue_error(struct MHD_Connection *conn, unsigned status, const char *fmt,
				   ...)
{
	char *msg = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&msg, fmt, ap);
	va_end(ap);
	if (n < 0)
		return MHD_NO;
	return queue_buffer(conn, status, "text/plain; charset=utf-8", msg, (size_t)n,
			    MHD_RESPMEM_MUST_FREE);
}

/* Splits a comma list into up to 16 words of `buf` (modified in place). */
static int split_list(char *buf, const char **out, size_t *n)
{
	char *save = NULL;

	*n = 0;
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		if (*n >= 16)
			return -E2BIG;
		out[(*n)++] = tok;
	}
	return 0;
}

/* The per-client event filter from the query: log-priority, log-units,
 * log-exclude, log-match. Returns 1 when one was given, 0 when none,
 * -EINVAL with a reason. */
static int parse_filter(struct MHD_Connection *conn, struct hub_filter *f, char *units,
			char *exclude, size_t size, char *why, size_t why_len)
{
	const char *prio = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "log-priority");
	const char *inc = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "log-units");
	const char *exc = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "log-exclude");
	const char *match = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "log-match");

	memset(f, 0, sizeof(*f));
	f->max_level = 7;
	if (!prio && !inc && !exc && !match)
		return 0;
	if (prio && (f->max_level = settings_priority(prio)) < 0) {
		snprintf(why, why_len, "log-priority: expected 0-7 or emerg..debug, not '%.32s'",
			 prio);
		return -EINVAL;
	}
	if ((inc && strlen(inc) >= size) || (exc && strlen(exc) >= size) ||
	    (match && strlen(match) > 256)) {
		snprintf(why, why_len, "log filter too long");
		return -EINVAL;
	}
	snprintf(units, size, "%s", inc ? inc : "");
	snprintf(exclude, size, "%s", exc ? exc : "");
	if (split_list(units, f->units, &f->n_units) < 0 ||
	    split_list(exclude, f->exclude, &f->n_exclude) < 0) {
		snprintf(why, why_len, "log-units, log-exclude: at most 16 names each");
		return -EINVAL;
	}
	f->match = match;
	return 1;
}

/* Whether a header lists `token` (as a whole word, any q-value). */
static bool header_has(struct MHD_Connection *conn, const char *header, const char *token)
{
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, header);
	size_t n = strlen(token);

	for (const char *p = v; p && (p = strcasestr(p, token)); p += n) {
		bool start = p == v || p[-1] == ' ' || p[-1] == ',' || p[-1] == '\t';
		bool end = p[n] == '\0' || p[n] == ';' || p[n] == ',' || p[n] == ' ';

		if (start && end)
			return true;
	}
	return false;
}

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	long n = hub_client_read(st->client, buf, max);

	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void sse_free(void *cls)
{
	struct stream *st = cls;

	/* no hangup report can name the client once this returns */
	conns_unstream(st->http->conns, st->rec);
	hub_client_free(st->client);
	free(st);
}

static ssize_t no_body(void *cls, uint64_t pos, char *buf, size_t max)
{
	return MHD_CONTENT_READER_END_OF_STREAM;
}

/* The record conns_open made for this connection, or NULL. */
static struct conn_rec *conn_rec_of(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

static int conn_fd(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci ? ci->connect_fd : -1;
}

/* A stream's client, registered with the hub and the hangup watch. */
static struct stream *stream_new(struct http *http, struct MHD_Connection *conn,
				 const struct hub_client_opts *opts, bool *ret_gzip, int *ret_err)
{
	struct stream *st = calloc(1, sizeof(*st));
	int buf = HTTP_STREAM_SNDBUF;

	*ret_err = -ENOMEM;
	if (!st)
		return NULL;
	st->http = http;
	st->mc = conn;
	st->fd = conn_fd(conn);
	st->rec = conn_rec_of(conn);
	if ((*ret_err = hub_client_new(http->info.hub, opts, st, &st->client, ret_gzip)) < 0) {
		free(st);
		return NULL;
	}
	if (st->fd >= 0)
		setsockopt(st->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	conns_stream(http->conns, st->rec, st);
	return st;
}

static enum MHD_Result serve_events(struct http *http, struct MHD_Connection *conn, bool head)
{
	const char *topics = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "topics");
	struct hub_client_opts opts = {.mask = http->all_topics};
	struct stream *st = NULL;
	struct MHD_Response *r;
	char bad[80], why[128], units[1024], exclude[1024];
	struct hub_filter filter;
	bool gzip;
	int has_filter, err;

	if (topics &&
	    hub_topic_mask(http->info.topic_names, topics, &opts.mask, bad, sizeof(bad)) < 0) {
		/* echo only printable ASCII: the reason stays one line */
		for (char *p = bad; *p; p++)
			if (*p < 0x20 || *p > 0x7e)
				*p = '?';
		return queue_error(conn, MHD_HTTP_BAD_REQUEST,
				   *bad ? "unknown topic '%s' in topics=\n"
					: "empty topic name in topics=%s\n",
				   bad);
	}
	if ((has_filter =
		 parse_filter(conn, &filter, units, exclude, sizeof(units), why, sizeof(why))) < 0)
		return queue_error(conn, MHD_HTTP_BAD_REQUEST, "%s\n", why);
	opts.filter = has_filter ? &filter : NULL;
	opts.last_id =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_LAST_EVENT_ID);
	if (!opts.last_id || !*opts.last_id)
		opts.last_id =
		    MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "lastEventId");
	opts.gzip = header_has(conn, "Accept-Encoding", "gzip");
	pthread_mutex_lock(&http->cfg_lock);
	opts.max_clients = http->cfg.max_clients;
	pthread_mutex_unlock(&http->cfg_lock);
	if (head) {
		/* A GET's headers, without a length (the stream has none) and
		 * without chunking: libmicrohttpd 0.9.75 would send the chunked
		 * terminator after a HEAD, so the connection just closes. */
		gzip = opts.gzip && !opts.filter;
		if ((r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 64, no_body, NULL,
							   NULL)))
			MHD_set_response_options(r, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
	} else {
		if (!(st = stream_new(http, conn, &opts, &gzip, &err))) {
			if (err != -EBUSY)
				return queue_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
						   "out of memory\n");
			__atomic_add_fetch(&http->refused_busy, 1, __ATOMIC_RELAXED);
			return queue_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
					   "%u event streams already (max-clients); try again "
					   "later\n",
					   opts.max_clients);
		}
		r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_BLOCK_BYTES,
						      sse_reader, st, sse_free);
		if (!r)
			sse_free(st);
	}
	if (!r)
		return MHD_NO;
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	return queue_ok(conn, r, "text/event-stream; charset=utf-8", "no-store, no-transform",
			"Accept-Encoding", gzip);
}

/* Whether the loop ticks: its last tick no older than three intervals
 * (at least 2 s); 503 when it is. */
static enum MHD_Result serve_healthz(struct http *http, struct MHD_Connection *conn)
{
	struct hub_stats st;
	unsigned interval;
	char *body = NULL, age[32];
	bool stuck;
	int n;

	hub_get_stats(http->info.hub, &st);
	pthread_mutex_lock(&http->cfg_lock);
	interval = http->cfg.interval_ms;
	pthread_mutex_unlock(&http->cfg_lock);
	/* three intervals, but never under 2 s: a busy host is not a stuck loop */
	stuck = st.tick_age_ms == UINT64_MAX ||
		st.tick_age_ms > (3ULL * interval > 2000 ? 3ULL * interval : 2000);
	if (st.tick_age_ms == UINT64_MAX)
		snprintf(age, sizeof(age), "null");
	else
		snprintf(age, sizeof(age), "%" PRIu64, st.tick_age_ms);
	n = asprintf(&body,
		     "{\"status\":\"%s\",\"version\":\"%s\",\"instance\":\"%016" PRIx64
		     "\",\"uptime\":%.3f,\"tick_age_ms\":%s,\"interval_ms\":%u,\"clients\":%u,"
		     "\"gzip_clients\":%u,\"events\":%" PRIu64 ",\"bytes_sent\":%" PRIu64
		     ",\"resyncs\":%" PRIu64 ",\"stalled\":%" PRIu64 ",\"ring\":{\"first\":%" PRIu64
		     ",\"last\":%" PRIu64 ",\"bytes\":%zu,\"capacity\":%zu}}\n",
		     stuck ? "stalled" : "ok", SYSFEED_VERSION, st.instance,
		     (double)(clock_real_ms() - http->info.start_ms) / 1000.0, age, interval,
		     st.clients, st.gzip_clients, st.published, st.bytes_sent, st.resyncs,
		     st.stalled, st.first_seq, st.last_seq, st.ring_used, st.ring_bytes);
	if (n < 0)
		return MHD_NO;
	return queue_buffer(conn, stuck ? MHD_HTTP_SERVICE_UNAVAILABLE : MHD_HTTP_OK,
			    "application/json", body, (size_t)n, MHD_RESPMEM_MUST_FREE);
}

/* gzip of data, malloc'd; NULL when it fails (then send it plain). */
static char *gzip(const char *data, size_t len, size_t *ret_len)
{
	z_stream z = {0};
	uLong bound;
	char *out;

	if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		return NULL;
	bound = deflateBound(&z, (uLong)len);
	if (!(out = malloc(bound))) {
		deflateEnd(&z);
		return NULL;
	}
	z.next_in = (Bytef *)data;
	z.avail_in = (uInt)len;
	z.next_out = (Bytef *)out;
	z.avail_out = (uInt)bound;
	if (deflate(&z, Z_FINISH) != Z_STREAM_END) {
		deflateEnd(&z);
		free(out);
		return NULL;
	}
	*ret_len = z.total_out;
	deflateEnd(&z);
	return out;
}

/* Prometheus text 0.0.4, or OpenMetrics 1.0 when the scraper asks for it;
 * rendered from the latest tick, gzip'd when accepted. */
/* The HTTP side's own families, appended to text (realloc'd). */
static char *http_metrics(struct http *http, char *text, size_t *len)
{
	struct conns_stats cs;
	char *more = NULL, *out;
	int n;

	if (!text)
		return NULL;
	conns_get_stats(http->conns, &cs);
	n = asprintf(
	    &more,
	    "# HELP sysfeed_http_connections Open HTTP connections by state.\n"
	    "# TYPE sysfeed_http_connections gauge\n"
	    "sysfeed_http_connections{state=\"waiting\"} %u\n"
	    "sysfeed_http_connections{state=\"answering\"} %u\n"
	    "sysfeed_http_connections{state=\"stream\"} %u\n"
	    "# HELP sysfeed_http_accepted_total HTTP connections accepted.\n"
	    "# TYPE sysfeed_http_accepted_total counter\n"
	    "sysfeed_http_accepted_total %" PRIu64 "\n"
	    "# HELP sysfeed_http_closed_total Connections the daemon closed, by reason.\n"
	    "# TYPE sysfeed_http_closed_total counter\n"
	    "sysfeed_http_closed_total{reason=\"waiting_evicted\"} %" PRIu64 "\n"
	    "sysfeed_http_closed_total{reason=\"answer_evicted\"} %" PRIu64 "\n"
	    "sysfeed_http_closed_total{reason=\"header_timeout\"} %" PRIu64 "\n"
	    "sysfeed_http_closed_total{reason=\"answer_timeout\"} %" PRIu64 "\n"
	    "sysfeed_http_closed_total{reason=\"peer_gone\"} %" PRIu64 "\n"
	    "# HELP sysfeed_http_refused_total Requests refused, by reason.\n"
	    "# TYPE sysfeed_http_refused_total counter\n"
	    "sysfeed_http_refused_total{reason=\"max_clients\"} %" PRIu64 "\n"
	    "sysfeed_http_refused_total{reason=\"too_many_arguments\"} %" PRIu64 "\n"
	    "sysfeed_http_refused_total{reason=\"host\"} %" PRIu64 "\n"
	    "# HELP sysfeed_http_aborted_total Requests the client left before the answer ended.\n"
	    "# TYPE sysfeed_http_aborted_total counter\n"
	    "sysfeed_http_aborted_total %" PRIu64 "\n"
	    "# HELP sysfeed_http_messages_total Messages from the HTTP library (most summarised).\n"
	    "# TYPE sysfeed_http_messages_total counter\n"
	    "sysfeed_http_messages_total %" PRIu64 "\n",
	    cs.waiting, cs.active, cs.streams, cs.accepted, cs.evicted_waiting, cs.evicted_active,
	    cs.header_timeouts, cs.answer_timeouts, cs.hangups,
	    __atomic_load_n(&http->refused_busy, __ATOMIC_RELAXED),
	    __atomic_load_n(&http->refused_args, __ATOMIC_RELAXED),
	    __atomic_load_n(&http->refused_host, __ATOMIC_RELAXED),
	    __atomic_load_n(&http->aborted, __ATOMIC_RELAXED),
	    __atomic_load_n(&http->log.total, __ATOMIC_RELAXED));
	if (n < 0 || !(out = realloc(text, *len + (size_t)n + 1))) {
		free(more);
		free(text);
		return NULL;
	}
	memcpy(out + *len, more, (size_t)n + 1);
	*len += (size_t)n;
	free(more);
	return out;
}

static enum MHD_Result serve_metrics(struct http *http, struct MHD_Connection *conn)
{
	bool om = header_has(conn, "Accept", "application/openmetrics-text");
	size_t len = 0, zlen = 0;
	char *text = hub_metrics_text(http->info.hub, &len), *z;
	struct MHD_Response *r;

	text = http_metrics(http, text, &len);
	if (text && om) {
		char *conv = metrics_openmetrics(text, len, &len);

		free(text);
		text = conv;
	}
	if (!text)
		return queue_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	if (header_has(conn, "Accept-Encoding", "gzip") && (z = gzip(text, len, &zlen))) {
		free(text);
		text = z;
		len = zlen;
	} else {
		zlen = 0;
	}
	if (!(r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE))) {
		free(text);
		return MHD_NO;
	}
	return queue_ok(conn, r,
			om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
			   : "text/plain; version=0.0.4; charset=utf-8",
			"no-store", "Accept, Accept-Encoding", zlen > 0);
}

static ssize_t snap_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	long n = hub_reader_read(cls, buf, max);

	return n > 0 ? (ssize_t)n : MHD_CONTENT_READER_END_OF_STREAM;
}

static void snap_free(void *cls)
{
	hub_reader_free(cls);
}

/* The snapshot, read from the hub's shared pieces (no copy), gzip'd when
 * accepted. */
static enum MHD_Result serve_snapshot(struct http *http, struct MHD_Connection *conn)
{
	bool gzip = header_has(conn, "Accept-Encoding", "gzip");
	size_t size = 0;
	struct hub_reader *rd = hub_reader_new(http->info.hub, http->all_topics, gzip, &size);
	struct MHD_Response *r;

	if (!rd)
		return queue_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	if (!(r = MHD_create_response_from_callback(size, 16384, snap_reader, rd, snap_free))) {
		hub_reader_free(rd);
		return MHD_NO;
	}
	return queue_ok(conn, r, "application/json", "no-store", "Accept-Encoding", gzip);
}

/* GET /api/history: the store answers (see daemon/store.h); gzip'd when
 * accepted. */
static enum MHD_Result serve_history(struct http *http, struct MHD_Connection *conn)
{
#define ARG(name) MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name)
	struct store_query q = {ARG("topics"), ARG("from"),   ARG("to"),    ARG("step"),
				ARG("format"), ARG("tops"),   ARG("events")};
#undef ARG
	const char *type;
	size_t len = 0, zlen = 0;
	char *body = NULL, *z;
	unsigned status = store_api(http->info.store, &q, clock_real_ms(), &body, &len, &type);
	struct MHD_Response *r;

	if (!body)
		return queue_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	if (status != MHD_HTTP_OK)
		return queue_buffer(conn, status, type, body, len, MHD_RESPMEM_MUST_FREE);
	if (header_has(conn, "Accept-Encoding", "gzip") && (z = gzip(body, len, &zlen))) {
		free(body);
		body = z;
		len = zlen;
	}
	if (!(r = MHD_create_response_from_buffer(len, body, MHD_RESPMEM_MUST_FREE))) {
		free(body);
		return MHD_NO;
	}
	return queue_ok(conn, r, type, "no-store", "Accept-Encoding", zlen > 0);
}

/* A page file; `gz`, when given, is its gzip, sent to clients that take it. */
static enum MHD_Result queue_asset(struct MHD_Connection *conn, const char *path, void *data,
				   size_t len, const void *gz, size_t gz_len, const char *etag,
				   enum MHD_ResponseMemoryMode mode)
{
	const char *inm =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_IF_NONE_MATCH);
	bool fresh = inm && (strcmp(inm, etag) == 0 || strcmp(inm, "*") == 0);
	bool zipped = !fresh && gz && header_has(conn, "Accept-Encoding", "gzip");
	struct MHD_Response *r;
	enum MHD_Result ret;

	if (zipped) { /* only embedded files have a gzip: nothing to free */
		data = (void *)gz;
		len = gz_len;
	}
	if (fresh) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(data);
		data = NULL;
		len = 0;
		mode = MHD_RESPMEM_PERSISTENT;
	}
	if (!(r = MHD_create_response_from_buffer(len, data, mode))) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(data);
		return MHD_NO;
	}
	add_common_headers(r);
	MHD_add_response_header(r, "ETag", etag);
	MHD_add_response_header(r, "Cache-Control", "no-cache");
	if (gz)
		MHD_add_response_header(r, "Vary", "Accept-Encoding");
	if (zipped)
		MHD_add_response_header(r, "Content-Encoding", "gzip");
	if (!fresh)
		MHD_add_response_header(r, "Content-Type", assets_type(path));
	ret = MHD_queue_response(conn, fresh ? MHD_HTTP_NOT_MODIFIED : MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* Only plain relative names below the web root: no "..", no dot-file
 * (.env, .git/...), no odd bytes. */
static bool path_ok(const char *path)
{
	if (path[0] != '/' || strstr(path, "..") || strstr(path, "//") || strstr(path, "/."))
		return false;
	for (const char *p = path; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '/' || *p == '.' || *p == '-' || *p == '_'))
			return false;
	return true;
}

/* Opens a file below dir_fd without ever leaving it: symlinks are followed
 * only while they stay beneath (openat2 RESOLVE_BENEATH); kernels before
 * 5.6 get no symlink at all. */
static int open_beneath(int dir_fd, const char *rel)
{
	struct open_how how = {
	    .flags = O_RDONLY | O_CLOEXEC,
	    .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
	};
	int fd = (int)syscall(SYS_openat2, dir_fd, rel, &how, sizeof(how));

	if (fd < 0 && errno == ENOSYS) {
		char buf[PATH_MAX];
		int cur = dup(dir_fd);

		snprintf(buf, sizeof(buf), "%s", rel);
		for (char *save = NULL, *part = strtok_r(buf, "/", &save); part && cur >= 0;
		     part = strtok_r(NULL, "/", &save)) {
			int next = openat(cur, part, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

			close(cur);
			cur = next;
		}
		fd = cur;
	}
	return fd;
}

/* --web-root: the file from disk, read whole, with an ETag from its stat. */
static enum MHD_Result serve_disk(struct http *http, int web_fd, struct MHD_Connection *conn,
				  const char *path)
{
	char etag[64], *data = NULL;
	struct stat st;
	size_t got = 0;
	int fd;

	fd = open_beneath(web_fd, path + 1);
	if (fd < 0)
		return queue_error(conn, MHD_HTTP_NOT_FOUND, "no such page: %s\n", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > HTTP_MAX_FILE ||
	    !(data = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return queue_error(conn, MHD_HTTP_NOT_FOUND, "no such page: %s\n", path);
	}
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)st.st_size - got);

		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	snprintf(etag, sizeof(etag), "\"%" PRIx64 "-%" PRIx64 "-%zx\"", (uint64_t)st.st_mtim.tv_sec,
		 (uint64_t)st.st_mtim.tv_nsec, got);
	return queue_asset(conn, path, data, got, NULL, 0, etag, MHD_RESPMEM_MUST_FREE);
}

static enum MHD_Result serve_static(struct http *http, struct MHD_Connection *conn, const char *url)
{
	const char *path = strcmp(url, "/") == 0 ? "/index.html" : url;
	const struct asset *a;
	int web_fd;

	pthread_mutex_lock(&http->cfg_lock);
	web_fd = http->web_fd >= 0 ? dup(http->web_fd) : -1;
	pthread_mutex_unlock(&http->cfg_lock);
	if (web_fd >= 0) {
		enum MHD_Result ret = path_ok(path)
					  ? serve_disk(http, web_fd, conn, path)
					  : queue_error(conn, MHD_HTTP_NOT_FOUND, "no such page\n");

		close(web_fd);
		return ret;
	}
	if (!(a = assets_find(path)))
		return queue_error(conn, MHD_HTTP_NOT_FOUND, "no such page\n");
	return queue_asset(conn, path, (void *)a->data, a->len, a->gz, a->gz_len, a->etag,
			   MHD_RESPMEM_PERSISTENT);
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct http *http = cls;
	const char *host;
	bool allowed;

	if (*con_cls == &req_too_many_args) {
		__atomic_add_fetch(&http->refused_args, 1, __ATOMIC_RELAXED);
		return queue_error(conn, MHD_HTTP_URI_TOO_LONG,
				   "too many query arguments: at most %d\n", HTTP_MAX_ARGS);
	}
	if (*con_cls != &req_seen) { /* the request's headers are all in */
		conns_request(http->conns, conn_rec_of(conn));
		*con_cls = &req_seen;
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return queue_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
					   "method %.16s not allowed: use GET or HEAD\n", method);
		/* Answering on the first call would make MHD close the connection
		 * afterwards (the request might have a body); answer on the second. */
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* a GET with a body: ignore the body */
		return MHD_YES;
	}
	host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	if (!host && strcmp(version, MHD_HTTP_VERSION_1_1) == 0)
		return queue_error(conn, MHD_HTTP_BAD_REQUEST,
				   "HTTP/1.1 request without a Host header\n");
	pthread_mutex_lock(&http->cfg_lock);
	allowed = config_host_allowed(&http->cfg, host);
	pthread_mutex_unlock(&http->cfg_lock);
	if (!allowed) {
		__atomic_add_fetch(&http->refused_host, 1, __ATOMIC_RELAXED);
		return queue_error(conn, MHD_HTTP_FORBIDDEN,
				   "host '%.100s' not allowed: add it to allowed-hosts\n", host);
	}
	if (strcmp(url, "/events") == 0)
		return serve_events(http, conn, strcmp(method, MHD_HTTP_METHOD_HEAD) == 0);
	if (strcmp(url, "/api/snapshot") == 0)
		return serve_snapshot(http, conn);
	if (strcmp(url, "/api/history") == 0)
		return serve_history(http, conn);
	if (strcmp(url, "/healthz") == 0)
		return serve_healthz(http, conn);
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(http, conn);
	return serve_static(http, conn, url);
}

/* The request line is in: counts the query's arguments before
 * libmicrohttpd parses them. Past HTTP_MAX_ARGS the query is blanked in
 * place (its buffer is the connection's own) and the request gets 414:
 * libmicrohttpd 0.9.75 runs out of connection memory on a few hundred
 * arguments and then never answers. */
static void *uri_seen(void *cls, const char *uri, struct MHD_Connection *conn)
{
	char *q = strchr(uri, '?');
	unsigned args = 1;

	if (!q)
		return &req_new;
	for (const char *p = q + 1; *p && *p != ' '; p++)
		args += *p == '&';
	if (args <= HTTP_MAX_ARGS)
		return &req_new;
	q[1] = '\0';
	return &req_too_many_args;
}

/* Connection start and end, for the budgets and deadlines in conns. */
static void conn_notify(void *cls, struct MHD_Connection *conn, void **socket_context,
			enum MHD_ConnectionNotificationCode code)
{
	struct http *http = cls;

	if (code == MHD_CONNECTION_NOTIFY_STARTED)
		*socket_context = conns_open(http->conns, conn_fd(conn));
	else
		conns_close(http->conns, *socket_context);
}

/* A request is over: the connection waits for the next one. */
static void request_done(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct http *http = cls;

	if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK &&
	    toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN)
		__atomic_add_fetch(&http->aborted, 1, __ATOMIC_RELAXED);
	conns_done(http->conns, conn_rec_of(conn));
}

static bool addr_is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&((const struct sockaddr_in6 *)ss)->sin6_addr);
}

/* "1.2.3.4:80" or "[::1]:80" into a socket address. */
static int parse_addr(const char *text, struct sockaddr_storage *ss, socklen_t *len)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(text, ':');
	unsigned port;

	if (!colon || (size_t)(colon - text) >= sizeof(host) ||
	    sscanf(colon + 1, "%u", &port) != 1 || port > 65535)
		return -EINVAL;
	memcpy(host, text, (size_t)(colon - text));
	host[colon - text] = '\0';
	memset(ss, 0, sizeof(*ss));
	if (host[0] == '[') {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
		size_t n = strlen(host);

		if (n < 3 || host[n - 1] != ']')
			return -EINVAL;
		host[n - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &s6->sin6_addr) != 1)
			return -EINVAL;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)ss;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			return -EINVAL;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
	}
	return 0;
}

/* Binds and listens; returns the fd or -errno. */
static int bind_one(const struct sockaddr_storage *ss, socklen_t len)
{
	int fd, one = 1;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (ss->ss_family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)ss, len) < 0 || listen(fd, 1024) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

static void print_bound(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		log_info("listening on http://[%s]:%u/", host, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		log_info("listening on http://%s:%u/", host, ntohs(s4->sin_port));
	}
}

static const char no_remote[] =
    "addresses beyond loopback need TLS and authentication, which this version does not have; "
    "reach it through an SSH tunnel (ssh -L 8390:127.0.0.1:8390 HOST)";

/* Starts one libmicrohttpd daemon on a listening socket it then owns. */
static int start_listener(struct http *http, const struct config *cfg, int fd, char *err,
			  size_t err_len)
{
	struct listener *l = &http->ls[http->n_ls];
	unsigned threads;

	if (http->n_ls >= CONFIG_MAX_LISTEN) {
		snprintf(err, err_len, "more than %d listening sockets", CONFIG_MAX_LISTEN);
		close(fd);
		return -EINVAL;
	}
	l->fd = fd;
	/* One polling thread per core (at most 4): a tick's wake-up of many
	 * streams is spread over them. Still no thread per connection. */
	threads = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	threads = threads < 1 ? 1 : threads > 4 ? 4 : threads;
	l->mhd = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
		MHD_USE_TURBO | MHD_USE_ERROR_LOG,
	    0, NULL, NULL, handle, http, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, http,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
	    /* above streams and both budgets: conns makes room before this bites */
	    MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)cfg->max_clients + 2 * (HTTP_MAX_WAITING + HTTP_MAX_ACTIVE) * threads,
	    MHD_OPTION_NOTIFY_CONNECTION, conn_notify, http, MHD_OPTION_NOTIFY_COMPLETED,
	    request_done, http, MHD_OPTION_URI_LOG_CALLBACK, uri_seen, http,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->connection_bytes, MHD_OPTION_END);
	if (!l->mhd) {
		close(fd);
		snprintf(err, err_len, "cannot start the HTTP server");
		return -EIO;
	}
	http->n_ls++;
	print_bound(fd);
	return 0;
}

static int open_web_root(const char *dir)
{
	return dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
}

struct http *http_start(const struct config *cfg, const struct http_info *info, char *err,
			size_t err_len)
{
	struct http *http = calloc(1, sizeof(*http));

	if (!http) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	http->info = *info;
	http->web_fd = -1;
	pthread_mutex_init(&http->cfg_lock, NULL);
	pthread_mutex_init(&http->log.lock, NULL);
	http->log.window_ms = clock_mono_ms();
	for (unsigned i = 0; info->topic_names[i]; i++)
		http->all_topics |= 1ULL << i;
	http->conns = conns_new(&(struct conns_limits){HTTP_MAX_WAITING, HTTP_MAX_ACTIVE,
						       HTTP_HEADER_MS, HTTP_ANSWER_MS});
	if (!http->conns || config_copy(&http->cfg, cfg) < 0) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	if (cfg->web_root && (http->web_fd = open_web_root(cfg->web_root)) < 0) {
		snprintf(err, err_len, "web-root %s: %s", cfg->web_root, strerror(errno));
		goto fail;
	}
	for (size_t i = 0; i < info->n_fds; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		if (getsockname(info->fds[i], (struct sockaddr *)&ss, &len) < 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
			snprintf(err, err_len, "socket %d from the service manager is not TCP",
				 info->fds[i]);
			goto fail;
		}
		if (!addr_is_loopback(&ss)) {
			snprintf(err, err_len, "refusing a socket beyond loopback: %s", no_remote);
			goto fail;
		}
		if (start_listener(http, cfg, info->fds[i], err, err_len) < 0)
			goto fail;
	}
	for (size_t i = 0; i < cfg->listen.n && !info->n_fds; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		int fd;

		if (parse_addr(cfg->listen.v[i], &ss, &len) < 0) {
			snprintf(err, err_len, "listen %s: not an address", cfg->listen.v[i]);
			goto fail;
		}
		if (!addr_is_loopback(&ss)) {
			snprintf(err, err_len, "refusing to listen on %s: %s", cfg->listen.v[i],
				 no_remote);
			goto fail;
		}
		if ((fd = bind_one(&ss, len)) < 0) {
			if (cfg->listen.dflt) {
				log_warnx("skipping default address %s: %s", cfg->listen.v[i],
					  strerror(-fd));
				continue;
			}
			snprintf(err, err_len, "cannot listen on %s: %s", cfg->listen.v[i],
				 strerror(-fd));
			goto fail;
		}
		if (start_listener(http, cfg, fd, err, err_len) < 0)
			goto fail;
	}
	if (http->n_ls == 0) {
		snprintf(err, err_len, "no address could be bound");
		goto fail;
	}
	return http;
fail:
	http_stop(http);
	return NULL;
}

int http_reconfigure(struct http *http, const struct config *cfg)
{
	struct config copy, old;
	int web_fd = -1, old_fd;

	if (cfg->web_root && (web_fd = open_web_root(cfg->web_root)) < 0)
		return -errno;
	if (config_copy(&copy, cfg) < 0) {
		if (web_fd >= 0)
			close(web_fd);
		return -ENOMEM;
	}
	pthread_mutex_lock(&http->cfg_lock);
	old = http->cfg;
	http->cfg = copy;
	old_fd = http->web_fd;
	http->web_fd = web_fd;
	pthread_mutex_unlock(&http->cfg_lock);
	config_free(&old);
	if (old_fd >= 0)
		close(old_fd);
	return 0;
}

void http_stop(struct http *http)
{
	if (!http)
		return;
	/* Streams end first, so that stopping waits for none. No quiesce:
	 * in 0.9.75 it races with the polling threads' own removal of the
	 * listening socket from their epoll sets (a fatal "Failed to remove
	 * listen FD from epoll set"). MHD_stop_daemon closes the socket. */
	hub_close(http->info.hub);
	for (size_t i = 0; i < http->n_ls; i++)
		MHD_stop_daemon(http->ls[i].mhd);
	if (http->web_fd >= 0)
		close(http->web_fd);
	logsum_flush(&http->log, clock_mono_ms(), true);
	conns_free(http->conns);
	config_free(&http->cfg);
	pthread_mutex_destroy(&http->cfg_lock);
	pthread_mutex_destroy(&http->log.lock);
	free(http);
}

void http_housekeep(struct http *http)
{
	conns_sweep(http->conns);
	pthread_mutex_lock(&http->log.lock);
	logsum_flush(&http->log, clock_mono_ms(), false);
	pthread_mutex_unlock(&http->log.lock);
}

int http_watch_fd(struct http *http)
{
	return conns_watch_fd(http->conns);
}

static void stream_hangup(void *arg)
{
	hub_client_hangup(((struct stream *)arg)->client);
}

void http_reap(struct http *http)
{
	conns_reap(http->conns, stream_hangup);
}
