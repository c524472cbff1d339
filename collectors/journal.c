#include "journal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "metrics.h"
#include "procfs.h"
#include "utf8.h"
#include "clock.h"

#define JOURNAL_READ_BUDGET 1000 /* entries per dispatch before yielding to the loop */
#define JOURNAL_READ_NS     4000000
/* journald tells readers about new entries at most every 250 ms (its
 * POST_CHANGE_TIMER_INTERVAL_USEC), too late for the 100 ms bound: while a
 * stream client subscribes to `log` (the follow hook), the journal is also
 * looked at every RECHECK_MS between its wake-ups, which costs one
 * sd_journal_next() (a look at each file's mmap'ed header) when idle.
 * Nobody following, no timer: the journal is read at journald's pace. */
#define JOURNAL_RECHECK_MS 40
#define JOURNAL_SCAN_FACTOR                                                                        \
	50 /* the start scans back at most this many entries per backlog line                      \
	    */
#define JOURNAL_SCAN_MIN 10000
#define JOURNAL_DATA_MAX 65536 /* sd-journal's default data threshold */
/* sd-journal keeps the file windows it read mapped, and their pages count
 * in the daemon's RSS: after this many entries the journal is reopened at
 * the same cursor, which unmaps them (a flood would add ~20 MB otherwise). */
#define JOURNAL_REOPEN_ENTRIES 1024
#define JOURNAL_RUNTIME_DIR    "/run/log/journal"
#define JOURNAL_PERSIST_DIR    "/var/log/journal"

static const char *const priority_names[] = {"emerg",   "alert",  "crit", "err",
					     "warning", "notice", "info", "debug"};

const char *journal_priority_name(int prio)
{
	return prio >= 0 && prio <= 7 ? priority_names[prio] : NULL;
}

/* ---- entries ------------------------------------------------------------ */

void journal_raw_free(struct journal_raw *raw)
{
	free(raw->message);
	raw->message = NULL;
	raw->message_cap = 0;
	raw->message_len = 0;
}

void journal_raw_reset(struct journal_raw *raw)
{
	raw->realtime_us = 0;
	raw->priority = -1;
	raw->systemd_unit[0] = '\0';
	raw->identifier[0] = '\0';
	raw->comm[0] = '\0';
	raw->transport[0] = '\0';
	raw->pid[0] = '\0';
	raw->has_message = false;
	raw->message_len = 0;
	raw->cursor[0] = '\0';
}

