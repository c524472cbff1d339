/* Alert rules: the grammar of an `alert = NAME: ...` line (docs/alerts.md)
 * parsed into a rule the evaluator runs, and the stock rules. Pure: errors
 * come back as a one-line reason, nothing is logged. */
#ifndef SYSFEED_ALERT_RULE_H
#define SYSFEED_ALERT_RULE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define ALERT_NAME_MAX 64
#define ALERT_MAX_REFS 8
#define ALERT_MAX_EXPR 24
#define ALERT_MAX_SEGS 8

enum alert_kind {
	ALERT_THRESHOLD, /* a numeric (or string) field of a periodic topic, or its rise */
	ALERT_LOG,       /* a journal entry */
	ALERT_UNITS,     /* a unit failed */
	ALERT_FILE,      /* a path changed */
	ALERT_OFF,       /* `NAME: off`: a stock rule disabled */
};

enum alert_severity { ALERT_WARNING, ALERT_CRITICAL };

enum alert_op { ALERT_GT, ALERT_GE, ALERT_LT, ALERT_LE, ALERT_EQ, ALERT_NE };

/* A field of a payload: topic, then object keys; `arr` segments before it
 * lead to the array whose elements are instances (-1: none). */
struct alert_ref {
	int topic;
	char *segs[ALERT_MAX_SEGS];
	size_t n_segs;
	int arr; /* segs[0..arr] lead to the array, the rest is inside an element */
};

/* One step of an expression in postfix order. */
struct alert_term {
	enum { TERM_NUM, TERM_REF, TERM_OP } kind;
	double num;
	int ref;
	char op; /* + - * / */
};

struct alert_expr {
	struct alert_term t[ALERT_MAX_EXPR];
	size_t n;
};

struct alert_rule {
	char *name;
	char *text; /* after "NAME:", as written */
	bool stock;
	enum alert_kind kind;
	enum alert_severity severity;
	int topic;         /* the topic whose payloads or events drive it */
	int64_t repeat_ms; /* reminders while firing; 0: the global alert-repeat */
	/* threshold */
	struct alert_ref refs[ALERT_MAX_REFS];
	size_t n_refs;
	struct alert_expr lhs, rhs;
	enum alert_op op;
	char *str;  /* compare with this text (== and != only), or NULL */
	bool rises; /* `EXPR rises`: fires when lhs is above its previous sample */
	bool has_clear;
	struct alert_expr clr; /* resolves only once the comparison with this fails */
	double clear;          /* clr's value when it is one number */
	int64_t for_ms;
	bool edge;      /* fires only after the instance was seen not meeting it */
	char *instance; /* glob on the instance label, or NULL */
	/* events, rises */
	int64_t hold_ms; /* an event alert resolves this long after its last event */
	enum alert_op prio_op;
	int prio;    /* -1: any */
	char *unit;  /* glob, or NULL */
	char *match; /* text, ASCII case-insensitive, or NULL */
	char *path;  /* glob, or NULL */
};

/* Parses "NAME: TEXT". Returns 0 and *ret, or -EINVAL with a reason in
 * err, or -ENOMEM. */
int alert_rule_parse(const char *line, struct alert_rule **ret, char *err, size_t err_len);
void alert_rule_free(struct alert_rule *r);

/* The stock rules as `NAME: TEXT` lines, NULL-terminated. */
extern const char *const alert_stock_rules[];

/* The item at ref: in payload for a plain field, in elem (an element of
 * the ref's array) for one inside an array; NULL when missing. */
const cJSON *alert_ref_node(const struct alert_ref *ref, const cJSON *payload, const cJSON *elem);
/* The ref as written ("fs.filesystems[].used_percent"), or without the
 * topic ("filesystems[].used_percent"). */
void alert_ref_path(const struct alert_ref *ref, bool with_topic, char *buf, size_t len);
/* The array a ref leads to in payload, or NULL. */
const cJSON *alert_ref_array(const struct alert_ref *ref, const cJSON *payload);

const char *alert_op_name(enum alert_op op);
const char *alert_severity_name(enum alert_severity s);
bool alert_compare(enum alert_op op, double a, double b);

#endif
