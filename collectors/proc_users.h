/* User names for the `proc` topic's rows: the uid -> name table of an
 * /etc/passwd text, and the one of the proc root's ../etc/passwd, read
 * again when that file changes. */
#ifndef SYSFEED_PROC_USERS_H
#define SYSFEED_PROC_USERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "procfs.h"

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

/* The table of <proc root>/../etc/passwd (/etc/passwd on the live host, the
 * fixture's own in a test tree). Zero-initialise; release with
 * proc_passwd_free(). */
struct proc_passwd {
	struct proc_users users;
	struct stat st; /* of the file the table came from */
	uint32_t gen;   /* moves each time the table changes */
	bool loaded;
	/* an inotify fd on the file's directory (proc_passwd_watch), and
	 * whether it still says every change there */
	bool has_watch, watching;
	int inotify_fd;
};

/* Watches the directory of the file, so that proc_passwd_refresh need not
 * look at the file while nothing changed there (a stat a tick, a path
 * walk). Returns the inotify fd, readable when something changed, for the
 * caller's poll; -1 without one (then every refresh looks), also when the
 * file is a symlink or a mount of its own. */
int proc_passwd_watch(struct proc_passwd *pw, int proc_fd);
/* Closes the inotify fd (accepts none). */
void proc_passwd_unwatch(struct proc_passwd *pw);
/* Reads the file again when it changed since the last read (device, inode,
 * size or mtime), through buf. Without a readable file, or when it does
 * not parse, the table is empty. With a watch, ready says whether the
 * caller's poll found its fd readable: the file is looked at only then
 * (its events drained first), or while there is no table; an event that
 * ends the watch (the directory removed, moved or unmounted), or a file
 * whose changes need not show there (a symlink, a mount of its own),
 * clears pw->watching: the caller then unwatches, and every refresh
 * looks. */
void proc_passwd_refresh(struct proc_passwd *pw, int proc_fd, struct procfs_buf *buf, bool ready);
/* The name of uid, or NULL when not known. */
const char *proc_passwd_name(const struct proc_passwd *pw, uint32_t uid);
void proc_passwd_free(struct proc_passwd *pw);

#endif
