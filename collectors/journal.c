/* The `log` topic's collector: entries from the reader published at once
 * under log-rate, batched every 100 ms beyond it, and kept as the backlog
 * that `snapshot` carries. */
#include "journal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "clock.h"
#include "journal_flood.h"
#include "journal_reader.h"
#include "metrics.h"

#define JOURNAL_READ_BUDGET 1000 /* entries per dispatch before yielding to the loop */
#define JOURNAL_READ_NS     4000000
/* journald tells readers about new entries at most every 250 ms (its
 * POST_CHANGE_TIMER_INTERVAL_USEC), too late for the 100 ms bound: while a
 * stream client subscribes to `log` (the follow hook), the journal is also
 * looked at every RECHECK_MS between its wake-ups, which costs one
 * sd_journal_next() (a look at each file's mmap'ed header) when idle.
 * Nobody following, the journal's own wake-ups do not reach the loop
 * either: it is read at each tick (the backlog `snapshot` carries is then
 * at most one interval old). */
#define JOURNAL_RECHECK_MS 40
/* sd-journal keeps the file windows it read mapped (their pages are given
 * back at each tick: journal_reader_release) and its buffers grown: after
 * this many entries the journal is reopened at the same cursor, which
 * unmaps and frees them (a flood would add ~20 MB otherwise). */
#define JOURNAL_REOPEN_ENTRIES 1024

enum { TAG_JOURNAL, TAG_BATCH, TAG_KICK, TAG_TIMEOUT, TAG_RECHECK, TAG_DIRS, TAG_SOURCES };

/* An event waiting for the end of the dispatch, after the state update. */
struct journal_out {
	cJSON *payload;
	int level;
	char *key;
};

struct journal_state {
	const struct collector_env *env;
	struct journal_reader rd;
	/* epfd: what the loop watches; src_epfd: the journal's fd and the
	 * directories' inotify, in epfd only while followed */
	int epfd, src_epfd, batch_fd, kick_fd, timeout_fd, recheck_fd;
	struct collector_watch src_watch; /* src_epfd in the daemon's poll */
	bool want_reopen;
	const struct journal_settings *set;
	struct journal_rate rate;
	struct journal_batch batch;
	bool batching;
	bool followed; /* a stream client subscribes: the recheck timer runs */

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

