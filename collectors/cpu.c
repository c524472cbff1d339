#include "cpu.h"

#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

/* /proc/stat of a host with thousands of CPUs and IRQs stays well below. */
#define CPU_STAT_MAX (8u << 20)

/* The columns that add up to the time a CPU accounted: guest and
 * guest_nice are already inside user and nice. */
static const enum cpu_mode cpu_total_modes[] = {
    CPU_USER, CPU_NICE, CPU_SYSTEM, CPU_IDLE, CPU_IOWAIT, CPU_IRQ, CPU_SOFTIRQ, CPU_STEAL,
};

struct cpu_state {
	struct procfs_buf buf;
	struct cpu_stat prev;
	struct cpu_stat cur;
	bool have_prev;
};

/* Reads the columns after "cpu"/"cpuN": 4 (2.4) to 10 (2.6.33+); missing
 * trailing ones stay 0, and an 11th column of unknown meaning is an error
 * rather than a guess. */
static int cpu_parse_times(const char *p, const char *end, struct cpu_times *t)
{
	const char *tok;
	size_t tok_len, n = 0;
	int r;

	memset(t->jiffies, 0, sizeof(t->jiffies));
	while (procfs_next_token(&p, end, &tok, &tok_len) > 0) {
		if (n == CPU_NMODES)
			return -EINVAL;
		r = procfs_parse_u64(tok, tok_len, &t->jiffies[n]);
		if (r < 0)
			return r;
		n++;
	}
	if (n < 4)
		return -EINVAL;
	return 0;
}

/* Reads the single number of a "key value" line. */
static int cpu_parse_single(const char *p, const char *end, uint64_t *ret)
{
	const char *tok, *extra;
	size_t tok_len, extra_len;
	int r;

	if (procfs_next_token(&p, end, &tok, &tok_len) <= 0)
		return -EINVAL;
	r = procfs_parse_u64(tok, tok_len, ret);
	if (r < 0)
		return r;
	if (procfs_next_token(&p, end, &extra, &extra_len) > 0)
		return -EINVAL;
	return 0;
}

static struct cpu_times *cpu_stat_add_core(struct cpu_stat *st)
{
	if (st->n_cores == st->cap_cores) {
		size_t cap = st->cap_cores ? st->cap_cores * 2 : 16;
		struct cpu_times *cores;

		if (cap > SIZE_MAX / sizeof(*cores))
			return NULL;
		cores = realloc(st->cores, cap * sizeof(*cores));
		if (!cores)
			return NULL;
		st->cores = cores;
		st->cap_cores = cap;
	}
	return &st->cores[st->n_cores++];
}

/* A "cpuN" line: N must be a plain number, larger than the previous one. */
static int cpu_parse_core(struct cpu_stat *st, const char *name, size_t name_len, const char *p,
			  const char *end)
{
	struct cpu_times *t;
	uint64_t id;
	int r;

	r = procfs_parse_u64(name + 3, name_len - 3, &id);
	if (r < 0)
		return -EINVAL;
	if (id > INT_MAX)
		return -ERANGE;
	if (st->n_cores > 0 && id <= st->cores[st->n_cores - 1].id)
		return -EINVAL;
	t = cpu_stat_add_core(st);
	if (!t)
		return -ENOMEM;
	t->id = (unsigned)id;
	r = cpu_parse_times(p, end, t);
	if (r < 0)
		st->n_cores--;
	return r;
}

/* One line of /proc/stat into st; lines of other keys are skipped, but a
 * key sysfeed reads must appear once and be well formed. */
static int cpu_parse_line(struct cpu_stat *st, const char *line, size_t len, bool *seen_total)
{
	const struct {
		const char *key;
		unsigned flag;
		uint64_t *dst;
	} singles[] = {
	    {"ctxt", CPU_HAS_CTXT, &st->ctxt},
	    {"btime", CPU_HAS_BTIME, &st->btime},
	    {"processes", CPU_HAS_PROCESSES, &st->processes},
	    {"procs_running", CPU_HAS_PROCS_RUNNING, &st->procs_running},
	    {"procs_blocked", CPU_HAS_PROCS_BLOCKED, &st->procs_blocked},
	};
	const char *p = line, *end = line + len, *key;
	size_t key_len;

	if (procfs_next_token(&p, end, &key, &key_len) <= 0)
		return -EINVAL;
	if (procfs_token_is(key, key_len, "cpu")) {
		if (*seen_total)
			return -EINVAL;
		*seen_total = true;
		st->total.id = 0;
		return cpu_parse_times(p, end, &st->total);
	}
	if (key_len > 3 && memcmp(key, "cpu", 3) == 0)
		return cpu_parse_core(st, key, key_len, p, end);
	for (size_t i = 0; i < sizeof(singles) / sizeof(singles[0]); i++) {
		if (!procfs_token_is(key, key_len, singles[i].key))
			continue;
		if (st->has & singles[i].flag)
			return -EINVAL;
		st->has |= singles[i].flag;
		return cpu_parse_single(p, end, singles[i].dst);
	}
	return 0; /* intr, softirq, page, swap, ...: not ours */
}

