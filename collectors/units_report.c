/* The `units` topic's report: counts, failed units and changes, as JSON
 * and Prometheus. */
#include "units_report.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "metrics.h"

static const char *const units_states[UNITS_NSTATES] = {
    "active", "reloading", "inactive", "failed", "activating", "deactivating", "maintenance"};

int units_type_interface(const char *unit, char *out, size_t size)
{
	static const char *const types[][2] = {
	    {"service", "Service"},     {"socket", "Socket"}, {"mount", "Mount"},
	    {"automount", "Automount"}, {"swap", "Swap"},     {"timer", "Timer"},
	    {"path", "Path"},           {"scope", "Scope"},
	};
	const char *dot = strrchr(unit, '.');

	if (!dot)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		if (strcmp(dot + 1, types[i][0]) == 0) {
			int n = snprintf(out, size, "org.freedesktop.systemd1.%s", types[i][1]);

			return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
		}
	}
	if (size)
		out[0] = '\0';
	return 0;
}

void units_list_count(struct units_list *l, const char *active_state)
{
	size_t i = 0;

	while (i < UNITS_NSTATES && strcmp(active_state, units_states[i]) != 0)
		i++;
	l->counts[i]++;
	l->total++;
}

void units_list_clear(struct units_list *l)
{
	for (size_t i = 0; i < l->n_failed; i++) {
		struct units_failed *f = &l->failed[i];

		free(f->name);
		free(f->description);
		free(f->sub_state);
		free(f->path);
		free(f->result);
	}
	free(l->failed);
	*l = (struct units_list){0};
}

bool units_list_json(const struct units_list *l, cJSON *o)
{
	cJSON *counts = cJSON_AddObjectToObject(o, "counts"), *failed;

	if (!counts)
		return false;
	for (size_t i = 0; i <= UNITS_NSTATES; i++)
		if (!cJSON_AddNumberToObject(counts, i < UNITS_NSTATES ? units_states[i] : "other",
					     l->counts[i]))
			return false;
	if (!cJSON_AddNumberToObject(o, "total", l->total) ||
	    !(failed = cJSON_AddArrayToObject(o, "failed")))
		return false;
	for (size_t i = 0; i < l->n_failed; i++) {
		const struct units_failed *f = &l->failed[i];
		cJSON *u = cJSON_CreateObject();

		if (!u)
			return false;
		cJSON_AddItemToArray(failed, u);
		if (json_str(u, "unit", f->name) < 0 ||
		    json_str(u, "description", f->description) < 0 ||
		    json_str(u, "sub_state", f->sub_state) < 0 ||
		    json_str(u, "result", f->result) < 0 ||
		    !(f->since_us
			  ? cJSON_AddNumberToObject(u, "since", (double)(f->since_us / 1000))
			  : cJSON_AddNullToObject(u, "since")))
			return false;
	}
	return true;
}

struct units_change *units_changes_get(struct units_changes *c, const char *unit)
{
	struct units_change *ch;

	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].unit, unit) == 0)
			return &c->v[i];
	if (c->n == UNITS_CHANGES_MAX) {
		c->more++;
		return NULL;
	}
	ch = &c->v[c->n];
	memset(ch, 0, sizeof(*ch));
	if (!(ch->unit = strdup(unit)))
		return NULL;
	c->n++;
	return ch;
}

void units_change_set(char **dst, const char *v)
{
	char *d;

	if (v && (d = strdup(v))) {
		free(*dst);
		*dst = d;
	}
}

void units_changes_clear(struct units_changes *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].unit);
		free(c->v[i].active_state);
		free(c->v[i].sub_state);
		free(c->v[i].job_result);
	}
	c->n = 0;
	c->more = 0;
}

bool units_changes_json(const struct units_changes *c, cJSON *o)
{
	cJSON *ch = cJSON_AddArrayToObject(o, "changes");
	bool ok = ch != NULL;

	for (size_t i = 0; ok && i < c->n; i++) {
		const struct units_change *u = &c->v[i];
		cJSON *item = cJSON_CreateObject();

		ok = item != NULL;
		if (item)
			cJSON_AddItemToArray(ch, item);
		ok = ok && json_str(item, "unit", u->unit) == 0 &&
		     json_str(item, "active_state", u->active_state) == 0 &&
		     json_str(item, "sub_state", u->sub_state) == 0 &&
		     json_str(item, "job_result", u->job_result) == 0;
	}
	return ok && cJSON_AddNumberToObject(o, "changes_more", (double)c->more);
}

int units_metrics_write(const unsigned *counts, bool connected, struct metrics *m)
{
	/* exposition order; indexes into units_states, UNITS_NSTATES for "other" */
	static const struct {
		const char *name;
		size_t i;
	} order[] = {{"active", 0},       {"failed", 3},           {"activating", 4},
		     {"deactivating", 5}, {"inactive", 2},         {"reloading", 1},
		     {"maintenance", 6},  {"other", UNITS_NSTATES}};

	if (counts) {
		metrics_family(m, "sysfeed_units", "gauge",
			       "Systemd units per active state, as last listed.");
		for (size_t k = 0; k < sizeof(order) / sizeof(order[0]); k++)
			metrics_sample(m, "sysfeed_units",
				       (const char *const[]){"state", order[k].name, NULL},
				       (double)counts[order[k].i]);
	}
	metrics_family(m, "sysfeed_units_connected", "gauge",
		       "Whether the system bus connection to systemd is up (1) or not (0).");
	metrics_sample(m, "sysfeed_units_connected", NULL, connected ? 1 : 0);
	return metrics_error(m);
}
