/* The history store's writer thread: tick records gathered into rows,
 * minutes closed, one transaction per flush period (tier-0 rows, minute
 * rows, hours closed, events, merges, the bound), and every fault turned
 * into a state with its reason and a way back. */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "log.h"
#include "store_impl.h"

#define SEG_MAX        1024 /* tier-0 rows kept while they cannot be written */
#define PEND1_MAX      1440 /* minute rows kept so */
#define EV_MAX         4096 /* events kept so */
#define EV_KEYS_MINUTE 64   /* distinct keys of one kind in a minute; more count as "*" */
#define HOURS_BACK     (48 * STORE_HOUR_MS) /* hours closed at once at most */

static int64_t floor_to(int64_t t, int64_t step)
{
	int64_t b = t / step * step;

	return b > t ? b - step : b;
}

/* Keeps the newest `max` rows of c; returns how many went. */
static size_t keep_newest(struct store_chunk *c, size_t max)
{
	struct store_chunk tail;
	size_t drop;

	if (c->n <= max)
		return 0;
	drop = c->n - max;
	store_chunk_init(&tail);
	if (store_chunk_append_rows(&tail, c, drop, c->n) < 0) {
		store_chunk_done(&tail);
		drop = c->n;
		store_chunk_done(c);
		return drop;
	}
	store_chunk_done(c);
	*c = tail;
	return drop;
}

/* Drops c's rows up to time t. */
static void drop_until(struct store_chunk *c, int64_t t)
{
	size_t k = 0;

	while (k < c->n && c->t[k] <= t)
		k++;
	keep_newest(c, c->n - k);
}

/* What waits in memory stays bounded while nothing can be written. */
static void cap_pending(struct store *s)
{
	struct store_writer *w = &s->w;
	size_t gone = keep_newest(&w->seg, SEG_MAX);

	keep_newest(&w->pend1, PEND1_MAX);
	if (w->n_ev > EV_MAX) {
		size_t drop = w->n_ev - EV_MAX;

		for (size_t i = 0; i < drop; i++)
			store_ev_done(&w->ev[i]);
		memmove(w->ev, w->ev + drop, EV_MAX * sizeof(*w->ev));
		w->n_ev = EV_MAX;
	}
	if (gone)
		__atomic_add_fetch(&s->dropped, gone, __ATOMIC_RELAXED);
}

static void close_db(struct store_writer *w)
{
	store_db_close(w->db);
	w->db = NULL;
	if (w->lock_fd >= 0)
		close(w->lock_fd);
	w->lock_fd = -1;
}

/* A damaged file of ours goes aside as history.db.corrupt (with its WAL)
 * and the next open starts a new one; readers drop their connections. */
static void move_aside(struct store *s, const char *why)
{
	char to[4096], from[4096];

	snprintf(to, sizeof(to), "%s.corrupt", s->path);
	if (rename(s->path, to) < 0) {
		log_warn("history: %s: %s; cannot move it aside", s->path, why);
		return;
	}
	snprintf(from, sizeof(from), "%s-wal", s->path);
	snprintf(to, sizeof(to), "%s.corrupt-wal", s->path);
	if (rename(from, to) < 0 && errno != ENOENT)
		unlink(from);
	snprintf(from, sizeof(from), "%s-shm", s->path);
	unlink(from);
	log_warnx("history: %s: %s; moved to %s.corrupt, starting a new file", s->path, why,
		  s->path);
	pthread_mutex_lock(&s->lock);
	s->file_gen++;
	pthread_mutex_unlock(&s->lock);
}