/* Copies a value into a short field, cut to fit; a NUL ends it early. */
static void journal_copy_short(char *dst, size_t size, const char *v, size_t len)
{
	if (len > size - 1)
		len = size - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

/* Whether data is "NAME=..." for this name; sets the value. */
static bool journal_field_is(const char *data, size_t len, const char *name, const char **ret_v,
			     size_t *ret_len)
{
	size_t n = strlen(name);

	if (len <= n || memcmp(data, name, n) != 0 || data[n] != '=')
		return false;
	*ret_v = data + n + 1;
	*ret_len = len - n - 1;
	return true;
}

int journal_raw_add(struct journal_raw *raw, const void *data, size_t len)
{
	const char *d = data, *v;
	size_t vlen;

	if (journal_field_is(d, len, "MESSAGE", &v, &vlen)) {
		if (vlen > raw->message_cap) {
			char *m = realloc(raw->message, vlen);

			if (!m)
				return -ENOMEM;
			raw->message = m;
			raw->message_cap = vlen;
		}
		if (vlen)
			memcpy(raw->message, v, vlen);
		raw->message_len = vlen;
		raw->has_message = true;
	} else if (journal_field_is(d, len, "PRIORITY", &v, &vlen)) {
		raw->priority = vlen == 1 && v[0] >= '0' && v[0] <= '7' ? v[0] - '0' : -1;
	} else if (journal_field_is(d, len, "_SYSTEMD_UNIT", &v, &vlen)) {
		journal_copy_short(raw->systemd_unit, sizeof(raw->systemd_unit), v, vlen);
	} else if (journal_field_is(d, len, "SYSLOG_IDENTIFIER", &v, &vlen)) {
		journal_copy_short(raw->identifier, sizeof(raw->identifier), v, vlen);
	} else if (journal_field_is(d, len, "_COMM", &v, &vlen)) {
		journal_copy_short(raw->comm, sizeof(raw->comm), v, vlen);
	} else if (journal_field_is(d, len, "_TRANSPORT", &v, &vlen)) {
		journal_copy_short(raw->transport, sizeof(raw->transport), v, vlen);
	} else if (journal_field_is(d, len, "_PID", &v, &vlen)) {
		journal_copy_short(raw->pid, sizeof(raw->pid), v, vlen);
	}
	return 0;
}

int journal_raw_level(const struct journal_raw *raw)
{
	return raw->priority >= 0 ? raw->priority : JOURNAL_PRIO_DFLT;
}

const char *journal_raw_unit(const struct journal_raw *raw)
{
	return raw->systemd_unit[0] ? raw->systemd_unit : raw->identifier;
}

/* ASCII case-insensitive search of a NUL-terminated needle in bytes. */
static bool journal_contains(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return true;
	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

bool journal_raw_pass(const struct journal_raw *raw, const struct journal_settings *set)
{
	if (journal_raw_level(raw) > (int)set->priority)
		return false;
	if (!list_match(&set->units, journal_raw_unit(raw), true))
		return false;
	if (set->match && *set->match &&
	    !journal_contains(raw->message ? raw->message : "", raw->message_len, set->match))
		return false;
	return true;
}

bool journal_is_binary(const char *p, size_t len)
{
	return len && memchr(p, '\0', len) != NULL;
}

/* Adds a sanitised short field, or null when it is empty. */
static bool journal_add_short(cJSON *o, const char *key, const char *v)
{
	char *clean;
	cJSON *item;

	if (!*v)
		return cJSON_AddNullToObject(o, key) != NULL;
	if (utf8_dup(v, strlen(v), JOURNAL_SHORT_MAX, &clean, NULL) < 0)
		return false;
	item = cJSON_AddStringToObject(o, key, clean);
	free(clean);
	return item != NULL;
}

cJSON *journal_entry_json(const struct journal_raw *raw, unsigned max_bytes)
{
	const char *ident = raw->identifier[0] ? raw->identifier : raw->comm;
	int level = journal_raw_level(raw);
	bool truncated = false, binary = false, ok;
	char *msg = NULL, *end = NULL;
	unsigned long long pid;
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (!raw->has_message) {
		msg = strdup("");
	} else if (journal_is_binary(raw->message, raw->message_len)) {
		binary = true;
		if (asprintf(&msg, "[%zu bytes of binary data]", raw->message_len) < 0)
			msg = NULL;
	} else if (utf8_dup(raw->message, raw->message_len, max_bytes, &msg, &truncated) < 0) {
		msg = NULL;
	}
	errno = 0;
	pid = raw->pid[0] >= '0' && raw->pid[0] <= '9' ? strtoull(raw->pid, &end, 10) : 0;
	ok = msg && cJSON_AddNumberToObject(o, "ts", (double)(raw->realtime_us / 1000)) &&
	     cJSON_AddNumberToObject(o, "priority", level) &&
	     cJSON_AddStringToObject(o, "priority_name", journal_priority_name(level)) &&
	     journal_add_short(o, "unit", journal_raw_unit(raw)) &&
	     journal_add_short(o, "identifier", ident);
	if (ok && end && !*end && errno == 0 && pid > 0)
		ok = cJSON_AddNumberToObject(o, "pid", (double)pid) != NULL;
	else if (ok)
		ok = cJSON_AddNullToObject(o, "pid") != NULL;
	ok = ok && journal_add_short(o, "transport", raw->transport) &&
	     cJSON_AddStringToObject(o, "message", msg);
	if (ok && truncated)
		ok = cJSON_AddTrueToObject(o, "truncated") != NULL;
	if (ok && binary)
		ok = cJSON_AddTrueToObject(o, "binary") != NULL;
	ok = ok && cJSON_AddStringToObject(o, "cursor", raw->cursor);
	free(msg);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Reads "s=" (the sequence number id) and "i=" (the sequence number, hex)
 * of a cursor. */
static bool journal_cursor_seq(const char *c, const char **ret_id, size_t *ret_id_len,
			       uint64_t *ret_seq)
{
	const char *id = NULL, *i = NULL;
	char *end;

	for (const char *p = c; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL) {
		if (strncmp(p, "s=", 2) == 0)
			id = p + 2;
		else if (strncmp(p, "i=", 2) == 0)
			i = p + 2;
	}
	if (!id || !i)
		return false;
	errno = 0;
	*ret_seq = strtoull(i, &end, 16);
	if (errno || end == i || (*end && *end != ';'))
		return false;
	*ret_id = id;
	*ret_id_len = strcspn(id, ";");
	return true;
}

bool journal_cursor_not_after(const char *a, const char *b)
{
	const char *ida, *idb;
	size_t la, lb;
	uint64_t sa, sb;

	if (!journal_cursor_seq(a, &ida, &la, &sa) || !journal_cursor_seq(b, &idb, &lb, &sb))
		return false;
	return la == lb && memcmp(ida, idb, la) == 0 && sa <= sb;
}

/* ---- rate and batches --------------------------------------------------- */

int journal_rate_init(struct journal_rate *r, unsigned cap)
{
	memset(r, 0, sizeof(*r));
	if (cap == 0)
		cap = 1;
	r->ts = calloc(cap, sizeof(*r->ts));
	if (!r->ts)
		return -ENOMEM;
	r->cap = cap;
	return 0;
}

void journal_rate_free(struct journal_rate *r)
{
	free(r->ts);
	r->ts = NULL;
	r->cap = r->n = r->head = 0;
}

unsigned journal_rate_room(struct journal_rate *r, uint64_t now_ms)
{
	/* the oldest is at (head - n); drop what left the window */
	while (r->n) {
		unsigned oldest = (r->head + r->cap - r->n) % r->cap;

		if (r->ts[oldest] + 1000 > now_ms)
			break;
		r->n--;
	}
	return r->cap - r->n;
}

void journal_rate_take(struct journal_rate *r, uint64_t now_ms, unsigned k)
{
	while (k-- && r->n < r->cap) {
		r->ts[r->head] = now_ms;
		r->head = (r->head + 1) % r->cap;
		r->n++;
	}
}

int journal_batch_init(struct journal_batch *b, unsigned cap)
{
	memset(b, 0, sizeof(*b));
	if (cap == 0)
		cap = 1;
	b->items = calloc(cap, sizeof(*b->items));
	if (!b->items)
		return -ENOMEM;
	b->cap = cap;
	b->dropped_level = 8;
	return 0;
}

void journal_batch_clear(struct journal_batch *b)
{
	for (unsigned i = 0; i < b->n; i++) {
		free(b->items[i].json);
		free(b->items[i].unit);
	}
	b->n = 0;
	b->dropped = 0;
	b->dropped_level = 8;
}

void journal_batch_free(struct journal_batch *b)
{
	if (b->items)
		journal_batch_clear(b);
	free(b->items);
	b->items = NULL;
	b->cap = 0;
}

/* Index of the newest among the least severe items (n > 0). */
static unsigned journal_batch_worst(const struct journal_batch *b)
{
	unsigned w = 0;

	for (unsigned i = 1; i < b->n; i++)
		if (b->items[i].level >= b->items[w].level)
			w = i;
	return w;
}

void journal_batch_drop(struct journal_batch *b, int level)
{
	b->dropped++;
	if (level < b->dropped_level)
		b->dropped_level = level;
}

/* Removes item i, keeping the order of the others. */
static void journal_batch_remove(struct journal_batch *b, unsigned i)
{
	journal_batch_drop(b, b->items[i].level);
	free(b->items[i].json);
	free(b->items[i].unit);
	memmove(&b->items[i], &b->items[i + 1], (b->n - i - 1) * sizeof(*b->items));
	b->n--;
}

bool journal_batch_wants(const struct journal_batch *b, int level)
{
	return b->n < b->cap || level < b->items[journal_batch_worst(b)].level;
}

int journal_batch_add(struct journal_batch *b, char *json, int level, const char *unit)
{
	char *u = strdup(unit ? unit : "");

	if (!u)
		return -ENOMEM;
	if (!journal_batch_wants(b, level)) {
		journal_batch_drop(b, level);
		free(json);
		free(u);
		return 0;
	}
	if (b->n == b->cap)
		journal_batch_remove(b, journal_batch_worst(b));
	b->items[b->n++] = (struct journal_batch_item){json, level, u};
	return 0;
}

void journal_batch_trim(struct journal_batch *b, unsigned keep)
{
	while (b->n > keep)
		journal_batch_remove(b, journal_batch_worst(b));
}

cJSON *journal_payload(int64_t t_ms, char *const *entries, size_t n, uint64_t dropped)
{
	cJSON *o = cJSON_CreateObject(), *arr;

	if (!o || !cJSON_AddNumberToObject(o, "t", (double)t_ms) ||
	    !(arr = cJSON_AddArrayToObject(o, "entries")))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		cJSON *raw = cJSON_CreateRaw(entries[i]);

		if (!raw)
			goto fail;
		cJSON_AddItemToArray(arr, raw);
	}
	if (!cJSON_AddNumberToObject(o, "dropped", (double)dropped))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

/* ---- the collector ------------------------------------------------------ */

enum { TAG_JOURNAL, TAG_BATCH, TAG_KICK, TAG_TIMEOUT, TAG_RECHECK, TAG_DIRS };

/* An event waiting for the end of the dispatch, after the state update. */
struct journal_out {
	cJSON *payload;
	int level;
	char *key;
};

struct journal_state {
	sd_journal *j;
	int epfd, jfd, batch_fd, kick_fd, timeout_fd, recheck_fd;
	int dirs_fd; /* inotify on the journal directories: new active files */
	bool want_reopen;
	bool following;   /* s->j holds the active files only */
	bool skip_cursor; /* the next entry may be the one at `cursor`, read already */
	char *cursor;     /* of the newest entry read, for reopening */
	const struct journal_settings *set;
	struct journal_raw raw;
	struct journal_rate rate;
	struct journal_batch batch;
	bool batching;
	bool followed; /* a stream client subscribes: the recheck timer runs */
	unsigned read_since_open;

	char **backlog; /* ring of encoded entries, oldest at (head - n) */
	unsigned backlog_cap, backlog_head, backlog_n;
	size_t backlog_bytes; /* their JSON bytes */
	bool dirty;
	int64_t state_t_ms;
	uint64_t dropped_total;
	uint64_t seen[8]; /* entries that passed the filters, per priority */

	struct journal_out *out;
	size_t n_out, cap_out;
};

/* Drops the oldest entry of the backlog (backlog_n > 0). */
static void journal_backlog_drop(struct journal_state *s)
{
	unsigned oldest = (s->backlog_head + s->backlog_cap - s->backlog_n) % s->backlog_cap;

	s->backlog_bytes -= strlen(s->backlog[oldest]);
	free(s->backlog[oldest]);
	s->backlog[oldest] = NULL;
	s->backlog_n--;
}

/* Takes json into the backlog ring, evicting the oldest entries until both
 * log-backlog (entries) and log-backlog-bytes (JSON bytes, as in
 * `snapshot`) hold; an entry larger than log-backlog-bytes is not kept. */
static void journal_backlog_push(struct journal_state *s, char *json)
{
	if (!s->backlog_cap) {
		free(json);
		return;
	}
	if (s->backlog_n == s->backlog_cap)
		journal_backlog_drop(s);
	s->backlog[s->backlog_head] = json;
	s->backlog_head = (s->backlog_head + 1) % s->backlog_cap;
	s->backlog_n++;
	s->backlog_bytes += strlen(json);
	while (s->backlog_n && s->backlog_bytes > s->set->backlog_bytes)
		journal_backlog_drop(s);
	s->dirty = true;
	s->state_t_ms = clock_real_ms();
}

/* The topic's `snapshot` part: {"t", "entries": [backlog, oldest first],
 * "dropped_total"}. */
static cJSON *journal_build_state(const struct journal_state *s)
{
	size_t len = 2, o = 0;
	char *arr;
	cJSON *st, *raw;

	for (unsigned i = 0; i < s->backlog_n; i++)
		len += strlen(s->backlog[(s->backlog_head + s->backlog_cap - s->backlog_n + i) %
					 s->backlog_cap]) +
		       1;
	if (!(arr = malloc(len + 1)))
		return NULL;
	arr[o++] = '[';
	for (unsigned i = 0; i < s->backlog_n; i++) {
		const char *e = s->backlog[(s->backlog_head + s->backlog_cap - s->backlog_n + i) %
					   s->backlog_cap];
		size_t n = strlen(e);

		if (i)
			arr[o++] = ',';
		memcpy(arr + o, e, n);
		o += n;
	}
	arr[o++] = ']';
	arr[o] = '\0';
	st = cJSON_CreateObject();
	raw = cJSON_CreateRaw(arr);
	free(arr);
	if (!st || !raw || !cJSON_AddNumberToObject(st, "t", (double)s->state_t_ms)) {
		cJSON_Delete(raw);
		cJSON_Delete(st);
		return NULL;
	}
	cJSON_AddItemToObject(st, "entries", raw);
	if (!cJSON_AddNumberToObject(st, "dropped_total", (double)s->dropped_total)) {
		cJSON_Delete(st);
		return NULL;
	}
	return st;
}

static void journal_flush_state(struct journal_state *s, const struct collector_env *env)
{
	cJSON *st;

	if (!s->dirty)
		return;
	if ((st = journal_build_state(s))) {
		env->set_state(env, st);
		s->dirty = false;
	}
}

static int journal_queue(struct journal_state *s, cJSON *payload, int level, const char *key)
{
	struct journal_out *o;

	if (s->n_out == s->cap_out) {
		size_t cap = s->cap_out ? s->cap_out * 2 : 64;

		if (!(o = realloc(s->out, cap * sizeof(*o)))) {
			cJSON_Delete(payload);
			return -ENOMEM;
		}
		s->out = o;
		s->cap_out = cap;
	}
	o = &s->out[s->n_out];
	o->payload = payload;
	o->level = level;
	o->key = key ? strdup(key) : NULL;
	s->n_out++;
	return 0;
}

/* The state first, so that a snapshot never misses an entry that was
 * published (it may repeat one: clients drop repeats by cursor). */
static void journal_send(struct journal_state *s, const struct collector_env *env)
{
	journal_flush_state(s, env);
	for (size_t i = 0; i < s->n_out; i++) {
		struct journal_out *o = &s->out[i];

		env->publish(env, o->payload,
			     &(struct collector_event){.level = o->level, .key = o->key});
		free(o->key);
	}
	s->n_out = 0;
}

/* Reads the current entry into s->raw (the cursor only when asked). */
static int journal_read_raw(struct journal_state *s)
{
	const void *data;
	size_t len;
	int r;

	journal_raw_reset(&s->raw);
	r = sd_journal_get_realtime_usec(s->j, &s->raw.realtime_us);
	if (r < 0)
		return r;
	sd_journal_restart_data(s->j);
	while ((r = sd_journal_enumerate_data(s->j, &data, &len)) > 0) {
		if ((r = journal_raw_add(&s->raw, data, len)) < 0)
			return r;
	}
	return 0; /* a corrupt item ends the entry early: keep what was read */
}

static int journal_read_cursor(struct journal_state *s)
{
	char *c = NULL;
	int r = sd_journal_get_cursor(s->j, &c);

	if (r < 0)
		return r;
	journal_copy_short(s->raw.cursor, sizeof(s->raw.cursor), c, strlen(c));
	free(c);
	return 0;
}

/* The current entry (already read and filtered) as an encoded string. */
static char *journal_encode(struct journal_state *s)
{
	cJSON *e;
	char *json;

	if (journal_read_cursor(s) < 0)
		s->raw.cursor[0] = '\0';
	if (!(e = journal_entry_json(&s->raw, s->set->max_bytes)))
		return NULL;
	json = cJSON_PrintUnformatted(e);
	cJSON_Delete(e);
	return json;
}

static int journal_arm(int fd, uint64_t first_ns, uint64_t every_ns, int flags)
{
	struct itimerspec its = {
	    .it_interval = {(time_t)(every_ns / 1000000000u), (long)(every_ns % 1000000000u)},
	    .it_value = {(time_t)(first_ns / 1000000000u), (long)(first_ns % 1000000000u)},
	};

	return timerfd_settime(fd, flags, &its, NULL) < 0 ? -errno : 0;
}

/* One entry that passed the filters: published now while under the rate,
 * else into the batch. */
static int journal_take(struct journal_state *s, uint64_t now_ms)
{
	int level = journal_raw_level(&s->raw);
	const char *unit = journal_raw_unit(&s->raw);
	char *json, *entries[1];
	cJSON *p;
	int r;

	if (!s->batching && journal_rate_room(&s->rate, now_ms) > 0) {
		if (!(json = journal_encode(s)))
			return -ENOMEM;
		entries[0] = json;
		if (!(p = journal_payload(clock_real_ms(), entries, 1, 0))) {
			free(json);
			return -ENOMEM;
		}
		journal_rate_take(&s->rate, now_ms, 1);
		journal_backlog_push(s, json);
		return journal_queue(s, p, level, unit[0] ? unit : NULL);
	}
	if (!s->batching) {
		r = journal_arm(s->batch_fd, JOURNAL_BATCH_MS * 1000000u,
				JOURNAL_BATCH_MS * 1000000u, 0);
		if (r < 0)
			return r;
		s->batching = true;
	}
	if (!journal_batch_wants(&s->batch, level)) {
		journal_batch_drop(&s->batch, level);
		return 0;
	}
	if (!(json = journal_encode(s)))
		return -ENOMEM;
	r = journal_batch_add(&s->batch, json, level, unit);
	if (r < 0)
		free(json);
	return r;
}

/* The 100 ms flood tick: what the rate allows goes out as one event. A
 * quiet period (nothing kept, nothing dropped) ends the batching. */
static int journal_flush_batch(struct journal_state *s, uint64_t now_ms)
{
	struct journal_batch *b = &s->batch;
	char **entries = NULL;
	const char *key = NULL;
	int level;
	cJSON *p;
	int r = 0;

	journal_batch_trim(b, journal_rate_room(&s->rate, now_ms));
	if (b->n == 0 && b->dropped == 0) {
		s->batching = false;
		return journal_arm(s->batch_fd, 0, 0, 0);
	}
	level = b->dropped_level;
	for (unsigned i = 0; i < b->n; i++) {
		if (b->items[i].level < level)
			level = b->items[i].level;
		if (i == 0)
			key = b->items[0].unit;
		else if (key && strcmp(key, b->items[i].unit) != 0)
			key = NULL; /* a mixed batch carries no unit */
	}
	if (b->n == 0 || (key && !*key))
		key = NULL;
	if (b->n && !(entries = malloc(b->n * sizeof(*entries)))) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < b->n; i++)
		entries[i] = b->items[i].json;
	if (!(p = journal_payload(clock_real_ms(), entries, b->n, b->dropped))) {
		r = -ENOMEM;
		goto out;
	}
	r = journal_queue(s, p, level, key);
	journal_rate_take(&s->rate, now_ms, b->n);
	for (unsigned i = 0; i < b->n; i++) {
		journal_backlog_push(s, b->items[i].json);
		b->items[i].json = NULL;
	}
	s->dropped_total += b->dropped;
	s->dirty = true;
	journal_batch_clear(b);
out:
	free(entries);
	return r;
}

/* Reads new entries, at most a budget of them. Returns 1 when more may be
 * waiting, 0 at the end, or -errno. */
static int journal_read_new(struct journal_state *s)
{
	uint64_t start = clock_mono_ns();
	bool got = false;
	char *c;
	int r = 1;

	for (unsigned i = 0; i < JOURNAL_READ_BUDGET; i++) {
		r = sd_journal_next(s->j);
		if (r <= 0)
			break;
		got = true;
		s->read_since_open++;
		if (s->skip_cursor) {
			bool seen;

			c = NULL;
			seen = sd_journal_get_cursor(s->j, &c) >= 0 &&
			       journal_cursor_not_after(c, s->cursor);
			free(c);
			if (seen)
				continue;
			s->skip_cursor = false;
		}
		if (journal_read_raw(s) < 0 || !journal_raw_pass(&s->raw, s->set))
			continue;
		s->seen[journal_raw_level(&s->raw)]++;
		r = journal_take(s, clock_mono_ms());
		if (r < 0)
			break;
		r = 1;
		if ((i & 63) == 63 && clock_mono_ns() - start > JOURNAL_READ_NS)
			break;
	}
	/* where to resume after a reopen: the old handle may not tell once
	 * journald archived its file */
	c = NULL;
	if (got && sd_journal_get_cursor(s->j, &c) >= 0) {
		free(s->cursor);
		s->cursor = c;
	}
	return r;
}

/* sd-journal may ask to be woken at a time (network file systems). */
static void journal_arm_timeout(struct journal_state *s)
{
	uint64_t usec = (uint64_t)-1;

	if (sd_journal_get_timeout(s->j, &usec) < 0 || usec == (uint64_t)-1)
		usec = 0;
	else if (usec == 0)
		usec = 1;
	journal_arm(s->timeout_fd, usec * 1000u, 0, usec ? TFD_TIMER_ABSTIME : 0);
}

static int journal_reopen(struct journal_state *s, bool all);
static bool journal_dirs_changed(struct journal_state *s);

static int journal_dispatch(void *state, const struct collector_env *env)
{
	struct journal_state *s = state;
	struct epoll_event evs[8];
	bool read_more = false;
	uint64_t v;
	int n, r = 0;

	n = epoll_wait(s->epfd, evs, 8, 0);
	for (int i = 0; i < n; i++) {
		switch (evs[i].data.u32) {
		case TAG_BATCH:
			if (read(s->batch_fd, &v, sizeof(v)) > 0)
				r = journal_flush_batch(s, clock_mono_ms());
			break;
		case TAG_KICK:
			if (read(s->kick_fd, &v, sizeof(v)) > 0)
				read_more = true;
			break;
		case TAG_TIMEOUT:
			if (read(s->timeout_fd, &v, sizeof(v)) > 0)
				read_more = true;
			break;
		case TAG_RECHECK:
			if (read(s->recheck_fd, &v, sizeof(v)) > 0)
				read_more = true;
			break;
		case TAG_DIRS:
			if (journal_dirs_changed(s))
				s->want_reopen = true;
			read_more = true;
			break;
		case TAG_JOURNAL:
			/* rotation, vacuum and a restarted journald come back as
			 * SD_JOURNAL_INVALIDATE: the files changed, the position
			 * holds, so reading on is all there is to do */
			sd_journal_process(s->j);
			read_more = true;
			break;
		}
	}
	if (read_more) {
		int more = journal_read_new(s);

		if (more > 0) {
			v = 1;
			if (write(s->kick_fd, &v, sizeof(v)) < 0)
				r = -errno;
		} else if (more < 0) {
			r = more;
		}
		/* A new active file (rotation, a restarted journald): the entries
		 * written just before the old one was archived may not show in
		 * the old handle, so every file is read once from the cursor,
		 * then the follower takes over again. And now and then the
		 * follower is reopened to unmap what it read. */
		if (more == 0 && s->want_reopen) {
			if (journal_reopen(s, true) == 0) {
				s->want_reopen = false;
				v = 1;
				if (write(s->kick_fd, &v, sizeof(v)) < 0)
					r = -errno;
			}
		} else if (more == 0 && !s->following) {
			journal_reopen(s, false);
		} else if (s->read_since_open >= JOURNAL_REOPEN_ENTRIES) {
			journal_reopen(s, !s->following);
		}
		journal_arm_timeout(s);
	}
	journal_send(s, env);
	return r;
}

/* The state is first set from the first tick: the hub does not exist while
 * collectors start. */
static int journal_sample(void *state, const struct collector_env *env,
			  const struct collector_tick *tick, cJSON **ret_payload)
{
	struct journal_state *s = state;

	*ret_payload = NULL;
	journal_flush_state(s, env);
	return 0;
}

static int journal_get_fd(void *state)
{
	return ((struct journal_state *)state)->epfd;
}

int journal_metrics_write(const uint64_t *seen, uint64_t dropped, bool followed, struct metrics *m)
{
	metrics_family(m, "sysfeed_log_entries_total", "counter",
		       "Journal entries seen that matched the log filters, per priority.");
	for (int i = 0; i < 8; i++)
		metrics_sample(m, "sysfeed_log_entries_total",
			       (const char *const[]){"priority", priority_names[i], NULL},
			       (double)seen[i]);
	metrics_family(m, "sysfeed_log_dropped_total", "counter",
		       "Journal entries that matched but were dropped by the rate limit.");
	metrics_sample(m, "sysfeed_log_dropped_total", NULL, (double)dropped);
	metrics_family(m, "sysfeed_log_followed", "gauge",
		       "1 while a stream client subscribes to log: the journal is then also "
		       "rechecked every 40 ms.");
	metrics_sample(m, "sysfeed_log_followed", NULL, followed);
	return metrics_error(m);
}

static int journal_metrics(void *state, struct metrics *m)
{
	const struct journal_state *s = state;

	return journal_metrics_write(s->seen, s->dropped_total, s->followed, m);
}

/* The fast recheck runs only while a stream client follows `log`. */
static void journal_follow(void *state, bool followed)
{
	struct journal_state *s = state;
	uint64_t ns = followed ? JOURNAL_RECHECK_MS * 1000000u : 0;

	s->followed = followed;
	journal_arm(s->recheck_fd, ns, ns, 0);
}

static void journal_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

static void journal_fini(void *state)
{
	struct journal_state *s = state;

	if (!s)
		return;
	sd_journal_close(s->j);
	journal_close(s->epfd);
	journal_close(s->batch_fd);
	journal_close(s->kick_fd);
	journal_close(s->timeout_fd);
	journal_close(s->recheck_fd);
	journal_close(s->dirs_fd);
	free(s->cursor);
	journal_raw_free(&s->raw);
	journal_rate_free(&s->rate);
	journal_batch_free(&s->batch);
	for (unsigned i = 0; i < s->backlog_cap; i++)
		free(s->backlog[i]);
	free(s->backlog);
	for (size_t i = 0; i < s->n_out; i++) {
		cJSON_Delete(s->out[i].payload);
		free(s->out[i].key);
	}
	free(s->out);
	free(s);
}

/* Fills the backlog with the newest matching entries (scanning back a
 * bounded number) and keeps the newest entry's cursor: following starts
 * after it. */
static int journal_load_backlog(struct journal_state *s)
{
	unsigned limit = s->backlog_cap * JOURNAL_SCAN_FACTOR, n = 0;
	char *newest = NULL, **found = NULL;
	size_t bytes = 0;
	int r;

	if (limit < JOURNAL_SCAN_MIN)
		limit = JOURNAL_SCAN_MIN;
	r = sd_journal_seek_tail(s->j);
	if (r < 0)
		goto out;
	if (s->backlog_cap && !(found = calloc(s->backlog_cap, sizeof(*found)))) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < limit; i++) {
		r = sd_journal_previous(s->j);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (i == 0 && (r = sd_journal_get_cursor(s->j, &newest)) < 0)
			goto out;
		if (n == s->backlog_cap || bytes > s->set->backlog_bytes)
			break;
		if (journal_read_raw(s) < 0 || !journal_raw_pass(&s->raw, s->set))
			continue;
		if (!(found[n] = journal_encode(s))) {
			r = -ENOMEM;
			goto out;
		}
		bytes += strlen(found[n++]);
	}
	while (n)
		journal_backlog_push(s, found[--n]);
	/* following starts after the newest entry seen (journal_reopen) */
	free(s->cursor);
	s->cursor = newest;
	newest = NULL;
	r = 0;
out:
	while (n)
		free(found[--n]);
	free(found);
	free(newest);
	return r;
}

static int journal_open(struct journal_state *s, const struct journal_settings *set, char *reason,
			size_t reason_len)
{
	int r;

	if (set->dir) {
		r = sd_journal_open_directory(&s->j, set->dir, 0);
		if (r < 0)
			snprintf(reason, reason_len, "journal-dir %s: %s", set->dir, strerror(-r));
		return r;
	}
	if (access(JOURNAL_RUNTIME_DIR, F_OK) < 0 && access(JOURNAL_PERSIST_DIR, F_OK) < 0) {
		snprintf(reason, reason_len,
			 "no journal on this host: neither " JOURNAL_RUNTIME_DIR
			 " nor " JOURNAL_PERSIST_DIR " exists");
		return -ENOENT;
	}
	r = sd_journal_open(&s->j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0)
		snprintf(reason, reason_len, "cannot open the journal: %s", strerror(-r));
	return r;
}

static int journal_epoll_add(int epfd, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = {.events = events, .data.u32 = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* The journal directories: the configured one, or the system's. */
static size_t journal_roots(const struct journal_state *s, const char **roots)
{
	if (s->set->dir) {
		roots[0] = s->set->dir;
		return 1;
	}
	roots[0] = JOURNAL_RUNTIME_DIR;
	roots[1] = JOURNAL_PERSIST_DIR;
	return 2;
}

/* Active files take new entries: "system.journal", "user-1000.journal";
 * archived ones carry an '@'. */
static bool journal_active_name(const char *name)
{
	size_t n = strlen(name);

	return n > 8 && strcmp(name + n - 8, ".journal") == 0 && !strchr(name, '@') &&
	       name[0] != '.';
}

/* Adds dir's active files to the NULL-terminated list; with `sub`, looks
 * one level down too (machine-id directories, not namespaces "<id>.ns"),
 * and watches what it looks at. */
static int journal_scan_dir(struct journal_state *s, const char *dir, bool sub, char ***list,
			    size_t *n)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (s->dirs_fd >= 0)
		inotify_add_watch(s->dirs_fd, dir,
				  IN_CREATE | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW);
	if (!(d = opendir(dir)))
		return 0;
	while ((de = readdir(d)) && r == 0) {
		if (de->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (journal_active_name(de->d_name)) {
			char **l = realloc(*list, (*n + 2) * sizeof(*l));

			if (!l || !(l[*n] = strdup(path))) {
				if (l)
					*list = l;
				r = -ENOMEM;
				break;
			}
			*list = l;
			l[++*n] = NULL;
		} else if (sub && de->d_type == DT_DIR && !strchr(de->d_name, '.')) {
			r = journal_scan_dir(s, path, false, list, n);
		}
	}
	closedir(d);
	return r;
}

static void journal_free_list(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

/* Whether the directories saw an active file appear (journald rotated or
 * restarted): then the follower is reopened. */
static bool journal_dirs_changed(struct journal_state *s)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	ssize_t len;

	while ((len = read(s->dirs_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)(void *)p;

			if (ev->mask & IN_Q_OVERFLOW ||
			    (ev->len && (journal_active_name(ev->name) || (ev->mask & IN_ISDIR))))
				changed = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return changed;
}

/* The follower: only the active files, so that the archived ones (dozens
 * on a long-lived host, each costing mapped pages) stay closed. */
static int journal_open_follow(struct journal_state *s)
{
	const char *roots[2];
	char **list = NULL;
	size_t n = 0, nroots = journal_roots(s, roots);
	int r = 0;

	if (!(list = calloc(1, sizeof(*list))))
		return -ENOMEM;
	for (size_t i = 0; i < nroots && r == 0; i++)
		r = journal_scan_dir(s, roots[i], true, &list, &n);
	if (r == 0)
		r = sd_journal_open_files(&s->j, (const char **)list, 0);
	journal_free_list(list);
	return r;
}

/* Reopens the journal after the entry last read: the follower (active
 * files), or with `all` every file; on failure the old handle stays. */
static int journal_reopen(struct journal_state *s, bool all)
{
	sd_journal *old = s->j;
	char reason[256];
	int r, fd, events;

	s->j = NULL;
	r = all ? journal_open(s, s->set, reason, sizeof(reason)) : journal_open_follow(s);
	if (r < 0)
		goto fail;
	sd_journal_set_data_threshold(s->j, JOURNAL_DATA_MAX);
	fd = sd_journal_get_fd(s->j);
	events = sd_journal_get_events(s->j);
	if (fd < 0 || events < 0) {
		r = fd < 0 ? fd : events;
		goto fail;
	}
	/* nothing read yet: what the active files hold is new; else the
	 * first next() lands on the cursor's entry (skipped, see
	 * journal_read_new) or, when it is not in these files, on the first
	 * entry after it */
	r = s->cursor ? sd_journal_seek_cursor(s->j, s->cursor) : sd_journal_seek_head(s->j);
	s->skip_cursor = s->cursor != NULL;
	if (r < 0 || (r = journal_epoll_add(s->epfd, fd, (uint32_t)events, TAG_JOURNAL)) < 0)
		goto fail;
	if (old)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->jfd, NULL);
	sd_journal_close(old);
	s->jfd = fd;
	s->read_since_open = 0;
	s->following = !all;
	return 0;
fail:
	sd_journal_close(s->j);
	s->j = old;
	return r;
}

static int journal_init(const struct collector_env *env, const void *settings, void **ret_state,
			char *reason, size_t reason_len)
{
	const struct journal_settings *set = settings;
	struct journal_state *s = calloc(1, sizeof(*s));
	unsigned batch_cap;
	int r, events;

	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	s->epfd = s->jfd = s->batch_fd = s->kick_fd = s->timeout_fd = s->recheck_fd = -1;
	s->dirs_fd = -1;
	s->set = set;
	journal_raw_reset(&s->raw);
	batch_cap = set->rate / (1000 / JOURNAL_BATCH_MS);
	if ((r = journal_rate_init(&s->rate, set->rate)) < 0 ||
	    (r = journal_batch_init(&s->batch, batch_cap ? batch_cap : 1)) < 0)
		goto out;
	s->backlog_cap = set->backlog;
	if (s->backlog_cap && !(s->backlog = calloc(s->backlog_cap, sizeof(*s->backlog)))) {
		r = -ENOMEM;
		goto out;
	}
	r = journal_open(s, set, reason, reason_len);
	if (r < 0)
		goto out;
	sd_journal_set_data_threshold(s->j, JOURNAL_DATA_MAX);
	s->jfd = sd_journal_get_fd(s->j);
	events = sd_journal_get_events(s->j);
	if (s->jfd < 0 || events < 0) {
		r = s->jfd < 0 ? s->jfd : events;
		snprintf(reason, reason_len, "cannot follow the journal: %s", strerror(-r));
		goto out;
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->batch_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->timeout_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->recheck_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	s->dirs_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->epfd < 0 || s->batch_fd < 0 || s->timeout_fd < 0 || s->kick_fd < 0 ||
	    s->recheck_fd < 0 || s->dirs_fd < 0 ||
	    (r = journal_epoll_add(s->epfd, s->dirs_fd, EPOLLIN, TAG_DIRS)) < 0 ||
	    (r = journal_epoll_add(s->epfd, s->jfd, (uint32_t)events, TAG_JOURNAL)) < 0 ||
	    (r = journal_epoll_add(s->epfd, s->batch_fd, EPOLLIN, TAG_BATCH)) < 0 ||
	    (r = journal_epoll_add(s->epfd, s->kick_fd, EPOLLIN, TAG_KICK)) < 0 ||
	    (r = journal_epoll_add(s->epfd, s->timeout_fd, EPOLLIN, TAG_TIMEOUT)) < 0 ||
	    (r = journal_epoll_add(s->epfd, s->recheck_fd, EPOLLIN, TAG_RECHECK)) < 0) {
		r = r < 0 ? r : -errno;
		snprintf(reason, reason_len, "cannot set up the journal's fds: %s", strerror(-r));
		goto out;
	}
	r = journal_load_backlog(s);
	if (r < 0) {
		snprintf(reason, reason_len, "cannot read the journal: %s", strerror(-r));
		goto out;
	}
	/* from now on only the active files (see journal_open_follow) */
	r = journal_reopen(s, false);
	if (r < 0) {
		snprintf(reason, reason_len, "cannot follow the journal: %s", strerror(-r));
		goto out;
	}
	journal_arm_timeout(s);
	s->state_t_ms = clock_real_ms();
	s->dirty = true;
	*ret_state = s;
	s = NULL;
out:
	journal_fini(s);
	return r;
}

#define JOFF(f) offsetof(struct journal_settings, f)

static const struct setting journal_keys[] = {
    SETTING("log-priority", SET_PRIO, JOFF(priority), 0, 7, "info"),
    SETTING("log-units", SET_LIST, JOFF(units), 0, LIST_MAX, NULL),
    SETTING("log-match", SET_STR, JOFF(match), 0, 0, NULL),
    SETTING("log-backlog", SET_UINT, JOFF(backlog), 0, 10000, "200", .restart = true),
    SETTING("log-backlog-bytes", SET_SIZE, JOFF(backlog_bytes), 0, 64ULL << 20, "256K"),
    SETTING("log-rate", SET_UINT, JOFF(rate), 1, 100000, "500", .restart = true),
    SETTING("log-max-bytes", SET_UINT, JOFF(max_bytes), 64, 65536, "4096"),
    SETTING("journal-dir", SET_STR, JOFF(dir), 0, 0, NULL, .restart = true),
    {0},
};

const struct collector journal_collector = {
    .name = "log",
    .settings = journal_keys,
    .settings_size = sizeof(struct journal_settings),
    .init = journal_init,
    .sample = journal_sample,
    .get_fd = journal_get_fd,
    .dispatch = journal_dispatch,
    .metrics = journal_metrics,
    .follow = journal_follow,
    .fini = journal_fini,
};
