/* The `log` topic: the systemd journal followed through sd-journal from the
 * loop's epoll set. Entries become JSON objects; a flood beyond log-rate is
 * batched every 100 ms and what does not fit is counted as dropped. */
#ifndef SYSFEED_JOURNAL_H
#define SYSFEED_JOURNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "settings.h"

/* The keys of the `log` topic (journal_collector.settings). */
struct journal_settings {
	unsigned priority;    /* entries above it (less severe) are not sent */
	struct list units;    /* units or identifiers; "!unit" excludes */
	char *match;          /* text a message must contain, or NULL */
	unsigned backlog;     /* entries in `snapshot` */
	size_t backlog_bytes; /* and at most this many bytes of them, as JSON */
	unsigned rate;        /* entries per second before batching and dropping */
	unsigned max_bytes;   /* a message is cut at this many bytes on the wire */
	char *dir;            /* read this journal directory, not the system's */
};

#define JOURNAL_BATCH_MS  100 /* a batch goes out this often during a flood */
#define JOURNAL_PRIO_DFLT 6   /* an entry without PRIORITY counts as info */
#define JOURNAL_SHORT_MAX 256 /* unit, identifier, transport, ... are cut here */

/* The fields of one entry, copied out of the journal (sd-journal's own
 * pointers die at the next call). Short fields are NUL-terminated and
 * empty when absent; the message keeps its length (it may hold NULs). */
struct journal_raw {
	uint64_t realtime_us;
	int priority; /* 0..7, or -1 when PRIORITY is missing or not a digit 0-7 */
	char systemd_unit[JOURNAL_SHORT_MAX];
	char identifier[JOURNAL_SHORT_MAX]; /* SYSLOG_IDENTIFIER */
	char comm[JOURNAL_SHORT_MAX];       /* _COMM */
	char transport[JOURNAL_SHORT_MAX];  /* _TRANSPORT */
	char pid[32];                       /* _PID, digits */
	bool has_message;
	char *message; /* growing buffer owned by the raw; not NUL-terminated */
	size_t message_len;
	size_t message_cap;
	char cursor[512];
};

void journal_raw_free(struct journal_raw *raw);
/* Clears the fields for the next entry, keeping the message buffer. */
void journal_raw_reset(struct journal_raw *raw);
/* Stores one "FIELD=value" data item if it is one the entry needs.
 * Returns 0 or -ENOMEM. */
int journal_raw_add(struct journal_raw *raw, const void *data, size_t len);

/* The priority used for filters: PRIORITY, or JOURNAL_PRIO_DFLT. */
int journal_raw_level(const struct journal_raw *raw);
/* The entry's unit: _SYSTEMD_UNIT, else SYSLOG_IDENTIFIER, else "" . */
const char *journal_raw_unit(const struct journal_raw *raw);
/* Whether the entry passes the settings' log-priority, log-units and
 * log-match (a plain substring of the message, ASCII case-insensitive). */
bool journal_raw_pass(const struct journal_raw *raw, const struct journal_settings *set);

/* Whether cursor a is at or before cursor b in journald's sequence: same
 * "s=" id and an "i=" not above b's. Cursors of different sequences (or
 * unreadable ones) compare false. Entries a reopened journal hands out
 * again are skipped with it. */
bool journal_cursor_not_after(const char *a, const char *b);

/* "emerg".."debug" for 0..7, NULL otherwise. */
const char *journal_priority_name(int prio);

/* Binary data: a MESSAGE holding a NUL byte is shown as its size. */
bool journal_is_binary(const char *p, size_t len);

/* One entry as a JSON object (see the README's `log` table): its message
 * made valid UTF-8 and cut on a character boundary at max_bytes of JSON
 * (the bytes it takes escaped, on the wire), with "truncated" then.
 * Returns NULL on allocation failure. */
cJSON *journal_entry_json(const struct journal_raw *raw, unsigned max_bytes);

/* A sliding one-second window over what was published (CLOCK_MONOTONIC
 * ms): at most `cap` entries in any 1000 ms. */
struct journal_rate {
	uint64_t *ts;
	unsigned cap, head, n;
};

int journal_rate_init(struct journal_rate *r, unsigned cap);
void journal_rate_free(struct journal_rate *r);
/* How many more entries may go out at now_ms. */
unsigned journal_rate_room(struct journal_rate *r, uint64_t now_ms);
/* Records k entries published at now_ms (k <= room). */
void journal_rate_take(struct journal_rate *r, uint64_t now_ms, unsigned k);

/* A flood batch: at most `cap` entries; when full, a more severe entry
 * replaces the newest of the least severe ones, and every entry left out is
 * counted in `dropped`. */
struct journal_batch_item {
	char *json; /* the entry, encoded */
	int level;
	char *unit;
};

struct journal_batch {
	struct journal_batch_item *items;
	unsigned n, cap;
	uint64_t dropped;
	int dropped_level; /* most severe level among the dropped, or 8 */
};

int journal_batch_init(struct journal_batch *b, unsigned cap);
void journal_batch_free(struct journal_batch *b);
/* Whether an entry of this level would be kept (so it is worth encoding). */
bool journal_batch_wants(const struct journal_batch *b, int level);
/* Adds an entry, taking json and unit (both malloc'd); if it is not kept it
 * is freed and counted. Returns 0 or -ENOMEM (nothing taken). */
int journal_batch_add(struct journal_batch *b, char *json, int level, const char *unit);
/* Counts an entry left out without encoding it. */
void journal_batch_drop(struct journal_batch *b, int level);
/* Drops (and counts) the least severe entries until at most keep remain. */
void journal_batch_trim(struct journal_batch *b, unsigned keep);
/* Empties the batch (items freed, counters zeroed). */
void journal_batch_clear(struct journal_batch *b);

/* A `log` payload: {"t", "entries": [the encoded entries], "dropped"}.
 * Returns NULL on allocation failure. */
cJSON *journal_payload(int64_t t_ms, char *const *entries, size_t n, uint64_t dropped);

struct metrics;

/* The topic's families: sysfeed_log_entries_total{priority} from seen (8
 * counts, emerg..debug: entries that passed the filters since start),
 * sysfeed_log_dropped_total and sysfeed_log_followed. Returns
 * metrics_error(m). */
int journal_metrics_write(const uint64_t *seen, uint64_t dropped, bool followed, struct metrics *m);

extern const struct collector journal_collector;

#endif
