/* Unit tests of daemon/alert_rule.c: the six lines of issue 14 as written,
 * every stock rule, and errors with their reasons; through config_parse,
 * a bad rule is FILE:LINE: reason; a field that a topic's field tables do
 * not know is an error, every numeric field of the goldens is not (health's
 * md arrays too, which its tables do not describe). */
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

#include "alert_rule.h"
#include "collector.h"
#include "config.h"
#include "fixture.h"

static struct alert_rule *parse_ok(const char *line)
{
	struct alert_rule *r = NULL;
	char err[256] = "";

	if (alert_rule_parse(line, &r, err, sizeof(err)) != 0)
		fail_msg("%s: %s", line, err);
	return r;
}

TEST(test_issue_lines)
{
	struct alert_rule *r;

	r = parse_ok("root-full: fs.filesystems[].used_percent > 90 for 5m clear 85 severity "
		     "critical");
	assert_string_equal(r->name, "root-full");
	assert_int_equal(r->kind, ALERT_THRESHOLD);
	assert_int_equal(r->topic, collector_topic("fs"));
	assert_int_equal(r->refs[0].arr, 0);
	assert_string_equal(r->refs[0].segs[0], "filesystems");
	assert_string_equal(r->refs[0].segs[1], "used_percent");
	assert_int_equal(r->op, ALERT_GT);
	assert_int_equal(r->rhs.n, 1);
	assert_true(r->rhs.t[0].num == 90);
	assert_int_equal(r->for_ms, 300000);
	assert_true(r->has_clear && r->clear == 85);
	assert_int_equal(r->severity, ALERT_CRITICAL);
	alert_rule_free(r);

	r = parse_ok("mem-low: mem.available < 268435456 for 1m");
	assert_int_equal(r->topic, collector_topic("mem"));
	assert_int_equal(r->op, ALERT_LT);
	assert_true(r->rhs.t[0].num == 268435456);
	assert_int_equal(r->for_ms, 60000);
	assert_int_equal(r->severity, ALERT_WARNING);
	alert_rule_free(r);

	r = parse_ok("app-errors: log priority <= err unit nginx.service");
	assert_int_equal(r->kind, ALERT_LOG);
	assert_int_equal(r->prio_op, ALERT_LE);
	assert_int_equal(r->prio, 3);
	assert_string_equal(r->unit, "nginx.service");
	assert_null(r->match);
	alert_rule_free(r);

	r = parse_ok("token-seen: log priority <= err match BADTOKEN");
	assert_string_equal(r->match, "BADTOKEN");
	alert_rule_free(r);

	r = parse_ok("passwd-changed: file path /etc/passwd");
	assert_int_equal(r->kind, ALERT_FILE);
	assert_string_equal(r->path, "/etc/passwd");
	alert_rule_free(r);

	r = parse_ok("srv-stuck: fs not-responding mount /srv* for 30s severity critical");
	assert_int_equal(r->kind, ALERT_THRESHOLD);
	assert_int_equal(r->op, ALERT_EQ);
	assert_string_equal(r->instance, "/srv*");
	assert_int_equal(r->for_ms, 30000);
	assert_false(r->has_clear);
	alert_rule_free(r);

	r = parse_ok("always: mem.used > 0");
	assert_int_equal(r->for_ms, 0);
	assert_false(r->has_clear);
	alert_rule_free(r);
}

TEST(test_stock_rules_parse)
{
	for (size_t i = 0; alert_stock_rules[i]; i++)
		alert_rule_free(parse_ok(alert_stock_rules[i]));
}

static void expect_error(const char *line, const char *reason)
{
	struct alert_rule *r = NULL;
	char err[256] = "";

	assert_int_equal(alert_rule_parse(line, &r, err, sizeof(err)), -EINVAL);
	assert_null(r);
	if (!strstr(err, reason))
		fail_msg("'%s': got '%s', want '%s'", line, err, reason);
}

TEST(test_expressions)
{
	struct alert_rule *r = parse_ok("x: load.load1 / cpu.ncpu >= 2 + 1 * 2");

	/* postfix: load1 ncpu / ; 2 1 2 * + */
	assert_int_equal(r->lhs.n, 3);
	assert_int_equal(r->lhs.t[2].op, '/');
	assert_int_equal(r->rhs.n, 5);
	assert_int_equal(r->rhs.t[3].op, '*');
	assert_int_equal(r->rhs.t[4].op, '+');
	assert_int_equal(r->refs[1].topic, collector_topic("cpu"));
	alert_rule_free(r);
	r = parse_ok("y: net.interfaces[].operstate != \"up\" edge severity warning");
	assert_string_equal(r->str, "up");
	assert_true(r->edge);
	alert_rule_free(r);
	r = parse_ok("z: mem.available < 1.5G");
	assert_true(r->rhs.t[0].num == 1.5 * 1024 * 1024 * 1024);
	alert_rule_free(r);
	/* booleans are 1 and 0 */
	r = parse_ok("b: health.smart.devices[].passed == false");
	assert_int_equal(r->op, ALERT_EQ);
	assert_true(r->rhs.n == 1 && r->rhs.t[0].kind == TERM_NUM && r->rhs.t[0].num == 0);
	assert_null(r->str);
	alert_rule_free(r);
	r = parse_ok("b: fs.filesystems[].read_only != true");
	assert_true(r->rhs.t[0].num == 1);
	alert_rule_free(r);
}

