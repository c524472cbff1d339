/* The `containers` topic's writers: the tick's payload (the rows that
 * changed: each row's unchanging head printed once, its numbers written as
 * text, kept until they change), the state (every row, one raw JSON array)
 * and the Prometheus families of the top containers. */
#include "ctr_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"
#include "metrics.h"

/* --- the payload --- */

static int ctr_by_name(const void *a, const void *b)
{
	const struct ctr_entry *x = *(const struct ctr_entry *const *)a;
	const struct ctr_entry *y = *(const struct ctr_entry *const *)b;
	int c = strcmp(ctr_name(x), ctr_name(y));

	return c ? c : strcmp(x->rel, y->rel);
}

/* The numbers e's row shows, in its order (paused first). */
static void ctr_shown(const struct ctr_entry *e, int64_t *ret)
{
	ret[0] = e->frozen == 1;
	ret[1] = e->u.st.cpu_h;
	ret[2] = e->u.st.mem;
	ret[3] = e->limit;
	ret[4] = e->u.st.pids;
	ret[5] = e->u.st.io_r;
	ret[6] = e->u.st.io_w;
	ret[7] = e->rx_s;
	ret[8] = e->tx_s;
	ret[9] = e->oom;
}

/* Writes e's row (its head printed once, then the numbers in now) into
 * e->row. */
static int ctr_row(struct ctr_entry *e, const int64_t *now)
{
	static const char running[] = "\"state\":\"running\",", paused[] = "\"state\":\"paused\",";
	static const char *const keys[CTR_SHOWN] = {NULL,
						    "cpu_pct",
						    "mem_bytes",
						    "mem_limit_bytes",
						    "tasks",
						    "io_read_bytes_per_s",
						    "io_write_bytes_per_s",
						    "net_rx_bytes_per_s",
						    "net_tx_bytes_per_s",
						    "oom_kills"};
	struct json_buf *b = &e->row;

	b->len = 0;
	if (json_buf_put(b, e->head, e->head_len) < 0 ||
	    (now[0] ? json_buf_put(b, paused, sizeof(paused) - 1)
		    : json_buf_put(b, running, sizeof(running) - 1)) < 0)
		return -ENOMEM;
	for (size_t k = 1; k < CTR_SHOWN; k++)
		if (json_buf_num(b, keys[k], now[k], k == 1, k == CTR_SHOWN - 1 ? '}' : ',') < 0)
			return -ENOMEM;
	memcpy(e->shown, now, sizeof(e->shown));
	e->row_dirty = false;
	return 0;
}

/* e's row, written again when a number or its head changed. Returns
 * whether it changed, or -ENOMEM. */
static int ctr_row_update(struct ctr_entry *e)
{
	int64_t now[CTR_SHOWN];

	if (!e->read_now && !e->row_dirty && e->row.len)
		return 0; /* nothing was read: nothing moved */
	e->read_now = false;
	ctr_shown(e, now);
	if (e->row.len && !e->row_dirty && memcmp(now, e->shown, sizeof(now)) == 0)
		return 0;
	return ctr_row(e, now) < 0 ? -ENOMEM : 1;
}

/* Ties go by cgroup: the table is in cgroup order, so by place in it. */
static bool ctr_cpu_better(const void *a, const void *b)
{
	const struct ctr_entry *x = a, *y = b;

	if (x->u.st.cpu_h != y->u.st.cpu_h)
		return x->u.st.cpu_h > y->u.st.cpu_h;
	return x < y;
}

static bool ctr_mem_better(const void *a, const void *b)
{
	const struct ctr_entry *x = a, *y = b;

	if (x->u.st.mem != y->u.st.mem)
		return x->u.st.mem > y->u.st.mem;
	return x < y;
}

/* Marks the top-n by CPU and by memory: those get Prometheus families. */
static int ctr_mark_top(struct ctr_state *s)
{
	size_t top_n = s->set && s->set->top_n ? s->set->top_n : 15;

	for (size_t i = 0; i < s->n; i++)
		s->v[i].in_top = false;
	for (int by_cpu = 0; by_cpu < 2; by_cpu++) {
		size_t len;

		if (topn_start(&s->top, top_n, by_cpu ? ctr_cpu_better : ctr_mem_better) < 0)
			return -ENOMEM;
		for (size_t i = 0; i < s->n; i++)
			if ((by_cpu ? s->v[i].u.st.cpu_h : s->v[i].u.st.mem) >= 0)
				topn_offer(&s->top, &s->v[i]);
		len = topn_sort(&s->top);
		for (size_t i = 0; i < len; i++)
			((struct ctr_entry *)s->top.v[i])->in_top = true;
	}
	return 0;
}

