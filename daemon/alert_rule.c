/* Alert rules: the `alert = NAME: ...` grammar and the stock rules (see
 * alert_rule.h and docs/alerts.md). */
#include "alert_rule.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "fields.h"
#include "settings.h"

#define MAX_TOKENS 64

const char *const alert_stock_rules[] = {
    "fs-full: fs.filesystems[].used_percent >= 90 clear 85 severity critical",
    "fs-inodes-full: fs.filesystems[].inodes_used * 100 / fs.filesystems[].inodes_total >= 90 "
    "clear 85 severity critical",
    "fs-not-responding: fs not-responding severity critical",
    "fs-read-only: fs read-only severity critical",
    "mem-pressure: psi.memory.some.avg60 >= 20 clear 10",
    "mem-available-low: mem.available * 100 / mem.total < 5 clear 8 severity critical",
    "swap-storm: mem.swap_in_pages_per_s + mem.swap_out_pages_per_s >= 2500 for 1m",
    "oom-kill: log match \"out of memory: killed process\" severity critical",
    "unit-failed: units",
    "cpu-steal: cpu.total.steal >= 20 for 5m clear 10",
    "load-per-core: load.load1 / cpu.ncpu >= 2 for 10m clear 1.5",
    "temp-critical: temp.sensors[].temp_c >= temp.sensors[].crit_c severity critical",
    "disk-busy: disk.disks[].busy_pct >= 95 for 5m clear 80",
    "net-down: net.interfaces[].operstate != \"up\" edge",
    "journal-crit: log priority <= crit severity critical",
    "md-degraded: health.md[].degraded > 0 severity critical",
    "smart-failed: health.smart.devices[].passed == false severity critical",
    "smart-reallocated: health.smart.devices[].reallocated rises hold 1d",
    "smart-media-errors: health.smart.devices[].media_errors rises hold 1d severity critical",
    "nvme-critical-warning: health.smart.devices[].critical_warning != 0 severity critical",
    "gpu-slowdown: gpu.gpus[].temp_c >= gpu.gpus[].temp_slowdown_c clear "
    "gpu.gpus[].temp_slowdown_c - 5",
    NULL,
};

struct parser {
	char *tok[MAX_TOKENS];
	size_t n, i;
	struct alert_rule *r;
	char *err;
	size_t err_len;
};

static int fail(struct parser *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parser *p, const char *fmt, ...)
{
	va_list ap;
	int n = snprintf(p->err, p->err_len, "alert %s: ", p->r->name ? p->r->name : "");

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < p->err_len)
		vsnprintf(p->err + n, p->err_len - (size_t)n, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* Splits text into blank-separated words; "double quoted" ones may hold
 * blanks (no escapes). Quoted words keep a leading '"' as a mark. */
static int tokenize(struct parser *p, char *text)
{
	char *s = text;

	while (*s) {
		while (*s == ' ' || *s == '\t')
			s++;
		if (!*s)
			break;
		if (p->n == MAX_TOKENS)
			return fail(p, "more than %d words", MAX_TOKENS);
		if (*s == '"') {
			char *end = strchr(s + 1, '"');

			if (!end)
				return fail(p, "unterminated quoted text");
			p->tok[p->n++] = s;
			s = end + 1;
			*end = '\0';
			if (*s && *s != ' ' && *s != '\t')
				return fail(p, "blank expected after quoted text");
			continue;
		}
		p->tok[p->n++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
		if (*s)
			*s++ = '\0';
	}
	return 0;
}

static const char *peek(struct parser *p)
{
	return p->i < p->n ? p->tok[p->i] : NULL;
}

static bool accept(struct parser *p, const char *word)
{
	if (p->i < p->n && strcmp(p->tok[p->i], word) == 0) {
		p->i++;
		return true;
	}
	return false;
}

static bool quoted(const char *tok)
{
	return tok && tok[0] == '"';
}

/* The next word as a plain value (quotes removed), or NULL at the end. */
static const char *value(struct parser *p)
{
	const char *t = peek(p);

	if (!t)
		return NULL;
	p->i++;
	return quoted(t) ? t + 1 : t;
}

/* A number with an optional K, M, G or T (powers of 1024); true, false. */
static int number(const char *s, double *ret)
{
	static const char suffix[] = "KMGT";
	char *end;
	double v;

	if (strcmp(s, "true") == 0 || strcmp(s, "false") == 0) {
		*ret = s[0] == 't';
		return 0;
	}
	if (!(isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '.') && s[1])))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || !isfinite(v))
		return -EINVAL;
	if (*end) {
		const char *k = strchr(suffix, *end);

		if (!k || end[1])
			return -EINVAL;
		v *= pow(1024, (double)(k - suffix + 1));
	}
	*ret = v;
	return 0;
}

