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
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>
#include <zlib.h>

#include "assets.h"
#include "config.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"

#define HTTP_POOL_BYTES  8192 /* per connection: request headers, then write buffer */
#define HTTP_BLOCK_BYTES 2048 /* the reader's block when not chunked (HTTP/1.0) */
#define HTTP_SPARE_CONNS 64   /* beyond max-clients streams: pages, API, 503 answers */
#define HTTP_TIMEOUT_S   60   /* no progress for this long closes a connection */
#define HTTP_MAX_FILE    (16u << 20)
#define RETRY_MS         2000

static const char csp[] = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
			  "base-uri 'none'; form-action 'none'";

struct listener {
	struct MHD_Daemon *mhd;
	int fd;
};

struct http {
	struct listener ls[CONFIG_MAX_LISTEN];
	size_t n_ls;
	struct http_info info;
	uint64_t all_topics;
	pthread_mutex_t cfg_lock; /* guards cfg: reloads come from the loop thread */
	struct config cfg;
	int web_fd; /* --web-root, or -1 for the embedded assets */
};

static void conn_suspend(void *conn)
{
	MHD_suspend_connection(conn);
}

static void conn_resume(void *conn)
{
	MHD_resume_connection(conn);
}

const struct hub_conn_ops http_conn_ops = {conn_suspend, conn_resume};

static void mhd_logger(void *cls, const char *fmt, va_list ap)
{
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
	log_warnx("http: %s", line);
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
	if (prio && (f->max_level = config_priority(prio)) < 0) {
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

static ssize_t sse_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	long n = hub_client_read(cls, buf, max);

	return n < 0 ? MHD_CONTENT_READER_END_OF_STREAM : (ssize_t)n;
}

static void sse_free(void *cls)
{
	hub_client_free(cls);
}

static enum MHD_Result serve_events(struct http *http, struct MHD_Connection *conn, bool head)
{
	const char *topics = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "topics");
	const char *last_id =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_LAST_EVENT_ID);
	uint64_t mask = http->all_topics;
	struct hub_client *client;
	struct MHD_Response *r;
	enum MHD_Result ret;
	char bad[80], why[128], units[1024], exclude[1024];
	struct hub_filter filter;
	struct hub_stats st;
	unsigned max_clients;
	int has_filter;

	if (topics && hub_topic_mask(http->info.topic_names, topics, &mask, bad, sizeof(bad)) < 0) {
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
	if (!last_id || !*last_id)
		last_id = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, "lastEventId");
	pthread_mutex_lock(&http->cfg_lock);
	max_clients = http->cfg.max_clients;
	pthread_mutex_unlock(&http->cfg_lock);
	hub_get_stats(http->info.hub, &st);
	if (st.clients >= max_clients)
		return queue_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE,
				   "%u event streams already (max-clients); try again later\n",
				   st.clients);
	/* HEAD: the stream's headers, no body (not even a chunked terminator) */
	r = head ? MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT) : NULL;
	if (head)
		goto headers;
	if (!(client = hub_client_new(http->info.hub, mask, last_id, conn)))
		return queue_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	if (has_filter && hub_client_set_filter(client, &filter) < 0) {
		hub_client_free(client);
		return queue_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	}
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, HTTP_BLOCK_BYTES, sse_reader,
					      client, sse_free);
	if (!r)
		hub_client_free(client);
