/* A statfs worker process of the `fs` topic: the requests it reads and the
 * answers it writes through its pipes, and its loop, which runs in a fork
 * of the (possibly multi-threaded) daemon and so calls only
 * async-signal-safe functions. */
#ifndef SYSFEED_FS_CHILD_H
#define SYSFEED_FS_CHILD_H

#include <limits.h>
#include <stdint.h>

/* What statfs() said of a filesystem, in its own units. */
struct fs_usage {
	uint64_t blocks; /* f_blocks, in frsize units */
	uint64_t bfree;  /* f_bfree */
	uint64_t bavail; /* f_bavail: free to unprivileged users */
	uint64_t frsize; /* f_frsize */
	uint64_t files;  /* f_files; 0 when the filesystem has no inode count */
	uint64_t ffree;  /* f_ffree */
};

/* statfs() of path into *ret; returns 0 or -errno. */
typedef int (*fs_statfs_fn)(const char *path, struct fs_usage *ret);

/* A request: the header, then len bytes of path (no NUL). Written in one
 * write() of at most PIPE_BUF bytes, so it arrives whole. */
struct fs_request {
	uint64_t key;
	uint32_t len;
	uint32_t pad;
};

#define FS_PATH_MAX (PIPE_BUF - sizeof(struct fs_request))

/* An answer, also written whole. */
struct fs_answer {
	uint64_t key;
	uint64_t end_ns; /* CLOCK_MONOTONIC when the call returned */
	int32_t err;     /* 0 or the errno of the call */
	uint32_t pad;
	struct fs_usage usage;
};

/* The worker's life: reads requests from req_fd, answers each with fn's
 * result on res_fd, and _exits when either pipe closes. Closes every other
 * fd first. */
_Noreturn void fs_child_run(int req_fd, int res_fd, fs_statfs_fn fn);

/* For tests: replaces statfs() (NULL restores it); returns 0 or -errno.
 * Set it before init. The function runs in the worker processes, forks of
 * a possibly multi-threaded daemon: it may only make async-signal-safe
 * calls, and it sees memory as it was at the fork (share what the test
 * changes later through a MAP_SHARED mapping). */
void fs_set_statfs(fs_statfs_fn fn);
/* The function set, for a new pool: statfs(2) unless a test set another. */
fs_statfs_fn fs_child_statfs(void);

#endif
