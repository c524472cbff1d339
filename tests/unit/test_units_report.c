/* Unit tests of collectors/units_report.c: the interface that holds a unit
 * type's Result, the counts and failed units as JSON, the changes of an
 * event (merged per unit, bounded), and the Prometheus families. */
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

#include "metrics.h"
#include "prom_check.h"
#include "units_report.h"
#include "unit.h"

static char *print_free(cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	assert_non_null(s);
	cJSON_Delete(o);
	return s;
}

TEST(test_type_interface)
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

/* Unknown states count as "other"; a failed unit without details has
 * null result and since. */
TEST(test_list_json)
{
	struct units_list l = {0};
	cJSON *o = cJSON_CreateObject();
	char *s;

	units_list_count(&l, "active");
	units_list_count(&l, "active");
	units_list_count(&l, "failed");
	units_list_count(&l, "failed");
	units_list_count(&l, "refreshing"); /* newer than this table */
	l.failed = calloc(2, sizeof(*l.failed));
	assert_non_null(l.failed);
	l.failed[0] = (struct units_failed){.name = strdup("a.service"),
					    .description = strdup("A"),
					    .sub_state = strdup("failed"),
					    .result = strdup("exit-code"),
					    .since_us = UINT64_C(1700000000123456)};
	l.failed[1] =
	    (struct units_failed){.name = strdup("b.mount"), .sub_state = strdup("failed")};
	l.n_failed = 2;
	assert_int_equal(l.total, 5);
	assert_true(units_list_json(&l, o));
	s = print_free(o);
	assert_string_equal(
	    s, "{\"counts\":{\"active\":2,\"reloading\":0,\"inactive\":0,\"failed\":2,"
	       "\"activating\":0,\"deactivating\":0,\"maintenance\":0,\"other\":1},\"total\":5,"
	       "\"failed\":[{\"unit\":\"a.service\",\"description\":\"A\",\"sub_state\":"
	       "\"failed\",\"result\":\"exit-code\",\"since\":1700000000123},{\"unit\":"
	       "\"b.mount\",\"description\":null,\"sub_state\":\"failed\",\"result\":null,"
	       "\"since\":null}]}");
	free(s);
	units_list_clear(&l);
	assert_int_equal(l.total, 0);
	assert_null(l.failed);
	units_list_clear(&l);
}

/* One record per unit, the last value seen of each field kept; past
 * UNITS_CHANGES_MAX units only counted. */
TEST(test_changes)
{
	struct units_changes c = {0};
	struct units_change *ch;
	char unit[32];
	cJSON *o;
	char *s;

	ch = units_changes_get(&c, "a.service");
	units_change_set(&ch->active_state, "activating");
	units_change_set(&ch->sub_state, "start");
	ch = units_changes_get(&c, "a.service");
	units_change_set(&ch->active_state, "active");
	units_change_set(&ch->sub_state, NULL); /* not in this signal */
	units_change_set(&units_changes_get(&c, "b.service")->job_result, "failed");
	assert_int_equal(c.n, 2);
	o = cJSON_CreateObject();
	assert_true(units_changes_json(&c, o));
	s = print_free(o);
	assert_string_equal(s, "{\"changes\":[{\"unit\":\"a.service\",\"active_state\":\"active\","
			       "\"sub_state\":\"start\",\"job_result\":null},{\"unit\":"
			       "\"b.service\",\"active_state\":null,\"sub_state\":null,"
			       "\"job_result\":\"failed\"}],\"changes_more\":0}");
	free(s);
	for (unsigned i = 0; i < UNITS_CHANGES_MAX + 3; i++) {
		snprintf(unit, sizeof(unit), "u%u.service", i);
		ch = units_changes_get(&c, unit);
		assert_true(i < UNITS_CHANGES_MAX - 2 ? ch != NULL : ch == NULL);
	}
	assert_int_equal(c.n, UNITS_CHANGES_MAX);
	assert_int_equal(c.more, 5);
	units_changes_clear(&c);
	assert_int_equal(c.n, 0);
	assert_int_equal(c.more, 0);
}

/* The families from counts in struct units_list's order (active, reloading,
 * inactive, failed, activating, deactivating, maintenance, other). */
TEST(test_metrics)
{
	const unsigned counts[8] = {120, 1, 45, 2, 3, 4, 0, 5};
	struct metrics m = {0};

	assert_int_equal(units_metrics_write(counts, true, &m), 0);
	prom_check_text(m.buf,
			"# HELP sysfeed_units Systemd units per active state, as last listed.\n"
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
	prom_check_text(m.buf,
			"# HELP sysfeed_units_connected Whether the system bus connection to "
			"systemd is up (1) or not (0).\n"
			"# TYPE sysfeed_units_connected gauge\n"
			"sysfeed_units_connected 0\n");
	metrics_free(&m);
}
