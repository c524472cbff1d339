/* Unit tests of collectors/units.c (the `units` topic): the interface that
 * holds a unit type's Result, and the degraded path: no system bus turns
 * the topic off with a reason, at once. (The path with systemd runs in the
 * packaging test's systemd-nspawn container.) */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "units.h"

static void test_type_interface(void **unused)
{
	char out[64];

	assert_int_equal(units_type_interface("nginx.service", out, sizeof(out)), 0);
	assert_string_equal(out, "org.freedesktop.systemd1.Service");
	assert_int_equal(units_type_interface("dbus.socket", out, sizeof(out)), 0);
	assert_string_equal(out, "org.freedesktop.systemd1.Socket");
	assert_int_equal(units_type_interface("-.mount", out, sizeof(out)), 0);
	assert_string_equal(out, "org.freedesktop.systemd1.Mount");
	assert_int_equal(units_type_interface("session-1.scope", out, sizeof(out)), 0);
	assert_string_equal(out, "org.freedesktop.systemd1.Scope");
	assert_int_equal(units_type_interface("multi-user.target", out, sizeof(out)), 0);
	assert_string_equal(out, ""); /* no Result */
	assert_int_equal(units_type_interface("noext", out, sizeof(out)), -EINVAL);
	assert_int_equal(units_type_interface("a.service", out, 8), -ENAMETOOLONG);
}

static void test_no_system_bus(void **unused)
{
	struct collector_env env = {.proc_fd = -1, .sys_fd = -1};
	struct timespec t0, t1;
	char reason[256] = "";
	struct config cfg;
	void *state = NULL;

	config_defaults(&cfg);
	env.cfg = &cfg;
	assert_int_equal(setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/sysfeed-bus", 1),
			 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(units_collector.init(&env, &state, reason, sizeof(reason)) < 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_null(state);
	assert_string_equal(reason, "no system bus: No such file or directory");
	/* nothing waited */
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 500);
	config_free(&cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_type_interface),
	    cmocka_unit_test(test_no_system_bus),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
