/* Alert evaluation: instances, their states and the limits on
 * notifications (see alert_eval.h). */
#include "alert_eval.h"

#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "alert_eval_impl.h"
#include "collector.h"
/* A sample this much before `for` is over counts as at its end: ticks come
 * a few ms early or late, and `for 2s` at 1 s ticks should not wait a
 * third tick because the second came 1 ms early. */
#define FOR_SLACK_MS 50

const char *alert_state_name(enum alert_state s)
{
	static const char *const names[] = {"ok", "pending", "firing", "resolved"};

	return names[s];
}

struct alert_engine *alert_engine_new(
    const struct alert_limits *lim, void (*on_change)(void *ctx, const struct alert_change *c),
    void (*on_summary)(void *ctx, unsigned held, const char *text, int64_t t_ms), void *ctx)
{
	struct alert_engine *e = calloc(1, sizeof(*e));

	if (!e)
		return NULL;
	e->lim = *lim;
	e->on_change = on_change;
	e->on_summary = on_summary;
	e->ctx = ctx;
	e->win_start = INT64_MIN;
	return e;
}

void alert_engine_set_limits(struct alert_engine *e, const struct alert_limits *lim)
{
	e->lim = *lim;
}

static void inst_done(struct inst *in)
{
	free(in->label);
	free(in->value_str);
	free(in->text);
	free(in->unit);
}

static void rstate_done(struct rstate *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		inst_done(&rs->inst[i]);
	free(rs->inst);
	alert_rule_free(rs->rule);
}

void alert_engine_free(struct alert_engine *e)
{
	if (!e)
		return;
	index_done(&e->ix, e->n);
	for (size_t i = 0; i < e->n; i++)
		rstate_done(&e->r[i]);
	free(e->r);
	free(e->rules);
	free(e);
}

/* Ends the rate windows that are over: the global one and each rule's,
 * each opened by its first notification. When one ends and something was
 * held back, one summary says what. */
static void roll_window(struct alert_engine *e, const struct alert_now *now)
{
	char text[1024] = "";
	size_t len = 0;
	bool ended = false;

	for (size_t i = 0; i < e->n; i++) {
		struct rstate *rs = &e->r[i];

		if (rs->win_start != INT64_MIN &&
		    now->mono_ms - rs->win_start >= e->lim.window_ms) {
			rs->win_start = INT64_MIN;
			rs->sent = 0;
			ended = true;
		}
	}
	if (e->win_start != INT64_MIN && now->mono_ms - e->win_start >= e->lim.window_ms) {
		e->win_start = INT64_MIN;
		e->sent = 0;
		ended = true;
	}
	if (!ended || !e->held)
		return;
	for (size_t i = 0; i < e->n && len < sizeof(text); i++) {
		if (!e->r[i].held)
			continue;
		int w = snprintf(text + len, sizeof(text) - len, "%s%s %u", len ? ", " : "",
				 e->r[i].rule->name, e->r[i].held);
		len += w > 0 ? (size_t)w : 0;
	}
	if (e->on_summary)
		e->on_summary(e->ctx, e->held, text, now->real_ms);
	for (size_t i = 0; i < e->n; i++)
		e->r[i].held = 0;
	e->held = 0;
}

/* Hands a change out: the rate limits decide whether it is a notification. */
static void emit(struct alert_engine *e, struct rstate *rs, struct inst *in,
		 enum alert_state previous, bool reminder, const struct alert_now *now)
{
	struct alert_change c = {
	    .rule = rs->rule,
	    .instance = in->label,
	    .state = in->state,
	    .previous = previous,
	    .reminder = reminder,
	    .has_value = in->has_value,
	    .value = in->value,
	    .threshold = in->threshold,
	    .value_str = in->value_str,
	    .since_ms = in->since_ms,
	    .t_ms = now->real_ms,
	    .text = in->text,
	    .unit = in->unit,
	    .count = in->count,
	};

