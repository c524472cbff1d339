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

#define FILE_RECENT       100          /* events kept for `snapshot` */
#define FILE_RECENT_BYTES (256u << 10) /* and at most this many bytes of their JSON */

extern const struct collector file_collector;

#endif
