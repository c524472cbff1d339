/* The topic runtime: every collector of the registry with its state, and
 * the one path from a sample to the hub (frames, states, chart rows,
 * `hello`, each topic's metrics). Loop thread only.
 *
 *   collector ──sample/dispatch──▶ topics ──publish──▶ hub ──▶ http
 */
#ifndef SYSFEED_TOPICS_H
#define SYSFEED_TOPICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct cJSON;
struct config;
struct hub;
struct store;
struct topics;

/* What sees every payload besides the hub (the alerts): each periodic
 * payload and each event as published, then flush once the tick's or the
 * dispatch's frames are out (true: what it adds to `hello` changed);
 * hello: adds its part to `hello`; wants: whether it needs a topic's
 * events at once, as a stream client does (see follow in collector.h). */
struct topics_hook {
	void (*payload)(void *ctx, unsigned topic, const struct cJSON *payload);
	bool (*flush)(void *ctx, bool tick);
	void (*hello)(void *ctx, struct cJSON *hello);
	bool (*wants)(void *ctx, unsigned topic);
	/* whether it looks at what a topic read at this level but left out of
	 * the stream; such payloads come through `payload` too */
	bool (*wants_dropped)(void *ctx, unsigned topic, int level);
	void (*metrics)(void *ctx); /* its Prometheus text into the hub, from topics_metrics */
	void *ctx;
};

/* Every topic's name, registry order, then `alert`, NULL-terminated: the
 * hub's topics. */
const char *const *topics_names(void);
/* The hub's number of the `alert` topic. */
unsigned topics_alert_topic(void);
void topics_set_hook(struct topics *t, const struct topics_hook *hook);

/* Starts every collector with its settings from cfg (which must outlive
 * the topics: a reload changes it in place); one that cannot work here is
 * off, said once on stderr and in `hello`. Then the chart history and
 * `hello`. NULL only when out of memory. */
struct topics *topics_new(struct hub *hub, const struct config *cfg, int proc_fd, int sys_fd,
			  uint64_t instance, int64_t start_ms);
void topics_free(struct topics *t);

/* Calls add(ctx, fd, topic) for the fd of each event-driven topic, to be
 * watched for input; then topics_dispatch(topic) when it is readable. */
int topics_watch(struct topics *t, int (*add)(void *ctx, int fd, unsigned topic), void *ctx);
void topics_dispatch(struct topics *t, unsigned topic);
/* Samples every periodic topic once and publishes the tick as one batch. */
void topics_tick(struct topics *t);
/* Writes every topic's Prometheus text from its latest sample, the
 * daemon's own and the hook's into the hub (hub_metrics_written), when a
 * scrape asks: not at each tick, as a scrape every 15 s or so would use
 * one text in 15 (writing them was a sixth of an idle tick). */
void topics_metrics(struct topics *t);
/* Tells event collectors whether someone subscribes to them (about once a
 * second, and when a stream went). */
void topics_follow(struct topics *t);
/* After a reload: the collectors whose keys changed (bit i: registry
 * index i) rebuild what they derived from them; `hello` says the new
 * interval. */
void topics_reconfigure(struct topics *t, uint64_t changed);
size_t topics_active(const struct topics *t);
/* The history store the topics feed (for /api/history). */
struct store *topics_store(struct topics *t);

#endif
