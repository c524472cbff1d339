/* The gate in front of an authenticated listener: HTTP Basic against the
 * users file, bearer tokens, or a trusted proxy's header; failure budgets
 * per address (429 with Retry-After), audit lines in the journal (failures
 * and first logins, a bounded number a minute). No credential is ever
 * logged: a user name only when the users file has it. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <microhttpd.h>

#include "auth.h"
#include "auth_limit.h"
#include "http_impl.h"
#include "log.h"

static const char *const challenge_basic[] = {MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					      "Basic realm=\"sysfeed\", charset=\"UTF-8\"", NULL};
static const char *const challenge_both[] = {
    MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Basic realm=\"sysfeed\", charset=\"UTF-8\"",
    MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer realm=\"sysfeed\"", NULL};
static const char *const challenge_bearer[] = {MHD_HTTP_HEADER_WWW_AUTHENTICATE,
					       "Bearer realm=\"sysfeed\"", NULL};

bool http_auth_configured(const struct config *cfg)
{
	return cfg->auth_users || cfg->auth_tokens || cfg->trusted_proxy.n;
}

bool http_auth_load(const struct config *cfg, struct auth_db **ret, char *err, size_t err_len)
{
	*ret = NULL;
	if (!cfg->auth_users && !cfg->auth_tokens)
		return true;
	*ret = auth_load(cfg->auth_users, cfg->auth_tokens, err, err_len);
	return *ret != NULL;
}

static void count(struct http *http, enum http_auth_count c)
{
	__atomic_add_fetch(&http->auth_counts[c], 1, __ATOMIC_RELAXED);
}

/* The peer's address as text. */
static void peer_text(const struct sockaddr *sa, char *buf, size_t len)
{
	snprintf(buf, len, "?");
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, buf,
			  (socklen_t)len);
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, buf,
			  (socklen_t)len);
}

/* Whether the peer is one of the trusted proxies. */
static bool peer_is(const struct sockaddr *sa, const struct list *proxies)
{
	unsigned char want[sizeof(struct in6_addr)];

	for (size_t i = 0; sa && i < proxies->n; i++) {
		if (sa->sa_family == AF_INET && inet_pton(AF_INET, proxies->v[i], want) == 1 &&
		    memcmp(want, &((const struct sockaddr_in *)sa)->sin_addr, 4) == 0)
			return true;
		if (sa->sa_family == AF_INET6 && inet_pton(AF_INET6, proxies->v[i], want) == 1 &&
		    memcmp(want, &((const struct sockaddr_in6 *)sa)->sin6_addr, 16) == 0)
			return true;
	}
	return false;
}

static void audit(struct http *http, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void audit(struct http *http, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!auth_limit_audit(http->limit))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	log_warnx("auth: %s", line);
}

static enum MHD_Result too_many(struct http *http, struct MHD_Connection *conn, unsigned retry)
{
	char secs[16];

	count(http, HTTP_AUTH_THROTTLED);
	auth_limit_throttled(http->limit);
	snprintf(secs, sizeof(secs), "%u", retry);
	return http_error_with(conn, MHD_HTTP_TOO_MANY_REQUESTS,
			       (const char *const[]){MHD_HTTP_HEADER_RETRY_AFTER, secs, NULL},
			       "too many failed logins from this address: try again in %u s\n",
			       retry);
}

static enum MHD_Result unauthorized(struct MHD_Connection *conn, const struct auth_db *db,
				    const char *why)
{
	const char *const *ch = auth_has_users(db) && auth_has_tokens(db) ? challenge_both
				: auth_has_tokens(db)                     ? challenge_bearer
									  : challenge_basic;

	return http_error_with(conn, MHD_HTTP_UNAUTHORIZED, ch, "%s\n", why);
}

/* A failure: counted against the address, audited, 401 (or 429 when it
 * used up the budget). */
static enum MHD_Result failed(struct http *http, struct MHD_Connection *conn,
			      const struct auth_db *db, const char *peer, const struct sockaddr *sa,
			      const char *what)
{
	unsigned retry = 0;

	count(http, HTTP_AUTH_BAD);
	audit(http, "%s: %s", peer, what);
	if (auth_limit_fail(http->limit, sa))
		audit(http, "%s: %d failures within a minute: 429 until the minute is over", peer,
		      AUTH_FAIL_MAX);
	if (auth_limit_blocked(http->limit, sa, &retry))
		return too_many(http, conn, retry);
	return unauthorized(conn, db, "wrong credentials");
}

/* A success: the first login of this user from this address is audited. */
static void passed(struct http *http, const struct sockaddr *sa, const char *peer,
		   enum http_auth_count how, const char *who)
{
	static const char *const method[] = {"password", "token", "proxy header"};

