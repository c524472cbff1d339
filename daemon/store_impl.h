/* What the history store's files share: the tick record, the events, the
 * tiers. Not for other modules. */
#ifndef SYSFEED_STORE_IMPL_H
#define SYSFEED_STORE_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <sqlite3.h>

#include "store.h"
#include "store_chunk.h"

#define STORE_TIERS      3
#define STORE_MINUTE_MS  60000LL
#define STORE_HOUR_MS    3600000LL
#define STORE_EV_PER_REC 256 /* events a tick's record holds; more are counted */
#define STORE_EV_TEXT    200 /* bytes of an event's detail */

/* An event of the timeline: a unit that failed, journal entries at err or
 * worse of one unit (counted), a file change. */
struct store_ev {
	int64_t t;
	const char *kind; /* "unit_failed", "log_err", "file": static */
	char *key;        /* the unit, the path */
	char *detail;     /* the result, the first message, the action; or NULL */
	unsigned count;
};

/* A column a record's payloads gave a value, in the order they came. */
struct store_put {
	char name[STORE_BASE_MAX];
	uint8_t len;
	uint16_t col; /* its index in the row */
	uint32_t hash;
};

/* The puts of the last record built for a store, which the next one
 * follows as long as its own are the same (see store_flat.c); for the
 * loop thread, which builds the records. */
struct store_shape {
	struct store_put *put;
	size_t n, cap;
	const struct store_rec *owner; /* the one record that follows it */
};

struct store_rec {
	struct store_rec *next;
	struct store_chunk row; /* the tick's row (none before a payload) */
	struct store_ev *ev;
	size_t n_ev, cap_ev;
	unsigned ev_dropped;
	struct store_shape *shape; /* or NULL: every column searched */
	size_t at;                 /* puts so far */
};

void store_ev_done(struct store_ev *e);

/* Why history is not working, for the log (once per change of kind). */
enum store_state {
	STORE_STARTING, /* the writer has not opened the file yet: counts as on */
	STORE_ON,
	STORE_OFF,    /* no directory, no access, not our file, another process */
	STORE_FULL,   /* paused: the disk is full */
	STORE_CLOCK,  /* paused: the clock is behind the newest stored row */
	STORE_FAILED, /* off after an error; tried again at the next flush */
};

#define STORE_READERS 4

/* The writer thread's own: never touched by another. */
struct store_writer {
	sqlite3 *db;
	int lock_fd;
	int64_t last_t;           /* the newest tier-0 row stored or taken */
	int64_t flush_p;          /* the flush period of the rows in seg */
	int64_t tried_p;          /* the flush period of the last failed open */
	unsigned uncheckpointed;  /* commits since the last checkpoint */
	struct store_chunk seg;   /* tier-0 rows not yet written */
	struct store_chunk mins;  /* tier-0 rows of the minutes not yet closed */
	struct store_chunk pend1; /* minute rows not yet written */
	struct store_ev *ev;      /* events not yet written */
	size_t n_ev, cap_ev;
};

struct store {
	struct store_options opt; /* strings copied */
	char *path;               /* DIR/history.db, or NULL */
	pthread_t thread;
	bool started;

	pthread_mutex_t lock; /* the queue, the status */
	pthread_cond_t wake;  /* the writer: records are queued */
	pthread_cond_t room;  /* store_push_wait: the queue was emptied */
	struct store_rec *head, *tail;
	size_t queued;
	int64_t push_period; /* the flush period of the last record queued */
	unsigned wakes;      /* signals to the writer for queued records */
	bool stop;
	enum store_state state;
	char reason[STORE_REASON_LEN];
	unsigned gen;      /* changes with the status */
	unsigned file_gen; /* changes when the file is replaced */

	pthread_mutex_t pool_lock; /* the readers' connections */
	sqlite3 *pool[STORE_READERS];
	unsigned pool_gen[STORE_READERS];
	size_t n_pool;

	struct store_writer w;
	struct store_shape shape; /* the loop thread's */

	/* counters (atomics) */
	uint64_t rows[STORE_TIERS], events, commits, errors, dropped, evicted, bytes, cpu_ns,
	    queries;
};

/* Writer thread: takes one queued record; flushes when its rows start a
 * new flush period. */
void store_writer_take(struct store *s, struct store_rec *r);
/* Writer thread: writes what is pending; `final` also closes the minute
 * in progress (at stop). */
