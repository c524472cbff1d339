/* The hub: every event encoded once into a ring of SSE frames bounded in
 * bytes; clients are cursors into it. The loop thread publishes; HTTP
 * threads read. One mutex guards it all, held only for copies.
 *
 * A client's memory is fixed and small whatever the host writes: its
 * snapshot is a list of references to shared pieces (each topic's state,
 * blocks of chart rows), never a copy. gzip clients of one topic mask share
 * one compressor: the loop thread compresses each batch once per mask, and
 * those clients copy the compressed chunk. */
#ifndef SYSFEED_HUB_H
#define SYSFEED_HUB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define HUB_MAX_TOPICS 64

struct hub;
struct hub_client;
struct hub_reader;

/* What a publish carries: a topic's JSON payload, which also becomes the
 * topic's state in `snapshot` when `state` is set. */
struct hub_msg {
	unsigned topic;
	const char *json; /* NULL: no frame (state_json only) */
	size_t len;
	bool state;
	/* a state other than json (an event topic's recent events), set in
	 * the same step as the batch's frames, or NULL */
	const char *state_json;
	size_t state_len;
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
	unsigned gzip_clients;
	unsigned gzip_groups;
	uint64_t published;
	uint64_t bytes_sent;
	uint64_t resyncs;        /* clients sent a snapshot after falling behind */
	uint64_t stalled;        /* streams closed for not taking data (stall-seconds) */
	uint64_t tick_age_ms;    /* since the last tick was published (UINT64_MAX: none) */
	uint64_t gzip_in_bytes;  /* fed to the shared compressors */
	uint64_t gzip_out_bytes; /* they produced */
	unsigned inflated;       /* compact frames whose text readers share now */
};

/* How the hub reaches a client's connection. */
struct hub_conn_ops {
	/* Called with the hub locked: park the connection, nothing to read. */
	void (*suspend)(void *conn);
	/* Called without the lock: wake it, there is something to read. */
	void (*resume)(void *conn);
	/* Called with the hub locked: the stream stalled; close the
	 * connection now (the reader is called no more for it, or returns
	 * end-of-stream). */
	void (*abort)(void *conn);
};

/* topic_names[i] names topic i (NULL-terminated, at most HUB_MAX_TOPICS). */
struct hub *hub_new(size_t ring_bytes, uint64_t instance, const char *const *topic_names,
		    const struct hub_conn_ops *ops);
void hub_free(struct hub *hub);

/* Loop thread. Publishes one batch of messages and wakes the clients that
 * wait for any of them, once. A tick passes its time as t_ms (0 for event
 * batches). Returns 0 or -E2BIG when a frame exceeds half the ring (that
 * frame is dropped, the others go out). */
int hub_publish(struct hub *hub, const struct hub_msg *msgs, size_t n, int64_t t_ms);
/* Replaces a topic's state in `snapshot` without publishing a frame. */
int hub_set_state(struct hub *hub, unsigned topic, const char *json, size_t len);
/* Keeps at least the last `rows` history rows of a topic for `snapshot`
 * (whole blocks of rows are dropped, so up to HUB_ROW_BLOCK - 1 more), under
 * "history": {topic: {"fields": FIELDS, "rows": [...]}}; fields_json is
 * the JSON array naming the row's columns. */
#define HUB_ROW_BLOCK 64
int hub_set_history(struct hub *hub, unsigned topic, const char *fields_json, size_t rows);
/* Replaces the Prometheus text of a topic (topic -1: the daemon's own). */
int hub_set_metrics(struct hub *hub, int topic, const char *text, size_t len);
/* Appends the texts set by hub_set_metrics, the daemon's block first, to
 * m; 0 or m's error. */
struct metrics;
int hub_metrics_append(struct hub *hub, struct metrics *m);
/* The texts are written on demand, by the loop thread between ticks: a
 * scrape (HTTP thread) returns true when they show the latest tick, false
 * when the loop must write them first (hub_metrics_written then). */
bool hub_metrics_scrape(struct hub *hub);
/* Loop thread: the texts now show the latest tick. */
void hub_metrics_written(struct hub *hub);
/* Sets the `hello` event's JSON and the retry delay sent inside it. */
int hub_set_hello(struct hub *hub, const char *json, unsigned retry_ms);
/* Frames older than `ms` (3 s by default) are kept compressed in the ring:
 * it holds several times more, readers of old frames inflate them. Loop
 * thread. */
