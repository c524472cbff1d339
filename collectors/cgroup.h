/* A host's cgroup hierarchies on any layout (v2, v1, hybrid) and one
 * cgroup's numbers read from them: CPU time, memory and its limit, tasks,
 * block I/O, OOM kills, frozen, and its first process. The same names on
 * every layout; a number whose controller is not mounted, not enabled for
 * the cgroup or unreadable is -1 (null), never a guess. Shared by the
 * `svc` and `containers` topics; files are read through held fds
 * (cgroup.c), units are paced and proved idle by cgroup_unit.c. */
#ifndef SYSFEED_CGROUP_H
#define SYSFEED_CGROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "collector.h"
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
	/* io.stat | blkio.throttle.io_service_bytes_recursive: a parent's,
	 * the bytes of its whole subtree (struct cgroup_group) */
	CGROUP_IO_TREE,
	CGROUP_NFILES,
};

/* Files missing for a cgroup are looked for again every this many ticks. */
#define CGROUP_RETRY_TICKS 16
/* A cgroup whose CPU time stood still between two readings is idle: then
 * only its CPU time is read each tick (read whole again as soon as that
 * moves), the rest of it every this many ticks, each cgroup at a phase of
 * its own; most of a host's services and containers sleep. */
#define CGROUP_IDLE_TICKS 16
/* An idle cgroup whose whole look found nothing moved (memory, tasks, I/O;
 * a collector adds its own numbers) is looked at again after twice as
 * long, up to this many ticks; one that found a change, after
 * CGROUP_IDLE_TICKS again. */
#define CGROUP_IDLE_MAX 64
/* A busy cgroup's files other than its CPU time and I/O bytes (memory,
 * tasks; a container's OOM kills and limit) are read each tick while they
 * move; a reading that finds them as they were puts the next one 2, then
 * 4, 8, then up to this many ticks later, and one that finds them moved
 * brings them back to every tick. A running process's memory mostly holds
 * still: it is not read each tick for nothing (on a host of many busy
 * cgroups these readings cost more than the CPU times once held at 8). */
#define CGROUP_STEADY_TICKS 16

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

/* What reads share: the root, a buffer, the fd budget and the tick, and
 * counts for the self metrics. */
struct cgroup_reader {
	const struct cgroup_root *root;
	char *buf;
	size_t held, held_max; /* fds held open, and at most */
	uint64_t ticks;
	uint64_t mono_ns, dt_ns; /* this tick's clock, and the time since the last */
	uint64_t reads;          /* files read */
	uint64_t proven;         /* idle units' readings left out: their group proved them still */
};

/* Opens fs/cgroup under sys_fd and finds the layout and hierarchies.
 * Returns 0, or -errno with a one-line reason (no fs/cgroup, nothing
 * mounted there). root->fd are -1 on failure. */
int cgroup_root_open(struct cgroup_root *root, int sys_fd, char *reason, size_t reason_len);
void cgroup_root_close(struct cgroup_root *root);
/* Whether sys_fd is still the sys root root was opened under; known: its
 * fstat() (struct collector_env's sys_st), or NULL to take it. */
bool cgroup_root_same(const struct cgroup_root *root, int sys_fd, const struct stat *known);
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
struct metrics;
/* The reader's own families, named names[0..2]: fds held open (plus
 * more_fds of the caller's), files read, idle readings left out. */
void cgroup_reader_metrics(const struct cgroup_reader *rd, struct metrics *m,
			   const char *const names[3], size_t more_fds);
void cgroup_reader_done(struct cgroup_reader *rd);

void cgroup_files_init(struct cgroup_files *f);
void cgroup_files_close(struct cgroup_reader *rd, struct cgroup_files *f);

/* Reads the files in mask (1 << enum cgroup_file) of the cgroup at rel
 * (relative to each hierarchy, "system.slice/ssh.service") into v; the
 * others are -1. Returns 0, or -ENOENT when none could be read and one was
 * found gone (the cgroup was removed). */
int cgroup_read(struct cgroup_reader *rd, struct cgroup_files *f, const char *rel, unsigned mask,
		struct cgroup_values *v);

/* Reads the files in mask into v (the others stay), noting whether one
 * was read and one found gone: cgroup_read's step, for cgroup_unit.c. */
void cgroup_read_into(struct cgroup_reader *rd, struct cgroup_files *f, const char *rel,
		      unsigned mask, struct cgroup_values *v, bool *gone, bool *read);

