/* The `file` topic's inotify watch tree: every directory under the `watch`
 * paths watched (recursively, new ones as they appear, moved ones
 * following), a watched file through its directory (so that a file
 * replaced by rename stays watched), and the paths that could not be
 * watched: the watch limit, permissions, names longer than PATH_MAX. */
#ifndef SYSFEED_FILE_TREE_H
#define SYSFEED_FILE_TREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "settings.h"

#define FILE_UNWATCHED       100         /* paths that could not be watched, listed in the state */
#define FILE_UNWATCHED_BYTES (32u << 10) /* and at most this many bytes of them */

/* Joins a directory and a name ("/" + "x" is "/x"). Returns 0 or
 * -ENAMETOOLONG. */
int file_join(char *out, size_t size, const char *dir, const char *name);

/* Whether path is dir or lies under it ("/etc" covers "/etc/x", not
 * "/etcx"). */
bool file_under(const char *path, const char *dir);

/* A watched directory. `all`: every name in it is reported (a watched tree);
 * otherwise only `names` (the parent of a watched file). */
struct file_watch {
	int wd;
	char *path;
	bool all;
	bool root; /* a directory listed in `watch` */
	char **names;
	size_t n_names;
};

/* A path not watched: err from inotify_add_watch (or stat, open), or
 * `below`: the path is watched but names under it do not fit in PATH_MAX,
 * so changes there cannot be reported. */
struct file_unwatched {
	char *path;
	int err;
	bool below;
};

struct file_tree {
	int ifd;                     /* the inotify fd */
	const struct list *watch;    /* the `watch` list: roots and "!" exclusions */
	struct file_watch **watches; /* sorted by wd */
	size_t n_watches, cap_watches;
	struct file_unwatched unwatched[FILE_UNWATCHED];
	size_t n_unwatched;
	size_t unwatched_bytes;  /* of their paths */
	uint64_t unwatched_more; /* beyond the list */
	/* since the last file_tree_reset_reports(): */
	bool limit_hit; /* ENOSPC during the current scan */
	size_t limit_failed;
	char *limit_path;
	size_t unw_new; /* other failures newly listed */
	struct file_unwatched unw_first;
	bool dirty; /* the watches or the list of unwatched paths changed */
	/* Called for what a scan with `created` finds below a new directory:
	 * it appeared before the directory was watched. */
	void (*created)(void *ctx, const char *path, bool dir);
	void *ctx;
};

/* An empty tree with its inotify fd. Returns 0 or -errno. */
int file_tree_init(struct file_tree *t, const struct list *watch,
		   void (*created)(void *ctx, const char *path, bool dir), void *ctx);
void file_tree_done(struct file_tree *t);

/* Watches every path of the `watch` list (see file_tree_watch_dir). Returns
 * how many roots could be watched, or -ENOMEM. */
int file_tree_watch_roots(struct file_tree *t, bool created);
/* Watches dir and every directory below it. With `created`, what is found
 * below dir is reported as created. root: dir is a `watch` path. Returns 0
 * or -ENOMEM. */
int file_tree_watch_dir(struct file_tree *t, const char *dir, bool created, bool root);

/* The record of wd, or NULL. */
struct file_watch *file_tree_find(const struct file_tree *t, int wd);
/* Forgets wd (the kernel dropped it: IN_IGNORED). */
void file_tree_drop(struct file_tree *t, int wd);
/* Stops watching every directory under dir (moved out of sight). */
void file_tree_unwatch(struct file_tree *t, const char *dir);
/* A directory of the tree moved from `from` to `to`: its watches follow. */
void file_tree_rename(struct file_tree *t, const char *from, const char *to);
/* Whether a `!pattern` of the watch list excludes path. */
bool file_tree_excluded(const struct file_tree *t, const char *path);

/* Lists path as not watched (err: an errno). */
void file_tree_note_unwatched(struct file_tree *t, const char *path, int err);
/* Names under dir do not fit in PATH_MAX: dir is watched, but what changes
 * there cannot be named. */
void file_tree_note_too_deep(struct file_tree *t, const char *dir);
/* Why a path is listed as not watched, in words. */
const char *file_tree_unwatched_reason(const struct file_unwatched *u);
/* Forgets what the last reports counted (limit_*, unw_*). */
void file_tree_reset_reports(struct file_tree *t);

#endif
