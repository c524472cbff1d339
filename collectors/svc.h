/* The `svc` topic: per systemd service, from its cgroup v2 directory
 * (sys/fs/cgroup/system.slice/<unit>.service, and <unit>.service in the
 * slices below system.slice, where template instances live): CPU, memory,
 * tasks and I/O, as the top N services by CPU and by memory. Off on hosts
 * without the unified hierarchy at /sys/fs/cgroup (cgroup v1 or hybrid). */
#ifndef SYSFEED_SVC_H
#define SYSFEED_SVC_H

#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "settings.h"

/* The keys of the `svc` topic (svc_collector.settings). */
struct svc_settings {
	unsigned top_n; /* rows in each top list */
};

/* Files that are missing for a service (a controller not enabled for it)
 * are looked for again every this many ticks. */
#define SVC_RETRY_TICKS 16

extern const struct collector svc_collector;

#endif
