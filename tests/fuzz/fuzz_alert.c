/* Alert rules and their evaluation: the input is rule lines ("NAME:
 * BODY", one a line) then payloads, NUL-separated ("RULES\0JSON\0JSON...").
 * Each line goes through alert_rule_parse(): refused, it says
 * "alert NAME: reason" and hands back nothing; accepted, its expressions
 * are well-formed postfix and its options fit its kind (a rise has no
 * threshold, clear, for or edge). The accepted rules then run in an engine
 * fed each payload as every rule's topic, 700 ms apart, ticking: every
 * change is a transition the state machine allows, a rise fires with a
 * value above the one it rose from, only pending and firing alerts are
 * listed; a reload of the same rules changes nothing, an empty one leaves
 * nothing active. LeakSanitizer checks that nothing is left behind. */
#include "fuzz.h"

#include <errno.h>

#include "alert_eval.h"
#include "alert_rule.h"
#include "collector.h"

#define MAX_RULES    8
#define MAX_PAYLOADS 16

struct run {
	unsigned changes;
};

/* A postfix expression leaves one value: operands push, operators pop two. */
static void check_expr(const struct alert_expr *x, const struct alert_rule *r, bool may_be_empty)
{
	size_t depth = 0;

	if (may_be_empty && x->n == 0)
		return;
	FUZZ_CHECK(x->n >= 1 && x->n <= ALERT_MAX_EXPR);
	for (size_t i = 0; i < x->n; i++) {
		const struct alert_term *t = &x->t[i];

		if (t->kind == TERM_OP) {
			FUZZ_CHECK(depth >= 2 && strchr("+-*/", t->op));
			depth--;
		} else {
			FUZZ_CHECK(t->kind == TERM_NUM ||
				   (t->ref >= 0 && (size_t)t->ref < r->n_refs));
			depth++;
		}
	}
	FUZZ_CHECK(depth == 1);
}

static void check_rule(const struct alert_rule *r, const char *line)
{
	size_t name_len = strlen(r->name);

	FUZZ_CHECK(name_len > 0 && name_len < ALERT_NAME_MAX && strstr(line, r->name));
	FUZZ_CHECK(r->n_refs <= ALERT_MAX_REFS);
	for (size_t i = 0; i < r->n_refs; i++)
		FUZZ_CHECK(r->refs[i].n_segs >= 1 && r->refs[i].n_segs <= ALERT_MAX_SEGS &&
			   r->refs[i].arr < (int)r->refs[i].n_segs - 1);
	if (r->kind != ALERT_THRESHOLD) {
		FUZZ_CHECK(!r->rises && r->n_refs == 0);
		return;
	}
	FUZZ_CHECK(r->n_refs >= 1);
	check_expr(&r->lhs, r, false);
	if (r->rises) {
		FUZZ_CHECK(r->rhs.n == 0 && !r->has_clear && !r->str && r->for_ms == 0 && !r->edge);
		return;
	}
	if (r->str)
		FUZZ_CHECK(r->lhs.n == 1 && r->rhs.n == 0 && !r->has_clear &&
			   (r->op == ALERT_EQ || r->op == ALERT_NE));
	else
		check_expr(&r->rhs, r, false);
	if (r->has_clear) {
		check_expr(&r->clr, r, false);
		FUZZ_CHECK(r->op != ALERT_EQ && r->op != ALERT_NE);
	}
}

static void on_change(void *ctx, const struct alert_change *c)
{
	struct run *run = ctx;
	enum alert_state s = c->state, p = c->previous;

	run->changes++;
	FUZZ_CHECK(c->rule && c->instance);
	switch (s) {
	case ALERT_PENDING:
		FUZZ_CHECK(p == ALERT_OK || p == ALERT_RESOLVED);
		break;
	case ALERT_FIRING:
		FUZZ_CHECK(p == ALERT_OK || p == ALERT_RESOLVED || p == ALERT_PENDING ||
			   (p == ALERT_FIRING && c->reminder));
		if (c->rule->rises && !c->reminder)
			FUZZ_CHECK(c->has_value && c->value > c->threshold && c->count >= 1);
		break;
	case ALERT_RESOLVED:
		FUZZ_CHECK(p == ALERT_FIRING);
		break;
	case ALERT_OK:
		FUZZ_CHECK(p == ALERT_PENDING);
		break;
	}
}

