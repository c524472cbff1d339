/* Failure budgets per address and audit-line budgets: see auth_limit.h. */
#include "auth_limit.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"

struct addr_slot {
	uint8_t key[16];
	uint64_t window_ms; /* start of its window; 0: free */
	unsigned fails;
};

struct login_slot {
	uint8_t key[16];
	uint64_t user; /* FNV-1a of the name */
	bool used;
};

struct window {
	uint64_t start_ms;
	unsigned n;
};

struct auth_limit {
	pthread_mutex_t lock;
	struct addr_slot addrs[AUTH_ADDR_SLOTS];
	struct login_slot logins[AUTH_LOGIN_SLOTS];
	unsigned next_login;
	struct window crypts, audit;
	uint64_t held;
	struct auth_limit_stats stats;
};

struct auth_limit *auth_limit_new(void)
{
	struct auth_limit *l = calloc(1, sizeof(*l));

	if (l)
		pthread_mutex_init(&l->lock, NULL);
	return l;
}

void auth_limit_free(struct auth_limit *l)
{
	if (!l)
		return;
	pthread_mutex_destroy(&l->lock);
	free(l);
}

/* IPv4 as v4-mapped IPv6; IPv6 cut to its /64 (one host has a whole /64). */
static void addr_key(const struct sockaddr *sa, uint8_t key[16])
{
	memset(key, 0, 16);
	if (sa && sa->sa_family == AF_INET) {
		key[10] = key[11] = 0xff;
		memcpy(key + 12, &((const struct sockaddr_in *)sa)->sin_addr, 4);
	} else if (sa && sa->sa_family == AF_INET6) {
		const uint8_t *a = ((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr;

		memcpy(key, a, IN6_IS_ADDR_V4MAPPED((const struct in6_addr *)a) ? 16 : 8);
	}
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const uint8_t *)p)[i]) * 1099511628211ULL;
	return h;
}

/* The address's slot: its own, else a free or expired one near its hash,
 * else the oldest of those (create), or NULL (lookup only). */
static struct addr_slot *slot_of(struct auth_limit *l, const uint8_t key[16], uint64_t now,
				 bool create)
{
	size_t h = (size_t)fnv(key, 16, 14695981039346656037ULL) % AUTH_ADDR_SLOTS;
	struct addr_slot *spare = NULL;
	bool spare_live = true;

	for (size_t i = 0; i < 8; i++) {
		struct addr_slot *s = &l->addrs[(h + i) % AUTH_ADDR_SLOTS];
		bool live = s->window_ms && now - s->window_ms < AUTH_WINDOW_MS;

		if (live && memcmp(s->key, key, 16) == 0)
			return s;
		/* a free or expired slot first, else the oldest window */
		if (!spare || (spare_live && !live) ||
		    (spare_live && live && s->window_ms < spare->window_ms)) {
			spare = s;
			spare_live = live;
		}
	}
	if (!create)
		return NULL;
	memcpy(spare->key, key, 16);
	spare->window_ms = now;
	spare->fails = 0;
	return spare;
}

static unsigned retry_after(uint64_t start_ms, uint64_t now)
{
	uint64_t left = start_ms + AUTH_WINDOW_MS > now ? start_ms + AUTH_WINDOW_MS - now : 0;

	return (unsigned)((left + 999) / 1000) + 1;
}

/* Starts a new window when the last one ended. */
static void window_roll(struct window *w, uint64_t now)
{
	if (now - w->start_ms >= AUTH_WINDOW_MS) {
		w->start_ms = now;
		w->n = 0;
	}
}

static bool blocked_locked(struct auth_limit *l, const uint8_t key[16], uint64_t now,
			   unsigned *ret_retry_s)
{
	struct addr_slot *s = slot_of(l, key, now, false);

	if (!s || s->fails < AUTH_FAIL_MAX)
		return false;
	*ret_retry_s = retry_after(s->window_ms, now);
	return true;
}