int cpu_stat_parse(const char *text, size_t len, struct cpu_stat *st)
{
	const char *p = text, *end = text + len, *line;
	size_t line_len;
	bool seen_total = false;
	int r;

	memset(&st->total, 0, sizeof(st->total));
	st->n_cores = 0;
	st->has = 0;
	st->ctxt = st->btime = st->processes = st->procs_running = st->procs_blocked = 0;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		r = cpu_parse_line(st, line, line_len, &seen_total);
		if (r < 0)
			goto out;
	}
	if (r < 0)
		goto out;
	if (!seen_total)
		r = -ENODATA;
out:
	if (r < 0) {
		st->n_cores = 0;
		st->has = 0;
	}
	return r;
}

void cpu_stat_free(struct cpu_stat *st)
{
	if (!st)
		return;
	free(st->cores);
	st->cores = NULL;
	st->n_cores = 0;
	st->cap_cores = 0;
}

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

static int cpu_json_add(cJSON *o, const char *key, double v)
{
	return cJSON_AddNumberToObject(o, key, v) ? 0 : -ENOMEM;
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
		if (cpu_json_add(o, keys[i].key, keys[i].v / 100.0) < 0)
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
		if (cpu_json_add(core, "cpu", b->id) < 0 || cpu_percent_json(core, &pc) < 0 ||
		    !cJSON_AddItemToArray(cores, core)) {
			cJSON_Delete(core);
			return -ENOMEM;
		}
	}
	return 0;
}

int cpu_build_payload(const struct cpu_stat *prev, const struct cpu_stat *cur, int64_t t_ms,
		      cJSON **ret_payload)
{
	struct cpu_percent pc;
	cJSON *payload = NULL, *total, *cores;
	int r;

	*ret_payload = NULL;
	if (cpu_times_percent(&prev->total, &cur->total, &pc) < 0)
		return 0;

	r = -ENOMEM;
	payload = cJSON_CreateObject();
	if (!payload)
		goto out;
	if (cpu_json_add(payload, "t", (double)t_ms) < 0 ||
	    cpu_json_add(payload, "ncpu", (double)cur->n_cores) < 0)
		goto out;
	total = cJSON_AddObjectToObject(payload, "total");
	if (!total || cpu_percent_json(total, &pc) < 0)
		goto out;
	cores = cJSON_AddArrayToObject(payload, "cores");
	if (!cores || cpu_cores_json(cores, prev, cur) < 0)
		goto out;
	*ret_payload = payload;
	payload = NULL;
	r = 0;
out:
	cJSON_Delete(payload);
	return r;
}

static void cpu_fini(void *state)
{
	struct cpu_state *s = state;

	if (!s)
		return;
	procfs_buf_free(&s->buf);
	cpu_stat_free(&s->prev);
	cpu_stat_free(&s->cur);
	free(s);
}

/* Reads and parses /proc/stat once, so that a missing or foreign file turns
 * the topic off now; the buffer and core arrays are kept for the ticks. */
static int cpu_init(const struct collector_env *env, void **ret_state, char *reason,
		    size_t reason_len)
{
	struct cpu_state *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		procfs_reason(reason, reason_len, "stat", r, false);
		goto out;
	}
	r = procfs_read(env->proc_fd, "stat", &s->buf, CPU_STAT_MAX);
	if (r < 0) {
		procfs_reason(reason, reason_len, "stat", r, false);
		goto out;
	}
	r = cpu_stat_parse(s->buf.data, s->buf.len, &s->cur);
	if (r < 0) {
		procfs_reason(reason, reason_len, "stat", r, true);
		goto out;
	}
	*ret_state = s;
	s = NULL;
out:
	cpu_fini(s);
	return r;
}

/* The first tick only records a reading; rates start with the second. A
 * failed read or parse keeps the previous reading, so the next rate spans
 * two intervals, which percentages do not mind. */
static int cpu_sample(void *state, const struct collector_env *env,
		      const struct collector_tick *tick, cJSON **ret_payload)
{
	struct cpu_state *s = state;
	struct cpu_stat tmp;
	cJSON *payload = NULL;
	int r;

	*ret_payload = NULL;
	r = procfs_read(env->proc_fd, "stat", &s->buf, CPU_STAT_MAX);
	if (r < 0)
		goto out;
	r = cpu_stat_parse(s->buf.data, s->buf.len, &s->cur);
	if (r < 0)
		goto out;
	if (s->have_prev) {
		r = cpu_build_payload(&s->prev, &s->cur, tick->t_ms, &payload);
		if (r < 0)
			goto out;
	}
	tmp = s->prev;
	s->prev = s->cur;
	s->cur = tmp;
	s->have_prev = true;
	*ret_payload = payload;
out:
	return r;
}

static const char *const cpu_history[] = {"total.user",   "total.nice",   "total.system",
					  "total.iowait", "total.irq",    "total.softirq",
					  "total.steal",  "cores[].busy", NULL};

const struct collector cpu_collector = {
    .name = "cpu",
    .history = cpu_history,
    .init = cpu_init,
    .sample = cpu_sample,
    .fini = cpu_fini,
};
