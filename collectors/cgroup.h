/* A host's cgroup hierarchies on any layout (v2, v1, hybrid) and one
 * cgroup's numbers read from them: CPU time, memory and its limit, tasks,
 * block I/O, OOM kills, frozen, and its first process. The same names on
 * every layout; a number whose controller is not mounted, not enabled for
 * the cgroup or unreadable is -1 (null), never a guess. Shared by the
 * `svc` and `containers` topics; files are read through held fds. */
#ifndef SYSFEED_CGROUP_H
#define SYSFEED_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "procfs.h"

enum cgroup_layout {
	CGROUP_V2,     /* the unified hierarchy at fs/cgroup */
	CGROUP_V1,     /* one hierarchy per controller under fs/cgroup */
	CGROUP_HYBRID, /* v1 controllers, and cgroup2 without them at fs/cgroup/unified */
};

/* The hierarchies a v1 host may have, by the directory under fs/cgroup. */
enum cgroup_hier {
	CGROUP_H_UNIFIED, /* v2: fs/cgroup itself; hybrid: fs/cgroup/unified */
	CGROUP_H_SYSTEMD, /* name=systemd */
	CGROUP_H_CPUACCT,
	CGROUP_H_MEMORY,
	CGROUP_H_PIDS,
	CGROUP_H_BLKIO,
	CGROUP_H_FREEZER,
	CGROUP_NHIER,
};

enum cgroup_file {
	CGROUP_CPU,    /* cpu.stat usage_usec | cpuacct.usage */
	CGROUP_MEM,    /* memory.current | memory.usage_in_bytes */
	CGROUP_PIDS,   /* pids.current */
	CGROUP_IO,     /* io.stat | blkio.throttle.io_service_bytes */
	CGROUP_LIMIT,  /* memory.max | memory.limit_in_bytes */
	CGROUP_OOM,    /* memory.events oom_kill | memory.oom_control oom_kill */
	CGROUP_FREEZE, /* cgroup.events frozen | freezer.state */
	CGROUP_PROCS,  /* cgroup.procs: the first pid */
	CGROUP_NFILES,
};

#define CGROUP_ALL ((1u << CGROUP_NFILES) - 1)

/* Files missing for a cgroup are looked for again every this many ticks. */
#define CGROUP_RETRY_TICKS 16
/* A cgroup whose CPU time stood still between two readings is idle: then
 * only its CPU time is read each tick (read whole again as soon as that
 * moves), the rest of it every this many ticks, each cgroup at a phase of
 * its own; most of a host's services and containers sleep. */
#define CGROUP_IDLE_TICKS 16

struct cgroup_root {
	enum cgroup_layout layout;
	int fd[CGROUP_NHIER]; /* O_PATH directory fds, -1: not mounted; on v2 all
				 but CGROUP_H_UNIFIED are -1 */
	dev_t dev;            /* the sys root they were opened under */
	ino_t ino;
};

/* One cgroup's held fds, and when to look again for missing files. */
struct cgroup_files {
	int fd[CGROUP_NFILES];
	uint64_t retry[CGROUP_NFILES];
};

/* One reading; -1 where there is none. */
struct cgroup_values {
	int64_t cpu_ns, mem, pids, io_r, io_w;
	int64_t limit; /* -1 also for "no limit" */
	int64_t oom_kills, frozen, pid;
};

/* What reads share: the root, a buffer, the fd budget and the tick. */
struct cgroup_reader {
	const struct cgroup_root *root;
	char *buf;
	size_t held, held_max;
	uint64_t ticks;
};

/* Opens fs/cgroup under sys_fd and finds the layout and hierarchies.
 * Returns 0, or -errno with a one-line reason (no fs/cgroup, nothing
 * mounted there). root->fd are -1 on failure. */
int cgroup_root_open(struct cgroup_root *root, int sys_fd, char *reason, size_t reason_len);
void cgroup_root_close(struct cgroup_root *root);
/* Whether sys_fd is still the sys root root was opened under. */
bool cgroup_root_same(const struct cgroup_root *root, int sys_fd);
/* "v2", "v1" or "hybrid". */
const char *cgroup_layout_name(enum cgroup_layout layout);
/* The distinct hierarchies where cgroups are named (v2: the unified one;
 * v1: systemd's and each controller's, the same mount counted once),
 * into ret (CGROUP_NHIER long). Returns how many. */
