/* The HTTP server: its listeners (one libmicrohttpd daemon each), the
 * connection budgets and deadlines, request routing and reloads. The
 * answers are in http_serve.c. */
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
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <linux/openat2.h>

#include <microhttpd.h>
#include <zlib.h>

#include "array.h"
#include "assets.h"
#include "auth.h"
#include "auth_limit.h"
#include "config.h"
#include "conns.h"
#include "hub.h"
#include "log.h"
#include "metrics.h"
#include "clock.h"
#include "http_impl.h"
#include "tls.h"

/* Markers in a request's context (*con_cls): request line in, headers in
 * (seen by the handler once), too many arguments, a scrape that waited
 * for the metrics texts. */
static int req_new, req_seen, req_too_many_args, req_metrics;

/* A stream a writer sends stays suspended in libmicrohttpd all along: the
 * hub parks and wakes it with its writer. */
static void conn_suspend(void *conn)
{
	struct stream *st = conn;

	if (!st->writer)
		MHD_suspend_connection(st->mc);
}

static void conn_resume(void *conn)
{
	struct stream *st = conn;

	if (st->writer)
		writers_wake(st);
	else
		MHD_resume_connection(st->mc);
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

/* /metrics: answered at once when the texts show the latest tick; else
 * suspended until the loop wrote them (http_metrics_written resumes it,
 * and the handler answers: req_metrics). */
static enum MHD_Result metrics_request(struct http *http, struct MHD_Connection *conn,
				       void **con_cls)
{
	uint64_t one = 1;
	bool queued = false;

	if (hub_metrics_scrape(http->info.hub))
		return http_serve_metrics(http, conn);
	pthread_mutex_lock(&http->metrics_lock);
	if (http->metrics_fd >= 0 &&
	    ARRAY_GROW(http->mwait, http->cap_mwait, http->n_mwait, 8) == 0) {
		MHD_suspend_connection(conn);
		http->mwait[http->n_mwait++] = conn;
		queued = true;
	}
	pthread_mutex_unlock(&http->metrics_lock);
	if (!queued)
		return http_serve_metrics(http, conn); /* the texts there are */
	*con_cls = &req_metrics;
	/* fails only when the counter is full, which still wakes the loop */
	(void)!write(http->metrics_fd, &one, sizeof(one));
	return MHD_YES;
}

void http_metrics_written(struct http *http)
{
	pthread_mutex_lock(&http->metrics_lock);
	for (size_t i = 0; i < http->n_mwait; i++)
		MHD_resume_connection(http->mwait[i]);
	http->n_mwait = 0;
	pthread_mutex_unlock(&http->metrics_lock);
}

int http_metrics_fd(struct http *http)
{
	return http->metrics_fd;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload_data,
			      size_t *upload_data_size, void **con_cls)
{
	struct listener *l = cls;
	struct http *http = l->http;
	enum MHD_Result ret;
	const char *host;
	bool allowed;

	if (*con_cls == &req_metrics) /* resumed: the texts are written */
		return http_serve_metrics(http, conn);
	if (*con_cls == &req_too_many_args) {
		__atomic_add_fetch(&http->refused_args, 1, __ATOMIC_RELAXED);
		return http_error(conn, MHD_HTTP_URI_TOO_LONG,
				  "too many query arguments: at most %d\n", HTTP_MAX_ARGS);
	}
	if (*con_cls != &req_seen) { /* the request's headers are all in */
		conns_request(http->conns, http_conn_rec(conn));
		*con_cls = &req_seen;
		if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 &&
		    strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
			return http_error(conn, MHD_HTTP_METHOD_NOT_ALLOWED,
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
		return http_error(conn, MHD_HTTP_BAD_REQUEST,
				  "HTTP/1.1 request without a Host header\n");
	pthread_mutex_lock(&http->cfg_lock);
	allowed = config_host_allowed(&http->cfg, host);
	pthread_mutex_unlock(&http->cfg_lock);
	if (!allowed) {
		__atomic_add_fetch(&http->refused_host, 1, __ATOMIC_RELAXED);
		return http_error(conn, MHD_HTTP_FORBIDDEN,
				  "host '%.100s' not allowed: add it to allowed-hosts\n", host);
	}
	if (l->authed && !http_auth_check(http, conn, url, &ret))
		return ret;
	if (strcmp(url, "/events") == 0)
		return http_serve_events(http, conn, version,
					 strcmp(method, MHD_HTTP_METHOD_HEAD) == 0);
	if (strcmp(url, "/api/snapshot") == 0)
		return http_serve_snapshot(http, conn);
	if (strcmp(url, "/api/history") == 0)
		return http_serve_history(http, conn);
	if (strcmp(url, "/healthz") == 0)
		return http_serve_healthz(http, conn, false);
	if (strcmp(url, "/metrics") == 0)
		return metrics_request(http, conn, con_cls);
	return http_serve_static(http, conn, url);
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
		*socket_context = conns_open(http->conns, http_conn_fd(conn));
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
	conns_done(http->conns, http_conn_rec(conn));
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

static void print_bound(int fd, bool tls)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[INET6_ADDRSTRLEN];
	const char *scheme = tls ? "https" : "http";

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return;
	if (ss.ss_family == AF_INET6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;

		inet_ntop(AF_INET6, &s6->sin6_addr, host, sizeof(host));
		log_info("listening on %s://[%s]:%u/", scheme, host, ntohs(s6->sin6_port));
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;

		inet_ntop(AF_INET, &s4->sin_addr, host, sizeof(host));
		log_info("listening on %s://%s:%u/", scheme, host, ntohs(s4->sin_port));
	}
}

/* The rules for a listener: beyond loopback only with TLS and a way to
 * authenticate; TLS needs its files; auth-loopback needs a way too.
 * Returns 0, or -EINVAL with a one-line reason naming what to set. */
static int listener_rules(const struct config *cfg, const char *name, bool loopback, bool tls,
			  char *err, size_t err_len)
{
	if (!loopback && !tls) {
		snprintf(
		    err, err_len,
		    "refusing to listen on %s without TLS: write it https://%s and set tls-cert, "
		    "tls-key and auth-users or auth-tokens (or reach it through an SSH tunnel: "
		    "ssh -L 8390:127.0.0.1:8390 HOST)",
		    name, name);
		return -EINVAL;
	}
	if (tls && (!cfg->tls_cert || !cfg->tls_key)) {
		snprintf(err, err_len, "listen https://%s: set tls-cert and tls-key", name);
		return -EINVAL;
	}
	if ((!loopback || cfg->auth_loopback) && !http_auth_configured(cfg)) {
		snprintf(err, err_len,
			 "%s%s needs authentication: set auth-users, auth-tokens or trusted-proxy",
			 loopback ? "auth-loopback = yes on " : "listening beyond loopback on ",
			 name);
		return -EINVAL;
	}
	return 0;
}

/* One polling thread per core (at most 4), and as many stream writers: a
 * tick's wake-up of many streams is spread over them. Still no thread per
 * connection. */
static unsigned http_threads(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	return n < 1 ? 1 : n > 4 ? 4 : (unsigned)n;
}

/* Starts one libmicrohttpd daemon on a listening socket it then owns. */
static int start_listener(struct http *http, const struct config *cfg, int fd, bool tls,
			  bool authed, char *err, size_t err_len)
{
	struct listener *l = &http->ls[http->n_ls];
	struct MHD_OptionItem tls_opts[] = {
	    {MHD_OPTION_HTTPS_CERT_CALLBACK, 0, (void *)tls_retrieve},
	    {MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)tls_priorities},
	    {MHD_OPTION_END, 0, NULL},
	};
	unsigned threads;

	if (http->n_ls >= CONFIG_MAX_LISTEN) {
		snprintf(err, err_len, "more than %d listening sockets", CONFIG_MAX_LISTEN);
		close(fd);
		return -EINVAL;
	}
	l->fd = fd;
	l->http = http;
	l->tls = tls;
	l->authed = authed;
	threads = http_threads();
	l->mhd = MHD_start_daemon(
	    MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME |
		MHD_USE_TURBO | MHD_USE_ERROR_LOG | (tls ? MHD_USE_TLS : 0),
	    0, NULL, NULL, handle, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, http,
	    MHD_OPTION_LISTEN_SOCKET, fd, MHD_OPTION_THREAD_POOL_SIZE, threads,
	    /* above streams and both budgets: conns makes room before this bites */
	    MHD_OPTION_CONNECTION_LIMIT,
	    (unsigned)cfg->max_clients + 2 * (HTTP_MAX_WAITING + HTTP_MAX_ACTIVE) * threads,
	    MHD_OPTION_NOTIFY_CONNECTION, conn_notify, http, MHD_OPTION_NOTIFY_COMPLETED,
	    request_done, http, MHD_OPTION_URI_LOG_CALLBACK, uri_seen, http,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)HTTP_TIMEOUT_S,
	    MHD_OPTION_CONNECTION_MEMORY_LIMIT, cfg->connection_bytes, MHD_OPTION_ARRAY,
	    tls ? tls_opts : tls_opts + 2, MHD_OPTION_END);
	if (!l->mhd) {
		close(fd);
		snprintf(err, err_len, "cannot start the HTTP server%s",
			 tls ? " with TLS (see the lines before)" : "");
		return -EIO;
	}
	http->n_ls++;
	print_bound(fd, tls);
	return 0;
}

static int open_web_root(const char *dir)
{
	return dir ? open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
}

/* Whether the socket address equals an https:// word of cfg->listen (a
 * socket from the service manager is TLS when so). */
static bool listed_tls(const struct config *cfg, const struct sockaddr_storage *ss)
{
	for (size_t i = 0; i < cfg->listen.n; i++) {
		struct sockaddr_storage want;
		socklen_t len;
		bool tls;
		const char *addr = config_listen_addr(cfg->listen.v[i], &tls);

		if (tls && parse_addr(addr, &want, &len) == 0 && want.ss_family == ss->ss_family &&
		    memcmp(&want, ss, len) == 0)
			return true;
	}
	return false;
}

/* The TLS files and the users and tokens files, loaded before any
 * listener starts. */
static int load_credentials(struct http *http, const struct config *cfg, char *err, size_t err_len)
{
	if (cfg->tls_cert && cfg->tls_key &&
	    tls_load(cfg->tls_cert, cfg->tls_key, err, err_len) < 0)
		return -EINVAL;
	if (!http_auth_load(cfg, &http->auth, err, err_len))
		return -EINVAL;
	return 0;
}

int http_check(const struct config *cfg, char *err, size_t err_len)
{
	struct auth_db *db = NULL;

	for (size_t i = 0; i < cfg->listen.n; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		bool tls;
		const char *addr = config_listen_addr(cfg->listen.v[i], &tls);

		if (parse_addr(addr, &ss, &len) < 0) {
			snprintf(err, err_len, "listen %s: not an address", cfg->listen.v[i]);
			return -EINVAL;
		}
		if (listener_rules(cfg, addr, addr_is_loopback(&ss), tls, err, err_len) < 0)
			return -EINVAL;
	}
	if (cfg->tls_cert && cfg->tls_key) {
		if (tls_load(cfg->tls_cert, cfg->tls_key, err, err_len) < 0)
			return -EINVAL;
		tls_unload();
	}
	if (!http_auth_load(cfg, &db, err, err_len))
		return -EINVAL;
	auth_unref(db);
	return 0;
}

struct http *http_start(const struct config *cfg, const struct http_info *info, char *err,
			size_t err_len)
{
	struct http *http = calloc(1, sizeof(*http));
	bool beyond = false;

	if (!http) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	http->info = *info;
	http->web_fd = -1;
	http->metrics_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pthread_mutex_init(&http->metrics_lock, NULL);
	pthread_mutex_init(&http->cfg_lock, NULL);
	pthread_mutex_init(&http->log.lock, NULL);
	http->log.window_ms = clock_mono_ms();
	for (unsigned i = 0; info->topic_names[i]; i++)
		http->all_topics |= 1ULL << i;
	http->conns = conns_new(&(struct conns_limits){HTTP_MAX_WAITING, HTTP_MAX_ACTIVE,
						       HTTP_HEADER_MS, HTTP_ANSWER_MS});
	http->limit = auth_limit_new();
	if (http->metrics_fd < 0 || !http->conns || !http->limit ||
	    config_copy(&http->cfg, cfg) < 0) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	if (cfg->web_root && (http->web_fd = open_web_root(cfg->web_root)) < 0) {
		snprintf(err, err_len, "web-root %s: %s", cfg->web_root, strerror(errno));
		goto fail;
	}
	if (load_credentials(http, cfg, err, err_len) < 0)
		goto fail;
	if (!(http->writers = writers_start(http_threads())))
		log_warnx("no stream writer thread: streams go through libmicrohttpd's buffers");
	for (size_t i = 0; i < info->n_fds; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		char name[64];
		bool loopback, tls;

		if (getsockname(info->fds[i], (struct sockaddr *)&ss, &len) < 0 ||
		    (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
			snprintf(err, err_len, "socket %d from the service manager is not TCP",
				 info->fds[i]);
			goto fail;
		}
		loopback = addr_is_loopback(&ss);
		tls = !loopback || listed_tls(cfg, &ss);
		snprintf(name, sizeof(name), "socket %d from the service manager", info->fds[i]);
		if (listener_rules(cfg, name, loopback, tls, err, err_len) < 0 ||
		    start_listener(http, cfg, info->fds[i], tls, !loopback || cfg->auth_loopback,
				   err, err_len) < 0)
			goto fail;
		beyond |= !loopback;
	}
	for (size_t i = 0; i < cfg->listen.n && !info->n_fds; i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		bool tls, loopback;
		const char *addr = config_listen_addr(cfg->listen.v[i], &tls);
		int fd;

		if (parse_addr(addr, &ss, &len) < 0) {
			snprintf(err, err_len, "listen %s: not an address", cfg->listen.v[i]);
			goto fail;
		}
		loopback = addr_is_loopback(&ss);
		if (listener_rules(cfg, addr, loopback, tls, err, err_len) < 0)
			goto fail;
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
		if (start_listener(http, cfg, fd, tls, !loopback || cfg->auth_loopback, err,
				   err_len) < 0)
			goto fail;
		beyond |= !loopback;
	}
	if (http->n_ls == 0) {
		snprintf(err, err_len, "no address could be bound");
		goto fail;
	}
	if (beyond && cfg->allowed_hosts.n == 0)
		log_warnx("listening beyond loopback with no allowed-hosts: browsers must reach it "
			  "by a loopback name; list the names and addresses clients use");
	return http;
fail:
	http_stop(http);
	return NULL;
}

int http_reconfigure(struct http *http, const struct config *cfg, char *err, size_t err_len)
{
	struct config copy, old;
	struct auth_db *db = NULL, *old_db;
	int web_fd = -1, old_fd;
	bool tls = false, authed = false;

	for (size_t i = 0; i < http->n_ls; i++) {
		tls |= http->ls[i].tls;
		authed |= http->ls[i].authed;
	}
	if (cfg->web_root && (web_fd = open_web_root(cfg->web_root)) < 0) {
		snprintf(err, err_len, "web-root %s: %s", cfg->web_root, strerror(errno));
		return -errno;
	}
	if (authed && !http_auth_configured(cfg)) {
		snprintf(err, err_len,
			 "authenticated listeners need auth-users, auth-tokens or "
			 "trusted-proxy");
		goto fail;
	}
	if (tls && (!cfg->tls_cert || !cfg->tls_key)) {
		snprintf(err, err_len, "TLS listeners need tls-cert and tls-key");
		goto fail;
	}
	/* the files again, even when their names did not change (renewals) */
	if (!http_auth_load(cfg, &db, err, err_len) ||
	    (cfg->tls_cert && cfg->tls_key &&
	     tls_load(cfg->tls_cert, cfg->tls_key, err, err_len) < 0))
		goto fail;
	if (config_copy(&copy, cfg) < 0) {
		snprintf(err, err_len, "out of memory");
		goto fail;
	}
	pthread_mutex_lock(&http->cfg_lock);
	old = http->cfg;
	http->cfg = copy;
	old_fd = http->web_fd;
	http->web_fd = web_fd;
	old_db = http->auth;
	http->auth = db;
	pthread_mutex_unlock(&http->cfg_lock);
	config_free(&old);
	auth_unref(old_db);
	if (old_fd >= 0)
		close(old_fd);
	return 0;
fail:
	auth_unref(db);
	if (web_fd >= 0)
		close(web_fd);
	return -EINVAL;
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
	writers_stop(http->writers); /* resumes the streams it sends */
	http_metrics_written(http);  /* waiting scrapes get the texts there are */
	for (size_t i = 0; i < http->n_ls; i++)
		MHD_stop_daemon(http->ls[i].mhd);
	if (http->metrics_fd >= 0)
		close(http->metrics_fd);
	free(http->mwait);
	pthread_mutex_destroy(&http->metrics_lock);
	if (http->web_fd >= 0)
		close(http->web_fd);
	logsum_flush(&http->log, clock_mono_ms(), true);
	auth_unref(http->auth);
	auth_limit_free(http->limit);
	tls_unload();
	conns_free(http->conns);
	config_free(&http->cfg);
	pthread_mutex_destroy(&http->cfg_lock);
	pthread_mutex_destroy(&http->log.lock);
	free(http);
}

void http_housekeep(struct http *http)
{
	conns_sweep(http->conns);
	tls_housekeep();
	http_auth_housekeep(http);
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
