/* The alert engine's index: rules by the topic they read, each field path
 * resolved once per payload (array elements labelled by name, mount or
 * device), and the errors of paths a topic does not have. */
#include "alert_eval.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_eval_impl.h"
#include "array.h"
#include "collector.h"

void index_done(struct index *ix, size_t n_rules)
{
	for (size_t i = 0; i < ix->n_f; i++)
		free(ix->f[i].el);
	for (size_t i = 0; i < ix->n_g; i++)
		free(ix->g[i].el);
	for (size_t i = 0; i < ix->n_t; i++) {
		free(ix->t[i].rules);
		free(ix->t[i].fields);
		free(ix->t[i].groups);
	}
	for (size_t i = 0; ix->error && i < n_rules; i++)
		free(ix->error[i]);
	free(ix->f);
	free(ix->g);
	free(ix->t);
	free(ix->fid);
	free(ix->grp);
	free(ix->error);
	*ix = (struct index){0};
}

/* Whether two refs name the same field (arr: or only the same array). */
static bool ref_same(const struct alert_ref *a, const struct alert_ref *b, bool arr)
{
	size_t n = arr ? (size_t)a->arr + 1 : a->n_segs;

	if (a->topic != b->topic || a->arr != b->arr || (!arr && a->n_segs != b->n_segs))
		return false;
	for (size_t i = 0; i < n; i++)
		if (strcmp(a->segs[i], b->segs[i]) != 0)
			return false;
	return true;
}

static int push_idx(size_t **v, size_t *cap, size_t *n, size_t x)
{
	if (array_reserve(v, cap, *n + 1, sizeof(**v), 4) < 0)
		return -ENOMEM;
	(*v)[(*n)++] = x;
	return 0;
}

/* The topic's entry, the table grown to hold it. */
static struct topic_ix *topic_of(struct index *ix, int topic)
{
	size_t cap = ix->n_t;

	if (topic < 0)
		return NULL;
	if ((size_t)topic >= ix->n_t) {
		if (array_reserve(&ix->t, &cap, (size_t)topic + 1, sizeof(*ix->t), 16) < 0)
			return NULL;
		memset(ix->t + ix->n_t, 0, (cap - ix->n_t) * sizeof(*ix->t));
		ix->n_t = cap;
	}
	return &ix->t[topic];
}

/* Arrays whose elements' first label would repeat: GPUs of one model
 * share their name, not their id. */
static const struct {
	const char *topic, *array, *key;
} label_keys[] = {
    {"gpu", "gpus", "id"},
};

/* The array ref leads to, added to the index when new: its number, or -1
 * without memory. */
static int group_of(struct index *ix, const struct alert_ref *ref)
{
	struct topic_ix *t;
	const char *key = NULL;

	for (size_t i = 0; i < ix->n_g; i++)
		if (ref_same(ix->g[i].ref, ref, true))
			return (int)i;
	if (!(t = topic_of(ix, ref->topic)) || ARRAY_GROW(ix->g, ix->cap_g, ix->n_g, 4) < 0 ||
	    push_idx(&t->groups, &t->cap_groups, &t->n_groups, ix->n_g) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(label_keys) / sizeof(label_keys[0]); i++)
		if (ref->arr == 0 && strcmp(ref->segs[0], label_keys[i].array) == 0 &&
		    strcmp(collector_registry[ref->topic]->name, label_keys[i].topic) == 0)
			key = label_keys[i].key;
	ix->g[ix->n_g] = (struct group){.ref = ref, .key = key};
	return (int)ix->n_g++;
}

/* The field ref names, added when new (with the latest value and check
 * of the same field in old): its number, or -1 without memory. */
static int field_of(struct index *ix, const struct alert_ref *ref, const struct index *old)
{
	struct topic_ix *t;
	struct field *f;
	int g = -1;

	for (size_t i = 0; i < ix->n_f; i++)
		if (ref_same(ix->f[i].ref, ref, false))
			return (int)i;
	if ((ref->arr >= 0 && (g = group_of(ix, ref)) < 0) || !(t = topic_of(ix, ref->topic)) ||
	    ARRAY_GROW(ix->f, ix->cap_f, ix->n_f, 8) < 0 ||
	    push_idx(&t->fields, &t->cap_fields, &t->n_fields, ix->n_f) < 0)
		return -1;
	f = &ix->f[ix->n_f];
	*f = (struct field){.ref = ref, .group = g, .seen = -1};
	for (size_t i = 0; old && i < old->n_f; i++)
		if (ref_same(old->f[i].ref, ref, false)) {
			f->one = (struct fval){.ok = old->f[i].one.ok, .v = old->f[i].one.v};
			f->seen = old->f[i].seen;
		}
	return (int)ix->n_f++;
}