void store_writer_flush(struct store *s, bool final);
/* Writer thread: opens the file (at start and after failures). */
void store_writer_open(struct store *s);
void store_writer_done(struct store *s);
/* Sets the status (any thread): logged once per change of state. */
void store_set_state(struct store *s, enum store_state st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

enum store_state store_get_state(struct store *s);

/* A read-only connection for an HTTP thread (from the pool or new), and
 * back; ok false closes it. */
int store_reader_get(struct store *s, sqlite3 **ret, unsigned *ret_gen, char *why, size_t len);
void store_reader_put(struct store *s, sqlite3 *db, unsigned gen, bool ok);

/* Consolidates src's rows (ascending t) into dst (empty) in buckets of
 * step ms on multiples of step: per column the average (weighted by the
 * rows' "#n", 1 where src has none), the min and max ("NAME:min" and
 * "NAME:max" when src has them, else the values), "#n" the sum; per top
 * list the entries' CPU and memory averaged over the bucket's rows (absent
 * counts as 0), the best STORE_TOP_N kept. A bool column keeps its last
 * value, a key column its presence. 0 or -ENOMEM. */
int store_consolidate(const struct store_chunk *src, int64_t step, struct store_chunk *dst);

/* Sorts a chunk's rows by time (a stable sort: equal times keep their
 * order). 0 or -ENOMEM. */
int store_chunk_sort(struct store_chunk *c);

/* --- the file (store_db.c); functions return 0 or -errno: -ENOSPC a
 * full disk, -EROFS/-EACCES no write access, -EUCLEAN a damaged file of
 * ours, -EMEDIUMTYPE a file that is not ours, -EBUSY another process's,
 * -ELIBACC no libsqlite3 --- */

/* libsqlite3 is loaded with dlopen() by the first store_db_open(): a
 * daemon without a state-dir never maps it. Its entry points the store
 * uses, called as store_sql.NAME for sqlite3_NAME; valid once a
 * connection is open. */
/* clang-format off */
#define STORE_SQL_FNS(X)                                                        \
	X(open_v2) X(close) X(errmsg) X(system_errno) X(extended_result_codes)  \
	X(busy_timeout) X(exec) X(prepare_v2) X(step) X(reset) X(finalize)      \
	X(bind_blob) X(bind_int) X(bind_int64) X(bind_null) X(bind_text)        \
	X(column_blob) X(column_bytes) X(column_int64) X(column_text)           \
	X(db_release_memory) X(wal_checkpoint_v2)
/* clang-format on */

extern struct store_sql {
#define STORE_SQL_FN(name) __typeof__(sqlite3_##name) *name;
	STORE_SQL_FNS(STORE_SQL_FN)
#undef STORE_SQL_FN
} store_sql;

/* The time span one chunk of a tier may cover, and a tier's resolution
 * (0: the sampling interval). */
extern const int64_t store_period_ms[STORE_TIERS];
extern const int64_t store_step_ms[STORE_TIERS];

/* Opens the file for writing (made with its schema when new) or, rw
 * false, for reading; why gets a one-line reason on failure. */
int store_db_open(const char *path, bool rw, sqlite3 **ret, char *why, size_t len);
void store_db_close(sqlite3 *db);
/* -errno of the connection's last error. */
int store_db_errno(sqlite3 *db, int rc);
int store_db_exec(sqlite3 *db, const char *sql);
/* Writes a chunk's rows into a tier, one chunk per period they touch. */
int store_db_put(sqlite3 *db, int tier, const struct store_chunk *c, unsigned rel);
/* Appends the rows of the tier's chunks that overlap [from, to] to out
 * (then sorted by time; rows outside are kept too). */
int store_db_read(sqlite3 *db, int tier, int64_t from, int64_t to, struct store_chunk *out);
/* Merges the tier's chunks of every closed period (before `now`), and of
 * the open one when it has many, into one chunk per period; rows of
 * equal time in a consolidated tier become one. */
int store_db_compact(sqlite3 *db, int tier, int64_t now, unsigned rel);
/* The tier's oldest row time and newest; both 0 when it is empty. */
int store_db_span(sqlite3 *db, int tier, int64_t *ret_oldest, int64_t *ret_newest);
int store_db_meta(sqlite3 *db, const char *key, int64_t *ret);
int store_db_set_meta(sqlite3 *db, const char *key, int64_t v);
int store_db_events_put(sqlite3 *db, const struct store_ev *ev, size_t n);
/* Deletes the oldest chunks (see docs/history.md for the order) until the
 * file's pages in use fit max_bytes; *ret_bytes: the file's size after. */
int store_db_evict(sqlite3 *db, uint64_t max_bytes, uint64_t *ret_bytes, uint64_t *ret_evicted);

#endif
