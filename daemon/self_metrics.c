/* The daemon's own Prometheus families: see self_metrics.h. */
#include "self_metrics.h"

#include "alert_rule.h"
#include "alert_send.h"
#include "fields.h"

/* A family of one unlabelled sample. */
static void one(struct metrics *m, const char *name, const char *type, const char *help,
		double value)
{
	metrics_family(m, name, type, help);
	metrics_sample(m, name, NULL, value);
}

/* A family whose samples differ by one label: a value per name of the
 * NULL-terminated list. */
static void by_label(struct metrics *m, const char *name, const char *type, const char *help,
		     const char *label, const char *const *values, const double *v)
{
	metrics_family(m, name, type, help);
	for (size_t i = 0; values[i]; i++)
		metrics_sample(m, name, (const char *const[]){label, values[i], NULL}, v[i]);
}

void self_metrics_tick(struct metrics *m, const struct self_tick *s)
{
	metrics_family(m, "sysfeed_build_info", "gauge", "sysfeed version, always 1.");
	metrics_sample(m, "sysfeed_build_info",
		       (const char *const[]){"version", SYSFEED_VERSION, NULL}, 1);
	one(m, "sysfeed_start_time_seconds", "gauge",
	    "When the daemon started, in seconds since the epoch.", (double)s->start_ms / 1000.0);
	metrics_family(m, "sysfeed_topic_up", "gauge",
		       "Whether a topic works on this host (0: off, see hello).");
	for (size_t i = 0; i < s->n_topics; i++)
		metrics_sample(m, "sysfeed_topic_up",
			       (const char *const[]){"topic", s->topic_names[i], NULL},
			       s->topic_up[i]);
	one(m, "sysfeed_ticks_total", "counter", "Ticks sampled.", (double)s->ticks);
	one(m, "sysfeed_tick_cpu_seconds_total", "counter",
	    "CPU time of the loop thread spent in ticks.", s->tick_cpu_s);
	one(m, "sysfeed_tick_last_duration_seconds", "gauge",
	    "Wall-clock duration of the last tick.", s->tick_last_wall_s);
	one(m, "sysfeed_tick_last_cpu_seconds", "gauge", "CPU time of the last tick.",
	    s->tick_last_cpu_s);
	one(m, "sysfeed_interval_seconds", "gauge", "The sampling interval.",
	    s->interval_ms / 1000.0);
	one(m, "sysfeed_metrics_writes_total", "counter",
	    "Times the loop wrote this text, for the scrapes that asked.",
	    (double)s->metrics_writes);
	by_label(m, "sysfeed_heap_bytes", "gauge",
		 "malloc's heap: bytes allocated, and free bytes in its free lists (resident or "
		 "given back by malloc_trim).",
		 "state", (const char *const[]){"in_use", "free", NULL},
		 (const double[]){(double)s->heap_in_use, (double)s->heap_free});
	one(m, "sysfeed_heap_trims_total", "counter",
	    "Times the free heap was given back to the system (malloc_trim), when the "
	    "daemon's memory grew since the last time.",
	    (double)s->heap_trims);
}

