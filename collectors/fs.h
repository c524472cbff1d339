/* The `fs` topic: every real mounted filesystem from /proc/self/mountinfo,
 * with its size, usage and inodes as df(1) shows them. statfs() runs in a
 * worker process, never on the loop thread nor in any thread of the daemon,
 * so a hung NFS or FUSE mount shows as "responding": false instead of
 * stopping the daemon, and never keeps it from exiting. */
#ifndef SYSFEED_FS_H
#define SYSFEED_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collector.h"
#include "fs_mountinfo.h"
#include "fs_pool.h"
#include "settings.h"

/* The keys of the `fs` topic (fs_collector.settings). */
struct fs_settings {
	struct list fs_types; /* filesystem types or patterns */
	struct list mounts;   /* mount points or patterns */
	unsigned timeout_ms;  /* a statfs slower than this is "not responding" */
};

/* One entry of the payload's "filesystems". u is NULL when there is no
 * reading yet; err is 0 or the errno of the latest failed statfs (its
 * text goes into "error"). Returns 0 or -ENOMEM. */
int fs_mount_json(const struct fs_mount *m, const struct fs_usage *u, bool responding, int err,
		  cJSON **ret);

/* For tests: waits up to timeout_ms until every request sent by the last
 * init or sample is answered, except calls already older than
 * fs-timeout-ms, and files the answers (the next sample publishes them).
 * Returns 0 or -ETIMEDOUT. */
int fs_settle(void *state, unsigned timeout_ms);

/* For tests: killed workers still stuck in a call (not yet reaped). */
unsigned fs_stuck_workers(void *state);

/* For tests: the pid of the worker that reads the rounds, or 0. */
pid_t fs_worker_pid(void *state);

extern const struct collector fs_collector;

#endif