void hub_set_compact_age(struct hub *hub, unsigned ms);
/* Keepalive period and the stall bound (0: none). */
void hub_set_limits(struct hub *hub, unsigned keepalive_s, unsigned stall_s);
/* Loop thread, about once a second: keepalives for idle streams, a join
 * point for gzip clients waiting for one, and stalled streams closed. */
void hub_housekeep(struct hub *hub);
/* Ends every stream: readers return end-of-stream from now on. */
void hub_close(struct hub *hub);
/* Stream clients whose topics include `topic`. */
unsigned hub_topic_clients(struct hub *hub, unsigned topic);

/* HTTP threads. */
struct hub_client_opts {
	uint64_t mask;
	const char *last_id;             /* Last-Event-ID, or NULL */
	const struct hub_filter *filter; /* copied; NULL: every event of its topics */
	bool gzip;                       /* the client accepts gzip */
	unsigned max_clients;            /* refuse past this many streams */
};
/* Registers a stream. Returns 0, -EBUSY past max_clients, or -ENOMEM.
 * *ret_gzip says whether the stream will be gzip (the client asked, has
 * no filter and a compressor could be shared or made). */
int hub_client_new(struct hub *hub, const struct hub_client_opts *opts, void *conn,
		   struct hub_client **ret, bool *ret_gzip);
void hub_client_free(struct hub_client *client);
/* The peer went away: the stream ends at its next read, which comes soon. */
void hub_client_hangup(struct hub_client *client);
/* Copies what is due to the client into buf. Returns the byte count; 0
 * after suspending the client (ops->suspend) when nothing is due; -1 once
 * the stream is over (hub closed, peer gone or stalled). */
long hub_client_read(struct hub_client *client, char *buf, size_t max);

/* A stream's next bytes for one writev: iovecs over the shared pieces
 * themselves (no copy), each piece held until hub_client_sent. */
#define HUB_BATCH_IOV 64
struct hub_piece {     /* private to the hub */
	void *ref;     /* the shared piece held, or NULL (static or inline bytes) */
	const char *p; /* the bytes, unless inline */
	size_t len;
	unsigned char inl[14]; /* small bytes of its own (framing) */
	unsigned char inl_len;
};
struct hub_batch {
	struct iovec iov[HUB_BATCH_IOV];
	struct hub_piece piece[HUB_BATCH_IOV]; /* piece[i] backs iov[i] */
	size_t n;                              /* iovecs */
	size_t bytes;                          /* their total */
};
/* Gathers what is due to the client into b: about `max` bytes of the
 * stream at most, wrapped as one HTTP/1.1 chunk when `chunked`. Returns the
 * byte count of b; 0 after parking the client (ops->suspend) when nothing
 * is due; -1 once the stream is over. What was gathered counts as taken:
 * pass b to hub_client_sent with the count the socket took, and the client
 * keeps the rest to hand out first next time. */
long hub_client_gather(struct hub_client *client, struct hub_batch *b, size_t max, bool chunked);
/* Releases b's pieces after `written` of its bytes went out; b is empty
 * after it. */
void hub_client_sent(struct hub_client *client, struct hub_batch *b, size_t written);

/* The current state of the topics in mask as one JSON object (the
 * `snapshot` event's data), read in pieces; gzip when asked. The reader
 * holds references to shared pieces, never a copy. */
struct hub_reader *hub_reader_new(struct hub *hub, uint64_t mask, bool gzip, size_t *ret_size);
long hub_reader_read(struct hub_reader *r, char *buf, size_t max);
void hub_reader_free(struct hub_reader *r);
/* The same, whole and malloc'd (tests and tools). */
char *hub_snapshot_json(struct hub *hub, uint64_t mask, size_t *ret_len);

/* Parses a `topics=` list ("cpu,mem") into a mask over names[]; on an
 * unknown or empty name returns -EINVAL and copies that name into bad. */
int hub_topic_mask(const char *const *names, const char *list, uint64_t *ret_mask, char *bad,
		   size_t bad_len);
void hub_get_stats(struct hub *hub, struct hub_stats *ret);

#endif
