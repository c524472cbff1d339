/* GET /api/history: the query's range and step, the tier that answers
 * it, its rows consolidated to the step, and the answer in the snapshot's
 * {fields, rows} shape per topic (or CSV), with the top lists and the
 * events alongside. Runs on HTTP threads, on their own read-only
 * connections: it never waits for the loop or the writer. */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "store_impl.h"
#include "store_out.h"

#define MAX_ROWS   2000
#define MAX_RANGE  (20LL * 366 * 24 * 3600 * 1000) /* 20 years */
#define MAX_TOPICS 64

struct query {
	int64_t from, to, step; /* ms */
	bool csv, tops, events;
	int topic[MAX_TOPICS]; /* registry indexes */
	size_t n_topics;
	int tier;
	bool consolidated;
	int64_t until;
};

/* A number of ms, or a step of seconds (decimals allowed). */
static int parse_ms(const char *s, bool seconds, int64_t *ret)
{
	char *end;
	double v;

	if (!s || !*s)
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !isfinite(v) || v < 0 || (!seconds && v != floor(v)))
		return -EINVAL;
	if (seconds)
		v *= 1000;
	if (v > 9e15)
		return -EINVAL;
	*ret = (int64_t)ceil(v);
	return 0;
}

static int parse_bool(const char *s, bool dflt, bool *ret)
{
	if (!s)
		*ret = dflt;
	else if (strcmp(s, "1") == 0 || strcmp(s, "true") == 0)
		*ret = true;
	else if (strcmp(s, "0") == 0 || strcmp(s, "false") == 0)
		*ret = false;
	else
		return -EINVAL;
	return 0;
}

/* Up to 40 bytes of what the client sent, for a reason: control bytes
 * (a line break would start a second line) become '?'. */
static const char *shown(const char *in, char *out)
{
	size_t n = 0;

	for (; in[n] && n < 40; n++)
		out[n] = (unsigned char)in[n] < 0x20 || in[n] == 0x7f ? '?' : in[n];
	out[n] = '\0';
	return out;
}

