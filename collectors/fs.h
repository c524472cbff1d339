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
#include "settings.h"

/* The keys of the `fs` topic (fs_collector.settings). */
struct fs_settings {
	struct list fs_types; /* filesystem types or patterns */
	struct list mounts;   /* mount points or patterns */
	unsigned timeout_ms;  /* a statfs slower than this is "not responding" */
};

/* One line of mountinfo. The strings are unescaped (\040 is a space) and
 * point into the fs_mountinfo's arena. */
struct fs_mount {
	unsigned mount_id; /* field 1 */
	unsigned major;    /* field 3, "major:minor" of st_dev */
	unsigned minor;
	const char *root;        /* field 4: the mount's root inside its filesystem */
	const char *mount_point; /* field 5 */
	const char *fstype;      /* after " - ": "type[.subtype]" */
	const char *source;      /* after the type: device or "none"; may be "" */
	bool read_only;          /* "ro" in the mount or the super block options */
};

/* One parse of mountinfo. Zero-initialise, reuse across parses, release
 * with fs_mountinfo_free(). */
struct fs_mountinfo {
	struct fs_mount *v;
	size_t n;
	size_t cap;
	char *arena; /* the unescaped strings */
	size_t arena_cap;
};

/* Parses the text of /proc/<pid>/mountinfo (Documentation/filesystems/
 * proc.rst, 3.5): fields separated by one space, optional fields up to a
 * lone "-", then exactly type, source and super options. Octal escapes
 * \ooo are decoded; any other backslash, a decoded NUL, a missing field or
 * a line without '\n' is an error. Returns 0, -EINVAL, -ERANGE or -ENOMEM;
 * on error mi->n is 0. */
int fs_mountinfo_parse(const char *text, size_t len, struct fs_mountinfo *mi);
void fs_mountinfo_free(struct fs_mountinfo *mi);

/* Whether the type is one of the built-in pseudo filesystems (proc, sysfs,
 * cgroup, ...), which have no space to report. */
bool fs_type_is_pseudo(const char *fstype);

/* Whether a mount is shown under the built-in rules and the `fs-types` and
 * `mounts` lists of cfg (NULL: no lists). See readme-fs.md. */
bool fs_mount_wanted(const struct fs_settings *set, const struct fs_mount *m);

/* Picks the mounts to show, in file order, as indexes into mi->v (ret_idx
 * holds mi->n entries): those fs_mount_wanted() keeps, without the ones
 * another mount hides (a later mount on the same mount point) and counting
 * bind mounts once (same major:minor and root: the shortest mount point
 * stays, the first one on a tie). Returns how many. */
size_t fs_select(const struct fs_mountinfo *mi, const struct fs_settings *set, size_t *ret_idx);

/* What statfs() said of a filesystem, in its own units. */
struct fs_usage {
	uint64_t blocks; /* f_blocks, in frsize units */
	uint64_t bfree;  /* f_bfree */
	uint64_t bavail; /* f_bavail: free to unprivileged users */
	uint64_t frsize; /* f_frsize */
	uint64_t files;  /* f_files; 0 when the filesystem has no inode count */
	uint64_t ffree;  /* f_ffree */
};

/* One entry of the payload's "filesystems". u is NULL when there is no
 * reading yet; err is 0 or the errno of the latest failed statfs (its
 * text goes into "error"). Returns 0 or -ENOMEM. */
int fs_mount_json(const struct fs_mount *m, const struct fs_usage *u, bool responding, int err,
		  cJSON **ret);

/* For tests: replaces statfs() (NULL restores it); returns 0 or -errno.
 * Set it before init. The function runs in the worker processes, forks of
 * a possibly multi-threaded daemon: it may only make async-signal-safe
 * calls, and it sees memory as it was at the fork (share what the test
 * changes later through a MAP_SHARED mapping). */
void fs_set_statfs(int (*fn)(const char *path, struct fs_usage *ret));

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