/* 90s, 5m, 1h, 1d, 500ms; a bare number is seconds. */
static int duration(struct parser *p, const char *what, int64_t *ret)
{
	const char *s = value(p);
	char *end;
	double v, mul = 1000;

	if (!s)
		return fail(p, "a duration expected after '%s'", what);
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v < 0 || !isdigit((unsigned char)s[0]))
		return fail(p, "bad duration '%s' after '%s' (30s, 5m, 1h)", s, what);
	if (strcmp(end, "ms") == 0)
		mul = 1;
	else if (strcmp(end, "m") == 0)
		mul = 60e3;
	else if (strcmp(end, "h") == 0)
		mul = 3600e3;
	else if (strcmp(end, "d") == 0)
		mul = 86400e3;
	else if (*end && strcmp(end, "s") != 0)
		return fail(p, "bad duration '%s' after '%s' (30s, 5m, 1h)", s, what);
	if (v * mul > 366 * 86400e3)
		return fail(p, "duration '%s' longer than a year", s);
	*ret = (int64_t)(v * mul);
	return 0;
}

static int parse_op(const char *s, enum alert_op *ret)
{
	static const char *const ops[] = {">", ">=", "<", "<=", "==", "!="};

	for (size_t i = 0; s && i < sizeof(ops) / sizeof(ops[0]); i++)
		if (strcmp(s, ops[i]) == 0) {
			*ret = (enum alert_op)i;
			return 0;
		}
	return -EINVAL;
}

const char *alert_op_name(enum alert_op op)
{
	static const char *const ops[] = {">", ">=", "<", "<=", "==", "!="};

	return ops[op];
}

const char *alert_severity_name(enum alert_severity s)
{
	return s == ALERT_CRITICAL ? "critical" : "warning";
}

bool alert_compare(enum alert_op op, double a, double b)
{
	switch (op) {
	case ALERT_GT:
		return a > b;
	case ALERT_GE:
		return a >= b;
	case ALERT_LT:
		return a < b;
	case ALERT_LE:
		return a <= b;
	case ALERT_EQ:
		return a == b;
	case ALERT_NE:
		return a != b;
	}
	return false;
}

/* topic.key.key, with at most one `key[]` naming the array of instances.
 * Every [] path of a rule must lead to the same array. */
