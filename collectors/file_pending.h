/* The `file` topic's coalescing: the changes of one path within
 * file-coalesce-ms become one pending entry (its actions in order, a count),
 * a move is one entry whose halves are paired by cookie, and entries come
 * out in arrival order once their window ends. Knows nothing of inotify
 * but its masks. */
#ifndef SYSFEED_FILE_PENDING_H
#define SYSFEED_FILE_PENDING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define FILE_PENDING_MAX 1024 /* paths waiting out their coalescing window */

/* What happened to a path, in the order of the "actions" names. */
enum file_action {
	FILE_CREATED,
	FILE_MODIFIED,
	FILE_DELETED,
	FILE_MOVED,
	FILE_ATTRIB,
	FILE_NACTIONS,
};

const char *file_action_name(enum file_action a);

/* The action of one inotify mask (IN_CREATE -> created, ...), or -1 for
 * masks that are not a change of a path (IN_IGNORED, IN_Q_OVERFLOW, ...). */
int file_mask_action(uint32_t mask);

/* Changes on one path waiting out the coalescing window; moves are their
 * own entries, keyed by cookie until their second half arrives. */
struct file_pending {
	char *path;
	char *from, *to; /* moves */
	uint32_t cookie;
	bool move, dir;
	unsigned char order[FILE_NACTIONS];
	unsigned n_order;
	int last;
	uint64_t count;
	int64_t t_ms;
	uint64_t deadline_ns;
	struct file_pending *prev, *next;
};

/* The pending entries, oldest first. Zero-initialise but for evict, which
 * takes the oldest entry when a new one would exceed FILE_PENDING_MAX (it
 * is unlinked; the callee frees it). */
struct file_pending_list {
	struct file_pending *head, *tail;
	size_t n;
	void (*evict)(void *ctx, struct file_pending *p);
	void *ctx;
};

/* One change (action) of path, at t_ms: merged into the pending entry of
 * that path, or a new entry due window_ms from now. Returns 0 or -ENOMEM. */
int file_pending_add(struct file_pending_list *l, const char *path, int action, bool dir,
		     int64_t t_ms, unsigned window_ms);

/* Half of a move (mask holds IN_MOVED_FROM or IN_MOVED_TO, and IN_ISDIR for
 * a directory). A MOVED_TO closes the open move of its cookie: returns 1
 * with *ret_from set to where it came from (valid while the entry is
 * pending). Otherwise opens a new move (a MOVED_TO without its other half
 * came from outside the tree) and returns 0. -ENOMEM on failure. */
int file_pending_move(struct file_pending_list *l, const char *path, uint32_t mask, uint32_t cookie,
		      int64_t t_ms, unsigned window_ms, const char **ret_from);

/* Unlinks and returns the oldest entry if its window ended by now_ns (or
 * any with `all`), else NULL. */
struct file_pending *file_pending_next_due(struct file_pending_list *l, uint64_t now_ns, bool all);
/* When the oldest entry is due (CLOCK_MONOTONIC ns), or 0 when none. */
uint64_t file_pending_deadline(const struct file_pending_list *l);
/* Frees every entry. */
void file_pending_clear(struct file_pending_list *l);

/* An entry as the `file` event (see docs): t, path, action (the last one),
 * actions (each once, in order), dir, count, and from/to for a move. NULL
 * when out of memory. */
cJSON *file_pending_json(const struct file_pending *p);
void file_pending_free(struct file_pending *p);

#endif
