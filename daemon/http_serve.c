/* The answers: event streams, /healthz, /metrics, /api/snapshot and the
 * page's files (embedded or from --web-root), with their headers and
 * errors. The server around them is in http.c. */
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
#include <strings.h>
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
#include "self_metrics.h"
#include "store.h"
#include "clock.h"
#include "http_impl.h"
#include "tls.h"

static const char csp[] = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
			  "base-uri 'none'; form-action 'none'";

/* HSTS on TLS connections, unless reached by a loopback name (the pin
 * would cover the plain loopback listeners too: it applies to every port). */
static bool wants_hsts(struct MHD_Connection *conn)
{
	static const char *const loopback[] = {"localhost", "127.", "[::1]"};
	const char *host;

	if (!MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION))
		return false;
	host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	for (size_t i = 0; host && i < sizeof(loopback) / sizeof(loopback[0]); i++)
		if (strncasecmp(host, loopback[i], strlen(loopback[i])) == 0)
			return false;
	return true;
}

static void add_common_headers(struct MHD_Connection *conn, struct MHD_Response *r)
{
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
	MHD_add_response_header(r, "Content-Security-Policy", csp);
	if (wants_hsts(conn))
		MHD_add_response_header(r, "Strict-Transport-Security", "max-age=31536000");
}

/* headers: NULL or NULL-terminated name, value pairs */
static enum MHD_Result queue_buffer(struct MHD_Connection *conn, unsigned status, const char *type,
				    void *data, size_t len, enum MHD_ResponseMemoryMode mode,
				    const char *const *headers)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, data, mode);
	enum MHD_Result ret;

	if (!r) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free(data);
		return MHD_NO;
	}
	add_common_headers(conn, r);
	for (size_t i = 0; headers && headers[i]; i += 2)
		MHD_add_response_header(r, headers[i], headers[i + 1]);
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

	add_common_headers(conn, r);
	MHD_add_response_header(r, "Content-Type", type);
	MHD_add_response_header(r, "Cache-Control", cache);
	MHD_add_response_header(r, "Vary", vary);
	if (gzip)
		MHD_add_response_header(r, "Content-Encoding", "gzip");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

/* One line of text/plain: the reason a request was refused (http_error
 * is this without headers). */
enum MHD_Result http_error_with(struct MHD_Connection *conn, unsigned status,
				const char *const *headers, const char *fmt, ...)
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
			    MHD_RESPMEM_MUST_FREE, headers);
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

/* The first read of a plain-TCP stream (the head is out, nothing else is
 * buffered) hands it to a writer, which sends the rest of it; the reader
 * is then called again only to end the body. */
static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct stream *st = cls;
	long n;

	if (st->writable && !st->tried) {
		st->tried = true;
		if (writers_adopt(st->http->writers, st))
			return 0;
	}
	n = hub_client_read(st->client, buf, max);
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
struct conn_rec *http_conn_rec(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);

	return ci ? ci->socket_context : NULL;
}

int http_conn_fd(struct MHD_Connection *conn)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);

	return ci ? ci->connect_fd : -1;
}

/* A stream's client, registered with the hub and the hangup watch. Its
 * body is chunked for HTTP/1.1 (as libmicrohttpd does for a response of
 * unknown size), and goes to the writers when the connection is plain TCP. */
static struct stream *stream_new(struct http *http, struct MHD_Connection *conn,
				 const char *version, const struct hub_client_opts *opts,
				 bool *ret_gzip, int *ret_err)
{
	struct stream *st = calloc(1, sizeof(*st));
	int buf = HTTP_STREAM_SNDBUF;

	*ret_err = -ENOMEM;
	if (!st)
		return NULL;
	st->http = http;
	st->mc = conn;
	st->fd = http_conn_fd(conn);
	st->rec = http_conn_rec(conn);
	st->chunked = strcmp(version, MHD_HTTP_VERSION_1_0) != 0;
	st->writable =
	    st->fd >= 0 && !MHD_get_connection_info(conn, MHD_CONNECTION_INFO_GNUTLS_SESSION);
	if ((*ret_err = hub_client_new(http->info.hub, opts, st, &st->client, ret_gzip)) < 0) {
		free(st);
		return NULL;
	}
	if (st->fd >= 0)
		setsockopt(st->fd, SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
	conns_stream(http->conns, st->rec, st);
	return st;
}

enum MHD_Result http_serve_events(struct http *http, struct MHD_Connection *conn,
				  const char *version, bool head)
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
		return http_error(conn, MHD_HTTP_BAD_REQUEST,
				  *bad ? "unknown topic '%s' in topics=\n"
				       : "empty topic name in topics=%s\n",
				  bad);
	}
	if ((has_filter =
		 parse_filter(conn, &filter, units, exclude, sizeof(units), why, sizeof(why))) < 0)
		return http_error(conn, MHD_HTTP_BAD_REQUEST, "%s\n", why);
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
		if (!(st = stream_new(http, conn, version, &opts, &gzip, &err))) {
			if (err != -EBUSY)
				return http_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
						  "out of memory\n");
			__atomic_add_fetch(&http->refused_busy, 1, __ATOMIC_RELAXED);
			return http_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
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
enum MHD_Result http_serve_healthz(struct http *http, struct MHD_Connection *conn, bool minimal)
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
	if (minimal) /* without credentials on an authenticated listener */
		n = asprintf(&body, "{\"status\":\"%s\"}\n", stuck ? "stalled" : "ok");
	else
		n = asprintf(
		    &body,
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
			    "application/json", body, (size_t)n, MHD_RESPMEM_MUST_FREE, NULL);
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

