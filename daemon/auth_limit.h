/* Abuse bounds for authentication: a failure budget per client address
 * (an IPv6 /64 counts as one), a global bound on crypt(3) runs, the
 * first login of each user from each address, and a budget of audit
 * lines a minute. Thread-safe (one mutex); never logs. */
#ifndef SYSFEED_AUTH_LIMIT_H
#define SYSFEED_AUTH_LIMIT_H

#include <stdbool.h>
#include <stdint.h>

#include <sys/socket.h>

#define AUTH_FAIL_MAX    10 /* failures an address may have in a window */
#define AUTH_WINDOW_MS   60000
#define AUTH_CRYPT_MAX   120  /* crypt(3) runs a window, all addresses together */
#define AUTH_AUDIT_LINES 20   /* audit lines a window; the rest are counted */
#define AUTH_ADDR_SLOTS  1024 /* addresses followed at once (the oldest give way) */
#define AUTH_LOGIN_SLOTS 256  /* (address, user) pairs remembered as logged in */

struct auth_limit;

struct auth_limit_stats {
	uint64_t throttled;     /* answers 429 */
	uint64_t crypt_refused; /* checks not run: the global bound */
};

struct auth_limit *auth_limit_new(void);
void auth_limit_free(struct auth_limit *l);

/* Whether a check that costs a crypt(3) run may go ahead for this address:
 * its failures and the global bound allow it (it is then counted against
 * the global bound). When not, *ret_retry_s says when to try again. */
bool auth_limit_may_crypt(struct auth_limit *l, const struct sockaddr *addr, unsigned *ret_retry_s);
/* Whether this address is over its failure budget (*ret_retry_s: for how
 * long more). */
bool auth_limit_blocked(struct auth_limit *l, const struct sockaddr *addr, unsigned *ret_retry_s);
/* Counts a failure; returns true when it is the one that used up the
 * address's budget (worth one audit line). */
bool auth_limit_fail(struct auth_limit *l, const struct sockaddr *addr);
/* Counts a 429. */
void auth_limit_throttled(struct auth_limit *l);
/* A success: returns true the first time this user logs in from this
 * address (as far as the table remembers). */
bool auth_limit_first_login(struct auth_limit *l, const struct sockaddr *addr, const char *user);
/* Whether an audit line may be written now; when not, it is counted, and
 * auth_limit_held returns (and resets) that count once its window ended. */
bool auth_limit_audit(struct auth_limit *l);
uint64_t auth_limit_held(struct auth_limit *l);
void auth_limit_get_stats(struct auth_limit *l, struct auth_limit_stats *ret);

#endif
