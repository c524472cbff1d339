/* statfs() of mount points in worker processes, for the `fs` topic: forks
 * that never exec, asked through pipes and never waited for, so that a hung
 * NFS or FUSE mount shows as not responding instead of stopping the daemon,
 * and never keeps it from exiting (see fs_pool.c). */
#ifndef SYSFEED_FS_POOL_H
#define SYSFEED_FS_POOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "fs_child.h"

/* A mount point asked about, matched across mountinfo reads by mount id
 * and path, with its latest answer. The pool owns it; the caller reads
 * hung, have, err and usage. */
struct fs_slot {
	uint64_t key; /* unique, never reused: an answer finds its slot by it */
	unsigned mount_id;
	char *path;
	bool local;        /* asked on the caller's thread (see fs_pool_claim) */
	bool seen;         /* still mounted at the last parse */
	bool queued;       /* a live worker has a request for it */
	bool stuck;        /* a killed worker is still in a call on it */
	bool hung;         /* its last call timed out and none answered since */
	bool have;         /* usage holds a reading */
	int err;           /* errno of the latest answer, or 0 */
	uint64_t retry_ns; /* hung: not asked again before */
	struct fs_usage usage;
};

struct fs_pool;

/* A pool without workers: a call older than timeout_ns is given up on.
 * Returns NULL when out of memory. */
struct fs_pool *fs_pool_new(uint64_t timeout_ns);
/* Kills every worker and reaps them, waiting up to 100 ms (FS_FINI_WAIT_MS) for
 * those not known to be stuck; a stuck one is left behind (to init once
 * the daemon exits), and holds nothing of the daemon but memory. Accepts
 * NULL. */
void fs_pool_free(struct fs_pool *p);
void fs_pool_set_timeout(struct fs_pool *p, uint64_t timeout_ns);

/* Matching the mounts of a new mountinfo read with slots: mark, then claim
 * each mount shown (the unclaimed slot of the same mount id and path, or a
 * new one; NULL when out of memory), then sweep the slots not claimed. A
 * local mount (a filesystem whose statfs() answers from memory, see
 * fs_type_is_local) is asked on the caller's thread at each round, without
 * a worker: no process wakes up for it. */
void fs_pool_mark(struct fs_pool *p);
struct fs_slot *fs_pool_claim(struct fs_pool *p, unsigned mount_id, const char *path, bool local);
void fs_pool_sweep(struct fs_pool *p);

/* The first round: asks for every slot, starting the main worker when a
 * slot is not local. Returns 0, or -errno when such a slot needs the worker
 * and it cannot start. */
int fs_pool_start(struct fs_pool *p);
/* Never blocks: files the answers that arrived, gives up on calls older
 * than the timeout, reaps workers that ended and asks for the next round. */
void fs_pool_update(struct fs_pool *p);

/* For tests: waits up to timeout_ms until every request sent so far is
 * answered, except calls already older than the timeout, and files the
 * answers. Returns 0 or -ETIMEDOUT. */
int fs_pool_settle(struct fs_pool *p, unsigned timeout_ms);
/* For tests: killed workers still stuck in a call (not yet reaped). */
unsigned fs_pool_stuck(const struct fs_pool *p);
/* For tests: the pid of the worker that reads the rounds, or 0 (also when
 * every mount is local). */
pid_t fs_pool_worker_pid(const struct fs_pool *p);

#endif
