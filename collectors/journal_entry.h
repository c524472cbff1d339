/* One journal entry of the `log` topic: its fields copied out of
 * sd-journal, the filters (log-priority, log-units, log-match), its JSON
 * with the message made valid UTF-8 and cut to log-max-bytes on the wire,
 * cursor order, and the payload of encoded entries. Pure: no journal is
 * read here. */
#ifndef SYSFEED_JOURNAL_ENTRY_H
#define SYSFEED_JOURNAL_ENTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct journal_settings;

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

/* Sets the entry's cursor, cut to fit. */
void journal_raw_set_cursor(struct journal_raw *raw, const char *cursor);

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

/* A `log` payload: {"t", "entries": [the encoded entries], "dropped"}.
 * Returns NULL on allocation failure. */
cJSON *journal_payload(int64_t t_ms, char *const *entries, size_t n, uint64_t dropped);

#endif