/* The table by name, sorted again when a container came, went or was named. */
static int ctr_order(struct ctr_state *s)
{
	struct ctr_entry **order;

	if (!s->order_dirty && s->order)
		return 0;
	order = reallocarray(s->order, s->cap ? s->cap : 1, sizeof(*order));
	if (!order)
		return -ENOMEM;
	s->order = order;
	for (size_t i = 0; i < s->n; i++)
		order[i] = &s->v[i];
	qsort(order, s->n, sizeof(*order), ctr_by_name);
	for (size_t i = 0; i < s->n; i++)
		order[i]->rank = i;
	s->order_dirty = false;
	s->layout_ok = false; /* the state is made whole again */
	return 0;
}

static int ctr_by_rank(const void *a, const void *b)
{
	const struct ctr_entry *x = *(const struct ctr_entry *const *)a;
	const struct ctr_entry *y = *(const struct ctr_entry *const *)b;

	return x->rank < y->rank ? -1 : x->rank > y->rank;
}

/* A payload of t_ms with the counts, and the text of b (a JSON array) as
 * key; NULL without memory. */
static cJSON *ctr_counts(const struct ctr_state *s, int64_t t_ms, const char *key,
			 const struct json_buf *b)
{
	cJSON *payload = json_payload(t_ms), *raw;

	if (!payload || json_num(payload, "containers", (double)s->n) < 0 ||
	    json_num(payload, "running", (double)(s->n - s->paused)) < 0 ||
	    json_num(payload, "paused", (double)s->paused) < 0)
		goto fail;
	raw = cJSON_CreateRaw(b->p);
	if (!raw || !cJSON_AddItemToObject(payload, key, raw)) {
		cJSON_Delete(raw);
		goto fail;
	}
	return payload;
fail:
	cJSON_Delete(payload);
	return NULL;
}

/* The state's text up to its list's first row, into b (emptied). */
static int ctr_state_head(const struct ctr_state *s, struct json_buf *b, int64_t t_ms)
{
	/* as ctr_counts writes them, the list as text: no tree, no copy */
	b->len = 0;
	if (json_buf_put(b, "{", 1) < 0 || json_buf_num(b, "t", t_ms, false, ',') < 0 ||
	    json_buf_num(b, "containers", (int64_t)s->n, false, ',') < 0 ||
	    json_buf_num(b, "running", (int64_t)(s->n - s->paused), false, ',') < 0 ||
	    json_buf_num(b, "paused", (int64_t)s->paused, false, ',') < 0 ||
	    json_buf_put(b, "\"list\":[", 8) < 0)
		return -ENOMEM;
	return 0;
}

/* Writes the whole list: every row (written again where it changed), in
 * name order, and where each one is. */
static int ctr_list_whole(struct ctr_state *s, int64_t t_ms)
{
	struct ctr_span *at = reallocarray(s->at, s->cap ? s->cap : 1, sizeof(*at));

	if (!at)
		return -ENOMEM;
	s->at = at;
	if (ctr_state_head(s, &s->list, t_ms) < 0)
		return -ENOMEM;
	s->body = s->list.len;
	for (size_t i = 0; i < s->n; i++) {
		struct ctr_entry *e = s->order[i];
		int c = ctr_row_update(e);

		if (c < 0 || (i && json_buf_put(&s->list, ",", 1) < 0))
			return -ENOMEM;
		at[i] = (struct ctr_span){s->list.len - s->body, e->row.len, e->row.len};
		if (json_buf_put(&s->list, e->row.p, e->row.len) < 0)
			return -ENOMEM;
		if (c)
			e->sent = false; /* new (or not in a tick yet): in the next one */
	}
	s->layout_ok = true;
	return 0;
}

/* Writes the changed rows over the last list, each in its place padded
 * with spaces, when every one fits there and the counts before the list
 * kept their length: the state then costs the changed rows, not a copy
 * of every row. Returns whether it did (false: ctr_list_patch). */
static bool ctr_list_in_place(struct ctr_state *s, int64_t t_ms)
{
	char *body = s->list.p + s->body;

	/* list_old is free until the next ctr_list_patch: the head there */
	if (ctr_state_head(s, &s->list_old, t_ms) < 0 || s->list_old.len != s->body)
		return false;
	for (size_t k = 0; k < s->n_changed; k++) {
		size_t c = s->changed[k];

		if (s->order[c]->row.len > s->at[c].cap)
			return false;
	}
	memcpy(s->list.p, s->list_old.p, s->body);
	for (size_t k = 0; k < s->n_changed; k++) {
		size_t c = s->changed[k];
		const struct json_buf *row = &s->order[c]->row;
		struct ctr_span *at = &s->at[c];

		memcpy(body + at->off, row->p, row->len);
		memset(body + at->off + row->len, ' ', at->cap - row->len);
		at->len = row->len;
	}
	return true;
}

