/* The one event loop: an epoll set of fds, each with its handler and
 * context (timers, signals, collectors' fds, the HTTP side's hangup watch).
 * Handlers run on the loop thread, one at a time. */
#ifndef SYSFEED_LOOP_H
#define SYSFEED_LOOP_H

#include <stdint.h>
#include <time.h>

struct loop;

/* Called when fd is readable. */
typedef void loop_fn(void *ctx, int fd);

struct loop *loop_new(void);
/* Closes the fds it made (timers), not those it was given. */
void loop_free(struct loop *l);
int loop_add(struct loop *l, int fd, loop_fn *fn, void *ctx);
/* A timerfd on clock firing every period_ms (first after first_ms), read
 * before fn runs; its fd, or -errno. */
int loop_timer(struct loop *l, clockid_t clock, unsigned first_ms, unsigned period_ms, loop_fn *fn,
	       void *ctx);
/* Runs handlers until one calls loop_stop; returns its status. */
int loop_run(struct loop *l);
void loop_stop(struct loop *l, int status);

#endif
