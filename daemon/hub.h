/* The hub: every event encoded once into a ring of SSE frames bounded in
 * bytes; clients are cursors into it. The loop thread publishes; HTTP
 * threads read. One mutex guards it all, held only for copies. */
#ifndef SYSFEED_HUB_H
#define SYSFEED_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HUB_MAX_TOPICS 64

struct hub;
struct hub_client;

/* What a publish carries: a topic's JSON payload, which also becomes the
 * topic's state in `snapshot` when `state` is set. */
struct hub_msg {
	unsigned topic;
	const char *json;
	size_t len;
	bool state;
	int level;       /* for client filters: severity 0..7, -1 none */
	const char *key; /* for client filters: e.g. a unit name, or NULL */
	const char *row; /* a chart history row (JSON array) for the topic, or NULL */
	size_t row_len;
};

/* A client's filter on events that carry a level or key (see hub_msg):
 * such an event passes when its level <= max_level, its key is in units
 * (when units are given) and not in exclude, and `match` occurs in its
 * JSON (ASCII case-insensitive). Events without level and key pass. */
struct hub_filter {
	int max_level;
	const char *units[16];
	size_t n_units;
	const char *exclude[16];
	size_t n_exclude;
	const char *match;
};

struct hub_stats {
	uint64_t instance;
	uint64_t first_seq; /* oldest frame still in the ring (0: none yet) */
	uint64_t last_seq;  /* newest frame */
	size_t ring_used;
	size_t ring_bytes;
	unsigned clients;
	uint64_t published;
	uint64_t bytes_sent;
	uint64_t resyncs; /* clients sent a snapshot after falling behind */
};

/* Called with the hub locked to park a client that has nothing to read,
 * and without the lock to wake it again. */
struct hub_conn_ops {
	void (*suspend)(void *conn);
	void (*resume)(void *conn);
};

/* topic_names[i] names topic i (NULL-terminated, at most HUB_MAX_TOPICS). */
struct hub *hub_new(size_t ring_bytes, uint64_t instance, const char *const *topic_names,
		    const struct hub_conn_ops *ops);
void hub_free(struct hub *hub);

/* Loop thread. Publishes one tick's messages as one batch and wakes the
 * clients that wait for any of them, once. Returns 0 or -E2BIG when a frame
 * exceeds half the ring (that frame is dropped, the others go out). */
int hub_publish(struct hub *hub, const struct hub_msg *msgs, size_t n, int64_t t_ms);
/* Replaces a topic's state in `snapshot` without publishing a frame. */
int hub_set_state(struct hub *hub, unsigned topic, const char *json, size_t len);
/* Keeps the last `rows` history rows of a topic for `snapshot`, under
 * "history": {topic: {"fields": FIELDS, "rows": [...]}}; fields_json is
 * the JSON array naming the row's columns. */
int hub_set_history(struct hub *hub, unsigned topic, const char *fields_json, size_t rows);
/* Replaces the Prometheus text of a topic (topic -1: the daemon's own). */
int hub_set_metrics(struct hub *hub, int topic, const char *text, size_t len);
/* The whole /metrics text (0.0.4): the hub's own counters, the daemon's
 * block, then every topic's. malloc'd; NULL on allocation failure. */
char *hub_metrics_text(struct hub *hub, size_t *ret_len);
/* Sets the `hello` event's JSON and the retry delay sent before it. */
int hub_set_hello(struct hub *hub, const char *json, unsigned retry_ms);
/* Sets the keepalive period; wakes clients idle for longer. Call about once
 * a second. */
void hub_set_keepalive(struct hub *hub, unsigned keepalive_s);
void hub_wake_idle(struct hub *hub);
/* Ends every stream: readers return end-of-stream from now on. */
void hub_close(struct hub *hub);

/* HTTP threads. `last_id` is the client's Last-Event-ID or NULL. */
struct hub_client *hub_client_new(struct hub *hub, uint64_t mask, const char *last_id, void *conn);
void hub_client_free(struct hub_client *client);
/* Copies f into the client; call before the first read. */
int hub_client_set_filter(struct hub_client *client, const struct hub_filter *f);
/* Copies what is due to the client into buf. Returns the byte count; 0
 * after suspending the client (ops->suspend) when nothing is due; -1 once
 * the hub is closed. */
long hub_client_read(struct hub_client *client, char *buf, size_t max);

/* The current state of the topics in mask as one JSON object, malloc'd
 * (the `snapshot` event's data). */
char *hub_snapshot_json(struct hub *hub, uint64_t mask, size_t *ret_len);
/* Parses a `topics=` list ("cpu,mem") into a mask over names[]; on an
 * unknown or empty name returns -EINVAL and copies that name into bad. */
int hub_topic_mask(const char *const *names, const char *list, uint64_t *ret_mask, char *bad,
		   size_t bad_len);
void hub_get_stats(struct hub *hub, struct hub_stats *ret);
/* How many stream clients have the topic in their mask. */
unsigned hub_topic_clients(struct hub *hub, unsigned topic);

#endif
