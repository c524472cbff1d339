/* The `cpu` topic: /proc/stat parsed into jiffies, turned into percentages
 * of the time between two ticks, plus the kernel's activity counters as
 * rates and each core's current frequency from cpufreq in sysfs. */
#ifndef SYSFEED_CPU_H
#define SYSFEED_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "cpu_stat.h"

/* Percentages between two readings, in hundredths of a percent (0..10000),
 * each rounded half up. busy = 100 - idle - iowait. */
struct cpu_percent {
	uint32_t user, nice, system, iowait, irq, softirq, steal, idle, busy;
};

/* Percentages of one cpu line between two readings. Returns 0, -ERANGE when
 * a counter went backwards, -ENODATA when no time was accounted. */
int cpu_times_percent(const struct cpu_times *prev, const struct cpu_times *cur,
		      struct cpu_percent *ret);

/* The `cpu` payload between two parses dt_ns apart, cur taken at t_ms. A
 * core present in only one of them (hotplug) or whose counters went
 * backwards is left out of "cores" for this tick; its "mhz" is null
 * without has_freq. ctxt_per_s, intr_per_s, forks_per_s (hundredths) are
 * null when either parse lacks the line, the counter went backwards or
 * dt_ns is 0; procs_running, procs_blocked are null when cur lacks them.
 * Returns 0 with *ret_payload NULL when the aggregate has no rate, 0 with a
 * payload, or -ENOMEM. */
int cpu_build_payload(const struct cpu_stat *prev, const struct cpu_stat *cur, uint64_t dt_ns,
		      int64_t t_ms, cJSON **ret_payload);

extern const struct collector cpu_collector;

#endif
