/* Stream writers (see http_impl.h): each thread has an epoll set with its
 * wake-up eventfd and the sockets of its streams that wait for room, a
 * queue of streams woken by the hub, and the list of every stream it
 * sends. A stream is in one place at a time: queued, waiting for room,
 * parked in the hub (which wakes it through writers_wake), or being sent. */
#include "http.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <microhttpd.h>

#include "http_impl.h"
#include "hub.h"

#define WRITE_MAX    (64u << 10) /* bytes gathered for one writev at most */
#define WRITE_ROUNDS 8           /* writevs for one stream before the others' turn */
#define WRITE_EVENTS 256

struct writer {
	pthread_t thread;
	int ep, efd;
	pthread_mutex_t lock; /* guards ready, ready_tail, stopping */
	struct stream *ready, *ready_tail;
	bool stopping;
	struct stream *all; /* the thread's own */
	struct hub_batch batch;
};

struct writers {
	struct writer *w;
	unsigned n, started;
	unsigned next; /* atomic: the next stream's writer */
};

static void signal_writer(struct writer *w)
{
	uint64_t one = 1;

	while (write(w->efd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* Queues st to its writer; true when the queue was empty (signal it). */
static bool enqueue(struct writer *w, struct stream *st)
{
	bool first = false;

	if (st->queued)
		return false;
	st->queued = true;
	st->qnext = NULL;
	if (w->ready_tail) {
		w->ready_tail->qnext = st;
	} else {
		w->ready = st;
		first = true;
	}
	w->ready_tail = st;
	return first;
}

void writers_wake(struct stream *st)
{
	struct writer *w = st->writer;
	bool first;

	pthread_mutex_lock(&w->lock);
	first = enqueue(w, st);
	pthread_mutex_unlock(&w->lock);
	if (first)
		signal_writer(w);
}

bool writers_adopt(struct writers *ws, struct stream *st)
{
	struct writer *w;
	bool first;
	int one = 1;

	if (!ws || !ws->started)
		return false;
	w = &ws->w[__atomic_fetch_add(&ws->next, 1, __ATOMIC_RELAXED) % ws->started];
	pthread_mutex_lock(&w->lock);
	if (w->stopping) {
		pthread_mutex_unlock(&w->lock);
		return false;
	}
	/* Suspended before any writer sees it, so that its end (a resume)
	 * always comes after. Frames go out as they are written. */
	MHD_suspend_connection(st->mc);
	setsockopt(st->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	st->writer = w;
	first = enqueue(w, st);
	pthread_mutex_unlock(&w->lock);
	if (first)
		signal_writer(w);
	return true;
}

/* Writer thread: st is done with; libmicrohttpd's reader ends its body.
 * st may be gone once this returns. */
static void finish(struct writer *w, struct stream *st)
{
	if (st->in_ep)
		epoll_ctl(w->ep, EPOLL_CTL_DEL, st->fd, NULL);
	st->in_ep = false;
	if (st->prev)
		st->prev->next = st->next;
	else
		w->all = st->next;
	if (st->next)
		st->next->prev = st->prev;
	st->prev = st->next = NULL;
	MHD_resume_connection(st->mc);
}

/* Writer thread: wait until st's socket takes more. */
static void wait_room(struct writer *w, struct stream *st)
{
	struct epoll_event ev = {.events = EPOLLOUT | EPOLLONESHOT, .data.ptr = st};

	if (epoll_ctl(w->ep, st->in_ep ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, st->fd, &ev) == 0) {
		st->in_ep = true;
		return;
	}
	hub_client_hangup(st->client); /* cannot wait: end it rather than lose it */
	finish(w, st);
}

/* Writer thread: sends what is due to st until nothing is (the hub parks
 * it), its socket is full, or the stream ends. */
static void service(struct writer *w, struct stream *st)
{
	struct hub_batch *b = &w->batch;

	for (unsigned round = 0; round < WRITE_ROUNDS; round++) {
		long n = hub_client_gather(st->client, b, WRITE_MAX, st->chunked);
		struct msghdr msg = {.msg_iov = b->iov, .msg_iovlen = b->n};
		ssize_t put;

		if (n < 0) {
			finish(w, st);
			return;
		}
		if (n == 0)
			return;
		put = sendmsg(st->fd, &msg, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (put < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			put = 0;
		if (put < 0) { /* the peer is gone */
			hub_client_sent(st->client, b, 0);
			hub_client_hangup(st->client);
			finish(w, st);
			return;
		}
		hub_client_sent(st->client, b, (size_t)put);
		if (put < n) {
			wait_room(w, st);
			return;
		}
	}
	writers_wake(st); /* more to send: after the others */
}

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	struct epoll_event evs[WRITE_EVENTS];
	bool stopping = false;

	while (!stopping) {
		struct stream *todo;
		uint64_t count;
		int n = epoll_wait(w->ep, evs, WRITE_EVENTS, -1);

		for (int i = 0; i < n; i++) {
			struct stream *st = evs[i].data.ptr;

			if (!st) {
				while (read(w->efd, &count, sizeof(count)) < 0 && errno == EINTR)
					;
				continue;
			}
			service(w, st); /* room again, or an error to see */
		}
		pthread_mutex_lock(&w->lock);
		todo = w->ready;
		w->ready = w->ready_tail = NULL;
		for (struct stream *st = todo; st; st = st->qnext)
			st->queued = false;
		stopping = w->stopping;
		pthread_mutex_unlock(&w->lock);
		while (todo) {
			struct stream *st = todo;

			todo = st->qnext;
			if (!st->listed) { /* just adopted */
				st->listed = true;
				st->next = w->all;
				if (w->all)
					w->all->prev = st;
				w->all = st;
			}
			if (!stopping)
				service(w, st);
		}
	}
	/* Adoption and stopping share the lock: every stream adopted is in
	 * the list now. */
	while (w->all)
		finish(w, w->all);
	return NULL;
}

struct writers *writers_start(unsigned n)
{
	struct writers *ws = calloc(1, sizeof(*ws));

	if (!ws || !(ws->w = calloc(n, sizeof(*ws->w)))) {
		free(ws);
		return NULL;
	}
	ws->n = n;
	for (unsigned i = 0; i < n; i++) {
		struct writer *w = &ws->w[i];
		struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};

		pthread_mutex_init(&w->lock, NULL);
		w->ep = epoll_create1(EPOLL_CLOEXEC);
		w->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (w->ep < 0 || w->efd < 0 || epoll_ctl(w->ep, EPOLL_CTL_ADD, w->efd, &ev) < 0 ||
		    pthread_create(&w->thread, NULL, writer_main, w) != 0) {
			if (w->ep >= 0)
				close(w->ep);
			if (w->efd >= 0)
				close(w->efd);
			pthread_mutex_destroy(&w->lock);
			break;
		}
		ws->started++;
	}
	if (!ws->started) {
		free(ws->w);
		free(ws);
		return NULL;
	}
	return ws;
}

void writers_stop(struct writers *ws)
{
	if (!ws)
		return;
	for (unsigned i = 0; i < ws->started; i++) {
		struct writer *w = &ws->w[i];

		pthread_mutex_lock(&w->lock);
		w->stopping = true;
		pthread_mutex_unlock(&w->lock);
		signal_writer(w);
	}
	for (unsigned i = 0; i < ws->started; i++) {
		struct writer *w = &ws->w[i];

		pthread_join(w->thread, NULL);
		close(w->ep);
		close(w->efd);
		pthread_mutex_destroy(&w->lock);
	}
	free(ws->w);
	free(ws);
}
