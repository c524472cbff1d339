/* Unit tests of daemon/alert_eval.c with an injected clock: for, clear
 * (hysteresis), instances of an array labelled by mount, an instance that
 * vanishes, edge rules, event rules and their hold, reminders, the rate
 * limits and their summary (each rule's window apart from the global one),
 * a reload that removes a rule, fields the payloads lack, rises of a
 * counter, clear expressions, GPUs told apart by id, booleans. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_eval.h"
#include "collector.h"
#include "unit.h"

#define MAX_SEEN 64

struct seen {
	char what[MAX_SEEN][160]; /* "name instance state[ r][ held]" */
	size_t n;
	double value, threshold; /* of the last change */
	unsigned count;
	char text[64];
	unsigned summaries, summary_held;
	char summary[256];
};

static void on_change(void *ctx, const struct alert_change *c)
{
	struct seen *s = ctx;

	s->value = c->has_value ? c->value : -1;
	s->threshold = c->has_value ? c->threshold : -1;
	s->count = c->count;
	snprintf(s->text, sizeof(s->text), "%s", c->text ? c->text : "");
	if (s->n < MAX_SEEN)
		snprintf(s->what[s->n++], sizeof(s->what[0]), "%s %s %s%s%s", c->rule->name,
			 c->instance[0] ? c->instance : "-", alert_state_name(c->state),
			 c->reminder ? " r" : "",
			 (c->state == ALERT_FIRING || c->state == ALERT_RESOLVED) && !c->notify
			     ? " held"
			     : "");
}

static void on_summary(void *ctx, unsigned held, const char *text, int64_t t_ms)
{
	struct seen *s = ctx;

	s->summaries++;
	s->summary_held = held;
	snprintf(s->summary, sizeof(s->summary), "%s", text);
}

static struct alert_engine *engine(struct seen *s, const struct alert_limits *lim,
				   const char *const *lines)
{
	struct alert_limits none = {.window_ms = 3600000};
	struct alert_engine *e = alert_engine_new(lim ? lim : &none, on_change, on_summary, s);
	struct alert_rule *rules[16];
	size_t n = 0;
	char err[256];

	assert_non_null(e);
	for (; lines[n]; n++)
		assert_int_equal(alert_rule_parse(lines[n], &rules[n], err, sizeof(err)), 0);
	assert_int_equal(alert_engine_set_rules(e, rules, n, &(struct alert_now){0, 0}), 0);
	return e;
}

static void feed(struct alert_engine *e, const char *topic, const char *json, int64_t ms)
{
	cJSON *p = cJSON_Parse(json);

	assert_non_null(p);
	alert_engine_feed(e, (unsigned)collector_topic(topic), p,
			  &(struct alert_now){1700000000000 + ms, ms});
	alert_engine_tick(e, &(struct alert_now){1700000000000 + ms, ms});
	cJSON_Delete(p);
}

static void expect(struct seen *s, const char *const *want)
{
	size_t n = 0;

	for (; want[n]; n++) {
		if (n >= s->n)
			fail_msg("missing change %zu: '%s'", n, want[n]);
		if (strcmp(s->what[n], want[n]) != 0)
			fail_msg("change %zu: '%s', want '%s'", n, s->what[n], want[n]);
	}
	if (s->n != n)
		fail_msg("%zu changes, want %zu (extra: '%s')", s->n, n, s->what[n]);
	s->n = 0;
}

#define MEM(v) "{\"t\":1,\"available\":" #v "}"

TEST(test_for_and_clear)
{
	struct seen s = {0};
	struct alert_engine *e =
	    engine(&s, NULL, (const char *[]){"low: mem.available < 100 for 3s clear 120", NULL});

	feed(e, "mem", MEM(90), 0);
	expect(&s, (const char *[]){"low - pending", NULL});
	feed(e, "mem", MEM(90), 2000);
	expect(&s, (const char *[]){NULL});
	feed(e, "mem", MEM(95), 3000);
	expect(&s, (const char *[]){"low - firing", NULL});
	/* above the threshold, below clear: still firing (hysteresis) */
	feed(e, "mem", MEM(110), 4000);
	feed(e, "mem", MEM(99), 5000);
	expect(&s, (const char *[]){NULL});
	feed(e, "mem", MEM(121), 6000);
	expect(&s, (const char *[]){"low - resolved", NULL});
	/* pending that goes away: ok, no firing */
	feed(e, "mem", MEM(50), 7000);
	feed(e, "mem", MEM(150), 8000);
	expect(&s, (const char *[]){"low - pending", "low - ok", NULL});
	/* a tick a few ms early still ends `for` */
	feed(e, "mem", MEM(90), 9000);
	feed(e, "mem", MEM(90), 11960);
	expect(&s, (const char *[]){"low - pending", "low - firing", NULL});
	feed(e, "mem", MEM(150), 12000);
	expect(&s, (const char *[]){"low - resolved", NULL});
	alert_engine_free(e);
}