	if (in->state == ALERT_FIRING || in->state == ALERT_RESOLVED) {
		roll_window(e, now);
		if (e->win_start == INT64_MIN)
			e->win_start = now->mono_ms;
		if (rs->win_start == INT64_MIN)
			rs->win_start = now->mono_ms;
		c.notify = (!e->lim.per_rule || rs->sent < e->lim.per_rule) &&
			   (!e->lim.total || e->sent < e->lim.total);
		if (c.notify) {
			rs->sent++;
			e->sent++;
		} else {
			rs->held++;
			e->held++;
			e->held_total++;
		}
		if (in->state == ALERT_FIRING)
			in->notified_mono = now->mono_ms;
	}
	e->on_change(e->ctx, &c);
}

/* The instance labelled label; hint: where it likely is (an array's
 * elements come in the same order payload after payload). */
struct inst *inst_find(struct rstate *rs, const char *label, size_t hint)
{
	if (hint < rs->n && strcmp(rs->inst[hint].label, label) == 0)
		return &rs->inst[hint];
	for (size_t i = 0; i < rs->n; i++)
		if (strcmp(rs->inst[i].label, label) == 0)
			return &rs->inst[i];
	return NULL;
}

struct inst *inst_add(struct rstate *rs, const char *label)
{
	struct inst *in;

	if (ARRAY_GROW(rs->inst, rs->cap, rs->n, 4) < 0)
		return NULL;
	in = &rs->inst[rs->n];
	*in = (struct inst){.label = strdup(label)};
	if (!in->label)
		return NULL;
	rs->n++;
	return in;
}

static void drop(struct rstate *rs, struct inst *in)
{
	inst_done(in);
	*in = rs->inst[--rs->n];
}

static int set_text(char **dst, const char *src)
{
	if (*dst && src && strcmp(*dst, src) == 0)
		return 0;
	free(*dst);
	*dst = src ? strdup(src) : NULL;
	return !src || *dst ? 0 : -ENOMEM;
}

/* Resolves a firing instance and forgets it (edge rules keep it armed). */
static void resolve(struct alert_engine *e, struct rstate *rs, struct inst *in,
		    const struct alert_now *now, bool keep)
{
	enum alert_state prev = in->state;

	if (prev == ALERT_FIRING) {
		in->state = ALERT_RESOLVED;
		emit(e, rs, in, prev, false, now);
	} else if (prev == ALERT_PENDING) {
		in->state = ALERT_OK;
		emit(e, rs, in, prev, false, now);
	}
	in->state = ALERT_OK;
	in->armed = true;
	if (!keep)
		drop(rs, in);
}

struct sample {
	bool valid, meets, holds; /* holds: still firing (the clear side not reached) */
	double value, threshold;
	const char *str;
};

/* One instance's sample of a threshold rule (hint: see find). */
static void step(struct alert_engine *e, struct rstate *rs, const char *label, size_t hint,
		 const struct sample *s, const struct alert_now *now)
{
	const struct alert_rule *r = rs->rule;
	struct inst *in = rs->n ? inst_find(rs, label, hint) : NULL; /* mostly none: no call */
	enum alert_state prev;

	if (!s->valid) {
		if (in)
			in->gen = rs->gen; /* no value this time: as it was */
		return;
	}
	if (!in) {
		if (!s->meets && !r->edge)
			return;
		if (!(in = inst_add(rs, label)))
			return;
		in->armed = !s->meets;
	}
	in->gen = rs->gen;
	in->has_value = true;
	in->value = s->value;
	in->threshold = s->threshold;
	set_text(&in->value_str, s->str);
	prev = in->state;
	switch (in->state) {
	case ALERT_OK:
	case ALERT_RESOLVED:
		if (!s->meets) {
			in->armed = true;
			if (!r->edge)
				drop(rs, in);
			return;
		}
		if (r->edge && !in->armed)
			return;
		in->since_ms = now->real_ms;
		in->pending_mono = now->mono_ms;
		in->state = r->for_ms > 0 ? ALERT_PENDING : ALERT_FIRING;
		emit(e, rs, in, prev, false, now);
		return;
	case ALERT_PENDING:
		if (!s->meets) {
			resolve(e, rs, in, now, r->edge);
			return;
		}
		if (now->mono_ms - in->pending_mono + FOR_SLACK_MS >= r->for_ms) {
			in->state = ALERT_FIRING;
			emit(e, rs, in, prev, false, now);
		}
		return;
	case ALERT_FIRING:
		if (!s->holds) {
			resolve(e, rs, in, now, r->edge);
			return;
		}
		return;
	}
}

