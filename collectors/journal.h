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

#define JOURNAL_BATCH_MS 100 /* a batch goes out this often during a flood */

struct metrics;

/* The topic's families: sysfeed_log_entries_total{priority} from seen (8
 * counts, emerg..debug: entries that passed the filters since start),
 * sysfeed_log_dropped_total and sysfeed_log_followed. Returns
 * metrics_error(m). */
int journal_metrics_write(const uint64_t *seen, uint64_t dropped, bool followed, struct metrics *m);

extern const struct collector journal_collector;

#endif