#define FS2(a, b)                                                                                  \
	"{\"t\":1,\"filesystems\":[{\"mount\":\"/\",\"used_percent\":" #a                          \
	"},{\"mount\":\"/srv\",\"used_percent\":" #b "}]}"

TEST(test_instances)
{
	struct seen s = {0};
	struct alert_engine *e = engine(
	    &s, NULL, (const char *[]){"full: fs.filesystems[].used_percent > 90 clear 85", NULL});

	feed(e, "fs", FS2(95, 50), 0);
	expect(&s, (const char *[]){"full / firing", NULL});
	feed(e, "fs", FS2(95, 99), 1000);
	expect(&s, (const char *[]){"full /srv firing", NULL});
	assert_true(alert_engine_rule_firing(e, 0));
	feed(e, "fs", FS2(80, null), 2000); /* null: /srv as it was */
	expect(&s, (const char *[]){"full / resolved", NULL});
	/* /srv unmounted: its alert resolves */
	feed(e, "fs", "{\"t\":1,\"filesystems\":[{\"mount\":\"/\",\"used_percent\":10}]}", 3000);
	expect(&s, (const char *[]){"full /srv resolved", NULL});
	assert_false(alert_engine_rule_firing(e, 0));
	alert_engine_free(e);
}

TEST(test_edge_and_ratio)
{
	struct seen s = {0};
	struct alert_engine *e =
	    engine(&s, NULL,
		   (const char *[]){"down: net.interfaces[].operstate != \"up\" edge",
				    "load: load.load1 / cpu.ncpu >= 2", NULL});
	const char *up = "{\"interfaces\":[{\"name\":\"lo\",\"operstate\":\"unknown\"},"
			 "{\"name\":\"eth0\",\"operstate\":\"up\"}]}";
	const char *down = "{\"interfaces\":[{\"name\":\"lo\",\"operstate\":\"unknown\"},"
			   "{\"name\":\"eth0\",\"operstate\":\"down\"}]}";

	feed(e, "net", down, 0); /* down from the start: never was up */
	feed(e, "net", up, 1000);
	expect(&s, (const char *[]){NULL});
	feed(e, "net", down, 2000);
	expect(&s, (const char *[]){"down eth0 firing", NULL});
	feed(e, "net", up, 3000);
	expect(&s, (const char *[]){"down eth0 resolved", NULL});
	/* another topic's field: its latest value */
	feed(e, "load", "{\"load1\":9}", 0);
	expect(&s, (const char *[]){NULL});
	feed(e, "cpu", "{\"ncpu\":4}", 0);
	feed(e, "load", "{\"load1\":9}", 1000);
	expect(&s, (const char *[]){"load - firing", NULL});
	alert_engine_free(e);
}

#define SMART(a, b)                                                                                \
	"{\"t\":1,\"smart\":{\"devices\":[{\"device\":\"sda\",\"reallocated\":" #a                 \
	"},{\"device\":\"sdb\",\"reallocated\":" #b "}]}}"

/* EXPR rises, between consecutive samples of each instance: a first
 * sample never rises, a steady value does not, a sample without one keeps
 * the previous, a lower one (a reset) is the new reference, an element
 * gone forgets its value; the alert stays firing until `hold` passes
 * without a rise. */
