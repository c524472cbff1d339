/* The loop thread's side of the history store: a tick's payloads made
 * into one row of named columns ("cpu.cores[1].busy",
 * "net.interfaces[eth0].rx_bytes_per_s") with their top lists, and event
 * payloads into events of the timeline. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "collector.h"
#include "fmt.h"
#include "history.h"
#include "store_bytes.h"
#include "store_impl.h"

#define MAX_GROUPS 8 /* arrays among one topic's history paths */
#define MAX_PATHS  32
#define PRIO_ERR   3
#define TOP_FIELDS 4                    /* a top entry's id, name, cpu, mem */
#define MAX_PUTS   (2 * STORE_MAX_COLS) /* a shape's */

struct store_rec *store_rec_new(void)
{
	struct store_rec *r = calloc(1, sizeof(*r));

	if (r)
		store_chunk_init(&r->row);
	return r;
}

struct store_rec *store_rec_for(struct store *s)
{
	struct store_rec *r = store_rec_new();

	if (r && s) {
		r->shape = &s->shape;
		s->shape.owner = r;
	}
	return r;
}

void store_ev_done(struct store_ev *e)
{
	free(e->key);
	free(e->detail);
}

void store_rec_free(struct store_rec *r)
{
	if (!r)
		return;
	store_chunk_done(&r->row);
	for (size_t i = 0; i < r->n_ev; i++)
		store_ev_done(&r->ev[i]);
	free(r->ev);
	free(r);
}

static const cJSON *lookup(const cJSON *item, const char *path)
{
	return *path ? history_lookup(item, path, strlen(path)) : item;
}

/* A piece of a name: n bytes at s. */
struct part {
	const char *s;
	size_t n;
};

/* The parts one after the other in name (size bytes with the NUL, cut
 * there as snprintf would); returns the length uncut. */
static size_t join(char *name, size_t size, const struct part *p, size_t n_parts)
{
	size_t at = 0;

	for (size_t i = 0; i < n_parts; i++) {
		if (at < size - 1)
			memcpy(name + at, p[i].s, p[i].n < size - 1 - at ? p[i].n : size - 1 - at);
		at += p[i].n;
	}
	name[at < size - 1 ? at : size - 1] = '\0';
	return at;
}

/* The shape r follows, or NULL (none, or a newer record follows it). */
static struct store_shape *shape_of(const struct store_rec *r)
{
	return r->shape && r->shape->owner == r ? r->shape : NULL;
}

/* The row's column of that name (len < STORE_BASE_MAX), made when new.
 * While every put of the record so far had the same name as the shape's
 * at that place, the row has the columns the shape's record had there
 * (which columns a row has depends on the names alone), so this put's
 * column is the one that record found or made: no search. From the first
 * put that differs, columns are searched and the puts written down in
 * place of the shape's (which end there) for the next record, up to
 * MAX_PUTS. NULL when out of memory. */
static struct store_col *col_of(struct store_rec *r, const char *name, size_t len,
				enum store_col_type type, size_t *hint)
{
	struct store_shape *s = shape_of(r);
	struct store_chunk *c = &r->row;
	struct store_put *p = s && r->at < s->n ? &s->put[r->at] : NULL;
	struct store_col *col;

	if (!s)
		return store_chunk_col(c, name, type, hint);
	if (p && p->len == len && p->col <= c->n_cols && memcmp(p->name, name, len) == 0) {
		col = p->col < c->n_cols ? &c->cols[p->col]
					 : store_chunk_add_col_hashed(c, name, len, p->hash, type);
		if (col) {
			r->at++;
			*hint = (size_t)p->col + 1;
		}
		return col;
	}
	if (!(col = store_chunk_col(c, name, type, hint)))
		return NULL;
	if (r->at == MAX_PUTS || ARRAY_GROW(s->put, s->cap, r->at, 64) < 0) {
		s->n = r->at < s->n ? r->at : s->n; /* what was written still holds */
		r->shape = NULL;
		return col;
	}
	p = &s->put[r->at];
	memcpy(p->name, name, len);
	p->len = (uint8_t)len;
	p->col = (uint16_t)(col - c->cols);
	p->hash = col->hash;
	s->n = ++r->at;
	return col;
}

