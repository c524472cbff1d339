/* The `cpu` topic's parsers: /proc/stat and scaling_cur_freq, and the
 * monotonic view of /proc/stat for /metrics. */
#include "cpu_stat.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "procfs.h"

/* Reads the columns after "cpu"/"cpuN": 4 (2.4) to 10 (2.6.33+); missing
 * trailing ones stay 0, and an 11th column of unknown meaning is an error
 * rather than a guess. */
static int cpu_parse_times(const char *p, const char *end, struct cpu_times *t)
{
	const char *tok;
	size_t tok_len, n = 0;
	int r = 0;

	memset(t->jiffies, 0, sizeof(t->jiffies));
	while (n < CPU_NMODES && (r = procfs_next_u64(&p, end, &t->jiffies[n])) > 0)
		n++;
	if (r < 0)
		return r;
	if (n < 4 || procfs_next_token(&p, end, &tok, &tok_len) > 0)
		return -EINVAL;
	return 0;
}

/* Reads the first number of a "key sum n0 n1 ..." line (intr): on a big
 * machine the per-IRQ counts after it run to thousands; they are not
 * parsed. */
static int cpu_parse_first(const char *p, const char *end, uint64_t *ret)
{
	const char *tok;
	size_t tok_len;

	if (procfs_next_token(&p, end, &tok, &tok_len) <= 0)
		return -EINVAL;
	return procfs_parse_u64(tok, tok_len, ret);
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
	if (ARRAY_GROW(st->cores, st->cap_cores, st->n_cores, 16) < 0)
		return NULL;
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
	t->freq_khz = 0;
	t->has_freq = false;
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
	if (procfs_token_is(key, key_len, "intr")) {
		if (st->has & CPU_HAS_INTR)
			return -EINVAL;
		st->has |= CPU_HAS_INTR;
		return cpu_parse_first(p, end, &st->intr);
	}
	for (size_t i = 0; i < sizeof(singles) / sizeof(singles[0]); i++) {
		if (!procfs_token_is(key, key_len, singles[i].key))
			continue;
		if (st->has & singles[i].flag)
			return -EINVAL;
		st->has |= singles[i].flag;
		return cpu_parse_single(p, end, singles[i].dst);
	}
	return 0; /* softirq, page, swap, ...: not ours */
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
	st->ctxt = st->intr = st->btime = st->processes = st->procs_running = st->procs_blocked = 0;

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
int cpu_stat_monotonic(const struct cpu_stat *old, const struct cpu_stat *cur,
		       uint64_t reset_jiffies, struct cpu_stat *ret)
{
	size_t i = 0;

	ret->total = cur->total;
	ret->n_cores = 0;
	ret->has = cur->has;
	ret->ctxt = cur->ctxt;
	ret->intr = cur->intr;
	ret->btime = cur->btime;
	ret->processes = cur->processes;
	ret->procs_running = cur->procs_running;
	ret->procs_blocked = cur->procs_blocked;
	for (size_t j = 0; j < cur->n_cores; j++) {
		const struct cpu_times *c = &cur->cores[j], *o;
		struct cpu_times *t = cpu_stat_add_core(ret);

		if (!t) {
			ret->n_cores = 0;
			ret->has = 0;
			return -ENOMEM;
		}
		*t = *c;
		while (i < old->n_cores && old->cores[i].id < c->id)
			i++;
		if (i == old->n_cores || old->cores[i].id != c->id)
			continue; /* new core: its counters as they are */
		o = &old->cores[i];
		if (o->jiffies[CPU_IDLE] > c->jiffies[CPU_IDLE] &&
		    o->jiffies[CPU_IDLE] - c->jiffies[CPU_IDLE] >= reset_jiffies)
			continue; /* it started over */
		for (size_t m = 0; m < CPU_NMODES; m++) {
			if (o->jiffies[m] > t->jiffies[m])
				t->jiffies[m] = o->jiffies[m];
		}
	}
	return 0;
}

int cpu_freq_parse(const char *text, size_t len, uint64_t *ret_khz)
{
	if (len < 2 || text[len - 1] != '\n')
		return -EINVAL;
	return procfs_parse_u64(text, len - 1, ret_khz);
}