TEST(test_rises)
{
	struct seen s = {0};
	struct alert_engine *e = engine(
	    &s, NULL,
	    (const char *[]){"grow: health.smart.devices[].reallocated rises hold 10s", NULL});

	feed(e, "health", SMART(8, 1872), 0); /* first samples */
	feed(e, "health", SMART(8, 1872), 1000);
	expect(&s, (const char *[]){NULL});
	feed(e, "health", SMART(8, 1880), 2000);
	expect(&s, (const char *[]){"grow sdb firing", NULL});
	assert_true(s.value == 1880 && s.threshold == 1872 && s.count == 1);
	assert_string_equal(s.text, "rose from 1872");
	/* steady: still firing, nothing new; a further rise counts */
	feed(e, "health", SMART(8, 1880), 3000);
	feed(e, "health", SMART(8, 1890), 5000);
	expect(&s, (const char *[]){NULL});
	assert_true(alert_engine_rule_firing(e, 0));
	/* hold: 10 s after the last rise */
	feed(e, "health", SMART(8, 1890), 14000);
	expect(&s, (const char *[]){NULL});
	feed(e, "health", SMART(8, 1890), 15000);
	expect(&s, (const char *[]){"grow sdb resolved", NULL});
	assert_true(s.count == 2 && s.threshold == 1880);
	/* unreadable for a sample: the rise is measured from before it */
	feed(e, "health", SMART(8, null), 16000);
	expect(&s, (const char *[]){NULL});
	feed(e, "health", SMART(8, 1891), 17000);
	expect(&s, (const char *[]){"grow sdb firing", NULL});
	assert_true(s.threshold == 1890 && s.count == 1);
	/* a reset is no rise, and the next rise is from the lower value */
	feed(e, "health", SMART(0, 1891), 18000);
	expect(&s, (const char *[]){NULL});
	feed(e, "health", SMART(1, 1891), 19000);
	expect(&s, (const char *[]){"grow sda firing", NULL});
	assert_true(s.value == 1 && s.threshold == 0);
	/* sdb gone: resolved and forgotten; back with more: a first sample */
	feed(e, "health",
	     "{\"t\":1,\"smart\":{\"devices\":[{\"device\":\"sda\",\"reallocated\":1}]}}", 20000);
	expect(&s, (const char *[]){"grow sdb resolved", NULL});
	feed(e, "health", SMART(1, 5000), 21000);
	expect(&s, (const char *[]){NULL});
	feed(e, "health", SMART(1, 5000), 30000);
	expect(&s, (const char *[]){"grow sda resolved", NULL});
	alert_engine_free(e);
}

/* A plain field rises too (instance ""); after a reload that keeps the
 * rule its reference carries on. */
TEST(test_rises_plain_and_reload)
{
	struct seen s = {0};
	struct alert_engine *e =
	    engine(&s, NULL, (const char *[]){"sw: mem.swap_used rises", NULL});
	struct alert_rule *r;
	char err[128];

	feed(e, "mem", "{\"t\":1,\"swap_used\":3}", 0);
	assert_int_equal(alert_rule_parse("sw: mem.swap_used rises", &r, err, sizeof(err)), 0);
	assert_int_equal(alert_engine_set_rules(e, &r, 1, &(struct alert_now){0, 500}), 0);
	feed(e, "mem", "{\"t\":1,\"swap_used\":4}", 1000);
	expect(&s, (const char *[]){"sw - firing", NULL});
	alert_engine_free(e);
}

#define GPU2(a, b)                                                                                 \
	"{\"t\":1,\"gpus\":[{\"id\":\"nvidia0\",\"name\":\"NVIDIA A100\",\"temp_c\":" #a           \
	",\"temp_slowdown_c\":87},{\"id\":\"nvidia1\",\"name\":\"NVIDIA A100\",\"temp_c\":" #b     \
	",\"temp_slowdown_c\":87}]}"

/* clear EXPR, per instance: firing at the slowdown mark, resolved 5 below
 * it. GPUs of one model are told apart by their id. */
TEST(test_clear_expression_and_gpu_ids)
{
	struct seen s = {0};
	struct alert_engine *e =
	    engine(&s, NULL,
		   (const char *[]){"hot: gpu.gpus[].temp_c >= gpu.gpus[].temp_slowdown_c clear "
				    "gpu.gpus[].temp_slowdown_c - 5",
				    "low: mem.available < 100 clear mem.free", NULL});

	feed(e, "gpu", GPU2(60, 87), 0);
	expect(&s, (const char *[]){"hot nvidia1 firing", NULL});
	assert_true(s.value == 87 && s.threshold == 87);
	feed(e, "gpu", GPU2(60, 84), 1000);
	feed(e, "gpu", GPU2(60, 82), 2000);
	expect(&s, (const char *[]){NULL});
	feed(e, "gpu", GPU2(88, 81), 3000);
	expect(&s, (const char *[]){"hot nvidia0 firing", "hot nvidia1 resolved", NULL});
	/* a clear expression without a value: the threshold */
	feed(e, "mem", "{\"t\":1,\"available\":90,\"free\":120}", 4000);
	feed(e, "mem", "{\"t\":1,\"available\":110,\"free\":120}", 5000);
	expect(&s, (const char *[]){"low - firing", NULL});
	feed(e, "mem", "{\"t\":1,\"available\":110}", 6000);
	expect(&s, (const char *[]){"low - resolved", NULL});
	alert_engine_free(e);
}

