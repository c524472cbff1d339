/* The `cpu` topic: /proc/stat parsed into jiffies, turned into percentages
 * of the time between two ticks, plus the kernel's activity counters as
 * rates and each core's current frequency from cpufreq in sysfs. */
#ifndef SYSFEED_CPU_H
#define SYSFEED_CPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* Columns of a cpu line in /proc/stat, in file order (USER_HZ ticks). */
enum cpu_mode {
	CPU_USER, /* includes guest */
	CPU_NICE, /* includes guest_nice */
	CPU_SYSTEM,
	CPU_IDLE,
	CPU_IOWAIT,     /* since 2.5.41 */
	CPU_IRQ,        /* since 2.6.0 */
	CPU_SOFTIRQ,    /* since 2.6.0 */
	CPU_STEAL,      /* since 2.6.11 */
	CPU_GUEST,      /* since 2.6.24 */
	CPU_GUEST_NICE, /* since 2.6.33 */
	CPU_NMODES,
};

struct cpu_times {
	unsigned id; /* N of "cpuN"; 0 for the aggregate line */
	uint64_t jiffies[CPU_NMODES];
	/* Not from /proc/stat: the collector sets these from
	 * cpuN/cpufreq/scaling_cur_freq; the parser leaves has_freq false. */
	uint64_t freq_khz;
	bool has_freq;
};

/* Which of the optional single-number lines were present. */
enum {
	CPU_HAS_CTXT = 1u << 0,
	CPU_HAS_BTIME = 1u << 1,
	CPU_HAS_PROCESSES = 1u << 2,
	CPU_HAS_PROCS_RUNNING = 1u << 3,
	CPU_HAS_PROCS_BLOCKED = 1u << 4,
	CPU_HAS_INTR = 1u << 5,
};

/* One parse of /proc/stat. Zero-initialise, reuse across parses (the cores
 * array is kept and grown), release with cpu_stat_free(). */
struct cpu_stat {
	struct cpu_times total;  /* the "cpu" line */
	struct cpu_times *cores; /* "cpuN" lines, strictly ascending N */
	size_t n_cores;
	size_t cap_cores;
	unsigned has; /* CPU_HAS_* */
	uint64_t ctxt;
	uint64_t intr;  /* first number of the "intr" line: all interrupts */
	uint64_t btime; /* seconds since the epoch */
	uint64_t processes;
	uint64_t procs_running;
	uint64_t procs_blocked;
};

/* Percentages between two readings, in hundredths of a percent (0..10000),
 * each rounded half up. busy = 100 - idle - iowait. */
struct cpu_percent {
	uint32_t user, nice, system, iowait, irq, softirq, steal, idle, busy;
};

/* Parses the text of /proc/stat. cpu lines may carry 4 to 10 columns
 * (older kernels have fewer; missing ones are 0); the "cpu" line is
 * required, other lines are optional and unknown ones ignored. Of the
 * "intr" line only the first number (the sum) is read: the per-IRQ counts
 * after it are not looked at. Returns 0, -EINVAL or -ERANGE on a malformed
 * file, -ENODATA without a "cpu" line, or -ENOMEM. On error *st holds no
 * meaningful sample but can be reused. */
int cpu_stat_parse(const char *text, size_t len, struct cpu_stat *st);
void cpu_stat_free(struct cpu_stat *st);

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

/* What /metrics shows of a new parse, given what it showed before (old,
 * empty at first): cur's cores and lines, each core's counters kept from
 * going backwards as node_exporter does, so that Prometheus sees no false
 * counter reset: a mode whose count decreased (iowait and idle may, see
 * proc(5)) keeps its old value, unless idle fell by reset_jiffies or more
 * (a CPU that went offline and came back), when the core starts over from
 * cur. Cores in old only are dropped. Returns 0 or -ENOMEM (*ret then
 * holds no meaningful view but can be reused). */
int cpu_stat_monotonic(const struct cpu_stat *old, const struct cpu_stat *cur,
		       uint64_t reset_jiffies, struct cpu_stat *ret);

/* Parses a cpufreq attribute such as scaling_cur_freq: one decimal number
 * of kHz and a newline. Returns 0, -EINVAL or -ERANGE. */
int cpu_freq_parse(const char *text, size_t len, uint64_t *ret_khz);

extern const struct collector cpu_collector;

#endif
