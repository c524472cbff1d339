/* The event loop: see loop.h. */
#include "loop.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"

#define LOOP_MAX 128

struct watch {
	int fd;
	bool timer; /* ours: read its expirations, close it */
	loop_fn *fn;
	void *ctx;
};

struct loop {
	int epfd;
	struct watch w[LOOP_MAX];
	size_t n;
	bool stop;
	int status;
};

struct loop *loop_new(void)
{
	struct loop *l = calloc(1, sizeof(*l));

	if (l && (l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		free(l);
		return NULL;
	}
	return l;
}

void loop_free(struct loop *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		if (l->w[i].timer)
			close(l->w[i].fd);
	close(l->epfd);
	free(l);
}

static int add(struct loop *l, int fd, bool timer, loop_fn *fn, void *ctx)
{
	struct epoll_event ev = {.events = EPOLLIN};

	if (l->n == LOOP_MAX)
		return -ENOSPC;
	l->w[l->n] = (struct watch){fd, timer, fn, ctx};
	ev.data.ptr = &l->w[l->n];
	if (epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0)
		return -errno;
	l->n++;
	return 0;
}

int loop_add(struct loop *l, int fd, loop_fn *fn, void *ctx)
{
	return add(l, fd, false, fn, ctx);
}

int loop_timer(struct loop *l, clockid_t clock, unsigned first_ms, unsigned period_ms, loop_fn *fn,
	       void *ctx)
{
	struct itimerspec its = {
	    .it_interval = {period_ms / 1000, (long)(period_ms % 1000) * 1000000},
	    .it_value = {first_ms / 1000, (long)(first_ms % 1000) * 1000000},
	};
	int fd = timerfd_create(clock, TFD_NONBLOCK | TFD_CLOEXEC), r;

	if (fd < 0)
		return -errno;
	if (timerfd_settime(fd, 0, &its, NULL) < 0 || (r = add(l, fd, true, fn, ctx)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

int loop_run(struct loop *l)
{
	while (!l->stop) {
		struct epoll_event evs[16];
		int n = epoll_wait(l->epfd, evs, 16, -1);

		if (n < 0 && errno != EINTR) {
			log_warn("epoll_wait");
			return 1;
		}
		for (int i = 0; i < n && !l->stop; i++) {
			struct watch *w = evs[i].data.ptr;
			uint64_t expirations;

			if (w->timer && read(w->fd, &expirations, sizeof(expirations)) < 0)
				continue;
			w->fn(w->ctx, w->fd);
		}
	}
	return l->status;
}

void loop_stop(struct loop *l, int status)
{
	l->stop = true;
	l->status = status;
}
