/* tick_cost: the CPU cost of one tick of every registered collector.
 *
 * Forks N idle processes (children in pause()), or as many as bring /proc
 * to P processes with -p, then runs each periodic collector of
 * collector_registry[] on the live /proc and /sys, with the default
 * configuration, for T ticks I ms apart, as the daemon's loop does:
 * sample, then encode the payload with json_print. CPU time is
 * CLOCK_PROCESS_CPUTIME_ID (every thread of this process, so a collector's
 * helper thread counts too). Prints per collector and for the whole tick
 * the first tick (cold: fds opened, caches filled) and the median and p90
 * of the others (or of those after the first W with -w), in microseconds,
 * then kills the children. The last line, "tick_cost: processes N ticks M
 * median_us X p90_us Y", is for scripts (tests/bench/tick).
 *
 * The measured ticks (those after the warm-up) run inside
 * tick_cost_measured() and only they: under
 * `valgrind --tool=callgrind --toggle-collect=tick_cost_measured` the
 * instruction count is theirs alone (user space; the kernel's share of a
 * read is not counted).
 *
 *   tick_cost [-n processes=1000 | -p total] [-t ticks=60] [-i interval_ms=1000] [-w warmup=1]
 *             [-P proc_root=/proc] [-S sys_root=/sys]
 *
 * -P and -S point the collectors at a fixture tree instead (such as the
 * one `tests/fixtures/construct_proc_drm.py --bench DIR N K` writes, with
 * processes holding DRM fds): "processes" then counts the pids there.
 *
 * Needs the project's objects: link with build/libsysfeed.a and the
 * daemon's libraries (see the report that came with it). */

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench.h"
#include "collector.h"
#include "config.h"
#include "json.h"

#define MAX_COLLECTORS 64

static size_t count_pids(const char *root)
{
	char cmd[4200];
	FILE *f;

	snprintf(cmd, sizeof(cmd), "ls '%s' | grep -c '^[0-9]'", root);
	f = popen(cmd, "r");
	size_t n = 0;

	if (f) {
		if (fscanf(f, "%zu", &n) != 1)
			n = 0;
		pclose(f);
	}
	return n;
}

static size_t count_fds(void)
{
	char cmd[64];
	FILE *f;
	size_t n = 0;

	snprintf(cmd, sizeof(cmd), "ls /proc/%d/fd | wc -l", (int)getpid());
	f = popen(cmd, "r");
	if (f) {
		if (fscanf(f, "%zu", &n) != 1)
			n = 0;
		pclose(f);
	}
	return n;
}

/* What one tick needs: the collectors, their states, the costs so far. */
struct bench {
	const struct collector *cols[MAX_COLLECTORS];
	void *states[MAX_COLLECTORS];
	bool active[MAX_COLLECTORS];
	uint64_t *cost[MAX_COLLECTORS + 1];
	struct collector_env env;
	size_t n_cols;
};

/* Tick t: each active collector samples and its payload is encoded; its
 * CPU time goes to cost[i][t], the sum to cost[MAX_COLLECTORS][t]. */
static void tick_run(struct bench *b, unsigned t)
{
	struct collector_tick tk;
	uint64_t total = 0;

	tk.mono_ns = bench_ns(CLOCK_MONOTONIC);
	tk.t_ms = (int64_t)(bench_ns(CLOCK_REALTIME) / 1000000);
	for (size_t i = 0; i < b->n_cols; i++) {
		cJSON *payload = NULL;
		uint64_t c0;
		char *json;

		if (!b->active[i])
			continue;
		c0 = bench_ns(CLOCK_PROCESS_CPUTIME_ID);
		if (b->cols[i]->sample(b->states[i], &b->env, &tk, &payload) == 0 && payload) {
			json = json_print(payload, NULL);
			free(json);
		}
		cJSON_Delete(payload);
		b->cost[i][t] = bench_ns(CLOCK_PROCESS_CPUTIME_ID) - c0;
		total += b->cost[i][t];
	}
	b->cost[MAX_COLLECTORS][t] = total;
}

/* Two names for the same tick, so that callgrind can count the measured
 * ones apart (--toggle-collect=tick_cost_measured). Not static: their
 * names must survive. */
void tick_cost_warm(struct bench *b, unsigned t);
void tick_cost_measured(struct bench *b, unsigned t);

__attribute__((noinline)) void tick_cost_warm(struct bench *b, unsigned t)
{
	tick_run(b, t);
}

__attribute__((noinline)) void tick_cost_measured(struct bench *b, unsigned t)
{
	tick_run(b, t);
}

