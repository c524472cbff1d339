/* The `file` topic: inotify watches on the `watch` paths (directories
 * recursively, new subdirectories as they appear), changes on one path
 * within file-coalesce-ms merged into one event, moves paired by cookie. */
#ifndef SYSFEED_FILE_H
#define SYSFEED_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "settings.h"

/* The keys of the `file` topic (file_collector.settings). */
struct file_settings {
	struct list watch;    /* paths (directories recursively); "!path" excludes */
	unsigned coalesce_ms; /* changes of one path within this are one event */
};

#define FILE_RECENT          100          /* events kept for `snapshot` */
#define FILE_RECENT_BYTES    (256u << 10) /* and at most this many bytes of their JSON */
#define FILE_UNWATCHED       100          /* paths that could not be watched, listed in the state */
#define FILE_UNWATCHED_BYTES (32u << 10)  /* and at most this many bytes of them */
#define FILE_PENDING_MAX     1024         /* paths waiting out their coalescing window */

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

/* Joins a directory and a name ("/" + "x" is "/x"). Returns 0 or
 * -ENAMETOOLONG. */
int file_join(char *out, size_t size, const char *dir, const char *name);

/* Whether path is dir or lies under it ("/etc" covers "/etc/x", not
 * "/etcx"). */
bool file_under(const char *path, const char *dir);

extern const struct collector file_collector;

#endif