bool auth_limit_blocked(struct auth_limit *l, const struct sockaddr *addr, unsigned *ret_retry_s)
{
	uint8_t key[16];
	bool b;

	addr_key(addr, key);
	pthread_mutex_lock(&l->lock);
	b = blocked_locked(l, key, clock_mono_ms(), ret_retry_s);
	pthread_mutex_unlock(&l->lock);
	return b;
}

bool auth_limit_may_crypt(struct auth_limit *l, const struct sockaddr *addr, unsigned *ret_retry_s)
{
	uint64_t now = clock_mono_ms();
	uint8_t key[16];
	bool ok = false;

	addr_key(addr, key);
	pthread_mutex_lock(&l->lock);
	window_roll(&l->crypts, now);
	if (blocked_locked(l, key, now, ret_retry_s)) {
		/* over its own budget */
	} else if (l->crypts.n >= AUTH_CRYPT_MAX) {
		*ret_retry_s = retry_after(l->crypts.start_ms, now);
		l->stats.crypt_refused++;
	} else {
		l->crypts.n++;
		ok = true;
	}
	pthread_mutex_unlock(&l->lock);
	return ok;
}

bool auth_limit_fail(struct auth_limit *l, const struct sockaddr *addr)
{
	uint8_t key[16];
	bool now_full;

	addr_key(addr, key);
	pthread_mutex_lock(&l->lock);
	struct addr_slot *s = slot_of(l, key, clock_mono_ms(), true);

	now_full = ++s->fails == AUTH_FAIL_MAX;
	pthread_mutex_unlock(&l->lock);
	return now_full;
}

void auth_limit_throttled(struct auth_limit *l)
{
	pthread_mutex_lock(&l->lock);
	l->stats.throttled++;
	pthread_mutex_unlock(&l->lock);
}

bool auth_limit_first_login(struct auth_limit *l, const struct sockaddr *addr, const char *user)
{
	uint8_t key[16];
	uint64_t u = fnv(user, strlen(user), 14695981039346656037ULL);
	bool first = true;

	addr_key(addr, key);
	pthread_mutex_lock(&l->lock);
	for (size_t i = 0; i < AUTH_LOGIN_SLOTS && first; i++)
		first = !(l->logins[i].used && l->logins[i].user == u &&
			  memcmp(l->logins[i].key, key, 16) == 0);
	if (first) {
		struct login_slot *s = &l->logins[l->next_login++ % AUTH_LOGIN_SLOTS];

		memcpy(s->key, key, 16);
		s->user = u;
		s->used = true;
	}
	pthread_mutex_unlock(&l->lock);
	return first;
}

bool auth_limit_audit(struct auth_limit *l)
{
	uint64_t now = clock_mono_ms();
	bool ok;

	pthread_mutex_lock(&l->lock);
	if (now - l->audit.start_ms >= AUTH_WINDOW_MS && !l->held) {
		l->audit.start_ms = now;
		l->audit.n = 0;
	}
	ok = l->audit.n < AUTH_AUDIT_LINES;
	if (ok)
		l->audit.n++;
	else
		l->held++;
	pthread_mutex_unlock(&l->lock);
	return ok;
}

uint64_t auth_limit_held(struct auth_limit *l)
{
	uint64_t now = clock_mono_ms(), n = 0;

	pthread_mutex_lock(&l->lock);
	if (now - l->audit.start_ms >= AUTH_WINDOW_MS) {
		n = l->held;
		l->held = 0;
		l->audit.start_ms = now;
		l->audit.n = 0;
	}
	pthread_mutex_unlock(&l->lock);
	return n;
}

void auth_limit_get_stats(struct auth_limit *l, struct auth_limit_stats *ret)
{
	pthread_mutex_lock(&l->lock);
	*ret = l->stats;
	pthread_mutex_unlock(&l->lock);
}