/* Each rule's fields and array, each topic's rules. Returns 0 or -ENOMEM. */
int index_build(struct index *ix, struct alert_rule *const *rules, size_t n,
		const struct index *old)
{
	*ix = (struct index){0};
	if (!(ix->fid = calloc(n ? n : 1, sizeof(*ix->fid))) ||
	    !(ix->grp = calloc(n ? n : 1, sizeof(*ix->grp))) ||
	    !(ix->error = calloc(n ? n : 1, sizeof(*ix->error))))
		goto oom;
	for (size_t i = 0; i < n; i++) {
		const struct alert_rule *r = rules[i];
		struct topic_ix *t = topic_of(ix, r->topic);

		ix->grp[i] = -1;
		if (r->kind == ALERT_OFF)
			continue;
		if (!t || push_idx(&t->rules, &t->cap_rules, &t->n_rules, i) < 0)
			goto oom;
		for (size_t k = 0; k < r->n_refs; k++) {
			if ((ix->fid[i][k] = field_of(ix, &r->refs[k], old)) < 0)
				goto oom;
			if (r->refs[k].arr >= 0)
				ix->grp[i] = ix->f[ix->fid[i][k]].group;
		}
	}
	return 0;
oom:
	index_done(ix, n);
	return -ENOMEM;
}

/* Rules naming a field their topic's payloads lack get a reason. */
void index_errors(struct alert_engine *e)
{
	struct index *ix = &e->ix;

	for (size_t i = 0; i < e->n; i++) {
		const struct alert_rule *r = e->r[i].rule;

		for (size_t k = 0; !ix->error[i] && k < r->n_refs; k++) {
			const struct field *f = &ix->f[ix->fid[i][k]];
			char path[256], msg[400];

			if (f->seen != 0)
				continue;
			alert_ref_path(f->ref, true, path, sizeof(path));
			snprintf(msg, sizeof(msg),
				 "alert %s: no field '%s' in the %s payloads: it never fires",
				 r->name, path, collector_registry[f->ref->topic]->name);
			if ((ix->error[i] = strdup(msg)))
				e->errors_gen++;
		}
	}
}

/* An element's name: its key (when the array has one), else its mount,
 * name, device, unit, id or label. */
static const char *label_of(const cJSON *elem, const char *key, size_t idx, char *buf, size_t len)
{
	static const char *const keys[] = {"mount", "name", "device", "unit", "id", "label"};
	const cJSON *v;

	if (key && cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(elem, key)))
		return v->valuestring;
	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (cJSON_IsString(v = cJSON_GetObjectItemCaseSensitive(elem, keys[i])))
			return v->valuestring;
	if (cJSON_IsNumber(v = cJSON_GetObjectItemCaseSensitive(elem, "cpu")))
		snprintf(buf, len, "cpu%g", v->valuedouble);
	else
		snprintf(buf, len, "#%zu", idx);
	return NULL;
}

const char *elem_label(const struct elem *el)
{
	return el->label ? el->label : el->buf;
}

static void fval_of(const cJSON *v, struct fval *ret)
{
	ret->ok = cJSON_IsNumber(v) || cJSON_IsBool(v);
	ret->v = cJSON_IsNumber(v) ? v->valuedouble : cJSON_IsTrue(v);
	ret->str = cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Reads a payload's arrays and fields once for all the rules of its topic.
 * Returns whether a field was found missing or there for the first time. */
bool resolve_fields(struct alert_engine *e, const struct topic_ix *t, const cJSON *payload)
{
	struct index *ix = &e->ix;
	bool decided = false;

	for (size_t i = 0; i < t->n_groups; i++) {
		struct group *g = &ix->g[t->groups[i]];
		const cJSON *a = alert_ref_array(g->ref, payload), *o;

		g->present = a != NULL;
		g->n = 0;
		cJSON_ArrayForEach(o, a)
		{
			struct elem *el;

			if (ARRAY_GROW(g->el, g->cap, g->n, 8) < 0)
				break;
			el = &g->el[g->n];
			el->o = o;
			el->label = label_of(o, g->key, g->n, el->buf, sizeof(el->buf));
			g->n++;
		}
	}
	for (size_t i = 0; i < t->n_fields; i++) {
		struct field *f = &ix->f[t->fields[i]];
		const struct group *g = f->group < 0 ? NULL : &ix->g[f->group];
		bool found = false, known = true;

		if (!g) {
			const cJSON *v = alert_ref_node(f->ref, payload, NULL);

			fval_of(v, &f->one);
			found = v != NULL;
		} else {
			f->n = 0;
			if (array_reserve(&f->el, &f->cap, g->n, sizeof(*f->el), 8) == 0)
				for (; f->n < g->n; f->n++) {
					const cJSON *v =
					    alert_ref_node(f->ref, NULL, g->el[f->n].o);

					fval_of(v, &f->el[f->n]);
					found |= v != NULL;
				}
			known = !g->present || g->n > 0; /* an empty array tells nothing */
		}
		if (f->seen < 0 && known) {
			f->seen = found;
			decided = true;
		}
	}
	return decided;
}