static int parse_ref(struct parser *p, const char *s, int *ret_ref)
{
	struct alert_rule *r = p->r;
	struct alert_ref *ref;
	char buf[256], *save = NULL, *seg;
	int topic;

	if (strlen(s) >= sizeof(buf))
		return fail(p, "field path too long");
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.[]", *c))
			return fail(p, "bad field path '%s' (write blanks around operators)", s);
	if (r->n_refs == ALERT_MAX_REFS)
		return fail(p, "more than %d fields", ALERT_MAX_REFS);
	ref = &r->refs[r->n_refs++]; /* counted now: freed with the rule on any failure */
	ref->arr = -1;
	snprintf(buf, sizeof(buf), "%s", s);
	seg = strtok_r(buf, ".", &save);
	if (!seg || (topic = collector_topic(seg)) < 0)
		return fail(p, "unknown topic '%s' in '%s'", seg ? seg : "", s);
	ref->topic = topic;
	while ((seg = strtok_r(NULL, ".", &save))) {
		size_t n = strlen(seg);
		bool arr = n > 2 && strcmp(seg + n - 2, "[]") == 0;

		if (arr)
			seg[n -= 2] = '\0';
		if (!n || strchr(seg, '[') || strchr(seg, ']'))
			return fail(p, "bad field path '%s'", s);
		if (ref->n_segs == ALERT_MAX_SEGS)
			return fail(p, "field path '%s' too deep", s);
		if (arr && ref->arr >= 0)
			return fail(p, "one [] at most in '%s'", s);
		if (arr)
			ref->arr = (int)ref->n_segs;
		if (!(ref->segs[ref->n_segs++] = strdup(seg)))
			return -ENOMEM;
	}
	if (!ref->n_segs)
		return fail(p, "'%s' names a topic, not a field", s);
	if (ref->arr == (int)ref->n_segs - 1)
		return fail(p, "'%s' is an array: name a field of its elements", s);
	/* a topic's field tables say which fields the objects they describe have */
	alert_ref_path(ref, false, buf, sizeof(buf));
	if (fields_covers(collector_registry[topic]->fields, buf) &&
	    !fields_known(collector_registry[topic]->fields, buf))
		return fail(p, "'%s': %s payloads have no field '%s' (see docs/events.md)", s,
			    collector_registry[topic]->name, buf);
	if (r->n_refs == 1)
		r->topic = topic;
	else if (ref->arr >= 0 && topic != r->topic)
		return fail(p, "'%s': a [] field must be of the rule's first topic", s);
	/* another topic's scalar: the evaluator keeps its latest value */
	for (size_t i = 0; ref->arr >= 0 && i + 1 < r->n_refs; i++) {
		const struct alert_ref *o = &r->refs[i];
		bool same = o->arr < 0 || o->arr == ref->arr;

		for (int k = 0; same && o->arr >= 0 && k <= ref->arr; k++)
			same = strcmp(o->segs[k], ref->segs[k]) == 0;
		if (!same)
			return fail(p, "'%s': every [] field must be of one array", s);
	}
	*ret_ref = (int)r->n_refs - 1;
	return 0;
}

static int push(struct parser *p, struct alert_expr *e, struct alert_term t)
{
	if (e->n == ALERT_MAX_EXPR)
		return fail(p, "expression too long");
	e->t[e->n++] = t;
	return 0;
}

static int operand(struct parser *p, struct alert_expr *e)
{
	const char *s = peek(p);
	double v;
	int ref, r;

	if (!s)
		return fail(p, "a field or a number expected at the end");
	if (quoted(s))
		return fail(p, "text \"%s\" where a number is expected", s + 1);
	p->i++;
	if (number(s, &v) == 0)
		return push(p, e, (struct alert_term){.kind = TERM_NUM, .num = v});
	if (!strchr(s, '.'))
		return fail(p, "'%s' is neither a number nor a field (topic.field)", s);
	if ((r = parse_ref(p, s, &ref)) < 0)
		return r;
	return push(p, e, (struct alert_term){.kind = TERM_REF, .ref = ref});
}

/* operand ((* | /) operand)* ((+ | -) ...)*: two levels, left to right. */
static int expression(struct parser *p, struct alert_expr *e)
{
	int r;
	char add = 0;

	for (;;) {
		char mul = 0;

		if ((r = operand(p, e)) < 0)
			return r;
		while (peek(p) && (!strcmp(peek(p), "*") || !strcmp(peek(p), "/"))) {
			mul = peek(p)[0];
			p->i++;
			if ((r = operand(p, e)) < 0 ||
			    (r = push(p, e, (struct alert_term){.kind = TERM_OP, .op = mul})) < 0)
				return r;
		}
		if (add && (r = push(p, e, (struct alert_term){.kind = TERM_OP, .op = add})) < 0)
			return r;
		if (!peek(p) || (strcmp(peek(p), "+") && strcmp(peek(p), "-")))
			return 0;
		add = peek(p)[0];
		p->i++;
	}
}