/* EXPR rises: no comparison, no threshold; hold, instance, severity. */
TEST(test_rises)
{
	struct alert_rule *r =
	    parse_ok("grow: health.smart.devices[].reallocated rises hold 1d instance sd*");

	assert_int_equal(r->kind, ALERT_THRESHOLD);
	assert_true(r->rises);
	assert_int_equal(r->topic, collector_topic("health"));
	assert_int_equal(r->lhs.n, 1);
	assert_int_equal(r->rhs.n, 0);
	assert_int_equal(r->hold_ms, 86400000);
	assert_string_equal(r->instance, "sd*");
	alert_rule_free(r);
	r = parse_ok("sum: disk.disks[].read_bytes + disk.disks[].write_bytes rises severity "
		     "critical");
	assert_true(r->rises);
	assert_int_equal(r->lhs.n, 3);
	assert_int_equal(r->hold_ms, 300000); /* the default, as for event rules */
	assert_int_equal(r->severity, ALERT_CRITICAL);
	alert_rule_free(r);
	expect_error("x: mem.used rises for 5m", "'for' does not go with 'rises'");
	expect_error("x: mem.used rises clear 5", "'clear' does not go with 'rises'");
	expect_error("x: mem.used rises edge", "'edge' does not go with 'rises'");
	expect_error("x: mem.used rises 5", "unexpected '5'");
	expect_error("x: mem.used > 1 hold 5m", "unexpected 'hold'");
	expect_error("x: 5 rises", "the rule names no field");
	expect_error("x: mem.used", "a comparison (>, >=, <, <=, ==, !=) or 'rises' expected at "
				    "the end");
}

/* clear EXPR: the threshold's side of an expression of the same array. */
TEST(test_clear_expression)
{
	struct alert_rule *r =
	    parse_ok("hot: gpu.gpus[].temp_c >= gpu.gpus[].temp_slowdown_c clear "
		     "gpu.gpus[].temp_slowdown_c - 5 for 10s");

	assert_true(r->has_clear);
	assert_int_equal(r->clr.n, 3);
	assert_int_equal(r->clr.t[0].kind, TERM_REF);
	assert_int_equal(r->clr.t[2].op, '-');
	assert_int_equal(r->n_refs, 3);
	assert_int_equal(r->for_ms, 10000);
	alert_rule_free(r);
	r = parse_ok("low: mem.available < 100 clear 2 * 60");
	assert_int_equal(r->clr.n, 3);
	alert_rule_free(r);
	expect_error("x: mem.used > 0 clear", "a number or an expression expected after 'clear'");
	expect_error("x: mem.used > 5 clear 1 clear 2", "'clear' given twice");
	expect_error("x: mem.used == mem.free clear 5", "'clear' needs <, <=, > or >=");
	expect_error("x: fs not-responding clear 85", "'clear' does not go with fs rules");
	expect_error("x: fs read-only mount /srv clear 1", "'clear' does not go with fs rules");
	expect_error("x: mem.used > 0 clear \"a\"", "text \"a\" where a number is expected");
	expect_error("x: mem.used > 0 clear severity",
		     "'severity' is neither a number nor a field");
	expect_error("x: fs.filesystems[].used_percent > 90 clear disk.disks[].busy_pct",
		     "must be of the rule's first topic");
}

TEST(test_errors)
{
	expect_error("no colon here", "expected 'NAME: rule'");
	expect_error("a b: mem.used > 0", "a name is letters");
	expect_error("x: nosuch.field > 1", "unknown topic 'nosuch'");
	/* failures after a path's first segments (what those held is freed:
	 * LeakSanitizer in `make SANITIZE=address check-unit`; fuzz_config found it) */
	expect_error("x: fs.filesystems[].a[b > 1", "bad field path 'fs.filesystems[].a[b'");
	expect_error("x: fs.filesystems[].x[].y > 1", "one [] at most");
	expect_error("x: mem.used>0", "write blanks around operators");
	expect_error("x: mem.used 5", "a comparison");
	expect_error("x: mem.used > 0 for", "a duration expected after 'for'");
	expect_error("x: mem.used > 0 for 5y", "bad duration '5y'");
	expect_error("x: mem.used > 90 clear 95", "clear 95 is not on the other side of 90");
	expect_error("x: mem.used > 0 severity high", "severity is warning or critical");
	expect_error("x: fs.filesystems[].used_percent > mem.used * disk.disks[].busy_pct",
		     "must be of the rule's first topic");
	expect_error("x: fs.filesystems[] > 1", "is an array");
	expect_error("x: log priority <= worse", "a priority");
	expect_error("x: log hold", "a duration expected after 'hold'");
	expect_error("x: file /etc/passwd", "'file' takes 'path GLOB'");
	expect_error("x: mem.used > \"a\"", "text compares with == or != only");
	expect_error("x: log match \"open", "unterminated quoted text");
	expect_error("x: off now", "nothing may follow 'off'");
	expect_error("x: mem.usd > 1", "'mem.usd': mem payloads have no field 'usd'");
	expect_error("x: net.interfaces[].rx_bytez > 1", "net payloads have no field "
							 "'interfaces[].rx_bytez'");
	expect_error("x: psi.memory.some.avg61 > 1", "no field 'memory.some.avg61'");
	expect_error("x: load.load1 / cpu.ncpu > load.tasks.x", "no field 'tasks.x'");
	/* health's tables describe its SMART devices only */
	expect_error("x: health.smart.devices[].passd == false",
		     "health payloads have no field 'smart.devices[].passd'");
	expect_error("x: gpu.gpus[].temp > 1", "gpu payloads have no field 'gpus[].temp'");
}

