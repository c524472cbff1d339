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
};

/* Reads the file again when it changed since the last read (device, inode,
 * size or mtime), through buf. Without a readable file, or when it does
 * not parse, the table is empty. */
void proc_passwd_refresh(struct proc_passwd *pw, int proc_fd, struct procfs_buf *buf);
/* The name of uid, or NULL when not known. */
const char *proc_passwd_name(const struct proc_passwd *pw, uint32_t uid);
void proc_passwd_free(struct proc_passwd *pw);

#endif
