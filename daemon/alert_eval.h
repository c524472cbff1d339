/* Alert evaluation: rules run against each payload and event as it
 * arrives, each alert instance (a rule, or a rule and one element of an
 * array: a mount, a disk, a unit) walking pending -> firing -> resolved;
 * reminders, hold times of event alerts and the rate limits of
 * notifications. Loop thread only; the clock is passed in (tests inject
 * theirs). Changes come out through a callback, nothing is sent here. */
#ifndef SYSFEED_ALERT_EVAL_H
#define SYSFEED_ALERT_EVAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alert_rule.h"

enum alert_state { ALERT_OK, ALERT_PENDING, ALERT_FIRING, ALERT_RESOLVED };

/* Now: wall time for what is shown, monotonic time for every duration. */
struct alert_now {
	int64_t real_ms;
	int64_t mono_ms;
};

struct alert_change {
	const struct alert_rule *rule;
	const char *instance; /* "" for a rule without instances */
	enum alert_state state, previous;
	bool reminder; /* firing again after alert-repeat */
	bool notify;   /* within the rate limits: to the webhooks and commands */
	bool has_value;
	double value, threshold;
	const char *value_str; /* a text field's value, or NULL */
	int64_t since_ms;      /* when it became pending (firing: when it started) */
	int64_t t_ms;
	const char *text; /* what happened, for event rules (a message, an action), or NULL */
	const char *unit; /* the unit whose journal lines matter, or NULL */
	unsigned count;   /* events merged into this alert */
};

struct alert_limits {
	int64_t repeat_ms; /* reminders (0: none) */
	int64_t window_ms; /* rate-limit window */
	unsigned per_rule; /* notifications per rule per window (0: no limit) */
	unsigned total;    /* notifications per window, all rules (0: no limit) */
};

struct alert_engine;

/* on_change: every change; on_summary: what the limits held back in a
 * window that ended (text such as "cpu-steal 3, fs-full 1"). */
struct alert_engine *alert_engine_new(
    const struct alert_limits *lim, void (*on_change)(void *ctx, const struct alert_change *c),
    void (*on_summary)(void *ctx, unsigned held, const char *text, int64_t t_ms), void *ctx);
void alert_engine_free(struct alert_engine *e);
void alert_engine_set_limits(struct alert_engine *e, const struct alert_limits *lim);

/* Replaces the rules (taken: freed by the engine). A rule whose name and
 * text are unchanged keeps its alerts; the firing alerts of the others are
 * resolved. Returns 0 or -ENOMEM (the old rules are then kept and the new
 * ones freed). */
int alert_engine_set_rules(struct alert_engine *e, struct alert_rule **rules, size_t n,
			   const struct alert_now *now);

/* A periodic topic's payload or an event collector's event. */
void alert_engine_feed(struct alert_engine *e, unsigned topic, const cJSON *payload,
		       const struct alert_now *now);
/* Once per tick: reminders, event alerts' hold times, rate windows. */
void alert_engine_tick(struct alert_engine *e, const struct alert_now *now);

/* Whether a rule of the config (not a stock one) reads topic: such rules
 * ask for its events at once (the journal's 40 ms recheck); stock rules
 * take them at the collector's own pace, so an idle daemon stays idle. */
bool alert_engine_reads(const struct alert_engine *e, unsigned topic);
/* Whether a log rule of topic, stock or not, takes an entry of this level
 * (0..7): what the rate limit leaves out of the stream is handed to the
 * rules only then. */
bool alert_engine_reads_level(const struct alert_engine *e, unsigned topic, int level);

/* For `snapshot` and /metrics: calls fn for every pending or firing alert. */
void alert_engine_each(const struct alert_engine *e,
		       void (*fn)(void *ctx, const struct alert_change *c), void *ctx);
/* Each rule: its name, severity, whether something fires. */
size_t alert_engine_rules(const struct alert_engine *e, const struct alert_rule *const **ret);
bool alert_engine_rule_firing(const struct alert_engine *e, size_t i);
uint64_t alert_engine_held_total(const struct alert_engine *e);
/* Rule i's fault found in the payloads (a field its topic lacks: the rule
 * never fires), or NULL; the generation changes when one is found or the
 * rules change. */
const char *alert_engine_rule_error(const struct alert_engine *e, size_t i);
unsigned alert_engine_errors_gen(const struct alert_engine *e);

const char *alert_state_name(enum alert_state s);

#endif
