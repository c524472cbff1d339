/* The history store's frame: the queue from the loop thread to the writer
 * thread, the status every thread reads, the readers' connections and the
 * counters. See store.h. */
#include "store.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "metrics.h"
#include "store_impl.h"

#define QUEUE_MAX 600 /* tick records waiting for the writer */
/* The writer is woken by the first record of a new flush period (which
 * makes it commit the last) or when this many wait: not at every tick, as
 * what it takes between two commits shows nowhere before the commit. */
#define WAKE_BATCH 30

#define LOAD(x) __atomic_load_n(&(x), __ATOMIC_RELAXED)

void store_set_state(struct store *s, enum store_state st, const char *fmt, ...)
{
	char reason[STORE_REASON_LEN] = "";
	enum store_state was;
	va_list ap;

	if (fmt) {
		va_start(ap, fmt);
		vsnprintf(reason, sizeof(reason), fmt, ap);
		va_end(ap);
	}
	pthread_mutex_lock(&s->lock);
	was = s->state;
	if (st != s->state || strcmp(reason, s->reason) != 0) {
		s->state = st;
		snprintf(s->reason, sizeof(s->reason), "%s", reason);
		s->gen++;
	}
	pthread_mutex_unlock(&s->lock);
	/* the log hears of each change of state once, not of each retry */
	if (st == was)
		return;
	if (st == STORE_ON)
		log_info("history: writing to %s", s->path);
	else
		log_warnx("history: %s", reason);
}

enum store_state store_get_state(struct store *s)
{
	enum store_state st;

	pthread_mutex_lock(&s->lock);
	st = s->state;
	pthread_mutex_unlock(&s->lock);
	return st;
}

unsigned store_status(struct store *s, bool *ret_on, char *reason, size_t len)
{
	unsigned gen;

	pthread_mutex_lock(&s->lock);
	*ret_on = s->state == STORE_ON || s->state == STORE_STARTING;
	if (len)
		snprintf(reason, len, "%s", s->reason);
	gen = s->gen;
	pthread_mutex_unlock(&s->lock);
	return gen;
}

static void *writer_main(void *arg)
{
	struct store *s = arg;
	struct timespec t0, t1;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t0);
	store_writer_open(s);
	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct store_rec *list;

		while (!s->head && !s->stop)
			pthread_cond_wait(&s->wake, &s->lock);
		if (!s->head && s->stop)
			break;
		list = s->head;
		s->head = s->tail = NULL;
		s->queued = 0;
		pthread_cond_broadcast(&s->room);
		pthread_mutex_unlock(&s->lock);
		while (list) {
			struct store_rec *next = list->next;

			store_writer_take(s, list);
			list = next;
		}
		clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t1);
		__atomic_store_n(
		    &s->cpu_ns,
		    (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec)),
		    __ATOMIC_RELAXED);
		pthread_mutex_lock(&s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	store_writer_flush(s, true);
	store_writer_done(s);
	return NULL;
}

/* The state directory with symlinks resolved (malloc'd; NULL: out of
 * memory): SQLite opens the file with SQLITE_OPEN_NOFOLLOW, which refuses
 * a symlink anywhere in the path, and systemd's StateDirectory= under
 * DynamicUser= is one (/var/lib/sysfeed -> private/sysfeed). A directory
 * not there yet (made by the writer) is resolved through its parent. */
static char *real_dir(const char *dir)
{
	char *r = realpath(dir, NULL), *parent, *slash, *out = NULL;

	if (r || errno != ENOENT)
		return r ? r : strdup(dir);
	if (!(parent = strdup(dir)))
		return NULL;
	slash = strrchr(parent, '/');
	if (slash && slash != parent) {
		*slash = '\0';
		if ((r = realpath(parent, NULL)) && asprintf(&out, "%s/%s", r, slash + 1) < 0)
			out = NULL;
		free(r);
	}
	free(parent);
	return out ? out : strdup(dir);
}

struct store *store_open(const struct store_options *opt)
{
	struct store *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->opt = *opt;
	s->opt.dir = NULL;
	s->w.lock_fd = -1;
	store_chunk_init(&s->w.seg);
	store_chunk_init(&s->w.mins);
	store_chunk_init(&s->w.pend1);
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->pool_lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->room, NULL);
	if (!opt->dir || !opt->dir[0]) {
		s->state = STORE_OFF;
		snprintf(
		    s->reason, sizeof(s->reason),
		    "off: no state-dir (set state-dir or --state-dir to keep history on disk)");
		return s;
	}
	if (!(s->opt.dir = real_dir(opt->dir)) ||
	    asprintf(&s->path, "%s/%s", s->opt.dir, STORE_FILE) < 0) {
		s->path = NULL;
		store_close(s);
		return NULL;
	}
	s->state = STORE_STARTING;
	if (pthread_create(&s->thread, NULL, writer_main, s) != 0) {
		s->state = STORE_OFF;
		snprintf(s->reason, sizeof(s->reason), "off: cannot start the writer thread");
		return s;
	}
	s->started = true;
	return s;
}

