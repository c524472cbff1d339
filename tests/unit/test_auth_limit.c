/* Unit tests of daemon/auth_limit.c: the failure budget per address (an
 * IPv6 /64 as one), the global crypt(3) bound, first logins, and the
 * audit-line budget. Windows are a minute: nothing here waits one out. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "auth_limit.h"
#include "unit.h"

static struct sockaddr_storage addr(const char *text)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(text, ':')) {
		ss.ss_family = AF_INET6;
		assert_int_equal(
		    inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
	} else {
		ss.ss_family = AF_INET;
		assert_int_equal(inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr),
				 1);
	}
	return ss;
}

#define SA(s) ((const struct sockaddr *)&(s))

TEST(test_budget_per_address)
{
	struct auth_limit *l = auth_limit_new();
	struct sockaddr_storage a = addr("192.0.2.7"), b = addr("192.0.2.8");
	struct sockaddr_storage v6a = addr("2001:db8:1:2::1"), v6b = addr("2001:db8:1:2:ffff::9");
	struct sockaddr_storage v6c = addr("2001:db8:1:3::1"), mapped = addr("::ffff:192.0.2.7");
	unsigned retry = 0;

	for (int i = 1; i < AUTH_FAIL_MAX; i++) {
		assert_false(auth_limit_fail(l, SA(a)));
		assert_false(auth_limit_blocked(l, SA(a), &retry));
		assert_true(auth_limit_may_crypt(l, SA(a), &retry));
	}
	assert_true(auth_limit_fail(l, SA(a))); /* the one that used it up */
	assert_true(auth_limit_blocked(l, SA(a), &retry));
	assert_true(retry >= 1 && retry <= AUTH_WINDOW_MS / 1000 + 1);
	assert_false(auth_limit_may_crypt(l, SA(a), &retry));
	assert_false(auth_limit_fail(l, SA(a))); /* said once */
	/* the same address as v4-mapped IPv6 is the same client */
	assert_true(auth_limit_blocked(l, SA(mapped), &retry));
	assert_false(auth_limit_blocked(l, SA(b), &retry));
	assert_true(auth_limit_may_crypt(l, SA(b), &retry));
	/* a /64 is one client */
	for (int i = 0; i < AUTH_FAIL_MAX; i++)
		auth_limit_fail(l, SA(v6a));
	assert_true(auth_limit_blocked(l, SA(v6b), &retry));
	assert_false(auth_limit_blocked(l, SA(v6c), &retry));
	auth_limit_free(l);
}

TEST(test_global_crypt_bound)
{
	struct auth_limit *l = auth_limit_new();
	struct auth_limit_stats st;
	unsigned retry = 0;
	char text[32];

	for (int i = 0; i < AUTH_CRYPT_MAX; i++) {
		struct sockaddr_storage a;

		snprintf(text, sizeof(text), "10.0.%d.%d", i / 200, i % 200 + 1);
		a = addr(text);
		assert_true(auth_limit_may_crypt(l, SA(a), &retry));
	}
	struct sockaddr_storage fresh = addr("203.0.113.1");
	assert_false(auth_limit_may_crypt(l, SA(fresh), &retry));
	assert_true(retry >= 1);
	auth_limit_get_stats(l, &st);
	assert_int_equal(st.crypt_refused, 1);
	auth_limit_throttled(l);
	auth_limit_get_stats(l, &st);
	assert_int_equal(st.throttled, 1);
	auth_limit_free(l);
}

TEST(test_many_addresses_stay_bounded)
{
	struct auth_limit *l = auth_limit_new();
	struct sockaddr_storage a;
	unsigned retry;
	char text[32];

	/* more addresses than slots: old ones give way, nothing grows */
	for (int i = 0; i < 4 * AUTH_ADDR_SLOTS; i++) {
		snprintf(text, sizeof(text), "10.%d.%d.1", i / 250, i % 250);
		a = addr(text);
		auth_limit_fail(l, SA(a));
	}
	/* the last one is still followed */
	for (int i = 1; i < AUTH_FAIL_MAX; i++)
		auth_limit_fail(l, SA(a));
	assert_true(auth_limit_blocked(l, SA(a), &retry));
	auth_limit_free(l);
}

TEST(test_first_login_and_audit)
{
	struct auth_limit *l = auth_limit_new();
	struct sockaddr_storage a = addr("192.0.2.7"), b = addr("192.0.2.8");
	int ok = 0;

	assert_true(auth_limit_first_login(l, SA(a), "alice"));
	assert_false(auth_limit_first_login(l, SA(a), "alice"));
	assert_true(auth_limit_first_login(l, SA(a), "bob"));
	assert_true(auth_limit_first_login(l, SA(b), "alice"));
	for (int i = 0; i < 3 * AUTH_AUDIT_LINES; i++)
		ok += auth_limit_audit(l);
	assert_int_equal(ok, AUTH_AUDIT_LINES);
	/* held back within the window: counted, reported once it ends */
	assert_int_equal(auth_limit_held(l), 0);
	auth_limit_free(l);
}