int main(int argc, char **argv)
{
	unsigned nproc = 1000, ticks = 60, interval_ms = 1000, warmup = 1, target = 0;
	const char *proc_root = "/proc", *sys_root = "/sys";
	uint64_t first[MAX_COLLECTORS + 1] = {0};
	struct bench b = {.env = {.proc_fd = -1, .sys_fd = -1}};
	struct config cfg;
	size_t present;
	pid_t *kids;
	int opt, status = 1;

	const struct bench_uint uints[] = {
	    {'n', &nproc}, {'p', &target}, {'t', &ticks}, {'i', &interval_ms}, {'w', &warmup}, {0},
	};

	json_pool_start(); /* as the daemon's loop thread does (daemon/main.c) */

	while ((opt = getopt(argc, argv, "n:p:t:i:w:P:S:")) != -1) {
		if (bench_uint_opt(uints, opt, optarg))
			continue;
		switch (opt) {
		case 'P':
			proc_root = optarg;
			break;
		case 'S':
			sys_root = optarg;
			break;
		default:
			fprintf(stderr,
				"usage: %s [-n processes | -p total] [-t ticks] [-i interval_ms] "
				"[-w warmup] [-P proc_root] [-S sys_root]\n",
				argv[0]);
			return 2;
		}
	}
	if (warmup < 1)
		warmup = 1;
	if (ticks <= warmup) {
		fprintf(stderr, "tick_cost: more ticks than warm-up ticks needed\n");
		return 2;
	}
	if (target > 0) {
		present = count_pids(proc_root);
		nproc = present < target ? (unsigned)(target - present) : 0;
	}
	bench_raise_nofile();
	kids = calloc(nproc ? nproc : 1, sizeof(*kids));
	for (size_t i = 0; i <= MAX_COLLECTORS; i++)
		b.cost[i] = calloc(ticks, sizeof(uint64_t));
	if (!kids) {
		perror("tick_cost");
		return 1;
	}
	for (unsigned i = 0; i < nproc; i++) {
		kids[i] = fork();
		if (kids[i] < 0) {
			perror("tick_cost: fork");
			nproc = i;
			break;
		}
		if (kids[i] == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL);
			for (;;)
				pause();
		}
	}

	config_defaults(&cfg);
	b.env.proc_fd = open(proc_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	b.env.sys_fd = open(sys_root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	b.env.publish = bench_drop;
	b.env.set_state = bench_drop_state;
	b.env.set_state_json = bench_drop_state_json;
	if (b.env.proc_fd < 0 || b.env.sys_fd < 0) {
		perror("tick_cost: proc or sys root");
		goto out;
	}
	for (size_t i = 0; collector_registry[i] && b.n_cols < MAX_COLLECTORS; i++) {
		const struct collector *c = collector_registry[i];
		char reason[512] = "";
		int r = 0;

		b.cols[b.n_cols] = c;
		if (c->init)
			r = c->init(&b.env, cfg.col[i], &b.states[b.n_cols], reason,
				    sizeof(reason));
		if (r < 0)
			fprintf(stderr, "%-8s off: %s\n", c->name,
				reason[0] ? reason : strerror(-r));
		else if (!c->sample)
			fprintf(stderr, "%-8s event-driven, not sampled\n", c->name);
		b.active[b.n_cols] = r >= 0 && c->sample;
		b.n_cols++;
	}
	present = count_pids(proc_root);
	fprintf(stderr, "%u extra processes, %zu in /proc; %u ticks every %u ms\n", nproc, present,
		ticks, interval_ms);

	for (unsigned t = 0; t < ticks; t++) {
		uint64_t next = bench_ns(CLOCK_MONOTONIC) + (uint64_t)interval_ms * 1000000;

		if (t < warmup)
			tick_cost_warm(&b, t);
		else
			tick_cost_measured(&b, t);
		if (t + 1 < ticks) {
			uint64_t now = bench_ns(CLOCK_MONOTONIC);

			if (next > now) {
				struct timespec ts = {(time_t)((next - now) / 1000000000u),
						      (long)((next - now) % 1000000000u)};

				nanosleep(&ts, NULL);
			}
		}
	}

	printf("tick_cost: %u extra idle processes (%zu in /proc), %u ticks every %u ms, %zu fds "
	       "open\n",
	       nproc, present, ticks, interval_ms, count_fds());
	printf(
	    "CPU per tick (sample + JSON encoding), microseconds; median and p90 of ticks %u..%u\n",
	    warmup + 1, ticks);
	printf("%-10s %10s %10s %10s\n", "collector", "first", "median", "p90");
	for (size_t i = 0; i <= b.n_cols; i++) {
		size_t k = i == b.n_cols ? MAX_COLLECTORS : i;

		if (i < b.n_cols && !b.active[i])
			continue;
		first[k] = b.cost[k][0];
		printf("%-10s %10.0f %10.0f %10.0f\n", i == b.n_cols ? "total" : b.cols[i]->name,
		       (double)first[k] / 1000,
		       bench_quantile(b.cost[k] + warmup, ticks - warmup, 0.5) / 1000,
		       bench_quantile(b.cost[k] + warmup, ticks - warmup, 0.9) / 1000);
	}
	/* bench_quantile() sorted the totals; the medians are order-free */
	printf("tick_cost: processes %zu ticks %u median_us %.0f p90_us %.0f\n", present,
	       ticks - warmup,
	       bench_quantile(b.cost[MAX_COLLECTORS] + warmup, ticks - warmup, 0.5) / 1000,
	       bench_quantile(b.cost[MAX_COLLECTORS] + warmup, ticks - warmup, 0.9) / 1000);
	status = 0;
out:
	for (size_t i = 0; i < b.n_cols; i++) {
		if (b.states[i] && b.cols[i]->fini)
			b.cols[i]->fini(b.states[i]);
	}
	for (unsigned i = 0; i < nproc; i++)
		kill(kids[i], SIGKILL);
	for (unsigned i = 0; i < nproc; i++)
		waitpid(kids[i], NULL, 0);
	if (b.env.proc_fd >= 0)
		close(b.env.proc_fd);
	if (b.env.sys_fd >= 0)
		close(b.env.sys_fd);
	config_free(&cfg);
	free(kids);
	for (size_t i = 0; i <= MAX_COLLECTORS; i++)
		free(b.cost[i]);
	return status;
}
