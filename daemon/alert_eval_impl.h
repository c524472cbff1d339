/* The alert engine's insides, shared by alert_eval.c (instances, states,
 * limits), alert_events.c (the event rules' feeds) and alert_index.c (rules by topic, field paths
 * read once per payload). Not a public API. */
#ifndef SYSFEED_ALERT_EVAL_IMPL_H
#define SYSFEED_ALERT_EVAL_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "alert_eval.h"
#include "alert_rule.h"

struct inst {
	char *label;
	enum alert_state state;
	bool armed; /* edge rules: seen not meeting the condition */
	bool has_value;
	double value, threshold;
	char *value_str, *text, *unit;
	unsigned count;
	int64_t since_ms, pending_mono, notified_mono, event_mono;
	uint64_t gen;
};

struct rstate {
	struct alert_rule *rule;
	struct inst *inst;
	size_t n, cap;
	uint64_t gen;
	int64_t win_start;   /* this rule's rate window (INT64_MIN: none open) */
	unsigned sent, held; /* in this rule's window; held since the last summary */
};

/* One field's value in a payload or in one element of its array. str: a
 * text value, valid only while that payload is fed. */
struct fval {
	bool ok; /* a number or a boolean */
	double v;
	const char *str;
};

/* A field path the rules name, resolved once per payload of its topic
 * whatever the number of rules reading it. */
struct field {
	const struct alert_ref *ref; /* the first ref with this path */
	int group;                   /* its array, or -1 */
	struct fval one;             /* a plain field: in the latest payload */
	struct fval *el;             /* an array's field: per element */
	size_t n, cap;
	int seen; /* -1: not known yet; 0: missing from its topic's payloads; 1: there */
};

/* An array of instances (a topic and the path to the array) in the
 * latest payload: its elements and their labels. */
struct elem {
	const cJSON *o;
	const char *label; /* NULL: buf */
	char buf[32];
};

struct group {
	const struct alert_ref *ref;
	const char *key; /* the label's key when not the first of elem_label's */
	bool present;
	struct elem *el;
	size_t n, cap;
};

/* What a topic's payload drives: its rules, and the fields and arrays to
 * resolve first. */
struct topic_ix {
	size_t *rules, n_rules, cap_rules;
	size_t *fields, n_fields, cap_fields;
	size_t *groups, n_groups, cap_groups;
};

/* Built from the rules when they are set: rules find their fields and
 * each payload visits only the rules of its topic. */
struct index {
	struct field *f;
	size_t n_f, cap_f;
	struct group *g;
	size_t n_g, cap_g;
	struct topic_ix *t;
	size_t n_t;
	int (*fid)[ALERT_MAX_REFS]; /* per rule, per ref */
	int *grp;                   /* per rule: its array, or -1 */
	char **error;               /* per rule: a field its topic lacks, or NULL */
};

struct alert_engine {
	struct rstate *r;
	size_t n;
	const struct alert_rule **rules; /* for alert_engine_rules */
	struct index ix;
	unsigned errors_gen;
	struct alert_limits lim;
	void (*on_change)(void *ctx, const struct alert_change *c);
	void (*on_summary)(void *ctx, unsigned held, const char *text, int64_t t_ms);
	void *ctx;
	int64_t win_start;
	unsigned sent, held;
	uint64_t held_total;
};

/* alert_index.c */
/* Each rule's fields and array, each topic's rules (old: the index they
 * replace, whose first-payload verdicts carry over). 0 or -ENOMEM. */
int index_build(struct index *ix, struct alert_rule *const *rules, size_t n,
		const struct index *old);
void index_done(struct index *ix, size_t n_rules);
/* Rules naming a field their topic's payloads lack get a reason. */
void index_errors(struct alert_engine *e);
/* Reads a payload's arrays and fields once for all the rules of its topic.
 * Returns whether a field was found missing or there for the first time. */
bool resolve_fields(struct alert_engine *e, const struct topic_ix *t, const cJSON *payload);
/* An array element's label: its mount, name, device, unit, id or label
 * (a GPU's id: models repeat), else "cpuN" or "#index". */
const char *elem_label(const struct elem *el);

/* alert_eval.c: the instances of a rule's state */
/* The instance labelled label; hint: where it likely is (an array's
 * elements come in the same order payload after payload). */
struct inst *inst_find(struct rstate *rs, const char *label, size_t hint);
/* A new instance labelled label (NULL when memory runs out). */
struct inst *inst_add(struct rstate *rs, const char *label);
/* Instances not seen in this payload are gone: a firing one resolves. */
void inst_sweep(struct alert_engine *e, struct rstate *rs, const struct alert_now *now);
/* An event for an event rule (or a rise): fires in, or adds to what fires. */
void inst_fire(struct alert_engine *e, struct rstate *rs, struct inst *in, const char *text,
	       const char *unit, const struct alert_now *now);

/* alert_events.c: the event rules' feeds */
/* The entries of a `log` event as objects: the collector hands them over
 * already encoded (raw JSON), so they are parsed once for every log rule. */
const cJSON *log_entries(const cJSON *payload, cJSON **owned);
/* Each entry that matches the rule fires the instance of its unit. */
void feed_log(struct alert_engine *e, struct rstate *rs, const cJSON *entries,
	      const struct alert_now *now);
/* A change whose path (or rename's side) matches fires that path. */
void feed_file(struct alert_engine *e, struct rstate *rs, const cJSON *payload,
	       const struct alert_now *now);
/* Failed units fire while they are in the `failed` list. */
void feed_units(struct alert_engine *e, struct rstate *rs, const cJSON *payload,
		const struct alert_now *now);

#endif
