/* The daemon's own Prometheus families, all written here: the tick and
 * topics (from the loop thread), the hub and the HTTP side (at scrape
 * time, from their counters). */
#ifndef SYSFEED_SELF_METRICS_H
#define SYSFEED_SELF_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conns.h"
#include "hub.h"
#include "metrics.h"
#include "store.h"

/* The loop thread's figures. */
struct self_tick {
	int64_t start_ms;
	uint64_t ticks;
	double tick_cpu_s, tick_last_wall_s, tick_last_cpu_s;
	unsigned interval_ms;
	size_t n_topics;
	const char *const *topic_names; /* n_topics of them */
	const bool *topic_up;
	size_t heap_in_use, heap_free; /* malloc's (mallinfo2) */
	uint64_t heap_trims;           /* malloc_trim calls (heap.h) */
	uint64_t metrics_writes;       /* times these texts were written (topics_metrics) */
};

/* What the HTTP side counts besides its connections. */
struct self_http {
	struct conns_stats conns;
	uint64_t refused_busy, refused_args, refused_host, aborted, messages;
	bool auth;                /* some listener asks for credentials */
	uint64_t auth_ok[3];      /* by method: password, token, proxy */
	uint64_t auth_refused[3]; /* no credentials, wrong ones, throttled (429) */
	int64_t tls_not_after;    /* the certificate's end, 0: no TLS */
};

/* The alerts' figures (daemon/alerts.c). */
struct alert_rule;
struct self_alerts {
	size_t n_rules;
	const struct alert_rule *const *rules;
	const bool *firing;            /* n_rules of them */
	const bool *invalid;           /* n_rules: names a field its topic lacks */
	const uint64_t *sent, *failed; /* by sender: journal, webhook, ntfy, exec */
	uint64_t dropped, held;
};

/* Each appends its families to m (errors stick in m, see metrics.h). */
void self_metrics_tick(struct metrics *m, const struct self_tick *s);
void self_metrics_hub(struct metrics *m, const struct hub_stats *s);
void self_metrics_http(struct metrics *m, const struct self_http *s);
void self_metrics_history(struct metrics *m, const struct store_stats *s);
void self_metrics_alerts(struct metrics *m, const struct self_alerts *s);

#endif