	if (ARRAY_GROW(s->out, s->cap_out, s->n_out, 64) < 0) {
		cJSON_Delete(payload);
		return -ENOMEM;
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
static int journal_arm(int fd, uint64_t first_ns, uint64_t every_ns, int flags)
{
	struct itimerspec its = {
	    .it_interval = {(time_t)(every_ns / 1000000000u), (long)(every_ns % 1000000000u)},
	    .it_value = {(time_t)(first_ns / 1000000000u), (long)(first_ns % 1000000000u)},
	};

	return timerfd_settime(fd, flags, &its, NULL) < 0 ? -errno : 0;
}

/* An entry the rate limit leaves out of the stream still goes to the alert
 * rules that look at its level (an OOM kill amid a flood). */
static void journal_hand_dropped(struct journal_state *s, cJSON *entry)
{
	cJSON *p = cJSON_CreateObject(), *arr = p ? cJSON_AddArrayToObject(p, "entries") : NULL;

	if (arr && entry) {
		cJSON_AddItemToArray(arr, entry);
		s->env->hand_dropped(s->env, p);
	} else {
		cJSON_Delete(entry);
	}
	cJSON_Delete(p);
}

static bool journal_wants_dropped(const struct journal_state *s, int level)
{
	return s->env->wants_dropped && s->env->hand_dropped &&
	       s->env->wants_dropped(s->env, level);
}

/* The batch's callback for an entry it had taken. */
static void journal_batch_dropped(void *ctx, char *json, int level)
{
	struct journal_state *s = ctx;

	if (journal_wants_dropped(s, level))
		journal_hand_dropped(s, cJSON_CreateRaw(json));
}

/* One entry that passed the filters: published now while under the rate,
 * else into the batch. */
static int journal_take(struct journal_state *s, uint64_t now_ms)
{
	int level = journal_raw_level(&s->rd.raw);
	const char *unit = journal_raw_unit(&s->rd.raw);
	char *json, *entries[1];
	cJSON *p;
	int r;

	if (!s->batching && journal_rate_room(&s->rate, now_ms) > 0) {
		if (!(json = journal_reader_encode(&s->rd)))
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
		/* the common case of a flood: the entry as an object, without
		 * its cursor (the rules do not read it), never printed */
		if (journal_wants_dropped(s, level)) {
			s->rd.raw.cursor[0] = '\0';
			journal_hand_dropped(s, journal_entry_json(&s->rd.raw, s->set->max_bytes));
		}
		return 0;
	}
	if (!(json = journal_reader_encode(&s->rd)))
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
	int r = 1;

	for (unsigned i = 0; i < JOURNAL_READ_BUDGET; i++) {
		bool pass;

		r = journal_reader_next(&s->rd, &pass);
		if (r <= 0)
			break;
		if (!pass)
			continue;
		s->seen[journal_raw_level(&s->rd.raw)]++;
		r = journal_take(s, clock_mono_ms());
		if (r < 0)
			break;
		r = 1;
		if ((i & 63) == 63 && clock_mono_ns() - start > JOURNAL_READ_NS)
			break;
	}
	journal_reader_keep_cursor(&s->rd);
	return r;
}

/* sd-journal may ask to be woken at a time (network file systems). */
static void journal_arm_timeout(struct journal_state *s)
{
	uint64_t usec = journal_reader_timeout(&s->rd);

	journal_arm(s->timeout_fd, usec * 1000u, 0, usec ? TFD_TIMER_ABSTIME : 0);
}

/* Looks at the journal's sources without waiting: the journal's fd (new
 * entries, rotation) and the directories (a new active file). Returns
 * whether there may be entries to read. */
static bool journal_sources(struct journal_state *s)
{
	struct epoll_event evs[2];
	bool more = false;
	int n = epoll_wait(s->src_epfd, evs, 2, 0);

	for (int i = 0; i < n; i++) {
		if (evs[i].data.u32 == TAG_DIRS) {
			if (journal_reader_dirs_changed(&s->rd))
				s->want_reopen = true;
		} else {
			journal_reader_process(&s->rd);
		}
		more = true;
	}
	return more;
}

/* The follower on the active files only, at the cursor. Not while a
 * rotation is pending or when one comes meanwhile: the file just archived
 * may hold entries after the cursor, which a handle on the new active file
 * alone would skip (a flood lost thousands so, reopened every
 * JOURNAL_REOPEN_ENTRIES); every file is read from the cursor instead. */
static void journal_follow_active(struct journal_state *s)
{
	if (journal_reader_dirs_changed(&s->rd))
		s->want_reopen = true;
	if (!s->want_reopen && journal_reader_reopen(&s->rd, false) == 0 &&
	    !journal_reader_dirs_changed(&s->rd))
		return;
	if (journal_reader_reopen(&s->rd, true) == 0)
		s->want_reopen = false;
}

/* Reads what is new, up to the budget (the kick eventfd brings the loop
 * back for the rest), and reopens the journal when it is due. */
static int journal_read(struct journal_state *s)
{
	int more = journal_read_new(s), r = 0;
	uint64_t v = 1;

	if (more > 0) {
		if (write(s->kick_fd, &v, sizeof(v)) < 0)
			r = -errno;
	} else if (more < 0) {
		r = more;
	}
	/* A new active file (rotation, a restarted journald): the entries
	 * written just before the old one was archived may not show in the
	 * old handle, so every file is read once from the cursor, then the
	 * follower takes over again. And now and then the follower is
	 * reopened to unmap what it read. */
	if (more == 0 && s->want_reopen) {
		if (journal_reader_reopen(&s->rd, true) == 0) {
			s->want_reopen = false;
			if (write(s->kick_fd, &v, sizeof(v)) < 0)
				r = -errno;
		}
	} else if (more == 0 && !s->rd.following) {
		journal_follow_active(s);
	} else if (s->rd.read_since_open >= JOURNAL_REOPEN_ENTRIES) {
		if (s->rd.following)
			journal_follow_active(s);
		else
			journal_reader_reopen(&s->rd, true);
	}
	journal_arm_timeout(s);
	return r;
}

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
		case TAG_SOURCES:
			journal_sources(s);
			read_more = true;
			break;
		}
	}
	if (read_more) {
		int rr = journal_read(s);

		r = r < 0 ? r : rr;
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
	int r = 0;

	*ret_payload = NULL;
	/* read at the tick's pace, when the daemon's poll found a source
	 * readable (without it, looked at every tick) */
	if (!s->followed && collector_watch_changed(&s->src_watch, env) && journal_sources(s))
		r = journal_read(s);
	journal_send(s, env);
	journal_reader_release(&s->rd);
	return r;
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
			       (const char *const[]){"priority", journal_priority_name(i), NULL},
			       (double)seen[i]);
	metrics_family(m, "sysfeed_log_dropped_total", "counter",
		       "Journal entries that matched but were dropped by the rate limit.");
	metrics_sample(m, "sysfeed_log_dropped_total", NULL, (double)dropped);
	metrics_family(m, "sysfeed_log_followed", "gauge",
		       "1 while a stream client subscribes to log or a config alert rule reads it: "
		       "the journal then wakes the daemon and is also rechecked every 40 ms; else "
		       "it is read at each tick.");
	metrics_sample(m, "sysfeed_log_followed", NULL, followed);
	return metrics_error(m);
}