static int glob_word(struct parser *p, const char *what, char **ret)
{
	const char *s = value(p);

	if (!s || !*s)
		return fail(p, "a value expected after '%s'", what);
	free(*ret);
	return (*ret = strdup(s)) ? 0 : -ENOMEM;
}

/* clear EXPR: the comparison that must fail before a firing alert
 * resolves, with EXPR in place of the threshold. */
static int clear_expr(struct parser *p)
{
	struct alert_rule *r = p->r;
	int rc;

	if (r->str)
		return fail(p, "'clear' needs a numeric comparison");
	if (r->has_clear)
		return fail(p, "'clear' given twice");
	if (!peek(p))
		return fail(p, "a number or an expression expected after 'clear'");
	if ((rc = expression(p, &r->clr)) < 0)
		return rc;
	r->has_clear = true;
	if (r->clr.n == 1 && r->clr.t[0].kind == TERM_NUM)
		r->clear = r->clr.t[0].num;
	return 0;
}

/* The options any rule may end with: severity, repeat; and for its kind
 * for, clear, edge, instance (threshold rules), hold (event rules and
 * rises). */
static int options(struct parser *p)
{
	struct alert_rule *r = p->r;
	bool event = r->kind != ALERT_THRESHOLD, level = !event && !r->rises;
	const char *w;
	int rc;

	while ((w = peek(p))) {
		p->i++;
		if (r->rises && (!strcmp(w, "for") || !strcmp(w, "clear") || !strcmp(w, "edge")))
			return fail(p,
				    "'%s' does not go with 'rises' (a rise fires at once; "
				    "'hold' says how long it stays firing)",
				    w);
		if (strcmp(w, "severity") == 0) {
			const char *s = value(p);

			if (s && strcmp(s, "warning") == 0)
				r->severity = ALERT_WARNING;
			else if (s && strcmp(s, "critical") == 0)
				r->severity = ALERT_CRITICAL;
			else
				return fail(p, "severity is warning or critical, not '%s'",
					    s ? s : "");
		} else if (strcmp(w, "repeat") == 0) {
			if ((rc = duration(p, w, &r->repeat_ms)) < 0)
				return rc;
		} else if (level && strcmp(w, "for") == 0) {
			if ((rc = duration(p, w, &r->for_ms)) < 0)
				return rc;
		} else if (level && strcmp(w, "clear") == 0) {
			if ((rc = clear_expr(p)) < 0)
				return rc;
		} else if (level && strcmp(w, "edge") == 0) {
			r->edge = true;
		} else if (!event && strcmp(w, "instance") == 0) {
			if ((rc = glob_word(p, w, &r->instance)) < 0)
				return rc;
		} else if (((event && r->kind != ALERT_UNITS) || r->rises) &&
			   strcmp(w, "hold") == 0) {
			if ((rc = duration(p, w, &r->hold_ms)) < 0)
				return rc;
		} else {
			return fail(p, "unexpected '%s'", quoted(w) ? w + 1 : w);
		}
	}
	return 0;
}

/* Clear needs an order, and a constant one must lie on the other side of
 * a constant threshold. */
static int check_clear(struct parser *p)
{
	struct alert_rule *r = p->r;
	double th;

	if (!r->has_clear)
		return 0;
	if (r->op == ALERT_EQ || r->op == ALERT_NE)
		return fail(p, "'clear' needs <, <=, > or >=");
	if (r->rhs.n != 1 || r->rhs.t[0].kind != TERM_NUM || r->clr.n != 1 ||
	    r->clr.t[0].kind != TERM_NUM)
		return 0;
	th = r->rhs.t[0].num;
	if (((r->op == ALERT_GT || r->op == ALERT_GE) && r->clear > th) ||
	    ((r->op == ALERT_LT || r->op == ALERT_LE) && r->clear < th))
		return fail(p, "clear %g is not on the other side of %g", r->clear, th);
	return 0;
}

