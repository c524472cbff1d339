/* The `cpu` topic's collector: two parses of /proc/stat a tick apart turned
 * into percentages and rates, each core's frequency from cpufreq, and the
 * Prometheus families. */
#include "cpu.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "procfs.h"
#include "json.h"

/* /proc/stat of a host with thousands of CPUs and IRQs stays well below. */
#define CPU_STAT_MAX (8u << 20)

/* The columns that add up to the time a CPU accounted: guest and
 * guest_nice are already inside user and nice. */
static const enum cpu_mode cpu_total_modes[] = {
    CPU_USER, CPU_NICE, CPU_SYSTEM, CPU_IDLE, CPU_IOWAIT, CPU_IRQ, CPU_SOFTIRQ, CPU_STEAL,
};

/* node_exporter's jumpBackSeconds: idle falling by this much is a core
 * that starts over, not a counter that wobbled. */
#define CPU_RESET_SECONDS 3

/* scaling_cur_freq is "%u\n" kHz. */
#define CPU_FREQ_MAX 32

struct cpu_state {
	struct procfs_set files; /* stat */
	struct cpu_stat prev;
	struct cpu_stat cur;
	bool have_prev;
	uint64_t prev_mono_ns; /* when prev was read */
	/* what /metrics shows (see cpu_stat_monotonic), and its next version */
	struct cpu_stat shown;
	struct cpu_stat shown_next;
	bool have_shown;
	uint64_t hz; /* USER_HZ: jiffies per second in /proc/stat */
	/* scaling_cur_freq of each core, opened once for the core ids in
	 * freq_id (-1: no such file) and read with pread every tick */
	int *freq_fd;
	unsigned *freq_id;
	size_t n_freq;
	size_t cap_freq;
	bool freq_open;
};

/* part/whole in hundredths of a percent, rounded half up; part <= whole,
 * whole > 0. Absurdly large deltas are scaled down first so that the
 * product cannot overflow. */
static uint32_t cpu_hundredths(uint64_t part, uint64_t whole)
{
	while (whole > UINT64_MAX / 10000) {
		part >>= 1;
		whole >>= 1;
	}
	return (uint32_t)((part * 10000 + whole / 2) / whole);
}

int cpu_times_percent(const struct cpu_times *prev, const struct cpu_times *cur,
		      struct cpu_percent *ret)
{
	uint64_t d[CPU_NMODES] = {0}, total = 0;

	for (size_t i = 0; i < sizeof(cpu_total_modes) / sizeof(cpu_total_modes[0]); i++) {
		enum cpu_mode m = cpu_total_modes[i];

		/* proc(5): iowait can decrease, and idle does on some NO_HZ
		 * kernels; that is no reset, so count it as no time spent */
		if ((m == CPU_IOWAIT || m == CPU_IDLE) && cur->jiffies[m] < prev->jiffies[m])
			d[m] = 0;
		else if (procfs_delta(prev->jiffies[m], cur->jiffies[m], &d[m]) < 0)
			return -ERANGE;
		if (total > UINT64_MAX - d[m])
			return -ERANGE;
		total += d[m];
	}
	if (total == 0)
		return -ENODATA;
	ret->user = cpu_hundredths(d[CPU_USER], total);
	ret->nice = cpu_hundredths(d[CPU_NICE], total);
	ret->system = cpu_hundredths(d[CPU_SYSTEM], total);
	ret->iowait = cpu_hundredths(d[CPU_IOWAIT], total);
	ret->irq = cpu_hundredths(d[CPU_IRQ], total);
	ret->softirq = cpu_hundredths(d[CPU_SOFTIRQ], total);
	ret->steal = cpu_hundredths(d[CPU_STEAL], total);
	ret->idle = cpu_hundredths(d[CPU_IDLE], total);
	ret->busy = cpu_hundredths(total - d[CPU_IDLE] - d[CPU_IOWAIT], total);
	return 0;
}

