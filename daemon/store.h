/* The history store: every topic's chart fields, the top processes and
 * services and the timeline's events, kept on disk in one SQLite file in
 * the state directory, in tiers (each tick; minutes and hours with
 * min/avg/max), bounded in bytes.
 *
 *   loop thread ── store_push (a bounded queue) ──▶ writer thread ──▶ SQLite
 *   HTTP threads ── store_api (their own read-only connection) ◀────────┘
 *
 * The loop never waits for the disk: a tick's record is queued, or dropped
 * and counted when the writer is that far behind. Faults (no directory, a
 * read-only or full disk, a corrupt or foreign file, the clock stepping
 * back) turn history off or pause it with a one-line reason (store_status)
 * and it resumes when it can; the live stream never depends on it. */
#ifndef SYSFEED_STORE_H
#define SYSFEED_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct collector_top;
struct metrics;
struct store;
struct store_rec;

#define STORE_FILE       "history.db"
#define STORE_REASON_LEN 256

struct store_options {
	const char *dir;           /* the state directory; NULL: history is off */
	uint64_t max_bytes;        /* the file's bound */
	unsigned flush_s;          /* seconds between transactions */
	unsigned interval_ms;      /* the sampling interval, for the reads' tiers */
	unsigned rel;              /* precision: 1/rel of a column's scale (0: exact) */
	const char *const *topics; /* topic names, registry order, NULL-terminated */
};

/* Starts the writer thread, which opens (or makes) the file. NULL only
 * when out of memory. */
struct store *store_open(const struct store_options *opt);
/* Writes what is queued and stops the writer. NULL is fine. */
void store_close(struct store *s);
/* Whether it has a directory to write to (records are wanted). */
bool store_enabled(const struct store *s);

/* A tick's record, built on the loop thread. The store reads no clock:
 * every time comes from its callers (the tick's, the payloads'). */
struct store_rec *store_rec_new(void);
/* The same for s (NULL is fine): while the payloads keep their shape, it
 * makes the row's columns in the order the last record for s made them,
 * without searching them. One record for s is built at a time. */
struct store_rec *store_rec_for(struct store *s);
void store_rec_free(struct store_rec *r);
/* A periodic topic's payload of the tick at t: its fields on the
 * `history` paths (see daemon/history.h; a string field of an array's
 * elements names them) and its top lists. 0 or -ENOMEM. */
int store_rec_payload(struct store_rec *r, int64_t t, const char *topic, const cJSON *payload,
		      const char *const *paths, const struct collector_top *tops);
/* An event collector's payload: the failed units, journal entries at err
 * or worse and file changes in it become events of the timeline. */
int store_rec_event(struct store_rec *r, const char *topic, const cJSON *payload);
/* Queues the record for the writer (which takes it), or drops it when the
 * queue is full. Loop thread. */
void store_push(struct store *s, struct store_rec *r);
/* The same, waiting for room instead of dropping: for tools that feed
 * rows faster than ticks (tests, the bench), never the loop thread. */
void store_push_wait(struct store *s, struct store_rec *r);

/* Whether history works, and if not why (one line): returns a number that
 * changes whenever that does. Any thread. */
unsigned store_status(struct store *s, bool *ret_on, char *reason, size_t len);
/* What the store counts (self_metrics.c writes them as sysfeed_history_*). */
struct store_stats {
	bool up;          /* written to disk (false: off or paused, see hello) */
	uint64_t rows[3]; /* rows written by tier: ticks, minutes, hours */
	uint64_t events, commits, errors, dropped, evicted, bytes, cpu_ns, queries;
};
/* Any thread. */
void store_get_stats(struct store *s, struct store_stats *ret);

/* GET /api/history: the query's arguments as given (NULL when absent). */
struct store_query {
	const char *topics, *from, *to, *step, *format, *tops, *events;
};

/* Answers a query from an HTTP thread: returns the HTTP status, with the
 * body (malloc'd) and its Content-Type; a 4xx or 5xx body is one line of
 * text. now_ms: the time "to" defaults to. */
unsigned store_api(struct store *s, const struct store_query *q, int64_t now_ms, char **ret_body,
		   size_t *ret_len, const char **ret_type);

#endif
