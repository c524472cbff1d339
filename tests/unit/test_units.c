/* Unit tests of collectors/units.c (the `units` topic): the degraded path: no system bus turns
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
#include "units.h"
#include "unit.h"

TEST(test_no_system_bus)
{
	struct collector_env env = {.proc_fd = -1, .sys_fd = -1};
	struct timespec t0, t1;
	char reason[256] = "";
	struct config cfg;
	void *st = NULL;

	config_defaults(&cfg);
	assert_int_equal(setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/sysfeed-bus", 1),
			 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(units_collector.init(&env, cfg.col[collector_topic(units_collector.name)], &st,
					 reason, sizeof(reason)) < 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_null(st);
	assert_string_equal(reason, "no system bus: No such file or directory");
	/* nothing waited */
	assert_true((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 500);
	config_free(&cfg);
}