/* An expression's value for one instance (k: its element, -1 for a rule
 * without instances), false when a field is missing, null, text, or a
 * division by zero. */
static bool eval(const struct alert_engine *e, size_t ri, const struct alert_expr *x, long k,
		 double *ret)
{
	double st[ALERT_MAX_EXPR];
	size_t n = 0;

	for (size_t i = 0; i < x->n; i++) {
		const struct alert_term *t = &x->t[i];

		if (t->kind == TERM_NUM) {
			st[n++] = t->num;
		} else if (t->kind == TERM_REF) {
			const struct field *f = &e->ix.f[e->ix.fid[ri][t->ref]];
			const struct fval *v = f->group < 0                 ? &f->one
					       : k >= 0 && (size_t)k < f->n ? &f->el[k]
									    : NULL;

			if (!v || !v->ok)
				return false;
			st[n++] = v->v;
		} else {
			double b = st[--n], a = st[--n];

			if (t->op == '/' && b == 0)
				return false;
			st[n++] = t->op == '+'   ? a + b
				  : t->op == '-' ? a - b
				  : t->op == '*' ? a * b
						 : a / b;
		}
	}
	*ret = st[0];
	return n == 1;
}

static void sample_of(const struct alert_engine *e, size_t ri, long k, struct sample *s)
{
	const struct alert_rule *r = e->r[ri].rule;
	double clear;

	*s = (struct sample){0};
	if (r->str) {
		const struct field *f = &e->ix.f[e->ix.fid[ri][r->lhs.t[0].ref]];

		s->str = f->group < 0                 ? f->one.str
			 : k >= 0 && (size_t)k < f->n ? f->el[k].str
						      : NULL;
		if (!s->str)
			return;
		s->valid = true;
		s->meets = s->holds = (strcmp(s->str, r->str) == 0) == (r->op == ALERT_EQ);
		return;
	}
	if (r->rises) {
		s->valid = eval(e, ri, &r->lhs, k, &s->value);
		return;
	}
	if (!eval(e, ri, &r->lhs, k, &s->value) || !eval(e, ri, &r->rhs, k, &s->threshold))
		return;
	s->valid = true;
	s->meets = alert_compare(r->op, s->value, s->threshold);
	/* a clear expression without a value resolves at the threshold */
	if (!r->has_clear || !eval(e, ri, &r->clr, k, &clear))
		clear = s->threshold;
	s->holds = alert_compare(r->op, s->value, clear);
}

/* One instance's sample of a `rises` rule: its value above the one of its
 * previous sample fires it (or counts one more rise). The instance is kept
 * from its first sample on, for its value: a first sample, or one after
 * the element was gone, never rises; a sample without a value leaves the
 * previous one in place; a lower value (a counter reset) is the new
 * reference. */
static void step_rise(struct alert_engine *e, struct rstate *rs, const char *label, size_t hint,
		      const struct sample *s, const struct alert_now *now)
{
	struct inst *in = inst_find(rs, label, hint);
	char text[64];
	double from;

	if (in)
		in->gen = rs->gen;
	if (!s->valid)
		return;
	if (!in) {
		if ((in = inst_add(rs, label))) {
			in->gen = rs->gen;
			in->has_value = true;
			in->value = s->value;
		}
		return;
	}
	from = in->value;
	in->value = s->value;
	if (!(s->value > from))
		return;
	in->threshold = from;
	snprintf(text, sizeof(text), "rose from %.15g", from);
	inst_fire(e, rs, in, text, NULL, now);
}

/* Instances not seen in this payload are gone: a firing one resolves. */
void inst_sweep(struct alert_engine *e, struct rstate *rs, const struct alert_now *now)
{
	for (size_t i = rs->n; i-- > 0;) {
		struct inst *in = &rs->inst[i];

		if (in->gen == rs->gen)
			continue;
		in->has_value = false;
		resolve(e, rs, in, now, false);
	}
}