size_t cgroup_name_hiers(const struct cgroup_root *root, int *ret);
/* The hierarchy where containers are looked for: the unified one on v2,
 * else memory's (every engine makes one there), else systemd's; -1. */
int cgroup_find_fd(const struct cgroup_root *root);

/* Watches the directory fd with inotify (mask) through its /proc/self/fd
 * link, so that a directory under another sys root is watched too.
 * Returns 0 or -errno (ENOSPC: fs.inotify.max_user_watches). */
int cgroup_watch(int inotify_fd, int fd, uint32_t mask);

/* Reads every event waiting on the (non-blocking) inotify fd. Returns
 * whether one was about a directory, or events were lost. */
bool cgroup_drain(int inotify_fd);

int cgroup_reader_init(struct cgroup_reader *rd, const struct cgroup_root *root, size_t held_max);
void cgroup_reader_done(struct cgroup_reader *rd);

void cgroup_files_init(struct cgroup_files *f);
void cgroup_files_close(struct cgroup_reader *rd, struct cgroup_files *f);

/* Reads the files in mask (1 << enum cgroup_file) of the cgroup at rel
 * (relative to each hierarchy, "system.slice/ssh.service") into v; the
 * others are -1. Returns 0, or -ENOENT when none could be read and one was
 * found gone (the cgroup was removed). */
int cgroup_read(struct cgroup_reader *rd, struct cgroup_files *f, const char *rel, unsigned mask,
		struct cgroup_values *v);

/* A cgroup's numbers of the last tick (-1: null) and the counters its
 * rates come from: what services and containers share. */
struct cgroup_stats {
	struct procfs_counter cpu, rd, wr;
	int64_t cpu_h; /* hundredths of a percent of one core */
	int64_t mem, pids, io_r, io_w;
};

/* The stats of a new reading v of the files in mask at mono_ns: rates
 * from the previous one; the fields of files not in mask stay. */
void cgroup_stats_update(struct cgroup_stats *st, const struct cgroup_values *v, unsigned mask,
			 uint64_t mono_ns);

/* Where a cgroup is in its reading by activity (cgroup_sample). */
struct cgroup_pace {
	bool idle;          /* idle at its last reading */
	uint64_t idle_next; /* idle: the tick it is looked at whole again */
};

/* What cgroup_sample did (flags), or -ENOENT: the cgroup is gone. */
#define CGROUP_SKIPPED 1 /* idle, its CPU time still: nothing else read */
#define CGROUP_STILL   2 /* its CPU time did not move since the last reading */

/* One tick of a cgroup read by activity, into st (v: what was read, -1
 * elsewhere). A busy one has the files in busy read (CPU among them). An
 * idle one has its CPU time read alone: still, the rest is left until
 * idle_next, then the files in sleeping (and its CPU rate of 0); moved, it
 * woke and busy is read. Then the caller says with cgroup_pace_set whether
 * it is idle now. */
int cgroup_sample(struct cgroup_reader *rd, struct cgroup_files *f, const char *rel,
		  struct cgroup_pace *p, unsigned busy, unsigned sleeping, struct cgroup_stats *st,
		  struct cgroup_values *v, uint64_t mono_ns);
/* Records whether the cgroup is idle after this tick's reading; a new
 * sleeper (or one just looked at whole) gets its next whole look at the
 * first tick past this one that is phase modulo CGROUP_IDLE_TICKS. */
void cgroup_pace_set(const struct cgroup_reader *rd, struct cgroup_pace *p, bool idle,
		     unsigned phase);

/* The raw values of the families services and containers share (false:
 * none): CPU seconds, memory, tasks, bytes read and written. */
bool cgroup_stats_cpu(const struct cgroup_stats *st, double *ret);
bool cgroup_stats_mem(const struct cgroup_stats *st, double *ret);
bool cgroup_stats_tasks(const struct cgroup_stats *st, double *ret);
bool cgroup_stats_read(const struct cgroup_stats *st, double *ret);
bool cgroup_stats_written(const struct cgroup_stats *st, double *ret);

/* value * scale / dt_ns from two readings of a counter, rounded half up;
 * -1 on the first reading, when the counter went backwards (one delta
 * skipped) or when no time passed. Keeps the reading. */
int64_t cgroup_rate(struct procfs_counter *c, uint64_t value, uint64_t mono_ns, uint64_t scale);

#endif