/* Booleans compare as 1 and 0; an unknown one (null) is no value. */
TEST(test_boolean)
{
	struct seen s = {0};
	struct alert_engine *e =
	    engine(&s, NULL, (const char *[]){"bad: health.smart.devices[].passed == false", NULL});

	feed(e, "health",
	     "{\"t\":1,\"smart\":{\"devices\":[{\"device\":\"sda\",\"passed\":true},"
	     "{\"device\":\"sdb\",\"passed\":false},{\"device\":\"sdc\",\"passed\":null}]}}",
	     0);
	expect(&s, (const char *[]){"bad sdb firing", NULL});
	assert_true(s.value == 0 && s.threshold == 0);
	alert_engine_free(e);
}

TEST(test_events_and_hold)
{
	struct seen s = {0};
	struct alert_engine *e = engine(
	    &s, NULL,
	    (const char *[]){"tok: log priority <= err match BADTOKEN hold 10s",
			     "pw: file path /etc/passwd", "failed: units unit *.service", NULL});
	const char *line =
	    "{\"entries\":[{\"priority\":3,\"unit\":\"a.service\",\"identifier\":"
	    "\"a\",\"message\":\"x badtoken y\"},{\"priority\":6,\"unit\":\"b\","
	    "\"message\":\"BADTOKEN\"},{\"priority\":2,\"unit\":\"c\",\"identifier\":"
	    "\"sysfeed-alert\",\"message\":\"BADTOKEN\"}]}";

	feed(e, "log", line, 0);
	expect(&s, (const char *[]){"tok a.service firing", NULL});
	feed(e, "log", line, 5000);
	feed(e, "log", "{\"entries\":[]}", 14000);
	expect(&s, (const char *[]){NULL});
	feed(e, "log", "{\"entries\":[]}", 15000);
	expect(&s, (const char *[]){"tok a.service resolved", NULL});
	feed(e, "file", "{\"path\":\"/etc/shadow\",\"action\":\"modified\"}", 0);
	feed(e, "file", "{\"path\":\"/etc/passwd\",\"action\":\"modified\"}", 0);
	expect(&s, (const char *[]){"pw /etc/passwd firing", NULL});
	feed(e, "units", "{\"failed\":[{\"unit\":\"x.service\",\"result\":\"exit-code\"}]}", 0);
	feed(e, "units", "{\"failed\":[{\"unit\":\"x.service\"},{\"unit\":\"y.timer\"}]}", 1000);
	expect(&s, (const char *[]){"failed x.service firing", NULL});
	feed(e, "units", "{\"failed\":[]}", 2000);
	expect(&s, (const char *[]){"failed x.service resolved", NULL});
	alert_engine_free(e);
}

TEST(test_reminders_and_limits)
{
	struct seen s = {0};
	struct alert_limits lim = {
	    .repeat_ms = 10000, .window_ms = 60000, .per_rule = 2, .total = 3};
	struct alert_engine *e = engine(
	    &s, &lim, (const char *[]){"a: mem.available < 100", "b: mem.available < 50", NULL});

	feed(e, "mem", MEM(10), 0);
	expect(&s, (const char *[]){"a - firing", "b - firing", NULL});
	feed(e, "mem", MEM(10), 10000);
	/* a's reminder is its second notification; b's would be the fourth */
	expect(&s, (const char *[]){"a - firing r", "b - firing r held", NULL});
	feed(e, "mem", MEM(200), 11000);
	expect(&s, (const char *[]){"a - resolved held", "b - resolved held", NULL});
	assert_int_equal(alert_engine_held_total(e), 3);
	/* flapping within the window: held back and counted */
	feed(e, "mem", MEM(70), 12000);
	expect(&s, (const char *[]){"a - firing held", NULL});
	assert_int_equal(s.summaries, 0);
	feed(e, "mem", MEM(70), 60000); /* the window is over: one summary */
	assert_int_equal(s.summaries, 1);
	assert_int_equal(s.summary_held, 4);
	assert_string_equal(s.summary, "a 2, b 2");
	/* a fresh window: notifications again (a's reminder was due) */
	expect(&s, (const char *[]){"a - firing r", NULL});
	feed(e, "mem", MEM(200), 61000);
	expect(&s, (const char *[]){"a - resolved", NULL});
	alert_engine_free(e);
}