static void feed_threshold(struct alert_engine *e, size_t ri, const struct alert_now *now)
{
	struct rstate *rs = &e->r[ri];
	const struct alert_rule *r = rs->rule;
	const struct group *g = e->ix.grp[ri] < 0 ? NULL : &e->ix.g[e->ix.grp[ri]];
	const bool rises = r->rises;
	struct sample s;

	rs->gen++;
	if (!g) {
		sample_of(e, ri, -1, &s);
		if (rises)
			step_rise(e, rs, "", 0, &s, now);
		else
			step(e, rs, "", 0, &s, now);
	}
	for (size_t k = 0; g && k < g->n; k++) {
		const char *label = elem_label(&g->el[k]);

		if (r->instance && fnmatch(r->instance, label, 0) != 0)
			continue;
		sample_of(e, ri, (long)k, &s);
		if (rises)
			step_rise(e, rs, label, k, &s, now);
		else
			step(e, rs, label, k, &s, now);
	}
	inst_sweep(e, rs, now);
}

/* An event for an event rule (or a rise): fires in, or adds to what fires. */
void inst_fire(struct alert_engine *e, struct rstate *rs, struct inst *in, const char *text,
	       const char *unit, const struct alert_now *now)
{
	enum alert_state prev;

	in->gen = rs->gen;
	in->event_mono = now->mono_ms;
	set_text(&in->text, text);
	set_text(&in->unit, unit);
	if (in->state == ALERT_FIRING) {
		in->count++;
		return;
	}
	prev = in->state;
	in->state = ALERT_FIRING;
	in->count = 1;
	in->since_ms = now->real_ms;
	emit(e, rs, in, prev, false, now);
}

void alert_engine_feed(struct alert_engine *e, unsigned topic, const cJSON *payload,
		       const struct alert_now *now)
{
	const struct topic_ix *t;
	const cJSON *entries = NULL;
	cJSON *owned = NULL;
	bool parsed = false;

	if (topic >= e->ix.n_t)
		return;
	t = &e->ix.t[topic];
	if (resolve_fields(e, t, payload))
		index_errors(e);
	for (size_t i = 0; i < t->n_rules; i++) {
		size_t ri = t->rules[i];
		struct rstate *rs = &e->r[ri];

		switch (rs->rule->kind) {
		case ALERT_THRESHOLD:
			feed_threshold(e, ri, now);
			break;
		case ALERT_LOG:
			if (!parsed) {
				entries = log_entries(payload, &owned);
				parsed = true;
			}
			feed_log(e, rs, entries, now);
			break;
		case ALERT_FILE:
			feed_file(e, rs, payload, now);
			break;
		case ALERT_UNITS:
			feed_units(e, rs, payload, now);
			break;
		case ALERT_OFF:
			break;
		}
	}
	cJSON_Delete(owned);
}

void alert_engine_tick(struct alert_engine *e, const struct alert_now *now)
{
	for (size_t i = 0; i < e->n; i++) {
		struct rstate *rs = &e->r[i];
		const struct alert_rule *r = rs->rule;
		int64_t repeat = r->repeat_ms ? r->repeat_ms : e->lim.repeat_ms;
		bool event = r->kind == ALERT_LOG || r->kind == ALERT_FILE || r->rises;

		if (!rs->n) /* most rules, most ticks */
			continue;
		for (size_t k = rs->n; k-- > 0;) {
			struct inst *in = &rs->inst[k];

			if (in->state != ALERT_FIRING)
				continue;
			/* a rise's instance stays: its value is the next reference */
			if (event && now->mono_ms - in->event_mono >= r->hold_ms) {
				resolve(e, rs, in, now, r->rises);
				continue;
			}
			if (repeat && now->mono_ms - in->notified_mono >= repeat)
				emit(e, rs, in, ALERT_FIRING, true, now);
		}
	}
	roll_window(e, now);
}