/* The hub's families, one unlabelled sample each. */
static const struct field hub_fields[] = {
    FIELD(.prom = "sysfeed_clients", .type = FIELD_GAUGE, .help = "Event-stream clients connected.",
	  FIELD_AT(struct hub_stats, clients)),
    FIELD(.prom = "sysfeed_gzip_clients", .type = FIELD_GAUGE,
	  .help = "Event-stream clients sent gzip.", FIELD_AT(struct hub_stats, gzip_clients)),
    FIELD(.prom = "sysfeed_events_published_total", .type = FIELD_COUNTER,
	  .help = "Events published into the ring.", FIELD_AT(struct hub_stats, published)),
    FIELD(.prom = "sysfeed_sent_bytes_total", .type = FIELD_COUNTER,
	  .help = "Bytes of event streams handed to clients.",
	  FIELD_AT(struct hub_stats, bytes_sent)),
    FIELD(.prom = "sysfeed_resyncs_total", .type = FIELD_COUNTER,
	  .help = "Clients sent a snapshot after falling behind the ring.",
	  FIELD_AT(struct hub_stats, resyncs)),
    FIELD(.prom = "sysfeed_stalled_streams_total", .type = FIELD_COUNTER,
	  .help = "Streams closed for taking no data (stall-seconds).",
	  FIELD_AT(struct hub_stats, stalled)),
    FIELD(.prom = "sysfeed_gzip_in_bytes_total", .type = FIELD_COUNTER,
	  .help = "Event bytes fed to the shared gzip compressors.",
	  FIELD_AT(struct hub_stats, gzip_in_bytes)),
    FIELD(.prom = "sysfeed_gzip_out_bytes_total", .type = FIELD_COUNTER,
	  .help = "Bytes the shared gzip compressors produced.",
	  FIELD_AT(struct hub_stats, gzip_out_bytes)),
    FIELD(.prom = "sysfeed_ring_used_bytes", .type = FIELD_GAUGE,
	  .help = "Bytes of frames in the ring.", FIELD_AT(struct hub_stats, ring_used)),
    FIELD(.prom = "sysfeed_ring_capacity_bytes", .type = FIELD_GAUGE,
	  .help = "Bound of the ring (ring-bytes).", FIELD_AT(struct hub_stats, ring_bytes)),
};

static const struct field_table hub_table = {FIELD_ROWS(hub_fields)};

void self_metrics_hub(struct metrics *m, const struct hub_stats *s)
{
	fields_prom(m, &hub_table, &(struct field_inst){s, 0, NULL}, 1);
}

void self_metrics_http(struct metrics *m, const struct self_http *s)
{
	const struct conns_stats *c = &s->conns;

	by_label(m, "sysfeed_http_connections", "gauge", "Open HTTP connections by state.", "state",
		 (const char *const[]){"waiting", "answering", "stream", NULL},
		 (const double[]){c->waiting, c->active, c->streams});
	one(m, "sysfeed_http_accepted_total", "counter", "HTTP connections accepted.",
	    (double)c->accepted);
	by_label(m, "sysfeed_http_closed_total", "counter",
		 "Connections the daemon closed, by reason.", "reason",
		 (const char *const[]){"waiting_evicted", "answer_evicted", "header_timeout",
				       "answer_timeout", "peer_gone", NULL},
		 (const double[]){(double)c->evicted_waiting, (double)c->evicted_active,
				  (double)c->header_timeouts, (double)c->answer_timeouts,
				  (double)c->hangups});
	by_label(m, "sysfeed_http_refused_total", "counter", "Requests refused, by reason.",
		 "reason", (const char *const[]){"max_clients", "too_many_arguments", "host", NULL},
		 (const double[]){(double)s->refused_busy, (double)s->refused_args,
				  (double)s->refused_host});
	one(m, "sysfeed_http_aborted_total", "counter",
	    "Requests the client left before the answer ended.", (double)s->aborted);
	one(m, "sysfeed_http_messages_total", "counter",
	    "Messages from the HTTP library (most summarised).", (double)s->messages);
	if (s->auth) {
		by_label(m, "sysfeed_http_auth_logins_total", "counter",
			 "Requests let through authenticated listeners, by method.", "method",
			 (const char *const[]){"password", "token", "proxy", NULL},
			 (const double[]){(double)s->auth_ok[0], (double)s->auth_ok[1],
					  (double)s->auth_ok[2]});
		by_label(
		    m, "sysfeed_http_auth_refused_total", "counter",
		    "Requests authenticated listeners refused, by reason.", "reason",
		    (const char *const[]){"no_credentials", "wrong_credentials", "throttled", NULL},
		    (const double[]){(double)s->auth_refused[0], (double)s->auth_refused[1],
				     (double)s->auth_refused[2]});
	}
	if (s->tls_not_after)
		one(m, "sysfeed_tls_certificate_expiry_seconds", "gauge",
		    "When the TLS certificate (tls-cert) expires, in seconds since the epoch.",
		    (double)s->tls_not_after);
}