/* Sets a column of the row to a number or bool leaf; anything else is
 * not kept, nor a name of len STORE_BASE_MAX or more. Returns 0, or
 * -ENOMEM. */
static int put_leaf(struct store_rec *r, const char *name, size_t len, const cJSON *v, size_t *hint)
{
	struct store_chunk *c = &r->row;
	struct store_col *col;
	enum store_col_type type;

	if (cJSON_IsNumber(v) && isfinite(v->valuedouble))
		type = STORE_NUM;
	else if (cJSON_IsBool(v))
		type = STORE_BOOL;
	else
		return 0;
	if (len >= STORE_BASE_MAX)
		return 0; /* a name that long is not kept */
	if (!(col = col_of(r, name, len, type, hint)))
		return -ENOMEM;
	col->v[c->n - 1] = type == STORE_BOOL ? cJSON_IsTrue(v) : v->valuedouble;
	return 0;
}

/* An array path's parts: "disks[].read_bytes_per_s" is head "disks",
 * rest "read_bytes_per_s"; paths with the same head form one group. */
struct group {
	const char *head;
	size_t head_len;
	const char *rest[MAX_PATHS];
	size_t n_rest;
	int key; /* index in rest of the string field naming elements, or -1 */
};

/* One group's columns: each element named by its key field's string (its
 * first 63 bytes), or by its index. */
static int put_group(struct store_rec *r, const char *topic, const cJSON *payload, struct group *g,
		     size_t *hint)
{
	struct store_chunk *c = &r->row;
	const cJSON *arr = history_lookup(payload, g->head, g->head_len), *el;
	char name[STORE_NAME_MAX + 64];
	size_t i = 0;

	if (!cJSON_IsArray(arr))
		return 0;
	g->key = -1;
	for (size_t j = 0; j < g->n_rest && g->key < 0; j++) {
		const cJSON *first = arr->child;

		if (first && cJSON_IsString(lookup(first, g->rest[j])))
			g->key = (int)j;
	}
	cJSON_ArrayForEach(el, arr)
	{
		char num[FMT_NUM_MAX];
		const cJSON *kv = g->key >= 0 ? lookup(el, g->rest[g->key]) : NULL;
		struct part p[] = {{topic, strlen(topic)},
				   {".", 1},
				   {g->head, g->head_len},
				   {"[", 1},
				   {NULL, 0},
				   {"]", 1},
				   {".", 1},
				   {NULL, 0}};

		if (g->key >= 0 && !cJSON_IsString(kv))
			continue; /* an element without a name cannot be followed */
		if (kv)
			p[4] = (struct part){kv->valuestring, strnlen(kv->valuestring, 63)};
		else
			p[4] = (struct part){num, fmt_i64(num, (int64_t)i)};
		i++;
		for (size_t j = 0; j < g->n_rest; j++) {
			const char *rest = g->rest[j];
			size_t n;

			p[7] = (struct part){rest, strlen(rest)};
			n = join(name, sizeof(name), p, *rest ? 8 : 6);
			if (n >= STORE_BASE_MAX)
				continue;
			if ((int)j == g->key) {
				struct store_col *col = col_of(r, name, n, STORE_KEY, hint);

				if (!col)
					return -ENOMEM;
				col->v[c->n - 1] = 0;
			} else if (put_leaf(r, name, n, lookup(el, rest), hint) < 0) {
				return -ENOMEM;
			}
		}
	}
	return 0;
}

/* The children of o named want[k] (NULL: none), each the one
 * cJSON_GetObjectItemCaseSensitive(o, want[k]) gives (the first of its
 * name; none past a child without a name), in one walk. */
