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
#include "utf8.h"

/* comm as /proc/<pid>/stat prints it: 15 bytes for tasks, up to 63 for
 * kernel threads and workqueue workers (fs/proc/array.c), plus the NUL. */
#define PROC_COMM_MAX 64
/* The shortened command line: at most this many bytes, the last three an
 * ellipsis ("…") when it was cut. */
#define PROC_CMD_MAX 256
/* Worst case of proc_cmdline_format's output: every byte of a comm turned
 * into U+FFFD, brackets, NUL. */
#define PROC_CMD_BUF (PROC_COMM_MAX * 3 + PROC_CMD_MAX + 8)
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
/* PF_KTHREAD in the flags field. */
#define PROC_PF_KTHREAD 0x00200000u

/* What the collector takes from one /proc/<pid>/stat line. */
struct proc_stat {
	uint32_t pid;
	char comm[PROC_COMM_MAX]; /* any bytes but NUL, as the kernel keeps them */
	char state;               /* R S D Z T t X I P ... */
	uint32_t flags;           /* PF_* */
	uint64_t utime, stime;    /* clock ticks (USER_HZ) */
	uint64_t num_threads;
	uint64_t starttime; /* clock ticks after boot */
	uint64_t rss_pages;
};

/* Parses /proc/<pid>/stat: "pid (comm) state" and at least fields 4..24 of
 * proc(5), every one an integer, then '\n'. comm runs to the LAST ')' as it
 * may hold spaces and parentheses. Returns 0, -EINVAL or -ERANGE. */
int proc_stat_parse(const char *text, size_t len, struct proc_stat *ret);

/* The effective uid from the "Uid:\treal\teffective\tsaved\tfs" line of
 * /proc/<pid>/status. Returns 0, -ENODATA without the line, -EINVAL. */
int proc_status_uid(const char *text, size_t len, uint32_t *ret_uid);

/* The displayed command line of raw /proc/<pid>/cmdline bytes: NULs and
 * other control characters become spaces, trailing ones go, what is not
 * UTF-8 becomes U+FFFD (as in utf8_sanitize), and it is cut at a character boundary with "…"
 * to at most PROC_CMD_MAX bytes, also when `more` says the read stopped
 * before the end. Empty (kernel threads, zombies) gives "[comm]". Writes a
 * NUL-terminated string into out (PROC_CMD_BUF bytes) and returns its
 * length. */
size_t proc_cmdline_format(const char *raw, size_t len, bool more, const char *comm, char *out);

/* CPU percent of one core in hundredths, rounded half up, of dticks clock
 * ticks at hz over dt_ns: top's %CPU. */
uint64_t proc_cpu_hundredths(uint64_t dticks, uint64_t hz, uint64_t dt_ns);

/* uid -> user name, from an /etc/passwd text. */
struct proc_user {
	uint32_t uid;
	const char *name;
};

struct proc_users {
	struct proc_user *v; /* sorted by uid */
	size_t n;
	char *text; /* holds the names */
};

/* Parses passwd lines "name:password:uid:gid:gecos:home:shell". Lines that
 * do not have that shape (NIS "+" entries, comments, a bad uid) are skipped
 * as nss_files skips them; when a uid repeats the first line wins, as for
 * getpwuid. Replaces *users. Returns 0 or -ENOMEM. */
int proc_passwd_parse(const char *text, size_t len, struct proc_users *users);
const char *proc_users_name(const struct proc_users *users, uint32_t uid);
void proc_users_free(struct proc_users *users);

extern const struct collector proc_collector;

#endif
