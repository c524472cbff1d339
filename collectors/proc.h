/* The `proc` topic: process totals and the top N processes by CPU and by
 * resident memory. /proc/<pid>/stat is read through an fd kept open across
 * ticks. On the live /proc a process whose CPU clock (clock_gettime of its
 * process CPU clock: every thread's runtime) did not move since its last
 * reading keeps that reading, long sleepers are checked every few ticks,
 * exits come from pidfds in an epoll set, and new pids from listing only
 * the part of /proc above the last pid seen: an idle process costs less
 * than one syscall a tick. */
#ifndef SYSFEED_PROC_H
#define SYSFEED_PROC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "settings.h"

/* The keys of the `proc` topic (proc_collector.settings). */
struct proc_settings {
	unsigned top_n; /* rows in each top list */
};

extern const struct collector proc_collector;

#endif