static int journal_metrics(void *state, struct metrics *m)
{
	const struct journal_state *s = state;

	return journal_metrics_write(s->seen, s->dropped_total, s->followed, m);
}

/* While a stream client follows `log` (or an alert rule reads it), the
 * journal wakes the loop and is rechecked every RECHECK_MS; else it is
 * read at the tick. */
static void journal_follow(void *state, bool followed)
{
	struct journal_state *s = state;
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TAG_SOURCES};
	uint64_t ns = followed ? JOURNAL_RECHECK_MS * 1000000u : 0;

	if (followed == s->followed ||
	    epoll_ctl(s->epfd, followed ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->src_epfd, &ev) < 0)
		return;
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
	journal_reader_close(&s->rd);
	journal_close(s->epfd);
	journal_close(s->src_epfd);
	journal_close(s->batch_fd);
	journal_close(s->kick_fd);
	journal_close(s->timeout_fd);
	journal_close(s->recheck_fd);
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

static int journal_epoll_add(int epfd, int fd, uint32_t events, uint32_t tag)
{
	struct epoll_event ev = {.events = events, .data.u32 = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int journal_init(const struct collector_env *env, const void *settings, void **ret_state,
			char *reason, size_t reason_len)
{
	const struct journal_settings *set = settings;
	struct journal_state *s = calloc(1, sizeof(*s));
	unsigned batch_cap, n = 0;
	char **found = NULL;
	int r;

	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	s->epfd = s->src_epfd = s->batch_fd = s->kick_fd = s->timeout_fd = s->recheck_fd = -1;
	s->rd = (struct journal_reader){.jfd = -1, .epfd = -1, .dirs_fd = -1};
	s->env = env;
	s->set = set;
	batch_cap = set->rate / (1000 / JOURNAL_BATCH_MS);
	if ((r = journal_rate_init(&s->rate, set->rate)) < 0 ||
	    (r = journal_batch_init(&s->batch, batch_cap ? batch_cap : 1)) < 0)
		goto out;
	s->batch.on_drop = journal_batch_dropped;
	s->batch.ctx = s;
	s->backlog_cap = set->backlog;
	if (s->backlog_cap && !(s->backlog = calloc(s->backlog_cap, sizeof(*s->backlog)))) {
		r = -ENOMEM;
		goto out;
	}
	r = journal_reader_open(&s->rd, set, reason, reason_len);
	if (r < 0)
		goto out;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->src_epfd = epoll_create1(EPOLL_CLOEXEC);
	s->batch_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->timeout_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->recheck_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->kick_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (s->epfd < 0 || s->src_epfd < 0 || s->batch_fd < 0 || s->timeout_fd < 0 ||
	    s->kick_fd < 0 || s->recheck_fd < 0 ||
	    (r = journal_reader_watch(&s->rd, s->src_epfd, TAG_JOURNAL, TAG_DIRS)) < 0 ||
	    (r = journal_epoll_add(s->epfd, s->batch_fd, EPOLLIN, TAG_BATCH)) < 0 ||
	    (r = journal_epoll_add(s->epfd, s->kick_fd, EPOLLIN, TAG_KICK)) < 0 ||
	    (r = journal_epoll_add(s->epfd, s->timeout_fd, EPOLLIN, TAG_TIMEOUT)) < 0 ||
	    (r = journal_epoll_add(s->epfd, s->recheck_fd, EPOLLIN, TAG_RECHECK)) < 0) {
		r = r < 0 ? r : -errno;
		snprintf(reason, reason_len, "cannot set up the journal's fds: %s", strerror(-r));
		goto out;
	}
	r = journal_reader_tail(&s->rd, s->backlog_cap, &found, &n);
	if (r < 0) {
		snprintf(reason, reason_len, "cannot read the journal: %s", strerror(-r));
		goto out;
	}
	while (n)
		journal_backlog_push(s, found[--n]);
	/* from now on only the active files */
	r = journal_reader_reopen(&s->rd, false);
	if (r < 0) {
		snprintf(reason, reason_len, "cannot follow the journal: %s", strerror(-r));
		goto out;
	}
	journal_arm_timeout(s);
	collector_watch_fd(&s->src_watch, env, s->src_epfd);
	s->state_t_ms = clock_real_ms();
	s->dirty = true;
	*ret_state = s;
	s = NULL;
out:
	free(found);
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
