/* Connection accounting: see conns.h. */
#include "conns.h"
#include "clock.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum conn_state { CONN_WAITING, CONN_ACTIVE, CONN_STREAM, CONN_CLOSED };

struct conn_rec {
	int fd;
	unsigned refs; /* the connection, and its stream while it has one */
	enum conn_state state;
	bool kicked; /* shut down by us already */
	uint64_t since_ms;
	void *stream;
	struct conn_rec *prev, *next; /* in the list of its state */
};

/* Oldest first: records join at the tail as they enter a state. */
struct list {
	struct conn_rec *head, *tail;
	unsigned n;
};

struct conns {
	pthread_mutex_t lock;
	struct conns_limits lim;
	int epfd;
	int joined_fd; /* eventfd in epfd: a stream joined (its data.ptr is NULL) */
	struct list waiting, active;
	unsigned open, streams;
	uint64_t accepted, evicted_waiting, evicted_active, header_timeouts, answer_timeouts,
	    hangups;
};

static void list_add(struct list *l, struct conn_rec *r)
{
	r->next = NULL;
	r->prev = l->tail;
	if (l->tail)
		l->tail->next = r;
	else
		l->head = r;
	l->tail = r;
	l->n++;
}

static void list_del(struct list *l, struct conn_rec *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		l->head = r->next;
	if (r->next)
		r->next->prev = r->prev;
	else
		l->tail = r->prev;
	r->prev = r->next = NULL;
	l->n--;
}

/* With the lock held: the list a record's state keeps it in, or NULL. */
static struct list *list_of(struct conns *c, const struct conn_rec *r)
{
	return r->state == CONN_WAITING ? &c->waiting : r->state == CONN_ACTIVE ? &c->active : NULL;
}

static void set_state(struct conns *c, struct conn_rec *r, enum conn_state s)
{
	struct list *l = list_of(c, r);

	if (l)
		list_del(l, r);
	r->state = s;
	r->since_ms = clock_mono_ms();
	if ((l = list_of(c, r)))
		list_add(l, r);
}

/* With the lock held: ends a connection the daemon gave up on. Its fd is
 * open until conns_close, which needs this lock. libmicrohttpd then reads
 * end-of-file and closes it from its own thread. */
static void kick(struct conn_rec *r)
{
	if (r->kicked)
		return;
	r->kicked = true;
	shutdown(r->fd, SHUT_RDWR);
}

static void unref(struct conn_rec *r)
{
	if (--r->refs == 0)
		free(r);
}

struct conns *conns_new(const struct conns_limits *limits)
{
	struct conns *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->lim = *limits;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->joined_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->epfd < 0 || c->joined_fd < 0 ||
	    epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->joined_fd,
		      &(struct epoll_event){.events = EPOLLIN, .data.ptr = NULL}) < 0) {
		if (c->epfd >= 0)
			close(c->epfd);
		if (c->joined_fd >= 0)
			close(c->joined_fd);
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	return c;
}

void conns_free(struct conns *c)
{
	if (!c)
		return;
	close(c->epfd);
	close(c->joined_fd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

struct conn_rec *conns_open(struct conns *c, int fd)
{
	struct conn_rec *r = calloc(1, sizeof(*r));

	pthread_mutex_lock(&c->lock);
	c->accepted++;
	/* room for the newcomer: the oldest waiting one goes, never the new */
	while (c->waiting.n >= c->lim.max_waiting && c->waiting.head) {
		struct conn_rec *old = c->waiting.head;

		list_del(&c->waiting, old);
		old->state = CONN_CLOSED;
		kick(old);
		c->evicted_waiting++;
	}
	if (r) {
		r->fd = fd;
		r->refs = 1;
		r->state = CONN_CLOSED;
		set_state(c, r, CONN_WAITING);
		c->open++;
	}
	pthread_mutex_unlock(&c->lock);
	return r;
}

void conns_request(struct conns *c, struct conn_rec *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&c->lock);
	if (r->state == CONN_WAITING) {
		while (c->active.n >= c->lim.max_active && c->active.head) {
			struct conn_rec *old = c->active.head;

			list_del(&c->active, old);
			old->state = CONN_CLOSED;
			kick(old);
			c->evicted_active++;
		}
		set_state(c, r, CONN_ACTIVE);
	}
	pthread_mutex_unlock(&c->lock);
}

int conns_stream(struct conns *c, struct conn_rec *r, void *arg)
{
	struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLONESHOT, .data.ptr = r};
	int ret = 0;

	if (!r)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	if (r->state != CONN_CLOSED)
		set_state(c, r, CONN_STREAM);
	r->stream = arg;
	r->refs++;
	c->streams++;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, r->fd, &ev) < 0)
		ret = -errno;
	pthread_mutex_unlock(&c->lock);
	/* fails only when the counter is full, which still wakes the loop */
	eventfd_write(c->joined_fd, 1);
	return ret;
}

