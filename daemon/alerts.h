/* Alerts in the daemon: the rules of the configuration (stock rules and
 * `alert =` lines) run by the evaluator on the loop thread over every
 * payload and event the topics runtime hands over; each change becomes an
 * `alert` event on the hub (the pending and firing alerts are the topic's
 * `snapshot` state), a journal entry and deliveries queued to the senders
 * thread, with the top processes and services of that moment as context;
 * the sysfeed_alert_* families for /metrics.
 *
 *   topics ──payload/event──▶ alerts ──▶ hub (`alert`) + senders thread */
#ifndef SYSFEED_ALERTS_H
#define SYSFEED_ALERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cjson/cJSON.h>

struct alert_rule;
struct config;
struct hub;
struct alerts;

/* The rules cfg asks for: the stock rules (unless alert-stock = 0) with
 * those a line of the same name retunes or turns off, then the others.
 * Returns 0, or -EINVAL with a reason (a line that no longer parses), or
 * -ENOMEM. */
int alerts_rules(const struct config *cfg, struct alert_rule ***ret, size_t *ret_n, char *err,
		 size_t err_len);

/* Starts the senders thread and the rules; `topic` is the hub's number of
 * the `alert` topic. NULL on failure, with a reason in err. */
struct alerts *alerts_new(struct hub *hub, unsigned topic, const struct config *cfg, char *err,
			  size_t err_len);
void alerts_free(struct alerts *a);
/* After a reload (cfg changed in place): the new rules, receivers and
 * limits; the alerts of removed or changed rules resolve. */
int alerts_reconfigure(struct alerts *a);

/* The topics runtime's hook (topics.h). */
void alerts_payload(void *ctx, unsigned topic, const cJSON *payload);
bool alerts_flush(void *ctx, bool tick);
/* `hello.alert_errors`: rule name -> why it never fires, when any. */
void alerts_hello(void *ctx, cJSON *hello);
bool alerts_wants(void *ctx, unsigned topic);
/* Whether a log rule looks at an entry of this level that the topic's rate
 * limit leaves out of the stream. */
bool alerts_wants_dropped(void *ctx, unsigned topic, int level);
/* Its Prometheus families into the hub (a topics_hook's metrics). */
void alerts_metrics(void *ctx);

/* --test-alert: a test notification through every receiver; prints what
 * each answered. Returns 0 when all took it, 1 otherwise. */
int alerts_test(const struct config *cfg, FILE *out);

#endif