/* Writes the list from the last one, the rows of s->changed put in (with
 * CTR_ROW_SLACK spaces after each) and the runs between them copied: a
 * tick that changed a few rows of many copies the rest in a few runs,
 * reading no container. */
static int ctr_list_patch(struct ctr_state *s, int64_t t_ms)
{
	static const char spaces[CTR_ROW_SLACK] = "                ";
	struct json_buf old = s->list;
	const char *body;
	size_t next = 0; /* the first rank not written yet */

	s->list = s->list_old;
	s->list_old = old;
	body = old.p + s->body;
	if (ctr_state_head(s, &s->list, t_ms) < 0)
		return -ENOMEM;
	s->body = s->list.len;
	for (size_t k = 0; k <= s->n_changed; k++) {
		size_t c = k < s->n_changed ? s->changed[k] : s->n;
		const struct ctr_entry *e;

		if (next < c) { /* the unchanged rows before c, and their commas */
			size_t from = s->at[next].off;
			size_t to = c < s->n ? s->at[c].off : s->at[c - 1].off + s->at[c - 1].cap;
			size_t shift = s->list.len - s->body - from; /* modulo: may wrap */

			if (json_buf_put(&s->list, body + from, to - from) < 0)
				return -ENOMEM;
			for (size_t i = next; i < c; i++)
				s->at[i].off += shift;
		}
		if (c == s->n)
			break;
		e = s->order[c];
		s->at[c] = (struct ctr_span){s->list.len - s->body, e->row.len,
					     e->row.len + CTR_ROW_SLACK};
		if (json_buf_put(&s->list, e->row.p, e->row.len) < 0 ||
		    json_buf_put(&s->list, spaces, CTR_ROW_SLACK) < 0 ||
		    (c + 1 < s->n && json_buf_put(&s->list, ",", 1) < 0))
			return -ENOMEM;
		next = c + 1;
	}
	return 0;
}

int ctr_state_set(struct ctr_state *s, const struct collector_env *env, int64_t t_ms)
{
	if (!env || !env->set_state_json)
		return 0;
	if (ctr_order(s) < 0)
		return -ENOMEM;
	if (s->layout_ok && !s->list_dirty && s->n && ctr_list_in_place(s, t_ms)) {
		/* the list's end, "]}", is where it was */
	} else if ((s->layout_ok && !s->list_dirty && s->n ? ctr_list_patch(s, t_ms)
							   : ctr_list_whole(s, t_ms)) < 0 ||
		   json_buf_put(&s->list, "]}", 2) < 0) {
		s->layout_ok = false;
		return -ENOMEM;
	}
	s->n_changed = 0;
	env->set_state_json(env, s->list.p, s->list.len);
	s->list_dirty = false;
	return 0;
}

int ctr_payload(struct ctr_state *s, const struct collector_env *env, int64_t t_ms,
		cJSON **ret_payload)
{
	cJSON *payload = NULL;
	bool changed = false;
	int r = -ENOMEM;

	s->have = true;
	s->n_changed = 0;
	if (ctr_mark_top(s) < 0 || ctr_order(s) < 0)
		goto out;
	if (!s->changed || s->n_changed_cap < s->cap) {
		size_t *c = reallocarray(s->changed, s->cap ? s->cap : 1, sizeof(*c));

		if (!c)
			goto out;
		s->changed = c;
		s->n_changed_cap = s->cap ? s->cap : 1;
	}
	/* only the containers the tick read (or due): the others did not change */
	if (s->n_touched > 1)
		qsort(s->touched, s->n_touched, sizeof(*s->touched), ctr_by_rank);
	s->rows.len = 0;
	if (json_buf_put(&s->rows, "[", 1) < 0)
		goto out;
	for (size_t i = 0; i < s->n_touched; i++) {
		struct ctr_entry *e = s->touched[i];
		int c = ctr_row_update(e);

		if (c < 0)
			goto out;
		if (c)
			s->changed[s->n_changed++] = e->rank;
		if (!c && e->sent)
			continue;
		if ((changed && json_buf_put(&s->rows, ",", 1) < 0) ||
		    json_buf_put(&s->rows, e->row.p, e->row.len) < 0)
			goto out;
		e->sent = changed = true;
	}
	s->n_touched = 0;
	if (json_buf_put(&s->rows, "]", 1) < 0 ||
	    !(payload = ctr_counts(s, t_ms, "rows", &s->rows)))
		goto out;
	if ((changed || s->list_dirty) && ctr_state_set(s, env, t_ms) < 0)
		goto out;
	r = 0;
out:
	return json_hand_over(payload, r, ret_payload);
}