void conns_unstream(struct conns *c, struct conn_rec *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&c->lock);
	/* the fd is open until libmicrohttpd closes it after this returns */
	epoll_ctl(c->epfd, EPOLL_CTL_DEL, r->fd, NULL);
	r->stream = NULL;
	c->streams--;
	unref(r);
	pthread_mutex_unlock(&c->lock);
}

void conns_done(struct conns *c, struct conn_rec *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&c->lock);
	if (r->state == CONN_ACTIVE)
		set_state(c, r, CONN_WAITING);
	pthread_mutex_unlock(&c->lock);
}

void conns_close(struct conns *c, struct conn_rec *r)
{
	struct list *l;

	if (!r)
		return;
	pthread_mutex_lock(&c->lock);
	if ((l = list_of(c, r)))
		list_del(l, r);
	if (r->stream)
		epoll_ctl(c->epfd, EPOLL_CTL_DEL, r->fd, NULL);
	r->state = CONN_CLOSED;
	c->open--;
	unref(r);
	pthread_mutex_unlock(&c->lock);
}

/* With the lock held: shuts down the head of l while it is older than
 * max_ms; returns how many. */
static uint64_t expire(struct list *l, uint64_t now, unsigned max_ms)
{
	uint64_t n = 0;

	while (l->head && now - l->head->since_ms >= max_ms) {
		struct conn_rec *r = l->head;

		list_del(l, r);
		r->state = CONN_CLOSED;
		kick(r);
		n++;
	}
	return n;
}

void conns_sweep(struct conns *c)
{
	uint64_t now = clock_mono_ms();

	pthread_mutex_lock(&c->lock);
	c->header_timeouts += expire(&c->waiting, now, c->lim.header_ms);
	c->answer_timeouts += expire(&c->active, now, c->lim.answer_ms);
	pthread_mutex_unlock(&c->lock);
}

int conns_watch_fd(struct conns *c)
{
	return c->epfd;
}

void conns_reap(struct conns *c, void (*hangup)(void *arg))
{
	struct epoll_event evs[64];
	int n;

	pthread_mutex_lock(&c->lock);
	while ((n = epoll_wait(c->epfd, evs, 64, 0)) > 0) {
		for (int i = 0; i < n; i++) {
			struct conn_rec *r = evs[i].data.ptr;
			eventfd_t joined;

			if (!r) {
				eventfd_read(c->joined_fd, &joined);
				continue;
			}
			/* one-shot: it stays in the set, disarmed, until unstream */
			if (r->stream) {
				c->hangups++;
				hangup(r->stream);
			}
		}
		if (n < 64)
			break;
	}
	pthread_mutex_unlock(&c->lock);
}

void conns_get_stats(struct conns *c, struct conns_stats *ret)
{
	pthread_mutex_lock(&c->lock);
	*ret = (struct conns_stats){
	    .open = c->open,
	    .waiting = c->waiting.n,
	    .active = c->active.n,
	    .streams = c->streams,
	    .accepted = c->accepted,
	    .evicted_waiting = c->evicted_waiting,
	    .evicted_active = c->evicted_active,
	    .header_timeouts = c->header_timeouts,
	    .answer_timeouts = c->answer_timeouts,
	    .hangups = c->hangups,
	};
	pthread_mutex_unlock(&c->lock);
}