static int threshold(struct parser *p)
{
	struct alert_rule *r = p->r;
	const char *op;
	int rc;

	r->kind = ALERT_THRESHOLD;
	if ((rc = expression(p, &r->lhs)) < 0)
		return rc;
	if (r->n_refs == 0)
		return fail(p, "the rule names no field");
	if (accept(p, "rises")) {
		r->rises = true;
		return options(p);
	}
	op = value(p);
	if (!op || parse_op(op, &r->op) < 0)
		return fail(p, "a comparison (>, >=, <, <=, ==, !=) or 'rises' expected%s%s",
			    op ? ", not " : " at the end", op ? op : "");
	if (quoted(peek(p))) {
		if (r->op != ALERT_EQ && r->op != ALERT_NE)
			return fail(p, "text compares with == or != only");
		if (r->lhs.n != 1)
			return fail(p, "text compares with one field only");
		if (!(r->str = strdup(value(p))))
			return -ENOMEM;
	} else if ((rc = expression(p, &r->rhs)) < 0) {
		return rc;
	}
	if ((rc = options(p)) < 0)
		return rc;
	return check_clear(p);
}

static int log_rule(struct parser *p)
{
	struct alert_rule *r = p->r;
	int rc;

	r->kind = ALERT_LOG;
	r->topic = collector_topic("log");
	for (;;) {
		if (accept(p, "priority")) {
			const char *op = value(p), *pr = value(p);

			if (!op || parse_op(op, &r->prio_op) < 0)
				return fail(p, "a comparison expected after 'priority'");
			if (!pr || (r->prio = settings_priority(pr)) < 0)
				return fail(p,
					    "a priority (emerg..debug or 0..7) expected, not '%s'",
					    pr ? pr : "");
		} else if (accept(p, "unit")) {
			if ((rc = glob_word(p, "unit", &r->unit)) < 0)
				return rc;
		} else if (accept(p, "match")) {
			if ((rc = glob_word(p, "match", &r->match)) < 0)
				return rc;
		} else {
			break;
		}
	}
	return options(p);
}

/* `fs not-responding` and `fs read-only`: rules on the fs payload, with
 * `mount GLOB` for the instances. */
static int fs_rule(struct parser *p)
{
	struct alert_rule *r = p->r;
	const char *what = value(p);
	char text[128];
	int ref, rc;

	r->kind = ALERT_THRESHOLD;
	if (!what || (strcmp(what, "not-responding") && strcmp(what, "read-only")))
		return fail(p, "fs rules are 'not-responding' or 'read-only'");
	snprintf(text, sizeof(text), "fs.filesystems[].%s",
		 what[0] == 'n' ? "responding" : "read_only");
	if ((rc = parse_ref(p, text, &ref)) < 0 ||
	    (rc = push(p, &r->lhs, (struct alert_term){.kind = TERM_REF, .ref = ref})) < 0 ||
	    (rc = push(p, &r->rhs, (struct alert_term){.kind = TERM_NUM, .num = what[0] == 'r'})) <
		0)
		return rc;
	r->op = ALERT_EQ;
	r->edge = what[0] == 'r'; /* remounted read-only: it was writable before */
	if (accept(p, "mount") && (rc = glob_word(p, "mount", &r->instance)) < 0)
		return rc;
	if ((rc = options(p)) < 0)
		return rc;
	if (r->has_clear) /* (the `== true` in it cannot take one) */
		return fail(p, "'clear' does not go with fs rules (a state, not a number)");
	return 0;
}

static int body(struct parser *p)
{
	struct alert_rule *r = p->r;
	const char *first = peek(p);
	int rc;

	if (!first)
		return fail(p, "empty rule");
	if (accept(p, "off")) {
		r->kind = ALERT_OFF;
		return peek(p) ? fail(p, "nothing may follow 'off'") : 0;
	}
	if (accept(p, "log"))
		return log_rule(p);
	if (accept(p, "fs"))
		return fs_rule(p);
	if (accept(p, "units")) {
		r->kind = ALERT_UNITS;
		r->topic = collector_topic("units");
		if (accept(p, "unit") && (rc = glob_word(p, "unit", &r->unit)) < 0)
			return rc;
		return options(p);
	}
	if (accept(p, "file")) {
		r->kind = ALERT_FILE;
		r->topic = collector_topic("file");
		if (!accept(p, "path"))
			return fail(p, "'file' takes 'path GLOB'");
		if ((rc = glob_word(p, "path", &r->path)) < 0)
			return rc;
		return options(p);
	}
	return threshold(p);
}

