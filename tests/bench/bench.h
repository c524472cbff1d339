/* What the C benchmarks share: a clock in nanoseconds, the nearest-rank
 * quantile of a run's samples, unsigned options read from a table, the
 * open-files limit raised, a hex digit, and the env callbacks that drop
 * what collectors publish. Each benchmark is one .c file, so these are
 * static inline. */
#ifndef SYSFEED_BENCH_H
#define SYSFEED_BENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <time.h>

#include "collector.h"
#include "procfs.h"

/* Any clock (CLOCK_PROCESS_CPUTIME_ID for CPU time) in nanoseconds. */
static inline uint64_t bench_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int bench_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of n values, nearest rank; sorts v. */
static inline double bench_quantile(uint64_t *v, size_t n, double q)
{
	size_t k;

	if (n == 0)
		return 0;
	qsort(v, n, sizeof(*v), bench_cmp_u64);
	k = (size_t)(q * (double)n + 0.999999);
	if (k > 0)
		k--;
	if (k >= n)
		k = n - 1;
	return (double)v[k];
}

/* An option that sets an unsigned: its getopt letter and where it goes. */
struct bench_uint {
	int opt;
	unsigned *v;
};

/* Sets the unsigned of option opt, in the table ended by {0}, from arg
 * (base 10); false when opt is none of them. */
static inline bool bench_uint_opt(const struct bench_uint *t, int opt, const char *arg)
{
	for (; t->opt; t++) {
		if (t->opt == opt) {
			*t->v = (unsigned)strtoul(arg, NULL, 10);
			return true;
		}
	}
	return false;
}

/* The soft open-files limit raised to the hard one, as the daemon does
 * before its collectors start. */
static inline void bench_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* env.publish and env.set_state of a benchmark: what is sent is dropped. */
static inline void bench_drop(const struct collector_env *env, cJSON *payload,
			      const struct collector_event *ev)
{
	cJSON_Delete(payload);
}

static inline void bench_drop_state(const struct collector_env *env, cJSON *state)
{
	cJSON_Delete(state);
}

static inline void bench_drop_state_json(const struct collector_env *env, const char *json,
					 size_t len)
{
}

#endif