headers:
	if (!r)
		return MHD_NO;
	add_common_headers(r);
	MHD_add_response_header(r, "Content-Type", "text/event-stream; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-store, no-transform");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve_healthz(struct http *http, struct MHD_Connection *conn)
{
	struct hub_stats st;
	struct timespec now;
	char *body = NULL;
	int n;

	hub_get_stats(http->info.hub, &st);
	clock_gettime(CLOCK_REALTIME, &now);
	n = asprintf(
	    &body,
	    "{\"status\":\"ok\",\"version\":\"%s\",\"instance\":\"%016" PRIx64
	    "\",\"uptime\":%.3f,\"clients\":%u,\"events\":%" PRIu64 ",\"bytes_sent\":%" PRIu64
	    ",\"resyncs\":%" PRIu64 ",\"ring\":{\"first\":%" PRIu64 ",\"last\":%" PRIu64
	    ",\"bytes\":%zu,\"capacity\":%zu}}\n",
	    SYSFEED_VERSION, st.instance,
	    (double)(now.tv_sec * 1000 + now.tv_nsec / 1000000 - http->info.start_ms) / 1000.0,
	    st.clients, st.published, st.bytes_sent, st.resyncs, st.first_seq, st.last_seq,
	    st.ring_used, st.ring_bytes);
	if (n < 0)
		return MHD_NO;
	return queue_buffer(conn, MHD_HTTP_OK, "application/json", body, (size_t)n,
			    MHD_RESPMEM_MUST_FREE);
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
static enum MHD_Result serve_metrics(struct http *http, struct MHD_Connection *conn)
{
	bool om = header_has(conn, "Accept", "application/openmetrics-text");
	size_t len = 0, zlen = 0;
	char *text = hub_metrics_text(http->info.hub, &len), *z;
	struct MHD_Response *r;
	enum MHD_Result ret;

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
	add_common_headers(r);
	MHD_add_response_header(r, "Content-Type",
				om ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
				   : "text/plain; version=0.0.4; charset=utf-8");
	MHD_add_response_header(r, "Cache-Control", "no-store");
	MHD_add_response_header(r, "Vary", "Accept, Accept-Encoding");
	if (zlen)
		MHD_add_response_header(r, "Content-Encoding", "gzip");
	ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result serve_snapshot(struct http *http, struct MHD_Connection *conn)
{
	size_t len = 0;
	char *json = hub_snapshot_json(http->info.hub, http->all_topics, &len);

	if (!json)
		return queue_error(conn, MHD_HTTP_SERVICE_UNAVAILABLE, "out of memory\n");
	return queue_buffer(conn, MHD_HTTP_OK, "application/json", json, len,
			    MHD_RESPMEM_MUST_FREE);
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

/* Only plain relative names below the web root: no "..", no odd bytes. */
static bool path_ok(const char *path)
{
	if (path[0] != '/' || strstr(path, "..") || strstr(path, "//"))
		return false;
	for (const char *p = path; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '/' || *p == '.' || *p == '-' || *p == '_'))
			return false;
	return true;
}

/* --web-root: the file from disk, read whole, with an ETag from its stat. */
static enum MHD_Result serve_disk(struct http *http, int web_fd, struct MHD_Connection *conn,
				  const char *path)
{
	char etag[64], *data = NULL;
	struct stat st;
	size_t got = 0;
	int fd;

	fd = openat(web_fd, path + 1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
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
	static int seen;
	struct http *http = cls;
	const char *host;
	bool allowed;

	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return queue_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
				   "method %.16s not allowed: use GET or HEAD\n", method);
	/* Answering on the first call would make MHD close the connection
	 * afterwards (the request might have a body); answer on the second. */
	if (!*con_cls) {
		*con_cls = &seen;
		return MHD_YES;
	}
	if (*upload_data_size) {
		*upload_data_size = 0; /* a GET with a body: ignore the body */
		return MHD_YES;
	}
	host = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_HOST);
	pthread_mutex_lock(&http->cfg_lock);
	allowed = config_host_allowed(&http->cfg, host);
	pthread_mutex_unlock(&http->cfg_lock);
	if (!allowed)
		return queue_error(conn, MHD_HTTP_FORBIDDEN,
				   "host '%.100s' not allowed: add it to allowed-hosts\n", host);
	if (strcmp(url, "/events") == 0)
		return serve_events(http, conn, strcmp(method, MHD_HTTP_METHOD_HEAD) == 0);
	if (strcmp(url, "/api/snapshot") == 0)
		return serve_snapshot(http, conn);
	if (strcmp(url, "/healthz") == 0)
		return serve_healthz(http, conn);
	if (strcmp(url, "/metrics") == 0)
		return serve_metrics(http, conn);
	return serve_static(http, conn, url);
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
	    0, NULL, NULL, handle, http, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, NULL,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned)cfg->max_clients + HTTP_SPARE_CONNS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)cfg->max_clients_per_address,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_POOL_BYTES, MHD_OPTION_END);
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
	for (unsigned i = 0; info->topic_names[i]; i++)
		http->all_topics |= 1ULL << i;
	if (config_copy(&http->cfg, cfg) < 0) {
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
	for (size_t i = 0; i < cfg->n_listen && !info->n_fds; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		int fd;

		if (parse_addr(cfg->listen[i], &ss, &len) < 0) {
			snprintf(err, err_len, "listen %s: not an address", cfg->listen[i]);
			goto fail;
		}
		if (!addr_is_loopback(&ss)) {
			snprintf(err, err_len, "refusing to listen on %s: %s", cfg->listen[i],
				 no_remote);
			goto fail;
		}
		if ((fd = bind_one(&ss, len)) < 0) {
			if (cfg->listen_default) {
				log_warnx("skipping default address %s: %s", cfg->listen[i],
					  strerror(-fd));
				continue;
			}
			snprintf(err, err_len, "cannot listen on %s: %s", cfg->listen[i],
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
	for (size_t i = 0; i < http->n_ls; i++)
		MHD_quiesce_daemon(http->ls[i].mhd);
	hub_close(http->info.hub);
	for (size_t i = 0; i < http->n_ls; i++) {
		MHD_stop_daemon(http->ls[i].mhd);
		close(http->ls[i].fd);
	}
	if (http->web_fd >= 0)
		close(http->web_fd);
	config_free(&http->cfg);
	pthread_mutex_destroy(&http->cfg_lock);
	free(http);
}
