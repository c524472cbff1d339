/* Per-process GPU use for the `proc` topic's top rows: each process's
 * fds that point into /dev/dri/ (found by readlink of the links in /proc/<pid>/fd),
 * their DRM fdinfo (proc_drm.h) read each tick, clients counted once by
 * drm-pdev and drm-client-id, and the busiest engine's share and the
 * memory of the process's buffers. Used only where the sys root has a DRM
 * device (gpu_drm_present). */
#ifndef SYSFEED_PROC_GPU_H
#define SYSFEED_PROC_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proc_drm.h"
#include "proc_table.h"
#include "procfs.h"

/* A process's fds are listed when it is first seen, and again once it
 * ran (its CPU clock, or utime + stime, moved) and its last listing is
 * at least this many ticks old: only a process that runs can open a DRM
 * device. */
#define PROC_GPU_RESCAN_TICKS 4
/* At most this many readlink calls start in one tick (a process's listing
 * is never cut); the processes left wait for the next tick, in turn. */
#define PROC_GPU_LINKS_TICK 4096
/* A process holding DRM fds has them read at each tick where it ran or
 * where its last reading had an engine busy (work it queued before may
 * still run), and at least every this many ticks (memory it holds). */
#define PROC_GPU_REFRESH_TICKS 16

/* One DRM client of a process as last read: the engines' readings, kept
 * at their largest (proc_drm_fold). */
struct proc_gpu_client {
	char pdev[PROC_DRM_NAME_MAX];
	uint64_t id;
	uint64_t mono_ns; /* when read */
	bool seen;        /* in the reading of this tick */
	size_t n_engines;
	struct proc_drm_engine engines[PROC_DRM_ENGINES];
};

/* What a process holding DRM fds carries (proc_entry.gpu). */
struct proc_gpu {
	int *fds; /* its fds pointing into /dev/dri/, from the last listing */
	size_t n_fds, cap_fds;
	struct proc_gpu_client *clients;
	size_t n_clients, cap_clients;
	uint64_t read_tick; /* when the fdinfo files were last read */
	uint64_t read_mark; /* the CPU clock (or ticks) then */
	int64_t pct;        /* busiest engine, hundredths of a percent; -1: none */
	uint64_t mem_bytes;
	bool has_mem;
};

/* What the collector keeps for the join across ticks. Zero-initialise;
 * release with proc_gpu_scan_done(). */
struct proc_gpu_scan {
	char *dents;
	size_t cursor; /* where the listings of the next tick start */
	struct procfs_buf buf;
	struct proc_drm_client client;
};

/* One tick of the join over every process of t (after proc_table_update
 * and proc_table_list): fds listed where due (see above), fdinfo read
 * where due. Kernel threads and zombies hold no fds. A process whose fd
 * directory cannot be opened (another user's, to an unprivileged daemon)
 * is not listed again until it execs or its pid is reused. Returns 0 or
 * -ENOMEM. */
int proc_gpu_update(struct proc_gpu_scan *g, struct proc_table *t, int proc_fd, uint64_t mono_ns);

/* Whether e holds a DRM client now, and its busiest engine's share in
 * hundredths of a percent (-1: no rate yet) and its buffers' bytes
 * (*ret_has_mem false: its driver gives none). */
bool proc_gpu_of(const struct proc_entry *e, int64_t *ret_pct, uint64_t *ret_mem,
		 bool *ret_has_mem);

/* Drops what every process of t carries: no DRM device any more. */
void proc_gpu_forget(struct proc_table *t);
/* Makes every process of t be listed again (a new proc root); the
 * clients' readings stay, so that rates go on. */
void proc_gpu_relist(struct proc_table *t);

void proc_gpu_free(struct proc_gpu *p);
void proc_gpu_scan_done(struct proc_gpu_scan *g);

#endif