/* The query's arguments; a one-line reason in why when they are bad. */
static int parse(const struct store_query *in, int64_t now, struct query *q, char *why, size_t len)
{
	char list[1024], arg[48];

	memset(q, 0, sizeof(*q));
	q->to = now;
	if (in->to && parse_ms(in->to, false, &q->to) < 0)
		return snprintf(why, len, "to: expected ms since the epoch, not '%s'",
				shown(in->to, arg)),
		       -EINVAL;
	q->from = q->to - STORE_HOUR_MS;
	if (in->from && parse_ms(in->from, false, &q->from) < 0)
		return snprintf(why, len, "from: expected ms since the epoch, not '%s'",
				shown(in->from, arg)),
		       -EINVAL;
	if (q->from >= q->to)
		return snprintf(why, len, "from must be before to"), -EINVAL;
	if (q->to - q->from > MAX_RANGE)
		return snprintf(why, len, "the range is longer than 20 years"), -EINVAL;
	if (in->step &&
	    (parse_ms(in->step, true, &q->step) < 0 || q->step == 0 || q->step > q->to - q->from))
		return snprintf(why, len,
				"step: expected seconds, more than 0 and at most the range, not "
				"'%s'",
				shown(in->step, arg)),
		       -EINVAL;
	if (in->format && strcmp(in->format, "json") != 0 && strcmp(in->format, "csv") != 0)
		return snprintf(why, len, "format: expected json or csv, not '%s'",
				shown(in->format, arg)),
		       -EINVAL;
	q->csv = in->format && strcmp(in->format, "csv") == 0;
	if (parse_bool(in->tops, true, &q->tops) < 0 || parse_bool(in->events, true, &q->events))
		return snprintf(why, len, "tops, events: expected 0 or 1"), -EINVAL;
	if (!in->topics || !*in->topics) {
		for (size_t i = 0; collector_registry[i] && q->n_topics < MAX_TOPICS; i++)
			if (collector_registry[i]->history)
				q->topic[q->n_topics++] = (int)i;
		return 0;
	}
	if (strlen(in->topics) >= sizeof(list))
		return snprintf(why, len, "topics: too long"), -EINVAL;
	snprintf(list, sizeof(list), "%s", in->topics);
	for (char *save = NULL, *tok = strtok_r(list, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		int i = collector_topic(tok);

		if (i < 0)
			return snprintf(why, len, "unknown topic '%s'", shown(tok, arg)), -EINVAL;
		if (!collector_registry[i]->history)
			return snprintf(why, len, "topic '%s' has no chart history",
					shown(tok, arg)),
			       -EINVAL;
		if (q->n_topics == MAX_TOPICS)
			return snprintf(why, len, "topics: too many"), -EINVAL;
		q->topic[q->n_topics++] = i;
	}
	return 0;
}

static int64_t round_up(int64_t v, int64_t m)
{
	return (v + m - 1) / m * m;
}

static int64_t res_of(int tier, int64_t interval)
{
	return tier ? store_step_ms[tier] : interval;
}

/* The tier and step: the coarsest tier that covers the range and whose
 * resolution is within the step that keeps rows under MAX_ROWS; the step
 * a multiple of its resolution. A tier covers the range when it holds
 * rows back to `from`, or when no coarser tier knows anything older. */
static int choose(sqlite3 *db, struct query *q, int64_t interval)
{
	int64_t oldest[STORE_TIERS], newest[STORE_TIERS], step;
	int r, pick = -1, finest = -1;

	for (int t = 0; t < STORE_TIERS; t++)
		if ((r = store_db_span(db, t, &oldest[t], &newest[t])) < 0)
			return r;
	q->until = newest[0];
	step = (q->to - q->from + MAX_ROWS - 2) / (MAX_ROWS - 1);
	if (q->step > step)
		step = q->step;
	for (int t = 0; t < STORE_TIERS; t++) {
		bool covers = newest[t] && oldest[t] <= q->from + res_of(t, interval);

		for (int u = t + 1; newest[t] && !covers && u < STORE_TIERS; u++)
			if (newest[u] && oldest[u] + res_of(u, interval) < oldest[t])
				break;
			else if (u == STORE_TIERS - 1)
				covers = true;
		if (t == STORE_TIERS - 1 && newest[t] && !covers)
			covers = true; /* the coarsest: nothing older anywhere */
		if (!covers)
			continue;
		if (finest < 0)
			finest = t;
		if (res_of(t, interval) <= step)
			pick = t;
	}
	if (pick < 0)
		pick = finest >= 0 ? finest : 0;
	q->tier = pick;
	q->step = round_up(step, res_of(pick, interval));
	q->consolidated = pick > 0 || q->step > interval;
	return 0;
}

/* The rows of the range, consolidated to the step when it asks. */
static int fetch(sqlite3 *db, struct query *q, struct store_chunk *out)
{
	struct store_chunk all, part;
	size_t a = 0, b;
	int r;

	store_chunk_init(&all);
	store_chunk_init(&part);
	if ((r = store_db_read(db, q->tier, q->from, q->to, &all)) < 0)
		goto out;
	while (a < all.n && all.t[a] < q->from)
		a++;
	for (b = a; b < all.n && all.t[b] <= q->to; b++)
		;
	if (!q->consolidated) {
		r = store_chunk_append_rows(out, &all, a, b);
		goto out;
	}
	if ((r = store_chunk_append_rows(&part, &all, a, b)) == 0)
		r = store_consolidate(&part, q->step, out);
out:
	store_chunk_done(&all);
	store_chunk_done(&part);
	return r;
}

/* The events of the range, one per kind and key and step. */
static int events(sqlite3 *db, const struct query *q, struct out *o)
{
	sqlite3_stmt *st = NULL;
	int rc, n = 0;

	rc = store_sql.prepare_v2(db,
				  "SELECT min(t), kind, key, sum(count), detail FROM event"
				  " WHERE t >= ?1 AND t <= ?2 GROUP BY t / ?3, kind, key"
				  " ORDER BY 1 LIMIT ?4",
				  -1, &st, NULL);
	if (rc == SQLITE_OK) {
		store_sql.bind_int64(st, 1, q->from);
		store_sql.bind_int64(st, 2, q->to);
		store_sql.bind_int64(st, 3, q->step > STORE_MINUTE_MS ? q->step : STORE_MINUTE_MS);
		store_sql.bind_int(st, 4, MAX_ROWS);
	}
	out_raw(o, ",\"events\":{\"fields\":[\"t\",\"kind\",\"key\",\"count\",\"detail\"],"
		   "\"rows\":[");
	while (st && (rc = store_sql.step(st)) == SQLITE_ROW) {
		out_raw(o, n++ ? ",[" : "[");
		out_i64(o, store_sql.column_int64(st, 0));
		out_raw(o, ",");
		out_str(o, (const char *)store_sql.column_text(st, 1));
		out_raw(o, ",");
		out_str(o, (const char *)store_sql.column_text(st, 2));
		out_raw(o, ",");
		out_i64(o, store_sql.column_int64(st, 3));
		out_raw(o, ",");
		out_str(o, (const char *)store_sql.column_text(st, 4));
		out_raw(o, "]");
	}
	out_raw(o, "]}");
	store_sql.finalize(st);
	return rc == SQLITE_DONE || rc == SQLITE_OK ? 0 : store_db_errno(db, rc);
}

/* The top lists of each row that has any. */
static void tops(const struct store_chunk *c, struct out *o)
{
	bool first = true;

	out_raw(o, ",\"tops\":{\"fields\":[\"t\"");
	for (size_t l = 0; l < c->n_lists; l++) {
		out_raw(o, ",");
		out_str(o, c->lists[l].name);
	}
	out_raw(o, "],\"entry\":[\"id\",\"name\",\"cpu_pct\",\"mem_bytes\"],\"rows\":[");
	for (size_t r = 0; r < c->n; r++) {
		size_t total = 0, n;

		for (size_t l = 0; l < c->n_lists; l++)
			total += (store_chunk_tops(c, r, l, &n), n);
		if (!total)
			continue;
		out_raw(o, first ? "[" : ",[");
		first = false;
		out_i64(o, c->t[r]);
		for (size_t l = 0; l < c->n_lists; l++) {
			const struct store_top *e = store_chunk_tops(c, r, l, &n);

			out_raw(o, ",[");
			for (size_t k = 0; k < n; k++) {
				out_raw(o, k ? ",[" : "[");
				if (e[k].id >= 0)
					out_i64(o, e[k].id);
				else
					out_raw(o, "null");
				out_raw(o, ",");
				out_str(o, c->strs[e[k].name]);
				out_raw(o, ",");
				out_num(o, e[k].cpu);
				out_raw(o, ",");
				out_num(o, e[k].mem);
				out_raw(o, "]");
			}
			out_raw(o, "]");
		}
		out_raw(o, "]");
	}
	out_raw(o, "]}");
}

static void json(const struct query *q, const struct store_chunk *c, struct out *o)
{
	out_raw(o, "{\"from\":");
	out_i64(o, q->from);
	out_raw(o, ",\"to\":");
	out_i64(o, q->to);
	out_raw(o, ",\"step\":");
	out_num(o, (double)q->step / 1000);
	out_raw(o, ",\"tier\":");
	out_i64(o, q->tier);
	out_raw(o, q->consolidated ? ",\"consolidated\":true" : ",\"consolidated\":false");
	out_raw(o, ",\"until\":");
	if (q->until)
		out_i64(o, q->until);
	else
		out_raw(o, "null");
	out_raw(o, ",\"history\":{");
	for (size_t i = 0; i < q->n_topics; i++) {
		const struct collector *col = collector_registry[q->topic[i]];

		if (i)
			out_raw(o, ",");
		out_str(o, col->name);
		out_raw(o, ":");
		out_topic(o, c, col->name, col->history, q->consolidated, q->step);
	}
	out_raw(o, "}");
	if (q->tops)
		tops(c, o);
}

unsigned store_api(struct store *s, const struct store_query *in, int64_t now_ms, char **ret_body,
		   size_t *ret_len, const char **ret_type)
{
	struct store_chunk rows;
	struct out o = {0};
	struct query q;
	char why[300];
	sqlite3 *db = NULL;
	unsigned gen = 0, status = 200;
	int r;

	store_chunk_init(&rows);
	*ret_type = "text/plain; charset=utf-8";
	if (parse(in, now_ms, &q, why, sizeof(why)) < 0) {
		status = 400;
		goto fail;
	}
	if (!s || !s->path) {
		char reason[STORE_REASON_LEN] = "no state-dir";
		bool on;

		if (s)
			store_status(s, &on, reason, sizeof(reason));
		snprintf(why, sizeof(why), "history is %.250s", reason);
		status = 503;
		goto fail;
	}
	if ((r = store_reader_get(s, &db, &gen, why, sizeof(why))) < 0) {
		char detail[sizeof(why)];

		snprintf(detail, sizeof(detail), "%s", why);
		snprintf(why, sizeof(why), "history cannot be read: %.200s",
			 r == -ENOENT ? "nothing written yet" : detail);
		status = 503;
		goto fail;
	}
	__atomic_add_fetch(&s->queries, 1, __ATOMIC_RELAXED);
	/* one read transaction: the tiers' spans and rows of one moment */
	if ((r = store_db_exec(db, "BEGIN")) < 0 || (r = choose(db, &q, s->opt.interval_ms)) < 0 ||
	    (r = fetch(db, &q, &rows)) < 0) {
		snprintf(why, sizeof(why), "history cannot be read: %s", strerror(-r));
		status = 503;
		goto fail;
	}
	if (q.csv) {
		out_csv(&o, &rows, q.topic, q.n_topics);
		*ret_type = "text/csv; charset=utf-8";
	} else {
		json(&q, &rows, &o);
		if (q.events && events(db, &q, &o) < 0)
			o.oom = true;
		out_raw(&o, "}\n");
		*ret_type = "application/json";
	}
	store_db_exec(db, "COMMIT");
	if (o.oom) {
		snprintf(why, sizeof(why), "out of memory");
		status = 503;
		goto fail;
	}
	store_reader_put(s, db, gen, true);
	store_chunk_done(&rows);
	malloc_trim(0); /* the decoded rows go back at once */
	*ret_body = o.p;
	*ret_len = o.len;
	return status;
fail:
	if (db) {
		store_db_exec(db, "ROLLBACK");
		store_reader_put(s, db, gen, false);
	}
	store_chunk_done(&rows);
	free(o.p);
	*ret_type = "text/plain; charset=utf-8";
	*ret_len = (size_t)asprintf(ret_body, "%s\n", why);
	if ((int)*ret_len < 0) {
		*ret_body = NULL;
		*ret_len = 0;
	}
	return status;
}