/* A rule's rate window opens with its own first notification, not with
 * the global window that another rule opened. */
TEST(test_rule_window_apart)
{
	struct seen s = {0};
	struct alert_limits lim = {.window_ms = 10000, .per_rule = 1};
	struct alert_engine *e =
	    engine(&s, &lim, (const char *[]){"a: mem.available < 100", "b: mem.free < 100", NULL});

	feed(e, "mem", "{\"t\":1,\"available\":10,\"free\":200}", 0);
	expect(&s, (const char *[]){"a - firing", NULL});
	feed(e, "mem", "{\"t\":1,\"available\":10,\"free\":10}", 5000);
	expect(&s, (const char *[]){"b - firing", NULL});
	/* the global window is over, b's (opened at 5 s) is not */
	feed(e, "mem", "{\"t\":1,\"available\":10,\"free\":200}", 11000);
	expect(&s, (const char *[]){"b - resolved held", NULL});
	assert_int_equal(s.summaries, 0);
	feed(e, "mem", "{\"t\":1,\"available\":10,\"free\":200}", 15000);
	assert_int_equal(s.summaries, 1);
	assert_string_equal(s.summary, "b 1");
	feed(e, "mem", "{\"t\":1,\"available\":10,\"free\":10}", 16000);
	expect(&s, (const char *[]){"b - firing", NULL});
	alert_engine_free(e);
}

/* A reload that removes rules resolves their alerts before it frees any
 * of them: a rate window that ends on one of those resolutions names a
 * removed rule that held notifications back (fuzz_alert found its name
 * read after it was freed). */
TEST(test_reload_summary_names_removed)
{
	struct seen s = {0};
	struct alert_limits lim = {.window_ms = 10000, .per_rule = 1};
	struct alert_engine *e = engine(
	    &s, &lim, (const char *[]){"a: mem.available < 100 for 2s", "b: mem.free < 100", NULL});

	feed(e, "mem", "{\"t\":1,\"available\":10,\"free\":200}", 0);
	feed(e, "mem", "{\"t\":1,\"available\":10,\"free\":200}", 2000);
	feed(e, "mem", "{\"t\":1,\"available\":200,\"free\":200}", 3000);
	feed(e, "mem", "{\"t\":1,\"available\":10,\"free\":10}", 4000);
	expect(&s, (const char *[]){"a - pending", "a - firing", "a - resolved held", "a - pending",
				    "b - firing", NULL});
	/* a (pending) goes first without a notification, then b's resolution
	 * ends a's window: the summary names a */
	assert_int_equal(alert_engine_set_rules(e, NULL, 0, &(struct alert_now){0, 12500}), 0);
	expect(&s, (const char *[]){"a - ok", "b - resolved held", NULL});
	assert_int_equal(s.summaries, 1);
	assert_string_equal(s.summary, "a 1");
	alert_engine_free(e);
}

/* A field missing from the first payload of its topic that tells (an
 * array with elements) gives the rule a reason; a reload keeps it. */