void store_close(struct store *s)
{
	struct store_rec *r;

	if (!s)
		return;
	if (s->started) {
		pthread_mutex_lock(&s->lock);
		s->stop = true;
		pthread_cond_signal(&s->wake);
		pthread_cond_broadcast(&s->room);
		pthread_mutex_unlock(&s->lock);
		pthread_join(s->thread, NULL);
	}
	while ((r = s->head)) {
		s->head = r->next;
		store_rec_free(r);
	}
	for (size_t i = 0; i < s->n_pool; i++)
		store_db_close(s->pool[i]);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->pool_lock);
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->room);
	free(s->shape.put);
	free((char *)s->opt.dir);
	free(s->path);
	free(s);
}

bool store_enabled(const struct store *s)
{
	return s->started;
}

static void push(struct store *s, struct store_rec *r, bool wait)
{
	bool taken = false, wake = false;

	if (!r)
		return;
	if (s && s->started) {
		int64_t flush_ms = (int64_t)s->opt.flush_s * 1000;
		int64_t p = r->row.n && flush_ms > 0 ? r->row.t[0] / flush_ms : s->push_period;

		pthread_mutex_lock(&s->lock);
		while (wait && s->queued >= QUEUE_MAX && !s->stop)
			pthread_cond_wait(&s->room, &s->lock);
		if (s->queued < QUEUE_MAX && !s->stop) {
			r->next = NULL;
			if (s->tail)
				s->tail->next = r;
			else
				s->head = r;
			s->tail = r;
			s->queued++;
			taken = true;
			wake = wait || p != s->push_period || s->queued == WAKE_BATCH;
			s->push_period = p;
			s->wakes += wake;
		}
		pthread_mutex_unlock(&s->lock);
		if (wake)
			pthread_cond_signal(&s->wake);
		if (!taken)
			__atomic_add_fetch(&s->dropped, 1, __ATOMIC_RELAXED);
	}
	if (!taken)
		store_rec_free(r);
}

void store_push(struct store *s, struct store_rec *r)
{
	push(s, r, false);
}

void store_push_wait(struct store *s, struct store_rec *r)
{
	push(s, r, true);
}

int store_reader_get(struct store *s, sqlite3 **ret, unsigned *ret_gen, char *why, size_t len)
{
	unsigned gen;

	pthread_mutex_lock(&s->lock);
	gen = s->file_gen;
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_lock(&s->pool_lock);
	while (s->n_pool) {
		sqlite3 *db = s->pool[--s->n_pool];

		if (s->pool_gen[s->n_pool] == gen) {
			pthread_mutex_unlock(&s->pool_lock);
			*ret = db;
			*ret_gen = gen;
			return 0;
		}
		store_db_close(db); /* a file since replaced */
	}
	pthread_mutex_unlock(&s->pool_lock);
	*ret_gen = gen;
	return store_db_open(s->path, false, ret, why, len);
}

void store_reader_put(struct store *s, sqlite3 *db, unsigned gen, bool ok)
{
	if (ok)
		store_sql.db_release_memory(db); /* its page cache, until the next query */
	pthread_mutex_lock(&s->pool_lock);
	if (ok && s->n_pool < STORE_READERS) {
		s->pool_gen[s->n_pool] = gen;
		s->pool[s->n_pool++] = db;
		db = NULL;
	}
	pthread_mutex_unlock(&s->pool_lock);
	store_db_close(db);
}

void store_get_stats(struct store *s, struct store_stats *ret)
{
	store_status(s, &ret->up, NULL, 0);
	for (int t = 0; t < STORE_TIERS; t++)
		ret->rows[t] = LOAD(s->rows[t]);
	ret->events = LOAD(s->events);
	ret->commits = LOAD(s->commits);
	ret->errors = LOAD(s->errors);
	ret->dropped = LOAD(s->dropped);
	ret->evicted = LOAD(s->evicted);
	ret->bytes = LOAD(s->bytes);
	ret->cpu_ns = LOAD(s->cpu_ns);
	ret->queries = LOAD(s->queries);
}