/* Fills o with the percentages, in the documented key order. */
static int cpu_percent_json(cJSON *o, const struct cpu_percent *pc)
{
	const struct {
		const char *key;
		uint32_t v;
	} keys[] = {
	    {"user", pc->user},     {"nice", pc->nice}, {"system", pc->system},
	    {"iowait", pc->iowait}, {"irq", pc->irq},   {"softirq", pc->softirq},
	    {"steal", pc->steal},   {"idle", pc->idle}, {"busy", pc->busy},
	};

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		if (json_num(o, keys[i].key, keys[i].v / 100.0) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Walks both ascending core lists together; ids present in only one of
 * them appeared or vanished, and get no rate this tick. */
static int cpu_cores_json(cJSON *cores, const struct cpu_stat *prev, const struct cpu_stat *cur)
{
	size_t i = 0, j = 0;

	while (i < prev->n_cores && j < cur->n_cores) {
		const struct cpu_times *a = &prev->cores[i], *b = &cur->cores[j];
		struct cpu_percent pc;
		cJSON *core;

		if (a->id < b->id) {
			i++;
			continue;
		}
		if (a->id > b->id) {
			j++;
			continue;
		}
		i++;
		j++;
		if (cpu_times_percent(a, b, &pc) < 0)
			continue;
		core = cJSON_CreateObject();
		if (!core)
			return -ENOMEM;
		if (json_num(core, "cpu", b->id) < 0 || cpu_percent_json(core, &pc) < 0 ||
		    json_num_or_null(core, "mhz", b->has_freq, (double)b->freq_khz / 1000.0) < 0 ||
		    !cJSON_AddItemToArray(cores, core)) {
			cJSON_Delete(core);
			return -ENOMEM;
		}
	}
	return 0;
}

/* One activity counter as a rate: null unless both parses have its line
 * and it went forward over a clock that moved. */
static int cpu_rate_json(cJSON *o, const char *key, unsigned flag, const struct cpu_stat *prev,
			 const struct cpu_stat *cur, uint64_t a, uint64_t b, uint64_t dt_ns)
{
	double per_s = 0;
	bool have = (prev->has & flag) && (cur->has & flag) &&
		    procfs_rate_hundredths(a, b, dt_ns, &per_s) == 1;

	return json_num_or_null(o, key, have, per_s);
}

int cpu_build_payload(const struct cpu_stat *prev, const struct cpu_stat *cur, uint64_t dt_ns,
		      int64_t t_ms, cJSON **ret_payload)
{
	struct cpu_percent pc;
	cJSON *payload = NULL, *total, *cores;
	int r;

	*ret_payload = NULL;
	if (cpu_times_percent(&prev->total, &cur->total, &pc) < 0)
		return 0;

	r = -ENOMEM;
	payload = json_payload(t_ms);
	if (!payload)
		goto out;
	if (json_num(payload, "ncpu", (double)cur->n_cores) < 0 ||
	    cpu_rate_json(payload, "ctxt_per_s", CPU_HAS_CTXT, prev, cur, prev->ctxt, cur->ctxt,
			  dt_ns) < 0 ||
	    cpu_rate_json(payload, "intr_per_s", CPU_HAS_INTR, prev, cur, prev->intr, cur->intr,
			  dt_ns) < 0 ||
	    cpu_rate_json(payload, "forks_per_s", CPU_HAS_PROCESSES, prev, cur, prev->processes,
			  cur->processes, dt_ns) < 0 ||
	    json_num_or_null(payload, "procs_running", cur->has & CPU_HAS_PROCS_RUNNING,
			     (double)cur->procs_running) < 0 ||
	    json_num_or_null(payload, "procs_blocked", cur->has & CPU_HAS_PROCS_BLOCKED,
			     (double)cur->procs_blocked) < 0)
		goto out;
	total = cJSON_AddObjectToObject(payload, "total");
	if (!total || cpu_percent_json(total, &pc) < 0)
		goto out;
	cores = cJSON_AddArrayToObject(payload, "cores");
	if (!cores || cpu_cores_json(cores, prev, cur) < 0)
		goto out;
	r = 0;
out:
	return json_hand_over(payload, r, ret_payload);
}

static void cpu_freq_close(struct cpu_state *s)
{
	for (size_t i = 0; i < s->n_freq; i++) {
		if (s->freq_fd[i] >= 0)
			close(s->freq_fd[i]);
	}
	s->n_freq = 0;
	s->freq_open = false;
}

/* Whether the open attributes are those of exactly st's cores. */
static bool cpu_freq_matches(const struct cpu_state *s, const struct cpu_stat *st)
{
	if (!s->freq_open || s->n_freq != st->n_cores)
		return false;
	for (size_t i = 0; i < st->n_cores; i++) {
		if (s->freq_id[i] != st->cores[i].id)
			return false;
	}
	return true;
}

/* Opens cpuN/cpufreq/scaling_cur_freq under sys_fd for each core of st,
 * once per set of cores; a core without one (no cpufreq driver, as in most
 * VMs, or no sys root) keeps -1 and is not looked for again until the set
 * changes. Returns 0 or -ENOMEM. */
static int cpu_freq_open(struct cpu_state *s, int sys_fd, const struct cpu_stat *st)
{
	char path[80];

	cpu_freq_close(s);
	if (st->n_cores > s->cap_freq) {
		size_t cap = st->cap_cores;
		int *fds;
		unsigned *ids;

		if (cap > SIZE_MAX / sizeof(*fds))
			return -ENOMEM;
		fds = realloc(s->freq_fd, cap * sizeof(*fds));
		if (!fds)
			return -ENOMEM;
		s->freq_fd = fds;
		ids = realloc(s->freq_id, cap * sizeof(*ids));
		if (!ids)
			return -ENOMEM;
		s->freq_id = ids;
		s->cap_freq = cap;
	}
	for (size_t i = 0; i < st->n_cores; i++) {
		s->freq_id[i] = st->cores[i].id;
		s->freq_fd[i] = -1;
		if (sys_fd < 0)
			continue;
		snprintf(path, sizeof(path), "devices/system/cpu/cpu%u/cpufreq/scaling_cur_freq",
			 st->cores[i].id);
		s->freq_fd[i] = openat(sys_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	}
	s->n_freq = st->n_cores;
	s->freq_open = true;
	return 0;
}

/* Sets the frequency of st's cores (those of the open attributes) with one
 * pread each; sysfs renders the value anew at offset 0. One that cannot be
 * read or parsed now is unknown for this tick. */
static void cpu_freq_read(const struct cpu_state *s, struct cpu_stat *st)
{
	char text[CPU_FREQ_MAX];

	for (size_t i = 0; i < st->n_cores; i++) {
		uint64_t khz;
		ssize_t n;

		if (s->freq_fd[i] < 0)
			continue;
		n = pread(s->freq_fd[i], text, sizeof(text), 0);
		if (n <= 0 || (size_t)n == sizeof(text))
			continue;
		if (cpu_freq_parse(text, (size_t)n, &khz) < 0)
			continue;
		st->cores[i].freq_khz = khz;
		st->cores[i].has_freq = true;
	}
}

/* Reads and parses /proc/stat into s->cur. */
static int cpu_read(struct cpu_state *s, const struct collector_env *env)
{
	struct procfs_set *f = &s->files;
	int r;

	procfs_set_begin(f, env->proc_fd, env->proc_st);
	r = procfs_set_read(f, 0, env->proc_fd, "stat", CPU_STAT_MAX);
	procfs_set_end(f);
	if (r < 0)
		return r;
	return procfs_set_parsed(f, cpu_stat_parse(f->buf.data, f->buf.len, &s->cur));
}

static void cpu_fini(void *state)
{
	struct cpu_state *s = state;

	if (!s)
		return;
	procfs_set_done(&s->files);
	cpu_stat_free(&s->prev);
	cpu_stat_free(&s->cur);
	cpu_stat_free(&s->shown);
	cpu_stat_free(&s->shown_next);
	cpu_freq_close(s);
	free(s->freq_fd);
	free(s->freq_id);
	free(s);
}

/* Reads and parses /proc/stat once, so that a missing or foreign file turns
 * the topic off now; the buffer and core arrays are kept for the ticks.
 * cpufreq is optional: it is looked for at the first tick. */
static int cpu_init(const struct collector_env *env, const void *settings, void **ret_state,
		    char *reason, size_t reason_len)
{
	struct cpu_state *s;
	long hz;
	int r;

	s = calloc(1, sizeof(*s));
	r = s ? cpu_read(s, env) : -ENOMEM;
	if (r < 0) {
		procfs_set_reason(s ? &s->files : NULL, "stat", r, reason, reason_len);
		goto out;
	}
	hz = sysconf(_SC_CLK_TCK);
	s->hz = hz > 0 ? (uint64_t)hz : 100;
	*ret_state = s;
	s = NULL;
out:
	cpu_fini(s);
	return r;
}

/* The first tick only records a reading; rates start with the second. A
 * failed read or parse keeps the previous reading, so the next rate spans
 * two intervals, which percentages and per-second rates do not mind. */
static int cpu_sample(void *state, const struct collector_env *env,
		      const struct collector_tick *tick, cJSON **ret_payload)
{
	static const struct cpu_stat none;
	struct cpu_state *s = state;
	struct cpu_stat tmp;
	cJSON *payload = NULL;
	uint64_t dt_ns;
	int r;

	*ret_payload = NULL;
	r = cpu_read(s, env);
	if (r < 0)
		goto out;
	if (!cpu_freq_matches(s, &s->cur)) {
		r = cpu_freq_open(s, env->sys_fd, &s->cur);
		if (r < 0)
			goto out;
	}
	cpu_freq_read(s, &s->cur);
	if (s->have_prev) {
		dt_ns = procfs_elapsed(true, s->prev_mono_ns, tick->mono_ns);
		r = cpu_build_payload(&s->prev, &s->cur, dt_ns, tick->t_ms, &payload);
		if (r < 0)
			goto out;
	}
	r = cpu_stat_monotonic(s->have_shown ? &s->shown : &none, &s->cur,
			       CPU_RESET_SECONDS * s->hz, &s->shown_next);
	if (r < 0)
		goto out;
	tmp = s->shown;
	s->shown = s->shown_next;
	s->shown_next = tmp;
	s->have_shown = true;
	tmp = s->prev;
	s->prev = s->cur;
	s->cur = tmp;
	s->prev_mono_ns = tick->mono_ns;
	s->have_prev = true;
out:
	return json_hand_over(payload, r, ret_payload);
}

/* The modes of node_cpu_seconds_total, in enum cpu_mode order. */
static const char *const cpu_mode_names[] = {
    "user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal",
};

/* node_exporter's cpu and stat families from what the last tick read:
 * seconds per core and mode (user and nice include guest time, as in
 * /proc/stat), the guest share apart, the frequency of cores that have
 * cpufreq, and the system-wide lines /proc/stat had. */
static int cpu_metrics(void *state, struct metrics *m)
{
	const struct cpu_state *s = state;
	const struct cpu_stat *st = &s->shown;
	const struct {
		const char *name, *type, *help;
		unsigned flag;
		uint64_t v;
	} lines[] = {
	    {"node_context_switches_total", "counter", "Total number of context switches.",
	     CPU_HAS_CTXT, st->ctxt},
	    {"node_intr_total", "counter", "Total number of interrupts serviced.", CPU_HAS_INTR,
	     st->intr},
	    {"node_forks_total", "counter", "Total number of forks.", CPU_HAS_PROCESSES,
	     st->processes},
	    {"node_procs_running", "gauge", "Number of processes in runnable state.",
	     CPU_HAS_PROCS_RUNNING, st->procs_running},
	    {"node_procs_blocked", "gauge",
	     "Number of processes blocked waiting for I/O to complete.", CPU_HAS_PROCS_BLOCKED,
	     st->procs_blocked},
	    {"node_boot_time_seconds", "gauge", "Node boot time, in unixtime.", CPU_HAS_BTIME,
	     st->btime},
	};
	const double hz = (double)s->hz;
	bool any_freq = false;
	char id[16];

	if (!s->have_shown)
		return 0;
	metrics_family(m, "node_cpu_seconds_total", "counter",
		       "Seconds the CPUs spent in each mode.");
	for (size_t i = 0; i < st->n_cores; i++) {
		snprintf(id, sizeof(id), "%u", st->cores[i].id);
		for (size_t k = 0; k < sizeof(cpu_mode_names) / sizeof(cpu_mode_names[0]); k++)
			metrics_sample(
			    m, "node_cpu_seconds_total",
			    (const char *const[]){"cpu", id, "mode", cpu_mode_names[k], NULL},
			    (double)st->cores[i].jiffies[k] / hz);
		any_freq = any_freq || st->cores[i].has_freq;
	}
	metrics_family(m, "node_cpu_guest_seconds_total", "counter",
		       "Seconds the CPUs spent in guests (VMs) for each mode.");
	for (size_t i = 0; i < st->n_cores; i++) {
		snprintf(id, sizeof(id), "%u", st->cores[i].id);
		metrics_sample(m, "node_cpu_guest_seconds_total",
			       (const char *const[]){"cpu", id, "mode", "user", NULL},
			       (double)st->cores[i].jiffies[CPU_GUEST] / hz);
		metrics_sample(m, "node_cpu_guest_seconds_total",
			       (const char *const[]){"cpu", id, "mode", "nice", NULL},
			       (double)st->cores[i].jiffies[CPU_GUEST_NICE] / hz);
	}
	if (any_freq) {
		metrics_family(m, "node_cpu_scaling_frequency_hertz", "gauge",
			       "Current scaled CPU thread frequency in hertz.");
		for (size_t i = 0; i < st->n_cores; i++) {
			if (!st->cores[i].has_freq)
				continue;
			snprintf(id, sizeof(id), "%u", st->cores[i].id);
			metrics_sample(m, "node_cpu_scaling_frequency_hertz",
				       (const char *const[]){"cpu", id, NULL},
				       (double)st->cores[i].freq_khz * 1000.0);
		}
	}
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (!(st->has & lines[i].flag))
			continue;
		metrics_family(m, lines[i].name, lines[i].type, lines[i].help);
		metrics_sample(m, lines[i].name, NULL, (double)lines[i].v);
	}
	return metrics_error(m);
}

static const char *const cpu_history[] = {"total.user",   "total.nice",   "total.system",
					  "total.iowait", "total.irq",    "total.softirq",
					  "total.steal",  "cores[].busy", NULL};

const struct collector cpu_collector = {
    .name = "cpu",
    .history = cpu_history,
    .init = cpu_init,
    .sample = cpu_sample,
    .metrics = cpu_metrics,
    .fini = cpu_fini,
};
