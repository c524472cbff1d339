/* The `containers` topic's writers: the tick's payload (each row's
 * unchanging head printed once, its numbers written as text, the list one
 * raw JSON array) and the Prometheus families of the top containers. */
#include "ctr_state.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
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

/* Appends len bytes to the row being written. */
static int ctr_put(struct ctr_state *s, const char *text, size_t len)
{
	if (s->row_len + len + 1 > s->row_cap) {
		size_t cap = (s->row_len + len + 1) * 2;
		char *row = realloc(s->row, cap);

		if (!row)
			return -ENOMEM;
		s->row = row;
		s->row_cap = cap;
	}
	memcpy(s->row + s->row_len, text, len);
	s->row_len += len;
	s->row[s->row_len] = '\0';
	return 0;
}

/* "key":value, with value v / 100 when hundredths (as %.15g writes it:
 * "25.43", "25.4", "25"), null when v < 0; last: '}' instead of ','. */
static int ctr_field(struct ctr_state *s, const char *key, int64_t v, bool hundredths, bool last)
{
	char buf[64 + FMT_NUM_MAX], *p = buf;
	size_t klen = strlen(key);

	*p++ = '"';
	memcpy(p, key, klen);
	p += klen;
	*p++ = '"';
	*p++ = ':';
	if (v < 0) {
		p = stpcpy(p, "null");
	} else if (!hundredths) {
		p += fmt_i64(p, v);
	} else {
		p += fmt_i64(p, v / 100);
		if (v % 100) {
			*p++ = '.';
			*p++ = (char)('0' + v % 100 / 10);
			if (v % 10)
				*p++ = (char)('0' + v % 10);
		}
	}
	*p++ = last ? '}' : ',';
	return ctr_put(s, buf, (size_t)(p - buf));
}

/* Appends the row of e: its head printed once, then this tick's numbers. */
static int ctr_row(struct ctr_state *s, const struct ctr_entry *e)
{
	static const char running[] = "\"state\":\"running\",", paused[] = "\"state\":\"paused\",";
	int r;

	r = ctr_put(s, e->head, e->head_len);
	if (r == 0)
		r = e->frozen == 1 ? ctr_put(s, paused, sizeof(paused) - 1)
				   : ctr_put(s, running, sizeof(running) - 1);
	if (r < 0 || ctr_field(s, "cpu_pct", e->st.cpu_h, true, false) < 0 ||
	    ctr_field(s, "mem_bytes", e->st.mem, false, false) < 0 ||
	    ctr_field(s, "mem_limit_bytes", e->limit, false, false) < 0 ||
	    ctr_field(s, "tasks", e->st.pids, false, false) < 0 ||
	    ctr_field(s, "io_read_bytes_per_s", e->st.io_r, false, false) < 0 ||
	    ctr_field(s, "io_write_bytes_per_s", e->st.io_w, false, false) < 0 ||
	    ctr_field(s, "net_rx_bytes_per_s", e->rx_s, false, false) < 0 ||
	    ctr_field(s, "net_tx_bytes_per_s", e->tx_s, false, false) < 0 ||
	    ctr_field(s, "oom_kills", e->oom, false, true) < 0)
		return -ENOMEM;
	return 0;
}

/* The list, every row in name order, as one raw JSON array: no tree of 15
 * items a row, a tick. */
static int ctr_list(struct ctr_state *s, cJSON *payload)
{
	cJSON *raw;

	s->row_len = 0;
	if (ctr_put(s, "[", 1) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++)
		if ((i && ctr_put(s, ",", 1) < 0) || ctr_row(s, s->order[i]) < 0)
			return -ENOMEM;
	if (ctr_put(s, "]", 1) < 0)
		return -ENOMEM;
	raw = cJSON_CreateRaw(s->row);
	if (!raw || !cJSON_AddItemToObject(payload, "list", raw)) {
		cJSON_Delete(raw);
		return -ENOMEM;
	}
	return 0;
}

static bool ctr_cpu_better(const void *a, const void *b)
{
	const struct ctr_entry *x = a, *y = b;

	if (x->st.cpu_h != y->st.cpu_h)
		return x->st.cpu_h > y->st.cpu_h;
	return strcmp(x->rel, y->rel) < 0;
}

static bool ctr_mem_better(const void *a, const void *b)
{
	const struct ctr_entry *x = a, *y = b;

	if (x->st.mem != y->st.mem)
		return x->st.mem > y->st.mem;
	return strcmp(x->rel, y->rel) < 0;
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
			if ((by_cpu ? s->v[i].st.cpu_h : s->v[i].st.mem) >= 0)
				topn_offer(&s->top, &s->v[i]);
		len = topn_sort(&s->top);
		for (size_t i = 0; i < len; i++)
			((struct ctr_entry *)s->top.v[i])->in_top = true;
	}
	return 0;
}

int ctr_payload(struct ctr_state *s, int64_t t_ms, cJSON **ret_payload)
{
	cJSON *payload = NULL;
	size_t paused = 0;
	int r = -ENOMEM;

	s->have = true;
	if (ctr_mark_top(s) < 0)
		goto out;
	if (s->order_dirty || !s->order) {
		struct ctr_entry **order =
		    reallocarray(s->order, s->cap ? s->cap : 1, sizeof(*order));

		if (!order)
			goto out;
		s->order = order;
		for (size_t i = 0; i < s->n; i++)
			order[i] = &s->v[i];
		qsort(order, s->n, sizeof(*order), ctr_by_name);
		s->order_dirty = false;
	}
	payload = json_payload(t_ms);
	if (!payload)
		goto out;
	for (size_t i = 0; i < s->n; i++)
		paused += s->v[i].frozen == 1;
	if (json_num(payload, "containers", (double)s->n) < 0 ||
	    json_num(payload, "running", (double)(s->n - paused)) < 0 ||
	    json_num(payload, "paused", (double)paused) < 0 || ctr_list(s, payload) < 0)
		goto out;
	r = 0;
out:
	return json_hand_over(payload, r, ret_payload);
}

/* --- metrics --- */

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

		if (e->in_top && (field ? field(e, &v) : stat(&e->st, &v)))
			metrics_sample(m, name,
				       (const char *const[]){"name", ctr_name(e), "engine",
							     ctr_engine_name(e->engine), "id",
							     e->short_id, NULL},
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
	ctr_family(s, m, "sysfeed_container_cpu_seconds_total", "counter",
		   "CPU time used by the container's cgroup (top containers only).", NULL,
		   cgroup_stats_cpu);
	ctr_family(s, m, "sysfeed_container_memory_bytes", "gauge",
		   "Memory charged to the container's cgroup (top containers only).", NULL,
		   cgroup_stats_mem);
	ctr_family(s, m, "sysfeed_container_memory_limit_bytes", "gauge",
		   "Memory limit of the container's cgroup (top containers with a limit only).",
		   ctr_f_limit, NULL);
	ctr_family(s, m, "sysfeed_container_tasks", "gauge",
		   "Tasks in the container's cgroup (top containers only).", NULL,
		   cgroup_stats_tasks);
	ctr_family(s, m, "sysfeed_container_io_read_bytes_total", "counter",
		   "Bytes the container's cgroup read from block devices (top containers only).",
		   NULL, cgroup_stats_read);
	ctr_family(s, m, "sysfeed_container_io_written_bytes_total", "counter",
		   "Bytes the container's cgroup wrote to block devices (top containers only).",
		   NULL, cgroup_stats_written);
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
