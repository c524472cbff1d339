/* The event rules' feeds: `log` entries, `file` changes and failed
 * `units`, each firing an instance per unit, path or unit name (see
 * alert_eval.h; the states and notifications are alert_eval.c's). */
#include <fnmatch.h>
#include <stdio.h>
#include <string.h>

#include "alert_eval.h"
#include "alert_eval_impl.h"

#define SELF_IDENTIFIER "sysfeed-alert" /* our own journal entries: never an alert */

/* Fires the instance labelled label, made when it is new. */
static void fire(struct alert_engine *e, struct rstate *rs, const char *label, const char *text,
		 const char *unit, const struct alert_now *now)
{
	struct inst *in = inst_find(rs, label, 0);

	if (in || (in = inst_add(rs, label)))
		inst_fire(e, rs, in, text, unit, now);
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static bool ascii_contains(const char *hay, const char *needle)
{
	return hay && strcasestr(hay, needle);
}

/* The entries of a `log` event as objects: a published event's come
 * encoded (raw JSON) and are parsed once for every log rule, into *owned;
 * those the rate limit left out come as objects, read where they are. */
const cJSON *log_entries(const cJSON *payload, cJSON **owned)
{
	const cJSON *entries = cJSON_GetObjectItemCaseSensitive(payload, "entries"), *entry;
	bool raw = false;
	cJSON *out;

	*owned = NULL;
	cJSON_ArrayForEach(entry, entries)
	{
		raw = raw || cJSON_IsRaw(entry);
	}
	if (!raw)
		return entries;
	if (!(out = cJSON_CreateArray()))
		return NULL;
	cJSON_ArrayForEach(entry, entries)
	{
		cJSON *o = cJSON_IsRaw(entry) ? cJSON_Parse(entry->valuestring)
					      : cJSON_Duplicate(entry, true);

		if (o)
			cJSON_AddItemToArray(out, o);
	}
	*owned = out;
	return out;
}

void feed_log(struct alert_engine *e, struct rstate *rs, const cJSON *entries,
	      const struct alert_now *now)
{
	const struct alert_rule *r = rs->rule;
	const cJSON *entry;

	cJSON_ArrayForEach(entry, entries)
	{
		const cJSON *pr = cJSON_GetObjectItemCaseSensitive(entry, "priority");
		const char *unit = str_of(entry, "unit"), *id = str_of(entry, "identifier");
		const char *msg = str_of(entry, "message");

		if (id && strcmp(id, SELF_IDENTIFIER) == 0)
			continue;
		if (r->prio >= 0 &&
		    (!cJSON_IsNumber(pr) || !alert_compare(r->prio_op, pr->valuedouble, r->prio)))
			continue;
		if (r->unit && (!unit || fnmatch(r->unit, unit, 0) != 0))
			continue;
		if (r->match && !ascii_contains(msg, r->match))
			continue;
		fire(e, rs, unit ? unit : "", msg, unit, now);
	}
}

void feed_file(struct alert_engine *e, struct rstate *rs, const cJSON *payload,
	       const struct alert_now *now)
{
	static const char *const keys[] = {"path", "from", "to"};

	for (size_t i = 0; i < 3; i++) {
		const char *p = str_of(payload, keys[i]);

		if (p && fnmatch(rs->rule->path, p, 0) == 0) {
			fire(e, rs, p, str_of(payload, "action"), NULL, now);
			return;
		}
	}
}

/* Failed units fire while they are in the `failed` list. */
void feed_units(struct alert_engine *e, struct rstate *rs, const cJSON *payload,
		const struct alert_now *now)
{
	const cJSON *u, *failed = cJSON_GetObjectItemCaseSensitive(payload, "failed");

	if (!cJSON_IsArray(failed))
		return;
	rs->gen++;
	cJSON_ArrayForEach(u, failed)
	{
		const char *name = str_of(u, "unit"), *result = str_of(u, "result");
		char text[96];
		struct inst *in;

		if (!name || (rs->rule->unit && fnmatch(rs->rule->unit, name, 0) != 0))
			continue;
		if ((in = inst_find(rs, name, 0)) && in->state == ALERT_FIRING) {
			in->gen = rs->gen;
			continue;
		}
		snprintf(text, sizeof(text), "%s failed (%s)", name, result ? result : "failed");
		fire(e, rs, name, text, name, now);
	}
	inst_sweep(e, rs, now);
}