/* Every value null (-1). */
extern const struct cgroup_values cgroup_none;

/* A cgroup's numbers of the last tick (-1: null) and the counters its
 * rates come from: what services and containers share. */
struct cgroup_stats {
	struct procfs_counter cpu;
	int64_t cpu_h; /* hundredths of a percent of one core */
	int64_t mem, pids, io_r, io_w;
	struct procfs_counter rd, wr;
};

/* The stats of a new reading v of the files in mask at mono_ns: rates
 * from the previous one; the fields of files not in mask stay. */
void cgroup_stats_update(struct cgroup_stats *st, const struct cgroup_values *v, unsigned mask,
			 uint64_t mono_ns);

/* Where a cgroup is in its reading by activity (cgroup_sample). */
struct cgroup_pace {
	uint64_t idle_next;   /* idle: the tick it is looked at whole again */
	uint64_t steady_next; /* busy: the tick its paced files are read again */
	unsigned idle_step;   /* ticks between whole looks: 16, 32 or 64 */
	unsigned steady_step; /* ticks between those readings: 1, 2, 4, ... */
	unsigned phase;       /* its own, so that the readings spread over the ticks */
	bool idle;            /* idle at its last reading */
};

struct cgroup_group;

/* One followed cgroup (a service, a container): its held fds, its pace,
 * its numbers, and what this tick learnt of it before its reading. */
struct cgroup_unit {
	/* first what every tick looks at, idle or not, with st's first part
	 * (CPU time, memory): 104 bytes (the collectors assert it); a tick
	 * goes over every unit, whose lines are cold by then */
	struct cgroup_group *group; /* of its parent directory; NULL at the root */
	/* this tick: a busy one's CPU time, read before the rest (-1: none) */
	int64_t cpu_now;
	uint32_t io_epoch;  /* the group's I/O epoch its I/O bytes were read in */
	uint32_t moved_gen; /* the group's bound_gen when its CPU time last moved */
	uint16_t read;      /* the files its last cgroup_sample read (or knew) */
	bool ahead, ahead_gone, ahead_read;
	bool in_test;  /* counted in its group's test this tick */
	bool io_known; /* io_epoch is set */
	struct cgroup_pace pace;
	struct cgroup_stats st;
	struct cgroup_files files;
};

/* The parent directory of units (machine.slice, system.slice, docker):
 * its counters hold its whole subtree's, so that reading them tells what
 * its members did without reading each.
 *
 * I/O: the subtree's bytes (CGROUP_IO_TREE) are read as a tick begins; a
 * member's bytes read since they last moved are right and not read again.
 *
 * CPU: its CPU time P is its members' plus Q, what is not theirs (its own
 * tasks, other children, removed children); Q does not go down while the
 * members stay. q_low is a lower bound of Q from a tick that read P before
 * every member. Once the busy members' CPU times are read (sum B), P read
 * after them is at least q_low + B + the idle members' CPU times, and
 * equal to q_low + B + K (K: the idle members' last readings) only if no
 * idle member moved: then none is read. That is exact where CPU times
 * count ns (cpuacct.usage: v1 and hybrid hosts). v2's usage_usec is the
 * cgroup's ns rounded down to µs, each cgroup's apart (the kernel's rstat
 * keeps ns, cgroup_base_stat_cputime_show divides), so that a parent's is
 * not its children's sum and a child that ran less than a µs can read the
 * same: there each reading not taken at the bound's tick (a busy member's,
 * an idle member's read since) and P's own leave up to 999 ns unknown, and
 * P - (q_low + B + K) plus those bounds what the idle members ran in all
 * since their last readings: less than 1/20000 of the tick (half the last
 * digit of a cpu_pct, 50 µs at 1 s) proves them still to within that, and
 * they are not read; q_low there is the last bound's alone (its
 * readings are the ones that cancel, bound_gen). P found more (a busy member ran
 * between its reading and P's, a member woke, or Q moved) has the busy
 * members and P read once more, the same test again (a busy member
 * running in between is the likeliest, and reading them costs less than
 * reading every idle one); a test that fails has the idle members read as
 * without a group, and that tick makes a new bound. */