/* The state and reason of a failed open or transaction. */
static void fault(struct store *s, int r, const char *what, const char *why)
{
	__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
	if (r == -ENOSPC)
		store_set_state(s, STORE_FULL,
				"paused: the disk of %s is full; rows wait in memory until there "
				"is room",
				s->opt.dir);
	else if (r == -EMEDIUMTYPE)
		store_set_state(s, STORE_OFF, "off: %s: %s; move it away to start a new one",
				s->path, why);
	else if (r == -EBUSY)
		store_set_state(s, STORE_OFF, "off: %s is used by another process", s->path);
	else if (r == -ELIBACC)
		store_set_state(s, STORE_OFF, "off: %s", why);
	else
		store_set_state(s, STORE_FAILED, "off: %s: %s: %s; trying again", what, s->path,
				why);
}

void store_writer_open(struct store *s)
{
	struct store_writer *w = &s->w;
	char lock[4096], why[200] = "";
	int64_t oldest = 0, newest = 0;
	int r;

	if (w->db)
		return;
	if (mkdir(s->opt.dir, 0750) < 0 && errno != EEXIST) {
		r = -errno;
		__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
		store_set_state(s, STORE_FAILED, "off: state-dir %s: %s; trying again", s->opt.dir,
				strerror(-r));
		return;
	}
	snprintf(lock, sizeof(lock), "%s/history.lock", s->opt.dir);
	w->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (w->lock_fd < 0) {
		__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
		store_set_state(s, errno == ENOSPC ? STORE_FULL : STORE_FAILED,
				"off: state-dir %s: %s; trying again", s->opt.dir, strerror(errno));
		return;
	}
	if (flock(w->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		close_db(w);
		fault(s, -EBUSY, "open", "locked");
		return;
	}
	r = store_db_open(s->path, true, &w->db, why, sizeof(why));
	if (r == -EUCLEAN) {
		move_aside(s, why);
		r = store_db_open(s->path, true, &w->db, why, sizeof(why));
	}
	if (r == 0)
		r = store_db_span(w->db, 0, &oldest, &newest);
	if (r < 0) {
		close_db(w);
		fault(s, r, "open", why[0] ? why : strerror(-r));
		return;
	}
	/* rows not newer than the file's newest (the clock went back while it
	 * was closed) are not written */
	drop_until(&w->seg, newest);
	drop_until(&w->mins, newest);
	if (newest > w->last_t)
		w->last_t = newest;
	store_set_state(s, STORE_ON, NULL);
}

void store_writer_done(struct store *s)
{
	struct store_writer *w = &s->w;

	close_db(w);
	store_chunk_done(&w->seg);
	store_chunk_done(&w->mins);
	store_chunk_done(&w->pend1);
	for (size_t i = 0; i < w->n_ev; i++)
		store_ev_done(&w->ev[i]);
	free(w->ev);
}

/* Adds an event to the pending ones, counted into an earlier one of the
 * same minute, kind and key (or into "*" past EV_KEYS_MINUTE keys). */
static void add_event(struct store_writer *w, struct store_ev *e)
{
	int64_t minute = floor_to(e->t, STORE_MINUTE_MS);
	size_t same_kind = 0;

	for (size_t i = w->n_ev; i-- > 0 && floor_to(w->ev[i].t, STORE_MINUTE_MS) == minute;) {
		struct store_ev *o = &w->ev[i];

		if (o->kind != e->kind)
			continue;
		same_kind++;
		if (strcmp(o->key, e->key) == 0 ||
		    (same_kind >= EV_KEYS_MINUTE && strcmp(o->key, "*") == 0)) {
			o->count += e->count;
			store_ev_done(e);
			return;
		}
	}
	if (same_kind >= EV_KEYS_MINUTE) {
		free(e->key);
		free(e->detail);
		e->detail = NULL;
		if (!(e->key = strdup("*"))) {
			store_ev_done(e);
			return;
		}
	}
	if (ARRAY_GROW(w->ev, w->cap_ev, w->n_ev, 16) < 0) {
		store_ev_done(e);
		return;
	}
	w->ev[w->n_ev++] = *e;
}

void store_writer_take(struct store *s, struct store_rec *r)
{
	struct store_writer *w = &s->w;
	int64_t flush_ms = (int64_t)s->opt.flush_s * 1000;

	if (r->row.n) {
		int64_t t = r->row.t[0];
		bool on = store_get_state(s) == STORE_ON;

		if (t <= w->last_t) {
			time_t back = (time_t)(w->last_t / 1000);
			struct tm tm;
			char when[32] = "";

			gmtime_r(&back, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			if (w->db)
				store_set_state(s, STORE_CLOCK,
						"paused: the clock is behind the newest stored row "
						"(%s); history resumes then",
						when);
			__atomic_add_fetch(&s->dropped, 1, __ATOMIC_RELAXED);
		} else {
			int64_t p = floor_to(t, flush_ms);

			if (w->db && !on)
				store_set_state(s, STORE_ON, NULL); /* the clock caught up */
			if (w->seg.n && p != w->flush_p) {
				w->last_t = t; /* minutes before t's are closed */
				store_writer_flush(s, false);
			}
			w->flush_p = p;
			w->last_t = t;
			if (store_chunk_append(&w->seg, &r->row) < 0 ||
			    store_chunk_append(&w->mins, &r->row) < 0)
				__atomic_add_fetch(&s->dropped, 1, __ATOMIC_RELAXED);
		}
	}
	for (size_t i = 0; i < r->n_ev; i++)
		add_event(w, &r->ev[i]);
	r->n_ev = 0;
	store_rec_free(r);
}

/* The minute rows of the tier-0 rows before `cut` (all when final). */
static int close_minutes(struct store_writer *w, int64_t cut)
{
	struct store_chunk done, rest;
	size_t k = 0;
	int r;

	while (k < w->mins.n && w->mins.t[k] < cut)
		k++;
	if (!k)
		return 0;
	store_chunk_init(&done);
	store_chunk_init(&rest);
	if ((r = store_chunk_append_rows(&rest, &w->mins, 0, k)) == 0 &&
	    (r = store_consolidate(&rest, STORE_MINUTE_MS, &done)) == 0 &&
	    (r = store_chunk_append(&w->pend1, &done)) == 0) {
		store_chunk_done(&rest);
		if ((r = store_chunk_append_rows(&rest, &w->mins, k, w->mins.n)) == 0) {
			store_chunk_done(&w->mins);
			w->mins = rest;
			store_chunk_init(&rest);
		}
	}
	store_chunk_done(&done);
	store_chunk_done(&rest);
	return r;
}

/* Hour rows for the hours closed since the last ones: from the minute rows
 * in the file (this transaction's too). */
static int close_hours(struct store *s, sqlite3 *db)
{
	struct store_chunk mins, hours;
	int64_t done, oldest, newest, end;
	size_t a = 0, b;
	int r;

	if ((r = store_db_meta(db, "hour_done", &done)) < 0 ||
	    (r = store_db_span(db, 1, &oldest, &newest)) < 0 || !newest)
		return r;
	end = floor_to(newest, STORE_HOUR_MS);
	if (!done)
		done = floor_to(oldest, STORE_HOUR_MS);
	if (end - done > HOURS_BACK)
		done = end - HOURS_BACK;
	if (end <= done)
		return 0;
	store_chunk_init(&mins);
	store_chunk_init(&hours);
	if ((r = store_db_read(db, 1, done, end - 1, &mins)) < 0)
		goto out;
	while (a < mins.n && mins.t[a] < done)
		a++;
	for (b = a; b < mins.n && mins.t[b] < end; b++)
		;
	if (b > a) {
		struct store_chunk part;

		store_chunk_init(&part);
		if ((r = store_chunk_append_rows(&part, &mins, a, b)) == 0 &&
		    (r = store_consolidate(&part, STORE_HOUR_MS, &hours)) == 0 &&
		    (r = store_db_put(db, 2, &hours, s->opt.rel)) == 0)
			__atomic_add_fetch(&s->rows[2], hours.n, __ATOMIC_RELAXED);
		store_chunk_done(&part);
	}
	if (r == 0)
		r = store_db_set_meta(db, "hour_done", end);
out:
	store_chunk_done(&mins);
	store_chunk_done(&hours);
	return r;
}

/* One transaction: everything pending. */
static int write_all(struct store *s, uint64_t *ret_bytes, uint64_t *ret_evicted)
{
	struct store_writer *w = &s->w;
	int r;

	if ((r = store_db_exec(w->db, "BEGIN IMMEDIATE")) < 0)
		return r;
	if ((w->seg.n && (r = store_db_put(w->db, 0, &w->seg, s->opt.rel)) < 0) ||
	    (w->pend1.n && (r = store_db_put(w->db, 1, &w->pend1, s->opt.rel)) < 0) ||
	    (w->n_ev && (r = store_db_events_put(w->db, w->ev, w->n_ev)) < 0) ||
	    (r = close_hours(s, w->db)) < 0)
		goto fail;
	for (int t = 0; t < STORE_TIERS; t++)
		if ((r = store_db_compact(w->db, t, w->last_t, s->opt.rel)) < 0)
			goto fail;
	if ((r = store_db_evict(w->db, s->opt.max_bytes, ret_bytes, ret_evicted)) < 0 ||
	    (r = store_db_exec(w->db, "COMMIT")) < 0)
		goto fail;
	return 0;
fail:
	store_db_exec(w->db, "ROLLBACK");
	return r;
}

void store_writer_flush(struct store *s, bool final)
{
	struct store_writer *w = &s->w;
	uint64_t bytes = 0, evicted = 0;
	int r;

	if (close_minutes(w, final ? INT64_MAX : floor_to(w->last_t, STORE_MINUTE_MS)) < 0)
		__atomic_add_fetch(&s->errors, 1, __ATOMIC_RELAXED);
	if (!w->seg.n && !w->pend1.n && !w->n_ev)
		return;
	if (!w->db) {
		/* one try per flush period (and at the end) */
		if (w->tried_p == w->flush_p && !final) {
			cap_pending(s);
			return;
		}
		w->tried_p = w->flush_p;
		store_writer_open(s);
		if (!w->db) {
			cap_pending(s);
			return;
		}
	}
	r = write_all(s, &bytes, &evicted);
	if (r < 0) {
		fault(s, r, "write", r == -ENOSPC ? "disk full" : store_sql.errmsg(w->db));
		if (r == -EUCLEAN) {
			close_db(w);
			move_aside(s, "damaged");
		} else if (r != -ENOSPC && r != -EBUSY) {
			close_db(w);
		}
		w->tried_p = w->flush_p;
		cap_pending(s);
		return;
	}
	__atomic_add_fetch(&s->rows[0], w->seg.n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->rows[1], w->pend1.n, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->events, w->n_ev, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->commits, 1, __ATOMIC_RELAXED);
	__atomic_add_fetch(&s->evicted, evicted, __ATOMIC_RELAXED);
	__atomic_store_n(&s->bytes, bytes, __ATOMIC_RELAXED);
	store_chunk_done(&w->seg);
	store_chunk_done(&w->pend1);
	for (size_t i = 0; i < w->n_ev; i++)
		store_ev_done(&w->ev[i]);
	w->n_ev = 0;
	/* The WAL into the file every second flush (and at the end): the
	 * first commit after a checkpoint syncs the WAL's header, a checkpoint
	 * syncs the WAL and the file: 1, then 2 fsyncs a flush. A kill loses
	 * nothing committed; a power cut, the commits since the checkpoint. */
	if (++w->uncheckpointed >= 2 || final) {
		store_sql.wal_checkpoint_v2(w->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
		w->uncheckpointed = 0;
	}
	/* the page cache, and what merges took, go back until the next flush */
	store_sql.db_release_memory(w->db);
	malloc_trim(0);
	if (store_get_state(s) != STORE_CLOCK)
		store_set_state(s, STORE_ON, NULL);
}
