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

/* "usage_usec" of cpu.stat, a flat keyed file of "key value" lines, every
 * value an integer. Returns 0, -ENODATA without usage_usec, -EINVAL or
 * -ERANGE. */
int svc_cpu_stat_parse(const char *text, size_t len, uint64_t *ret_usage_usec);

/* A file holding one integer and '\n' (memory.current, pids.current).
 * Returns 0, -EINVAL or -ERANGE. */
int svc_single_parse(const char *text, size_t len, uint64_t *ret);

/* io.stat: one line per device, "MAJ:MIN key=value ...", with rbytes and
 * wbytes summed over the devices (empty: 0 and 0). Other keys are skipped
 * whatever their value (io.cost adds decimals); rbytes and wbytes must be
 * there and be integers. Returns 0, -EINVAL or -ERANGE. */
int svc_io_stat_parse(const char *text, size_t len, uint64_t *ret_rbytes, uint64_t *ret_wbytes);

extern const struct collector svc_collector;

#endif