struct cgroup_group {
	char *rel; /* "machine.slice" */
	struct cgroup_files files;
	size_t members;
	int64_t io_r, io_w;   /* the subtree's bytes as the last tick began; -1 */
	uint32_t io_epoch;    /* moves whenever they did or could not be read */
	int64_t q_low;        /* see above (ns; on v2 it may be below 0) */
	uint32_t bound_gen;   /* moves with each new bound (v2: cgroup_unit moved_gen) */
	bool q_valid;         /* q_low holds since the members last changed */
	bool failed;          /* the last test failed: P is read before the members */
	unsigned misses;      /* failed tests in a row that found no member moving */
	uint64_t pause_until; /* tested again from this tick (Q keeps moving) */
	/* this tick */
	int64_t p0; /* P before any member was read; -1 */
	uint64_t busy_sum, idle_sum, read_sum;
	size_t busy_n, idle_n; /* busy and idle members */
	size_t idle_moved;     /* idle members read since the bound (v2) */
	size_t read_n;         /* members whose CPU time was read */
	bool still;            /* the idle members are proven still: not read */
	bool spoiled;          /* a member without CPU time, or one joined or left */
	bool woke;             /* an idle member read this tick had moved */
	bool tested;           /* P was read for the test */
	bool retry;            /* P was more: its busy members and P are read again */
};

/* A collector's groups, by rel. */
struct cgroup_groups {
	struct cgroup_group **v;
	size_t n, cap;
	uint64_t tests, passed; /* CPU tests made and passed, since the start */
};

/* What a collector of cgroups holds: the hierarchies, the reader of
 * their files, the groups its units are in, and an inotify fd on the
 * directories it lists (-1: none, they are listed every tick). */
struct cgroup_set {
	struct cgroup_root root;
	struct cgroup_reader rd;
	struct cgroup_groups groups;
	int inotify_fd;
	struct collector_watch watch; /* inotify_fd in the daemon's poll */
};

/* No root yet (cgroup_set_root gives one), a reader holding at most
 * held_max fds, and inotify when the kernel has it. Returns 0 or
 * -ENOMEM; cgroup_set_done in both cases. */
int cgroup_set_init(struct cgroup_set *cs, size_t held_max);
/* Holds root (from cgroup_root_open) in place of the one held, whose fds
 * and the groups' are closed (the units' are the caller's, closed
 * first): a test switching snapshots. */
void cgroup_set_root(struct cgroup_set *cs, const struct cgroup_root *root);
/* Frees the groups (their units are done), closes the root and inotify,
 * frees the reader. */
void cgroup_set_done(struct cgroup_set *cs);
/* Has the daemon's poll look at the inotify fd (see env->watch_fd). */
void cgroup_set_watch(struct cgroup_set *cs, const struct collector_env *env);
/* cgroup_drain of the inotify fd when the daemon's poll found it readable
 * (every call without that poll); false without inotify. */
bool cgroup_set_drain(struct cgroup_set *cs, const struct collector_env *env);

/* What cgroup_sample did (flags), or -ENOENT: the cgroup is gone. */
#define CGROUP_SKIPPED 1 /* idle, its CPU time still: nothing else read */
#define CGROUP_STILL   2 /* its CPU time did not move since the last reading */

/* Its paced readings spread over the ticks by a phase of its own, a hash
 * of key (its name). */
void cgroup_unit_init(struct cgroup_unit *u, const char *key);
/* Puts u into the group of rel's parent directory (made when new; none at
 * the root). Returns 0 or -ENOMEM. */
int cgroup_unit_join(struct cgroup_groups *gs, struct cgroup_unit *u, const char *rel);
/* Closes u's fds and takes it out of its group (freed when empty). */
void cgroup_unit_done(struct cgroup_reader *rd, struct cgroup_groups *gs, struct cgroup_unit *u);
/* Closes the groups' fds and forgets what they knew (a new root); the
 * units' are the caller's. */
void cgroup_groups_close(struct cgroup_reader *rd, struct cgroup_groups *gs);
/* Frees the groups (their units are done). */
void cgroup_groups_free(struct cgroup_reader *rd, struct cgroup_groups *gs);

/* A tick of a collector's units, in this order:
 *   cgroup_tick_begin(rd, gs)            the tick; the groups' I/O bytes,
 *                                        and P where a new bound is due;
 *   cgroup_unit_ahead(rd, u, rel) each   a busy unit's CPU time;
 *   cgroup_tick_test(rd, gs)             P: are the idle members still?
 *   when it returns true (P was more than the bound, with busy members):
 *     cgroup_unit_again(rd, u, rel) each those busy members' CPU times anew,
 *     cgroup_tick_test(rd, gs)           and P again, for those groups;
 *   cgroup_sample(...) each, then cgroup_pace_set;
 *   cgroup_tick_end(rd, gs)              a new bound where one was made.
 * cgroup_tick_ahead does all but the last two. */