static void fields_of(const cJSON *o, const char *const want[TOP_FIELDS],
		      const cJSON *ret[TOP_FIELDS])
{
	size_t left = 0;

	for (size_t k = 0; k < TOP_FIELDS; k++) {
		ret[k] = NULL;
		left += want[k] != NULL;
	}
	for (const cJSON *c = o ? o->child : NULL; c && c->string && left; c = c->next)
		for (size_t k = 0; k < TOP_FIELDS; k++)
			if (want[k] && !ret[k] && c->string[0] == want[k][0] &&
			    strcmp(c->string, want[k]) == 0) {
				ret[k] = c;
				left--;
			}
}

/* The top lists of a payload (at most STORE_TOP_N entries each). */
static int put_tops(struct store_chunk *c, const char *topic, const cJSON *payload,
		    const struct collector_top *tops)
{
	char name[STORE_NAME_MAX];

	for (const struct collector_top *t = tops; t && t->list; t++) {
		const cJSON *arr = cJSON_GetObjectItemCaseSensitive(payload, t->list), *el;
		size_t k = 0;
		int l;

		if (!cJSON_IsArray(arr))
			continue;
		join(name, sizeof(name),
		     (const struct part[]){
			 {topic, strlen(topic)}, {".", 1}, {t->list, strlen(t->list)}},
		     3);
		if ((l = store_chunk_list(c, name, t->by_mem)) < 0)
			return -ENOMEM;
		cJSON_ArrayForEach(el, arr)
		{
			const char *want[TOP_FIELDS] = {t->id, t->name, t->cpu, t->mem};
			const cJSON *f[TOP_FIELDS], *id, *nm, *cpu, *mem;

			if (k++ == STORE_TOP_N)
				break;
			fields_of(el, want, f);
			id = f[0];
			nm = f[1];
			cpu = f[2];
			mem = f[3];
			if (store_chunk_add_top(c, c->n - 1, (size_t)l,
						cJSON_IsNumber(id) ? to_i64(id->valuedouble) : -1,
						cJSON_IsString(nm) ? nm->valuestring : "",
						cJSON_IsNumber(cpu) ? cpu->valuedouble : NAN,
						cJSON_IsNumber(mem) ? mem->valuedouble : NAN) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

int store_rec_payload(struct store_rec *r, int64_t t, const char *topic, const cJSON *payload,
		      const char *const *paths, const struct collector_top *tops)
{
	struct group groups[MAX_GROUPS];
	char name[STORE_NAME_MAX + 64];
	size_t n_groups = 0, hint = 0;

	/* room for the columns the last record made (puts: as many or more) */
	if (!r->row.n && (store_chunk_reserve(&r->row, 1, shape_of(r) ? shape_of(r)->n : 0) < 0 ||
			  store_chunk_add_row(&r->row, t) < 0))
		return -ENOMEM;
	for (size_t i = 0; paths && paths[i]; i++) {
		const char *br = strstr(paths[i], "[]");
		size_t g;

		if (!br) {
			size_t n = join(name, sizeof(name),
					(const struct part[]){{topic, strlen(topic)},
							      {".", 1},
							      {paths[i], strlen(paths[i])}},
					3);

			if (put_leaf(r, name, n, lookup(payload, paths[i]), &hint) < 0)
				return -ENOMEM;
			continue;
		}
		for (g = 0; g < n_groups; g++)
			if (groups[g].head_len == (size_t)(br - paths[i]) &&
			    strncmp(groups[g].head, paths[i], groups[g].head_len) == 0)
				break;
		if (g == n_groups) {
			if (n_groups == MAX_GROUPS)
				continue;
			groups[n_groups++] =
			    (struct group){.head = paths[i], .head_len = (size_t)(br - paths[i])};
		}
		if (groups[g].n_rest < MAX_PATHS)
			groups[g].rest[groups[g].n_rest++] = br[2] == '.' ? br + 3 : br + 2;
	}
	for (size_t g = 0; g < n_groups; g++)
		if (put_group(r, topic, payload, &groups[g], &hint) < 0)
			return -ENOMEM;
	return put_tops(&r->row, topic, payload, tops);
}

/* Adds an event (key and detail copied, detail cut to STORE_EV_TEXT). */
static int add_ev(struct store_rec *r, int64_t t, const char *kind, const char *key,
		  const char *detail, unsigned count)
{
	struct store_ev *e;

	if (r->n_ev == STORE_EV_PER_REC) {
		r->ev_dropped += count;
		return 0;
	}
	if (ARRAY_GROW(r->ev, r->cap_ev, r->n_ev, 8) < 0)
		return -ENOMEM;
	e = &r->ev[r->n_ev];
	*e = (struct store_ev){.t = t, .kind = kind, .count = count};
	if (!(e->key = strdup(key ? key : "")) ||
	    (detail && !(e->detail = strndup(detail, STORE_EV_TEXT)))) {
		store_ev_done(e);
		return -ENOMEM;
	}
	/* a cut inside a UTF-8 sequence: back to its start */
	if (e->detail && strlen(detail) > STORE_EV_TEXT) {
		size_t n = strlen(e->detail);

		while (n && ((unsigned char)e->detail[n - 1] & 0xc0) == 0x80)
			n--;
		if (n && (unsigned char)e->detail[n - 1] >= 0xc0)
			n--;
		e->detail[n] = '\0';
	}
	r->n_ev++;
	return 0;
}

static const char *str_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

static int64_t time_of(const cJSON *o, const char *key, int64_t dflt)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? to_i64(v->valuedouble) : dflt;
}

/* A `log` entry as an object. The journal collector hands its entries over
 * encoded (raw JSON, its own encoding: "priority":N comes whole): those at
 * err or worse are parsed into *ret_parsed (the caller frees it), the
 * others are skipped unparsed (NULL). */
static const cJSON *log_entry(const cJSON *el, cJSON **ret_parsed)
{
	static const char key[] = "\"priority\":";
	const char *q;

	if (!cJSON_IsRaw(el))
		return el;
	q = el->valuestring ? strstr(el->valuestring, key) : NULL;
	if (!q || q[sizeof(key) - 1] < '0' || q[sizeof(key) - 1] > '0' + PRIO_ERR)
		return NULL;
	*ret_parsed = cJSON_Parse(el->valuestring);
	return *ret_parsed;
}

int store_rec_event(struct store_rec *r, const char *topic, const cJSON *payload)
{
	int64_t t = time_of(payload, "t", 0);
	const cJSON *arr, *el;
	int rc = 0;

	if (strcmp(topic, "units") == 0) {
		arr = cJSON_GetObjectItemCaseSensitive(payload, "changes");
		cJSON_ArrayForEach(el, arr)
		{
			const char *st = str_of(el, "active_state");

			if (st && strcmp(st, "failed") == 0 && rc == 0)
				rc = add_ev(r, t, "unit_failed", str_of(el, "unit"),
					    str_of(el, "job_result"), 1);
		}
	} else if (strcmp(topic, "log") == 0) {
		arr = cJSON_GetObjectItemCaseSensitive(payload, "entries");
		cJSON_ArrayForEach(el, arr)
		{
			cJSON *parsed = NULL;
			const cJSON *e = log_entry(el, &parsed);
			const cJSON *p = e ? cJSON_GetObjectItemCaseSensitive(e, "priority") : NULL;

			if (cJSON_IsNumber(p) && p->valuedouble <= PRIO_ERR && rc == 0)
				rc = add_ev(r, time_of(e, "ts", t), "log_err", str_of(e, "unit"),
					    str_of(e, "message"), 1);
			cJSON_Delete(parsed);
		}
	} else if (strcmp(topic, "file") == 0 && str_of(payload, "action")) {
		const cJSON *n = cJSON_GetObjectItemCaseSensitive(payload, "count");

		rc =
		    add_ev(r, t, "file", str_of(payload, "path"), str_of(payload, "action"),
			   cJSON_IsNumber(n) && n->valuedouble >= 1 ? (unsigned)n->valuedouble : 1);
	}
	return rc;
}
