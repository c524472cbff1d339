/* Alert delivery: the senders thread. The loop thread queues each change
 * (a JSON object: the `alert` event with its context) into a bounded
 * queue; the thread writes the journal entry (SYSFEED_ALERT=...), adds the
 * unit's last journal lines, and delivers to every webhook (JSON POST),
 * ntfy topic (text POST with title and priority headers) and command
 * (the alert in environment variables) with timeouts, webhooks retried
 * with backoff, a few commands at once. A dead receiver never delays the
 * loop, nor the other receivers. */
#ifndef SYSFEED_ALERT_SEND_H
#define SYSFEED_ALERT_SEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "settings.h"

enum alert_sender_kind { ALERT_SEND_JOURNAL, ALERT_SEND_WEBHOOK, ALERT_SEND_NTFY, ALERT_SEND_EXEC };
#define ALERT_SEND_KINDS    4
#define ALERT_SEND_GRACE_MS 2000

struct alert_send_opts {
	const struct list *webhooks, *ntfy, *execs;
	unsigned timeout_ms;     /* each attempt, each command */
	unsigned retries;        /* further attempts of a webhook, 1 s, 2 s, 4 s ... apart */
	unsigned exec_max;       /* commands running at once */
	size_t queue_max;        /* changes waiting; more are dropped and counted */
	const char *journal_dir; /* the units' journal lines from here (NULL: the system's) */
};

struct alert_send_stats {
	uint64_t sent[ALERT_SEND_KINDS], failed[ALERT_SEND_KINDS];
	uint64_t dropped; /* the queue was full */
};

/* Called on the senders thread after each delivery's last attempt. */
typedef void alert_send_report(void *ctx, enum alert_sender_kind kind, const char *target, bool ok,
			       const char *answer);

struct alert_sender;

/* Starts the thread. NULL with errno set on failure. */
struct alert_sender *alert_sender_new(const struct alert_send_opts *o, alert_send_report *report,
				      void *ctx);
/* Stops the thread: queued journal entries are written, deliveries in
 * flight or due get ALERT_SEND_GRACE_MS to end; what is left then is
 * abandoned (commands killed) and one journal entry says what. */
void alert_sender_free(struct alert_sender *s);
/* New receivers and limits (a reload); deliveries in flight keep theirs. */
int alert_sender_configure(struct alert_sender *s, const struct alert_send_opts *o);
/* Queues a change (taken). notify: to the receivers as well as the
 * journal. Returns 0, or -ENOBUFS when the queue is full (dropped). */
int alert_sender_push(struct alert_sender *s, cJSON *alert, bool notify);
/* Waits until everything queued so far has been delivered or has failed
 * (--test-alert). */
void alert_sender_drain(struct alert_sender *s);
void alert_sender_stats(struct alert_sender *s, struct alert_send_stats *ret);

const char *alert_sender_name(enum alert_sender_kind k);

#endif