/* The whole /metrics text (0.0.4): the hub's counters, the daemon's
 * block, every topic's, then the HTTP side's. */
static int http_metrics(struct http *http, struct metrics *m)
{
	struct self_http sh = {
	    .refused_busy = __atomic_load_n(&http->refused_busy, __ATOMIC_RELAXED),
	    .refused_args = __atomic_load_n(&http->refused_args, __ATOMIC_RELAXED),
	    .refused_host = __atomic_load_n(&http->refused_host, __ATOMIC_RELAXED),
	    .aborted = __atomic_load_n(&http->aborted, __ATOMIC_RELAXED),
	    .messages = __atomic_load_n(&http->log.total, __ATOMIC_RELAXED),
	    .tls_not_after = tls_not_after(),
	};
	struct hub_stats hs;

	for (size_t i = 0; i < http->n_ls; i++)
		sh.auth |= http->ls[i].authed;
	for (size_t i = 0; i < 3; i++) {
		sh.auth_ok[i] =
		    __atomic_load_n(&http->auth_counts[HTTP_AUTH_OK_BASIC + i], __ATOMIC_RELAXED);
		sh.auth_refused[i] =
		    __atomic_load_n(&http->auth_counts[HTTP_AUTH_MISSING + i], __ATOMIC_RELAXED);
	}

	hub_get_stats(http->info.hub, &hs);
	self_metrics_hub(m, &hs);
	hub_metrics_append(http->info.hub, m);
	conns_get_stats(http->conns, &sh.conns);
	self_metrics_http(m, &sh);
	return metrics_error(m);
}

/* Prometheus text 0.0.4, or OpenMetrics 1.0 when the scraper asks for it;
 * rendered from the latest tick, gzip'd when accepted. */
enum MHD_Result http_serve_metrics(struct http *http, struct MHD_Connection *conn)
{
	bool om = header_has(conn, "Accept", "application/openmetrics-text");
	struct metrics m = {0};
	size_t len = 0, zlen = 0;
	char *text = NULL, *z;
	struct MHD_Response *r;

	if (http_metrics(http, &m) == 0) {
		text = om ? metrics_openmetrics(m.buf, m.len, &len) : m.buf;
		len = om ? len : m.len;
		if (om)
			metrics_free(&m);
	} else {
		metrics_free(&m);
	}
	if (!text)
		return http_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
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
enum MHD_Result http_serve_snapshot(struct http *http, struct MHD_Connection *conn)
{
	bool gzip = header_has(conn, "Accept-Encoding", "gzip");
	size_t size = 0;
	struct hub_reader *rd = hub_reader_new(http->info.hub, http->all_topics, gzip, &size);
	struct MHD_Response *r;

	if (!rd)
		return http_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	if (!(r = MHD_create_response_from_callback(size, 16384, snap_reader, rd, snap_free))) {
		hub_reader_free(rd);
		return MHD_NO;
	}
	return queue_ok(conn, r, "application/json", "no-store", "Accept-Encoding", gzip);
}

/* GET /api/history: the store answers (see daemon/store.h); gzip'd when
 * accepted. */
enum MHD_Result http_serve_history(struct http *http, struct MHD_Connection *conn)
{
#define ARG(name) MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, name)
	struct store_query q = {ARG("topics"), ARG("from"), ARG("to"),    ARG("step"),
				ARG("format"), ARG("tops"), ARG("events")};
#undef ARG
	const char *type;
	size_t len = 0, zlen = 0;
	char *body = NULL, *z;
	unsigned status = store_api(http->info.store, &q, clock_real_ms(), &body, &len, &type);
	struct MHD_Response *r;

	if (!body)
		return http_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	if (status != MHD_HTTP_OK)
		return queue_buffer(conn, status, type, body, len, MHD_RESPMEM_MUST_FREE, NULL);
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
	add_common_headers(conn, r);
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
		return http_error(conn, MHD_HTTP_NOT_FOUND, "no such page: %s\n", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size > HTTP_MAX_FILE ||
	    !(data = malloc((size_t)st.st_size + 1))) {
		close(fd);
		return http_error(conn, MHD_HTTP_NOT_FOUND, "no such page: %s\n", path);
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

enum MHD_Result http_serve_static(struct http *http, struct MHD_Connection *conn, const char *url)
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
					  : http_error(conn, MHD_HTTP_NOT_FOUND, "no such page\n");

		close(web_fd);
		return ret;
	}
	if (!(a = assets_find(path)))
		return http_error(conn, MHD_HTTP_NOT_FOUND, "no such page\n");
	return queue_asset(conn, path, (void *)a->data, a->len, a->gz, a->gz_len, a->etag,
			   MHD_RESPMEM_PERSISTENT);
}