TEST(test_missing_fields)
{
	struct seen s = {0};
	struct alert_engine *e =
	    engine(&s, NULL,
		   (const char *[]){"x: cpu.totl > 1", "y: cpu.total.steal > 50",
				    "z: fs.filesystems[].usd > 1",
				    "w: fs.filesystems[].used_percent > 1", NULL});
	unsigned gen = alert_engine_errors_gen(e);
	struct alert_rule *r;
	char err[128];

	assert_null(alert_engine_rule_error(e, 0));
	feed(e, "cpu", "{\"t\":1,\"total\":{\"steal\":1}}", 0);
	assert_string_equal(alert_engine_rule_error(e, 0),
			    "alert x: no field 'cpu.totl' in the cpu payloads: it never fires");
	assert_null(alert_engine_rule_error(e, 1));
	assert_int_not_equal(alert_engine_errors_gen(e), gen);
	gen = alert_engine_errors_gen(e);
	feed(e, "fs", "{\"t\":1,\"filesystems\":[]}", 1000);
	assert_null(alert_engine_rule_error(e, 2));
	assert_int_equal(alert_engine_errors_gen(e), gen);
	feed(e, "fs", "{\"t\":1,\"filesystems\":[{\"mount\":\"/\",\"used_percent\":5}]}", 2000);
	assert_string_equal(alert_engine_rule_error(e, 2),
			    "alert z: no field 'fs.filesystems[].usd' in the fs payloads: it never "
			    "fires");
	assert_null(alert_engine_rule_error(e, 3));
	expect(&s, (const char *[]){"w / firing", NULL});
	assert_int_equal(alert_rule_parse("x: cpu.totl > 1", &r, err, sizeof(err)), 0);
	assert_int_equal(alert_engine_set_rules(e, &r, 1, &(struct alert_now){0, 3000}), 0);
	expect(&s, (const char *[]){"w / resolved", NULL});
	assert_non_null(alert_engine_rule_error(e, 0));
	alert_engine_free(e);
}

/* Only rules of the config ask for a topic's events at once: stock rules
 * leave the journal at its own pace. */
TEST(test_reads_hurry_config_rules_only)
{
	struct seen s = {0};
	struct alert_engine *e = engine(
	    &s, NULL,
	    (const char *const[]){"crit: log priority <= crit", "low: mem.available < 1", NULL});
	struct alert_rule *r;
	char err[256];

	assert_true(alert_engine_reads(e, (unsigned)collector_topic("log")));
	assert_true(alert_engine_reads(e, (unsigned)collector_topic("mem")));
	assert_false(alert_engine_reads(e, (unsigned)collector_topic("cpu")));
	alert_engine_free(e);

	e = alert_engine_new(&(struct alert_limits){.window_ms = 3600000}, on_change, on_summary,
			     &s);
	assert_int_equal(
	    alert_rule_parse("journal-crit: log priority <= crit", &r, err, sizeof(err)), 0);
	r->stock = true;
	assert_int_equal(alert_engine_set_rules(e, &r, 1, &(struct alert_now){0, 0}), 0);
	assert_false(alert_engine_reads(e, (unsigned)collector_topic("log")));
	alert_engine_free(e);
}

/* What the log topic's rate limit leaves out is handed over only at a
 * level some log rule (stock ones too) takes. */
TEST(test_reads_level)
{
	struct seen s = {0};
	unsigned log = (unsigned)collector_topic("log");
	struct alert_engine *e = engine(
	    &s, NULL,
	    (const char *const[]){"crit: log priority <= crit", "low: mem.available < 1", NULL});

	assert_true(alert_engine_reads_level(e, log, 0));
	assert_true(alert_engine_reads_level(e, log, 2));
	assert_false(alert_engine_reads_level(e, log, 3));
	assert_false(alert_engine_reads_level(e, log, 6));
	assert_false(alert_engine_reads_level(e, (unsigned)collector_topic("mem"), 2));
	alert_engine_free(e);

	e = engine(
	    &s, NULL,
	    (const char *const[]){"crit: log priority <= crit", "tok: log match boom", NULL});
	assert_true(alert_engine_reads_level(e, log, 7)); /* no priority: every entry */
	alert_engine_free(e);
}

TEST(test_reload_resolves_removed)
{
	struct seen s = {0};
	struct alert_engine *e = engine(
	    &s, NULL, (const char *[]){"a: mem.available < 100", "b: mem.available < 50", NULL});
	struct alert_rule *r;
	char err[128];

	feed(e, "mem", MEM(10), 0);
	expect(&s, (const char *[]){"a - firing", "b - firing", NULL});
	assert_int_equal(alert_rule_parse("a: mem.available < 100", &r, err, sizeof(err)), 0);
	assert_int_equal(alert_engine_set_rules(e, &r, 1, &(struct alert_now){0, 1000}), 0);
	expect(&s, (const char *[]){"b - resolved", NULL});
	/* a kept its state: no new firing */
	feed(e, "mem", MEM(10), 2000);
	expect(&s, (const char *[]){NULL});
	assert_true(alert_engine_rule_firing(e, 0));
	alert_engine_free(e);
}