void self_metrics_alerts(struct metrics *m, const struct self_alerts *s)
{
	static const char *const senders[] = {"journal", "webhook", "ntfy", "exec", NULL};
	double sent[ALERT_SEND_KINDS], failed[ALERT_SEND_KINDS];

	metrics_family(m, "sysfeed_alert_firing", "gauge",
		       "Whether an alert rule fires now (1), by rule.");
	for (size_t i = 0; i < s->n_rules; i++)
		metrics_sample(m, "sysfeed_alert_firing",
			       (const char *const[]){"rule", s->rules[i]->name, "severity",
						     alert_severity_name(s->rules[i]->severity),
						     NULL},
			       s->firing[i]);
	metrics_family(m, "sysfeed_alert_rule_invalid", "gauge",
		       "Whether an alert rule names a field its topic's payloads lack (1): it "
		       "never fires.");
	for (size_t i = 0; i < s->n_rules; i++)
		metrics_sample(m, "sysfeed_alert_rule_invalid",
			       (const char *const[]){"rule", s->rules[i]->name, NULL},
			       s->invalid[i]);
	for (size_t i = 0; i < ALERT_SEND_KINDS; i++) {
		sent[i] = (double)s->sent[i];
		failed[i] = (double)s->failed[i];
	}
	by_label(m, "sysfeed_alert_notifications_total", "counter",
		 "Alert notifications delivered, by sender.", "sender", senders, sent);
	by_label(m, "sysfeed_alert_notifications_failed_total", "counter",
		 "Alert notifications that failed after their last attempt, by sender.", "sender",
		 senders, failed);
	one(m, "sysfeed_alert_held_back_total", "counter",
	    "Alert notifications held back by the rate limits (journal entries are not).",
	    (double)s->held);
	one(m, "sysfeed_alert_dropped_total", "counter",
	    "Alert changes dropped because the senders' queue was full.", (double)s->dropped);
}

/* The history writer's families after its rows by tier, one unlabelled
 * sample each. */
static const struct field history_fields[] = {
    FIELD(.prom = "sysfeed_history_events_written_total", .type = FIELD_COUNTER,
	  .help = "Timeline events written to the history file.",
	  FIELD_AT(struct store_stats, events)),
    FIELD(.prom = "sysfeed_history_commits_total", .type = FIELD_COUNTER,
	  .help = "Transactions committed to the history file.",
	  FIELD_AT(struct store_stats, commits)),
    FIELD(.prom = "sysfeed_history_errors_total", .type = FIELD_COUNTER,
	  .help = "Failed opens and transactions of the history file.",
	  FIELD_AT(struct store_stats, errors)),
    FIELD(.prom = "sysfeed_history_dropped_total", .type = FIELD_COUNTER,
	  .help = "Tick records dropped: the writer was too far behind, or history was off for "
		  "too long.",
	  FIELD_AT(struct store_stats, dropped)),
    FIELD(.prom = "sysfeed_history_evicted_chunks_total", .type = FIELD_COUNTER,
	  .help = "Chunks deleted, oldest first, to keep the file within history-max-bytes.",
	  FIELD_AT(struct store_stats, evicted)),
    FIELD(.prom = "sysfeed_history_bytes", .type = FIELD_GAUGE,
	  .help = "Size of the history file after the last transaction.",
	  FIELD_AT(struct store_stats, bytes)),
    FIELD(.prom = "sysfeed_history_writer_cpu_seconds_total", .type = FIELD_COUNTER,
	  .unit = "seconds", .help = "CPU time of the history writer thread.",
	  FIELD_AT(struct store_stats, cpu_ns), .div = 1e9),
    FIELD(.prom = "sysfeed_history_queries_total", .type = FIELD_COUNTER,
	  .help = "Answers of /api/history.", FIELD_AT(struct store_stats, queries)),
};

static const struct field_table history_table = {FIELD_ROWS(history_fields)};

void self_metrics_history(struct metrics *m, const struct store_stats *s)
{
	one(m, "sysfeed_history_up", "gauge",
	    "Whether history is written to disk (0: off or paused, see hello).", s->up);
	by_label(m, "sysfeed_history_rows_written_total", "counter",
		 "Rows written to the history file, by tier (0: each tick, 1: minutes, 2: hours).",
		 "tier", (const char *const[]){"0", "1", "2", NULL},
		 (const double[]){(double)s->rows[0], (double)s->rows[1], (double)s->rows[2]});
	fields_prom(m, &history_table, &(struct field_inst){s, 0, NULL}, 1);
}