/* A topic whose field tables describe part of its payload knows those
 * objects only: health's md arrays and filesystems are found in the
 * payloads. */
TEST(test_partial_tables)
{
	alert_rule_free(parse_ok("x: health.md[].degraded > 0"));
	alert_rule_free(parse_ok("x: health.filesystems[].errors > 0"));
	alert_rule_free(parse_ok("x: health.smart.devices[].reallocated > 0"));
}

struct leaves {
	char topic[32];
	size_t n;
};

/* Parses "x: TOPIC.PATH > 0" for every numeric leaf below o. */
static void parse_leaves(struct leaves *l, const cJSON *o, const char *path)
{
	const cJSON *c;

	if (cJSON_IsNumber(o) || cJSON_IsBool(o)) {
		char line[512];

		snprintf(line, sizeof(line), "x: %s.%s > 0", l->topic, path);
		alert_rule_free(parse_ok(line));
		l->n++;
		return;
	}
	cJSON_ArrayForEach(c, o)
	{
		char sub[400];

		if (cJSON_IsArray(o))
			snprintf(sub, sizeof(sub), "%s[]", path);
		else
			snprintf(sub, sizeof(sub), "%s%s%s", path, path[0] ? "." : "", c->string);
		if (cJSON_IsArray(o) && (strchr(path, '[') || !cJSON_IsObject(c)))
			continue; /* one [] at most, and of objects */
		parse_leaves(l, c, sub);
	}
}

/* The static check knows every field the goldens of the topics with field
 * tables hold: it never refuses a rule the payloads could satisfy. */
TEST(test_golden_fields_known)
{
	static const char *const machines[] = {"vm2",       "server", "desktop",     "sbc",
					       "container", "nas",    "workstation", "arc"};
	size_t total = 0;

	for (size_t m = 0; m < sizeof(machines) / sizeof(machines[0]); m++) {
		char dir[PATH_MAX];
		DIR *d;
		struct dirent *de;

		snprintf(dir, sizeof(dir), "%s/%s/expected", fixtures(), machines[m]);
		if (!(d = opendir(dir)))
			continue;
		while ((de = readdir(d))) {
			struct leaves l = {0};
			char rel[300], *text;
			cJSON *o;
			int t;

			if (!strstr(de->d_name, ".json"))
				continue;
			snprintf(l.topic, sizeof(l.topic), "%.*s", (int)strcspn(de->d_name, "."),
				 de->d_name);
			if ((t = collector_topic(l.topic)) < 0 || !collector_registry[t]->fields)
				continue;
			snprintf(rel, sizeof(rel), "expected/%s", de->d_name);
			text = slurp(machines[m], rel, NULL);
			o = cJSON_Parse(text);
			free(text);
			if (!o)
				continue;
			parse_leaves(&l, o, "");
			cJSON_Delete(o);
			total += l.n;
		}
		closedir(d);
	}
	assert_true(total > 100);
}

/* Through the config file: FILE:LINE: reason, and names given twice. */
TEST(test_config_errors)
{
	struct config cfg;
	char err[CONFIG_ERR_LEN];
	const char *bad = "interval = 500\n\nalert = x: mem.used > 0 fore 5m\n";
	const char *twice = "alert = a: mem.used > 0\nalert = a: mem.used > 1\n";
	const char *good = "alert = a: mem.used > 0\nalert = fs-full: off\n";

	assert_int_equal(config_defaults(&cfg), 0);
	assert_int_equal(config_parse(&cfg, "f.conf", bad, strlen(bad), err, sizeof(err)), -EINVAL);
	assert_string_equal(err, "f.conf:3: alert x: unexpected 'fore'");
	config_free(&cfg);
	assert_int_equal(config_defaults(&cfg), 0);
	assert_int_equal(config_parse(&cfg, "f.conf", twice, strlen(twice), err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "f.conf:2: alert a: defined twice");
	config_free(&cfg);
	assert_int_equal(config_defaults(&cfg), 0);
	assert_int_equal(config_parse(&cfg, "f.conf", good, strlen(good), err, sizeof(err)), 0);
	assert_int_equal(cfg.n_alert_rules, 2);
	assert_string_equal(cfg.alert_rules[1], "fs-full: off");
	config_free(&cfg);
}