int alert_engine_set_rules(struct alert_engine *e, struct alert_rule **rules, size_t n,
			   const struct alert_now *now)
{
	struct rstate *fresh = calloc(n ? n : 1, sizeof(*fresh));
	const struct alert_rule **list = calloc(n ? n : 1, sizeof(*list));
	size_t *src = calloc(n ? n : 1, sizeof(*src));
	bool *kept = calloc(e->n ? e->n : 1, sizeof(*kept));
	struct index ix;

	if (!fresh || !list || !src || !kept || index_build(&ix, rules, n, &e->ix) < 0) {
		free(fresh);
		free(list);
		free(src);
		free(kept);
		for (size_t i = 0; i < n; i++)
			alert_rule_free(rules[i]);
		return -ENOMEM;
	}
	/* the same rule (name and text) as before: its alerts and counts carry on */
	for (size_t i = 0; i < n; i++) {
		src[i] = SIZE_MAX;
		for (size_t k = 0; k < e->n && src[i] == SIZE_MAX; k++)
			if (!kept[k] && strcmp(e->r[k].rule->name, rules[i]->name) == 0 &&
			    strcmp(e->r[k].rule->text, rules[i]->text) == 0) {
				src[i] = k;
				kept[k] = true;
			}
	}
	/* the others' alerts resolve while every old rule is whole: a rate
	 * window that ends meanwhile names them in its summary */
	for (size_t k = 0; k < e->n; k++)
		for (size_t j = e->r[k].n; !kept[k] && j-- > 0;) {
			set_text(&e->r[k].inst[j].text, "rule removed or changed");
			resolve(e, &e->r[k], &e->r[k].inst[j], now, false);
		}
	for (size_t i = 0; i < n; i++) {
		if (src[i] != SIZE_MAX) {
			fresh[i] = e->r[src[i]];
			alert_rule_free(fresh[i].rule);
		} else {
			fresh[i].win_start = INT64_MIN;
		}
		fresh[i].rule = rules[i];
		list[i] = rules[i];
	}
	for (size_t k = 0; k < e->n; k++)
		if (!kept[k])
			rstate_done(&e->r[k]);
	free(src);
	free(kept);
	index_done(&e->ix, e->n);
	free(e->r);
	free(e->rules);
	e->r = fresh;
	e->rules = list;
	e->n = n;
	e->ix = ix;
	e->errors_gen++;
	index_errors(e);
	return 0;
}

bool alert_engine_reads(const struct alert_engine *e, unsigned topic)
{
	if (topic >= e->ix.n_t)
		return false;
	for (size_t i = 0; i < e->ix.t[topic].n_rules; i++)
		if (!e->r[e->ix.t[topic].rules[i]].rule->stock)
			return true;
	return false;
}

bool alert_engine_reads_level(const struct alert_engine *e, unsigned topic, int level)
{
	if (topic >= e->ix.n_t)
		return false;
	for (size_t i = 0; i < e->ix.t[topic].n_rules; i++) {
		const struct alert_rule *r = e->r[e->ix.t[topic].rules[i]].rule;

		if (r->kind == ALERT_LOG &&
		    (r->prio < 0 || alert_compare(r->prio_op, level, r->prio)))
			return true;
	}
	return false;
}

const char *alert_engine_rule_error(const struct alert_engine *e, size_t i)
{
	return i < e->n ? e->ix.error[i] : NULL;
}

unsigned alert_engine_errors_gen(const struct alert_engine *e)
{
	return e->errors_gen;
}

void alert_engine_each(const struct alert_engine *e,
		       void (*fn)(void *ctx, const struct alert_change *c), void *ctx)
{
	for (size_t i = 0; i < e->n; i++)
		for (size_t k = 0; k < e->r[i].n; k++) {
			const struct inst *in = &e->r[i].inst[k];

			if (in->state != ALERT_PENDING && in->state != ALERT_FIRING)
				continue;
			fn(ctx, &(struct alert_change){.rule = e->r[i].rule,
						       .instance = in->label,
						       .state = in->state,
						       .previous = in->state,
						       .has_value = in->has_value,
						       .value = in->value,
						       .threshold = in->threshold,
						       .value_str = in->value_str,
						       .since_ms = in->since_ms,
						       .t_ms = in->since_ms,
						       .text = in->text,
						       .unit = in->unit,
						       .count = in->count});
		}
}

size_t alert_engine_rules(const struct alert_engine *e, const struct alert_rule *const **ret)
{
	*ret = e->rules;
	return e->n;
}

bool alert_engine_rule_firing(const struct alert_engine *e, size_t i)
{
	for (size_t k = 0; i < e->n && k < e->r[i].n; k++)
		if (e->r[i].inst[k].state == ALERT_FIRING)
			return true;
	return false;
}

uint64_t alert_engine_held_total(const struct alert_engine *e)
{
	return e->held_total;
}