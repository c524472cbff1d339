/* The `svc` topic: per systemd service, from its cgroup
 * (system.slice/<unit>.service, and <unit>.service in the slices below
 * system.slice, where template instances live) on cgroup v2, v1 and hybrid
 * hosts alike: CPU, memory, tasks and I/O, as the top N services by CPU
 * and by memory. Off without a system.slice in any hierarchy. */
#ifndef SYSFEED_SVC_H
#define SYSFEED_SVC_H

#include <stddef.h>
#include <stdint.h>

#include "cgroup.h"
#include "collector.h"
#include "settings.h"

/* The keys of the `svc` topic (svc_collector.settings). */
struct svc_settings {
	unsigned top_n; /* rows in each top list */
};

/* Files that are missing for a service (a controller not enabled for it)
 * are looked for again every this many ticks. */
#define SVC_RETRY_TICKS CGROUP_RETRY_TICKS

extern const struct collector svc_collector;

#endif
