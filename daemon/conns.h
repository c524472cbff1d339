/* Connection accounting for the HTTP side: budgets and deadlines that keep
 * slow or idle connections from locking a new client out, and a watch on
 * stream sockets that notices a peer gone even while its stream is parked.
 * Called from libmicrohttpd's threads and the loop thread; one mutex. */
#ifndef SYSFEED_CONNS_H
#define SYSFEED_CONNS_H

#include <stdint.h>

struct conns;
struct conn_rec;

struct conns_limits {
	unsigned max_waiting; /* connections without a full request (or idle between two) */
	unsigned max_active;  /* requests being answered, streams aside */
	unsigned header_ms;   /* from accept (or the last answer) to a full request */
	unsigned answer_ms;   /* from a full request to the end of its answer */
};

struct conns_stats {
	unsigned open, waiting, active, streams;
	uint64_t accepted;
	uint64_t evicted_waiting; /* oldest waiting one closed for a new connection */
	uint64_t evicted_active;  /* oldest answer cut for a new request */
	uint64_t header_timeouts, answer_timeouts;
	uint64_t hangups; /* stream peers seen gone while parked */
};

struct conns *conns_new(const struct conns_limits *limits);
void conns_free(struct conns *c);

/* A connection was accepted on fd: it starts waiting for its request. When
 * max_waiting are waiting already, the oldest of them is shut down to make
 * room. Returns its record, or NULL (out of memory: not tracked). */
struct conn_rec *conns_open(struct conns *c, int fd);
/* Its request arrived whole: it is being answered. */
void conns_request(struct conns *c, struct conn_rec *r);
/* The answer is an event stream: no answer deadline; the socket is
 * watched for the peer going away, reported as hangup(arg) by conns_reap.
 * Pair with conns_unstream before `arg` goes. */
int conns_stream(struct conns *c, struct conn_rec *r, void *arg);
void conns_unstream(struct conns *c, struct conn_rec *r);
/* The answer is done and the connection stays open: it waits again. */
void conns_done(struct conns *c, struct conn_rec *r);
/* The connection is closed (its fd is still open): forget it. */
void conns_close(struct conns *c, struct conn_rec *r);

/* Loop thread, about once a second: shuts down the connections past their
 * deadline. */
void conns_sweep(struct conns *c);
/* The fd that becomes readable when a watched stream's peer went away, or
 * when a stream joined (conns_stream): the loop then looks at once at what
 * the streams follow (the journal is followed closely only while a stream
 * reads `log`), not at the next housekeeping. */
int conns_watch_fd(struct conns *c);
/* Loop thread: reports the streams whose peer went away (and takes the
 * news of streams that joined); hangup is called with the lock held, while
 * `arg` is sure to live. */
void conns_reap(struct conns *c, void (*hangup)(void *arg));
void conns_get_stats(struct conns *c, struct conns_stats *ret);

#endif
