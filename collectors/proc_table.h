/* The pid table of the `proc` topic: one entry per process, found by pid
 * through an open-addressing index, with the fds held on it (its stat file,
 * and a pidfd in an epoll set that reports its exit) within a budget of
 * RLIMIT_NOFILE. On the live /proc a process whose CPU clock did not move
 * keeps its last reading, and the CPU rate comes from that clock; new pids
 * come from listing the proc root, whole or only above a given position. */
#ifndef SYSFEED_PROC_TABLE_H
#define SYSFEED_PROC_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "proc_parse.h"
#include "procfs.h"

/* An idle process shown in the last payload (a row of top_cpu or top_mem)
 * has its stat re-read at least every PROC_REFRESH_TICKS ticks, so that
 * memory the kernel reclaimed from it shows; one not shown every
 * PROC_REFRESH_HIDDEN_TICKS: reclaim only shrinks its memory, which cannot
 * bring it into top_mem meanwhile. */
#define PROC_REFRESH_TICKS        64
#define PROC_REFRESH_HIDDEN_TICKS 256
/* On the live /proc a sleeper whose CPU clock stood still at this many
 * checks in a row is checked every 2nd tick, and after 4x as many every
 * PROC_IDLE_MAX-th tick; its exit still shows at once (a pidfd). */
#define PROC_IDLE_STREAK 4
#define PROC_IDLE_MAX    4
/* On the live /proc a kernel thread asleep (I, S) at its last reading,
 * whose clock moved, is not read again before this many ticks passed:
 * all it can change is its comm and state, which show at that reading
 * (its CPU rate comes from the clock). */
#define PROC_KTHREAD_STAT_TICKS 4

struct proc_gpu;

/* Whether a process's fds were listed for DRM devices (proc_gpu.h). */
enum proc_gpu_fd_state {
	PROC_GPU_FD_NEW,    /* never listed, or to be listed again (exec, new root) */
	PROC_GPU_FD_LISTED, /* listed at fd_tick */
	PROC_GPU_FD_DENIED, /* cannot be listed: not again until exec */
};

/* One process as last read. */
struct proc_entry {
	char *cmd;            /* shortened command line once looked up; NULL: unknown */
	struct proc_gpu *gpu; /* its DRM fds and clients (proc_gpu.h); NULL: none */
	/* its row of the payload while it is shown (proc.c), kept from tick
	 * to tick; made from meta_gen's comm, cmd and owner, the user names
	 * of row_pw_gen (proc_passwd's gen), with GPU fields when row_drm */
	struct cJSON *row;
	uint64_t fd_tick; /* when its fds were last listed */
	uint64_t fd_mark; /* its CPU clock (or utime + stime) then */
	uint64_t starttime;
	/* at cpu_mono_ns: the process CPU clock (ns) when cpu_ns, that is
	 * on a live root; else utime + stime (USER_HZ ticks) */
	uint64_t cpu_time;
	uint64_t cpu_mono_ns; /* when cpu_time held */
	uint64_t rss_pages;
	/* the process CPU clock at the last check (read just before stat when
	 * that was read); while it stays, the last stat reading holds */
	uint64_t clock_ns;
	uint64_t stat_tick;  /* when stat was last read */
	uint64_t shown_tick; /* when a payload last had it in a row */
	uint64_t next_tick;  /* when the clock is checked next */
	int64_t cpu;         /* this tick, hundredths of a percent of a core; -1: no rate */
	uint32_t pid;
	uint32_t ppid;
	uint32_t gen; /* the full listing that last listed it */
	uint32_t threads;
	uint32_t flags;
	uint32_t uid;
	uint32_t idle;     /* checks in a row at which the clock stood still */
	uint32_t meta_gen; /* moves when comm, cmd or the owner may have changed */
	uint32_t row_meta_gen, row_pw_gen;
	int stat_fd; /* -1: opened by path at each reading */
	int pidfd;   /* in ep, readable once the process exited; -1: none */
	char state;
	bool have_cpu;   /* cpu_time holds a reading */
	bool cpu_ns;     /* cpu_time is the CPU clock */
	bool have_clock; /* clock_ns holds a reading */
	bool meta;       /* cmd and uid were looked up */
	bool uid_known;
	bool row_drm;
	uint8_t fd_state; /* enum proc_gpu_fd_state */
	char comm[PROC_COMM_MAX];
};

struct proc_table {
	int dir_fd; /* the proc root opened for reading, for getdents64; -1 */
	/* The proc root is our own pid namespace's ("self" is us), so pids
	 * name processes for clock_gettime and pidfd_open too. */
	bool live;
	int ep;               /* epoll set of the pidfds; -1 without pidfds */
	struct proc_entry *v; /* dense */
	size_t n, cap;
	uint32_t *slots; /* pid -> index + 1, open addressing; 0 is empty */
	size_t n_slots;  /* a power of two, at least twice n */
	uint32_t gen;
	uint64_t ticks; /* the collector's tick count, which it advances */
	uint64_t last_full_tick;
	bool relist; /* out of fds while listing: the next listing must be whole */
	/* A pid's directory entry is at position pid + dent_base (the d_off
	 * of the entry before it), so listing from L + 1 + dent_base gives the
	 * pids above L; 0: unknown */
	int64_t dent_base;
	size_t held, fd_budget;
	size_t listed; /* pid entries the last listing looked at */
	uint64_t hz;   /* USER_HZ */
	char *dents;
};

/* Sets up an empty table without a root. Returns 0 or -ENOMEM. */
int proc_table_init(struct proc_table *t);
/* Closes every fd and frees the table; accepts a table never set up. */
void proc_table_done(struct proc_table *t);

/* Takes dir_fd, the proc root opened for reading, for the listings, and
 * sees whether proc_fd is live. On a new root (a test switching
 * snapshots) the held fds are closed and every process is read again by
 * path; the entries and their counters stay. */
void proc_table_set_root(struct proc_table *t, int proc_fd, int dir_fd);

/* One check of every known process at this tick: those due (all when
 * forced) are read (see proc_table.c), a process that exited is dropped,
 * and one that could not be looked at for lack of fds keeps its last
 * reading. exits: whether the pidfds may have reported an exit since the
 * last check (t->ep is readable, or not known not to be); false saves the
 * look. Counts the processes whose stat did not parse in *errors.
 * Returns 0 or -ENOMEM. */
int proc_table_update(struct proc_table *t, int proc_fd, uint64_t mono_ns, bool force, bool exits,
		      size_t *errors);

/* Lists the proc root from position `from` and adds the pids not yet
 * known. A full listing (from 0) also learns dent_base, checking that it
 * holds for every pair of pid entries, and drops the known pids it no
 * longer lists. A partial one (from above 0) stops after pid `to` (0: at
 * the end), reading the directory in batches sized for the pids up to
 * it. Counts processes whose stat did not parse in *errors. Returns 0 or
 * -errno. */
int proc_table_list(struct proc_table *t, int proc_fd, uint64_t mono_ns, off_t from, uint32_t to,
		    size_t *errors);

/* Gives memory back once most processes are gone. */
void proc_table_shrink(struct proc_table *t);

/* Looks up e's command line and owner, once per process, through its
 * directory (reading status into `status`); the stat read there must carry e's
 * starttime, or the pid already belongs to another process and both stay
 * unknown. */
void proc_table_meta(int proc_fd, struct proc_entry *e, struct procfs_buf *status);

#endif