void cgroup_tick_begin(struct cgroup_reader *rd, struct cgroup_groups *gs, uint64_t mono_ns);
void cgroup_unit_ahead(struct cgroup_reader *rd, struct cgroup_unit *u, const char *rel);
bool cgroup_tick_test(struct cgroup_reader *rd, struct cgroup_groups *gs);
void cgroup_unit_again(struct cgroup_reader *rd, struct cgroup_unit *u, const char *rel);
void cgroup_tick_end(struct cgroup_reader *rd, struct cgroup_groups *gs);
/* cgroup_tick_begin, cgroup_unit_ahead over the n units unit(ctx, i,
 * &rel) returns, and the test (with its second try). */
void cgroup_tick_ahead(struct cgroup_reader *rd, struct cgroup_groups *gs, uint64_t mono_ns,
		       size_t n,
		       struct cgroup_unit *(*unit)(void *ctx, size_t i, const char **ret_rel),
		       void *ctx);

/* One tick of a unit read by activity, into u->st (v: what was read, -1
 * elsewhere; u->read: which). A busy one has the files in busy read (CPU
 * among them; its CPU time was read ahead; the others but I/O at their
 * own pace, CGROUP_STEADY_TICKS). An idle one has its CPU time read alone, or
 * not at all when its group proved it still: still, the rest is left
 * until idle_next, then the files in sleeping (and its CPU rate of 0);
 * moved, it woke and busy is read. I/O bytes are not read while its
 * group's stood still (their rate is 0). Then the caller says with
 * cgroup_pace_set whether it is idle now. */
int cgroup_sample(struct cgroup_reader *rd, struct cgroup_unit *u, const char *rel, unsigned busy,
		  unsigned sleeping, struct cgroup_values *v, uint64_t mono_ns);
/* The first tick past this one that is phase modulo step: paced
 * readings of units spread over the ticks. */
uint64_t cgroup_pace_next(const struct cgroup_reader *rd, unsigned phase, unsigned step);
/* The next step of a paced reading: 1 when it found its numbers moved,
 * else twice the last (1 at first), at most max. */
unsigned cgroup_pace_step(unsigned step, bool moved, unsigned max);
/* This tick's reading found one of the caller's own numbers moved: the
 * next whole look of an idle unit comes after CGROUP_IDLE_TICKS again,
 * and a busy one's files are read again next tick (call before
 * cgroup_pace_set). */
void cgroup_pace_moved(const struct cgroup_reader *rd, struct cgroup_pace *p);
/* Records whether the cgroup is idle after this tick's reading; a new
 * sleeper (or one just looked at whole) gets its next whole look at the
 * first tick past this one that is its phase modulo CGROUP_IDLE_TICKS, and
 * idle_step - CGROUP_IDLE_TICKS ticks later. */
void cgroup_pace_set(const struct cgroup_reader *rd, struct cgroup_pace *p, bool idle);

/* The families of their units' numbers that services and containers
 * both write, in this order, raw as read: sysfeed_<noun>_<suffix>, whose
 * help is "<head> the <noun>'s cgroup<tail> (top <noun>s only)." (see
 * cgroup_family_text); get gives a unit's value, false: none. */
struct cgroup_family {
	const char *suffix, *type, *head, *tail;
	bool (*get)(const struct cgroup_stats *st, double *ret);
};

enum { CGROUP_FAMILY_MEM = 1 }; /* memory's place among them */

/* Those families, ending in {NULL}. */
extern const struct cgroup_family cgroup_families[];

/* f's name and help text for the units named noun ("service"). */
void cgroup_family_text(const struct cgroup_family *f, const char *noun, char *name,
			size_t name_len, char *help, size_t help_len);

/* value * scale / dt_ns from two readings of a counter, rounded half up;
 * -1 on the first reading, when the counter went backwards (one delta
 * skipped) or when no time passed. Keeps the reading. */
int64_t cgroup_rate(struct procfs_counter *c, uint64_t value, uint64_t mono_ns, uint64_t scale);

#endif