	count(http, how);
	if (auth_limit_first_login(http->limit, sa, who) && auth_limit_audit(http->limit))
		log_info("auth: %s logged in as %s (%s)", peer, who, method[how]);
}

/* HTTP Basic: the cache first; a crypt(3) run only within the budgets. */
static bool check_basic(struct http *http, struct MHD_Connection *conn, struct auth_db *db,
			const struct sockaddr *sa, const char *peer, enum MHD_Result *ret)
{
	char *pass = NULL, *user = MHD_basic_auth_get_username_password(conn, &pass);
	const char *who = NULL;
	enum auth_result r = AUTH_UNKNOWN;
	unsigned retry = 0;
	bool ok = false;

	if (!user || !pass) {
		*ret = failed(http, conn, db, peer, sa, "malformed Basic credentials");
		goto out;
	}
	r = auth_basic(db, user, pass, false, &who);
	if (r == AUTH_NO_CHECK) {
		if (!auth_limit_may_crypt(http->limit, sa, &retry)) {
			*ret = too_many(http, conn, retry);
			goto out;
		}
		r = auth_basic(db, user, pass, true, &who);
	}
	if (r == AUTH_OK) {
		passed(http, sa, peer, HTTP_AUTH_OK_BASIC, who);
		ok = true;
	} else if (r == AUTH_BAD) {
		char what[128];

		snprintf(what, sizeof(what), "wrong password for user %s", who);
		*ret = failed(http, conn, db, peer, sa, what);
	} else {
		*ret = failed(http, conn, db, peer, sa, "unknown user");
	}
out:
	if (pass) {
		explicit_bzero(pass, strlen(pass));
		MHD_free(pass);
	}
	if (user)
		MHD_free(user);
	return ok;
}

bool http_auth_check(struct http *http, struct MHD_Connection *conn, const char *url,
		     enum MHD_Result *ret)
{
	const union MHD_ConnectionInfo *ci =
	    MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
	const struct sockaddr *sa = ci ? ci->client_addr : NULL;
	const char *authz =
	    MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_AUTHORIZATION);
	const char *forwarded = NULL, *who = NULL;
	char peer[INET6_ADDRSTRLEN], header[128] = "";
	struct auth_db *db;
	bool from_proxy, ok = false;

	pthread_mutex_lock(&http->cfg_lock);
	db = auth_ref(http->auth);
	from_proxy = peer_is(sa, &http->cfg.trusted_proxy);
	if (from_proxy && http->cfg.trusted_proxy_header)
		snprintf(header, sizeof(header), "%s", http->cfg.trusted_proxy_header);
	pthread_mutex_unlock(&http->cfg_lock);
	peer_text(sa, peer, sizeof(peer));
	if (from_proxy && header[0])
		forwarded = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, header);

	if (forwarded) {
		/* the proxy authenticated the user; its header names them */
		if (auth_name_ok(forwarded, strlen(forwarded))) {
			passed(http, sa, peer, HTTP_AUTH_OK_PROXY, forwarded);
			ok = true;
		} else {
			count(http, HTTP_AUTH_BAD);
			audit(http, "%s: the proxy's %s header is not a user name", peer, header);
			*ret = http_error(conn, MHD_HTTP_BAD_REQUEST,
					  "%s: expected 1 to %d of A-Z a-z 0-9 . _ - @ +\n", header,
					  AUTH_NAME_MAX);
		}
	} else if (!authz) {
		count(http, HTTP_AUTH_MISSING);
		*ret = strcmp(url, "/healthz") == 0
			   ? http_serve_healthz(http, conn, true)
			   : unauthorized(conn, db, "authentication required");
	} else if (strncasecmp(authz, "Basic ", 6) == 0 && auth_has_users(db)) {
		ok = check_basic(http, conn, db, sa, peer, ret);
	} else if (strncasecmp(authz, "Bearer ", 7) == 0 && auth_has_tokens(db)) {
		const char *token = authz + 7;

		while (*token == ' ')
			token++;
		if (auth_bearer(db, token, &who) == AUTH_OK) {
			passed(http, sa, peer, HTTP_AUTH_OK_BEARER, who);
			ok = true;
		} else {
			*ret = failed(http, conn, db, peer, sa, "unknown bearer token");
		}
	} else {
		*ret = failed(http, conn, db, peer, sa, "an authorization scheme not configured");
	}
	auth_unref(db);
	return ok;
}

void http_auth_housekeep(struct http *http)
{
	uint64_t held = http->limit ? auth_limit_held(http->limit) : 0;

	if (held)
		log_warnx("auth: %llu more audit lines in the last minute",
			  (unsigned long long)held);
}