/* --- metrics --- */

/* The id label of e: its short id, or its whole id when another container
 * of the top rows shares the short one (ids made alike, as a bench's may
 * be: two series with the same labels would break the scrape). */
static const char *ctr_label_id(const struct ctr_state *s, const struct ctr_entry *e)
{
	for (size_t i = 0; i < s->n; i++) {
		const struct ctr_entry *o = &s->v[i];

		if (o != e && o->in_top && strcmp(o->short_id, e->short_id) == 0)
			return e->id;
	}
	return e->short_id;
}

/* One family over the containers of the top rows, in cgroup order: field
 * (or stat, of its cgroup's numbers) returns false for a container
 * without the value. */
static void ctr_family(const struct ctr_state *s, struct metrics *m, const char *name,
		       const char *type, const char *help,
		       bool (*field)(const struct ctr_entry *e, double *ret),
		       bool (*stat)(const struct cgroup_stats *st, double *ret))
{
	double v;

	metrics_family(m, name, type, help);
	for (size_t i = 0; i < s->n; i++) {
		const struct ctr_entry *e = &s->v[i];

		if (e->in_top && (field ? field(e, &v) : stat(&e->u.st, &v)))
			metrics_sample(m, name,
				       (const char *const[]){"name", ctr_name(e), "engine",
							     ctr_engine_name(e->engine), "id",
							     ctr_label_id(s, e), NULL},
				       v);
	}
}

static bool ctr_f_limit(const struct ctr_entry *e, double *ret)
{
	*ret = (double)e->limit;
	return e->limit >= 0;
}

static bool ctr_f_rx(const struct ctr_entry *e, double *ret)
{
	*ret = (double)e->rx.value;
	return e->rx.valid;
}

static bool ctr_f_tx(const struct ctr_entry *e, double *ret)
{
	*ret = (double)e->tx.value;
	return e->tx.valid;
}

static bool ctr_f_oom(const struct ctr_entry *e, double *ret)
{
	*ret = (double)e->oom;
	return e->oom >= 0;
}

/* Containers per engine (a fixed label set), and the raw counters of the
 * containers in the last tick's top-n by CPU and by memory (at most twice
 * top-n label sets per family). Nothing before the first tick. */
int ctr_metrics(void *state, struct metrics *m)
{
	const struct ctr_state *s = state;
	size_t net_fds = 0;

	if (!s->have)
		return 0;
	metrics_family(m, "sysfeed_containers", "gauge", "Containers found in the cgroup tree.");
	for (unsigned k = 0; k < CTR_NENGINES; k++) {
		size_t n = 0;

		for (size_t i = 0; i < s->n; i++)
			n += s->v[i].engine == k;
		metrics_sample(m, "sysfeed_containers",
			       (const char *const[]){"engine", ctr_engine_name(k), NULL},
			       (double)n);
	}
	for (size_t i = 0; i < s->n; i++)
		net_fds += s->v[i].net_fd >= 0;
	cgroup_reader_metrics(&s->cg.rd, m,
			      (const char *const[]){"sysfeed_containers_fds",
						    "sysfeed_containers_reads_total",
						    "sysfeed_containers_idle_proven_total"},
			      net_fds);
	for (const struct cgroup_family *f = cgroup_families; f->suffix; f++) {
		char name[96], help[160];

		cgroup_family_text(f, "container", name, sizeof(name), help, sizeof(help));
		ctr_family(s, m, name, f->type, help, NULL, f->get);
		if (f == &cgroup_families[CGROUP_FAMILY_MEM]) /* the limit beside memory */
			ctr_family(s, m, "sysfeed_container_memory_limit_bytes", "gauge",
				   "Memory limit of the container's cgroup (top containers with a "
				   "limit only).",
				   ctr_f_limit, NULL);
	}
	ctr_family(s, m, "sysfeed_container_network_receive_bytes_total", "counter",
		   "Bytes received in the container's network namespace, loopback aside (top "
		   "containers only).",
		   ctr_f_rx, NULL);
	ctr_family(s, m, "sysfeed_container_network_transmit_bytes_total", "counter",
		   "Bytes sent from the container's network namespace, loopback aside (top "
		   "containers only).",
		   ctr_f_tx, NULL);
	ctr_family(s, m, "sysfeed_container_oom_kills_total", "counter",
		   "Processes of the container killed by the OOM killer (top containers only).",
		   ctr_f_oom, NULL);
	return metrics_error(m);
}
