/* The parsers of one process's files for the `proc` topic: /proc/<pid>/stat,
 * the uid of status, the command line as shown, and top's %CPU. Pure: bytes
 * in, struct out. */
#ifndef SYSFEED_PROC_PARSE_H
#define SYSFEED_PROC_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* comm as /proc/<pid>/stat prints it: 15 bytes for tasks, up to 63 for
 * kernel threads and workqueue workers (fs/proc/array.c), plus the NUL. */
#define PROC_COMM_MAX 64
/* The shortened command line: at most this many bytes, the last three an
 * ellipsis ("…") when it was cut. */
#define PROC_CMD_MAX 256
/* Worst case of proc_cmdline_format's output: every byte of a comm turned
 * into U+FFFD, brackets, NUL. */
#define PROC_CMD_BUF (PROC_COMM_MAX * 3 + PROC_CMD_MAX + 8)
/* PF_KTHREAD in the flags field. */
#define PROC_PF_KTHREAD 0x00200000u

/* What the collector takes from one /proc/<pid>/stat line. */
struct proc_stat {
	uint32_t pid;
	uint32_t ppid;            /* 0: none (init, kthreadd) or outside our pid namespace */
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

#endif