int alert_rule_parse(const char *line, struct alert_rule **ret, char *err, size_t err_len)
{
	struct parser p = {.err = err, .err_len = err_len};
	struct alert_rule *r = calloc(1, sizeof(*r));
	char *copy = NULL, *colon, *name;
	int rc = -ENOMEM;

	if (!r || !(copy = strdup(line)))
		goto out;
	p.r = r;
	r->prio = -1;
	r->hold_ms = 300000;
	name = copy;
	while (*name == ' ' || *name == '\t')
		name++;
	colon = strchr(name, ':');
	if (!colon || colon == name) {
		rc = fail(&p, "expected 'NAME: rule'");
		goto out;
	}
	*colon = '\0';
	for (const char *c = name; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("_.-", *c)) {
			rc =
			    fail(&p, "a name is letters, digits, '_', '.' and '-', not '%s'", name);
			goto out;
		}
	if (strlen(name) >= ALERT_NAME_MAX) {
		rc = fail(&p, "name longer than %d bytes", ALERT_NAME_MAX - 1);
		goto out;
	}
	if (!(r->name = strdup(name)) || !(r->text = strdup(colon + 1)))
		goto out;
	{
		char *t = r->text, *e;

		while (*t == ' ' || *t == '\t')
			memmove(t, t + 1, strlen(t));
		e = t + strlen(t);
		while (e > t && (e[-1] == ' ' || e[-1] == '\t'))
			*--e = '\0';
	}
	if ((rc = tokenize(&p, colon + 1)) < 0 || (rc = body(&p)) < 0)
		goto out;
	*ret = r;
	r = NULL;
out:
	free(copy);
	alert_rule_free(r);
	if (rc == -ENOMEM && err && err_len)
		snprintf(err, err_len, "out of memory");
	return rc;
}

void alert_rule_free(struct alert_rule *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n_refs; i++)
		for (size_t k = 0; k < r->refs[i].n_segs; k++)
			free(r->refs[i].segs[k]);
	free(r->name);
	free(r->text);
	free(r->str);
	free(r->instance);
	free(r->unit);
	free(r->match);
	free(r->path);
	free(r);
}

void alert_ref_path(const struct alert_ref *ref, bool with_topic, char *buf, size_t len)
{
	size_t n = 0;
	int w;

	buf[0] = '\0';
	if (with_topic && (w = snprintf(buf, len, "%s", collector_registry[ref->topic]->name)) > 0)
		n = (size_t)w;
	for (size_t i = 0; i < ref->n_segs && n < len; i++) {
		w = snprintf(buf + n, len - n, "%s%s%s", n ? "." : "", ref->segs[i],
			     (int)i == ref->arr ? "[]" : "");
		n += w > 0 ? (size_t)w : 0;
	}
}

/* The object or array at segs[from..to) below item. */
static const cJSON *walk(const cJSON *item, char *const *segs, size_t from, size_t to)
{
	for (size_t i = from; item && i < to; i++)
		item = cJSON_GetObjectItemCaseSensitive(item, segs[i]);
	return item;
}

const cJSON *alert_ref_array(const struct alert_ref *ref, const cJSON *payload)
{
	const cJSON *a;

	if (ref->arr < 0)
		return NULL;
	a = walk(payload, ref->segs, 0, (size_t)ref->arr + 1);
	return cJSON_IsArray(a) ? a : NULL;
}

const cJSON *alert_ref_node(const struct alert_ref *ref, const cJSON *payload, const cJSON *elem)
{
	return ref->arr < 0 ? walk(payload, ref->segs, 0, ref->n_segs)
			    : walk(elem, ref->segs, (size_t)ref->arr + 1, ref->n_segs);
}