static void on_active(void *ctx, const struct alert_change *c)
{
	FUZZ_CHECK(c->state == ALERT_PENDING || c->state == ALERT_FIRING);
	(*(unsigned *)ctx)++;
}

/* Parses the lines of text into rules (at most MAX_RULES), checking each. */
static size_t parse_rules(char *text, struct alert_rule **rules)
{
	size_t n = 0;

	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line && n < MAX_RULES;
	     line = strtok_r(NULL, "\n", &save)) {
		struct alert_rule *r = NULL;
		char err[256] = "";
		int rc = alert_rule_parse(line, &r, err, sizeof(err));

		if (rc < 0) {
			FUZZ_CHECK((rc == -EINVAL || rc == -ENOMEM) && !r);
			FUZZ_CHECK(
			    memchr(err, '\0', sizeof(err)) &&
			    (strncmp(err, "alert ", 6) == 0 || strcmp(err, "out of memory") == 0));
			continue;
		}
		FUZZ_CHECK(rc == 0 && r);
		check_rule(r, line);
		rules[n++] = r;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct alert_limits lim = {.repeat_ms = 3000, .window_ms = 5000, .per_rule = 3, .total = 5};
	struct alert_rule *rules[MAX_RULES], *again[MAX_RULES];
	const uint8_t *end = data + size, *p = memchr(data, '\0', size);
	char *text = fuzz_str(data, size), *text2 = fuzz_str(data, size);
	struct run run = {0};
	struct alert_engine *e = alert_engine_new(&lim, on_change, NULL, &run);
	size_t n = parse_rules(text, rules), n2;
	unsigned active = 0;
	int64_t ms = 0;

	FUZZ_CHECK(e);
	FUZZ_CHECK(alert_engine_set_rules(e, rules, n, &(struct alert_now){0, 0}) == 0);
	for (int k = 0; p && p < end && k < MAX_PAYLOADS; k++) {
		const uint8_t *start = p + 1, *next = memchr(start, '\0', (size_t)(end - start));
		size_t len = (size_t)((next ? next : end) - start);
		cJSON *payload = cJSON_ParseWithLength((const char *)start, len);
		struct alert_now now = {1700000000000 + ms, ms};

		for (size_t i = 0; payload && i < n; i++) {
			bool fed = false;

			for (size_t j = 0; j < i; j++)
				fed |= rules[j]->topic == rules[i]->topic;
			if (!fed && rules[i]->topic >= 0)
				alert_engine_feed(e, (unsigned)rules[i]->topic, payload, &now);
		}
		alert_engine_tick(e, &now);
		cJSON_Delete(payload);
		ms += 700;
		p = next;
	}
	alert_engine_each(e, on_active, &active);
	/* the same rules again: they keep their alerts, nothing changes */
	n2 = parse_rules(text2, again);
	FUZZ_CHECK(n2 == n);
	run.changes = 0;
	FUZZ_CHECK(
	    alert_engine_set_rules(e, again, n2, &(struct alert_now){1700000000000 + ms, ms}) == 0);
	FUZZ_CHECK(run.changes == 0);
	/* none: every alert resolves */
	FUZZ_CHECK(
	    alert_engine_set_rules(e, NULL, 0, &(struct alert_now){1700000000000 + ms, ms}) == 0);
	active = 0;
	alert_engine_each(e, on_active, &active);
	FUZZ_CHECK(active == 0);
	alert_engine_free(e);
	free(text);
	free(text2);
	return 0;
}
