/* /proc/stat parsed for the `cpu` topic: jiffies per mode of the aggregate
 * and of each core, and the activity counters; the view of it /metrics
 * shows, whose counters never go backwards; and cpufreq's current
 * frequency. Pure: bytes in, struct out. */
#ifndef SYSFEED_CPU_STAT_H
#define SYSFEED_CPU_STAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Parses the text of /proc/stat. cpu lines may carry 4 to 10 columns
 * (older kernels have fewer; missing ones are 0); the "cpu" line is
 * required, other lines are optional and unknown ones ignored. Of the
 * "intr" line only the first number (the sum) is read: the per-IRQ counts
 * after it are not looked at. Returns 0, -EINVAL or -ERANGE on a malformed
 * file, -ENODATA without a "cpu" line, or -ENOMEM. On error *st holds no
 * meaningful sample but can be reused. */
int cpu_stat_parse(const char *text, size_t len, struct cpu_stat *st);
void cpu_stat_free(struct cpu_stat *st);

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

#endif
