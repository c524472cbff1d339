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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "metrics.h"
#include "prom_check.h"
#include "units.h"

/* metrics text equal to want, and clean for promtool */
static void assert_metrics(const struct metrics *m, const char *want)
{
	assert_non_null(m->buf);
	if (strcmp(m->buf, want) != 0)
		print_error("expected:\n%s\nactual:\n%s\n", want, m->buf);
	assert_string_equal(m->buf, want);
	prom_check_promtool(m->buf);
}

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
	assert_int_equal(setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/sysfeed-bus", 1),
			 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(units_collector.init(&env, cfg.col[collector_topic(units_collector.name)],
					 &state, reason, sizeof(reason)) < 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_null(state);
	assert_string_equal(reason, "no system bus: No such file or directory");
	/* nothing waited */
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 500);
	config_free(&cfg);
}

/* The families from counts in units.c's order (active, reloading,
 * inactive, failed, activating, deactivating, maintenance, other). */
static void test_metrics(void **unused)
{
	const unsigned counts[8] = {120, 1, 45, 2, 3, 4, 0, 5};
	struct metrics m = {0};

	assert_int_equal(units_metrics_write(counts, true, &m), 0);
	assert_metrics(&m, "# HELP sysfeed_units Systemd units per active state, as last listed.\n"
			   "# TYPE sysfeed_units gauge\n"
			   "sysfeed_units{state=\"active\"} 120\n"
			   "sysfeed_units{state=\"failed\"} 2\n"
			   "sysfeed_units{state=\"activating\"} 3\n"
			   "sysfeed_units{state=\"deactivating\"} 4\n"
			   "sysfeed_units{state=\"inactive\"} 45\n"
			   "sysfeed_units{state=\"reloading\"} 1\n"
			   "sysfeed_units{state=\"maintenance\"} 0\n"
			   "sysfeed_units{state=\"other\"} 5\n"
			   "# HELP sysfeed_units_connected Whether the system bus connection to "
			   "systemd is up (1) or not (0).\n"
			   "# TYPE sysfeed_units_connected gauge\n"
			   "sysfeed_units_connected 1\n");
	/* no answer yet, bus lost: the connection only */
	metrics_reset(&m);
	assert_int_equal(units_metrics_write(NULL, false, &m), 0);
	assert_metrics(&m, "# HELP sysfeed_units_connected Whether the system bus connection to "
			   "systemd is up (1) or not (0).\n"
			   "# TYPE sysfeed_units_connected gauge\n"
			   "sysfeed_units_connected 0\n");
	metrics_free(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_type_interface),
	    cmocka_unit_test(test_no_system_bus),
	    cmocka_unit_test(test_metrics),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
