/* workload_cost: the CPU cost of one tick of `svc` plus `containers` on a
 * generated host with C containers and S services.
 *
 * Writes a tree under a scratch directory: sys/fs/cgroup in the layout
 * asked (v2: the unified hierarchy, every container a Docker
 * systemd-driver scope in system.slice; v1: cpu,cpuacct, memory, pids,
 * blkio, freezer and systemd hierarchies, containers under docker/), the
 * containers' first processes in proc/PID (net/dev, ns/net) and their
 * config.v2.json under var/lib/docker, and the parents' counters (the
 * sums of their members'). Then runs both collectors over it
 * as the daemon does (sample, then json_print of the payload, and the
 * state a collector sets encoded or copied) for T ticks after W warm-up
 * ticks, with CLOCK_PROCESS_CPUTIME_ID, and prints the median, p90 and
 * mean in microseconds, the mean user and system time, and the mean bytes
 * of a containers frame and those of its last state. B of
 * the containers are busy (their counters move every tick, as do every
 * service's); the others sleep, as most of a host's containers do. The counters move between ticks
 * (each tick rewrites a few files in place, outside the measured time) so that rates are computed
 * as on a live host. The last line is for scripts: workload_cost: layout L containers C busy B
 * services S ticks T median_us X p90_us Y mean_us Z
 *
 *   workload_cost [-l v2|v1] [-c containers=200] [-b busy=20] [-s services=50] [-t ticks=200]
 *                 [-w warmup=20] [-k]
 *
 * -k keeps the counters still (no rewriting between ticks): the run is then
 * the ticks alone, for perf.
 *
 * -r reads the live /sys and /proc instead (nothing is generated; C, B and
 * S are only printed): the real cgroupfs of this host, with the cgroups
 * tests/bench/real_workload.py makes; -i MS sleeps between ticks there so
 * that the counters move as they do between a daemon's ticks.
 *
 * The sampled ticks run inside workload_cost_measured() alone, for
 * `valgrind --tool=callgrind --toggle-collect=workload_cost_measured`. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "collector.h"
#include "config.h"
#include "containers.h"
#include "json.h"
#include "svc.h"

static char root[64];
static bool v1;
static bool live;          /* -r: the host's own /sys and /proc */
static unsigned busy = 20; /* containers whose counters move */
static double found[2];    /* services and containers of the last tick */
static double frame_bytes; /* the containers frames' bytes, summed over the measured ticks */
static bool measuring;

static uint64_t cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Writes root/rel (making its directories), truncating in place. */
static void put(const char *rel, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", root, rel);
	for (char *p = strchr(path + strlen(root) + 1, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		mkdir(path, 0755);
		*p = '/';
	}
	f = fopen(path, "w");
	if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
		fprintf(stderr, "workload_cost: %s: %s\n", path, strerror(errno));
		exit(2);
	}
}

/* The files of one cgroup, its counters at step k. */
static void cgroup(const char *rel, unsigned k, int pid)
{
	static const char *const hiers[] = {"cpu,cpuacct", "memory",  "pids",
					    "blkio",       "freezer", "systemd"};
	char p[4096], t[512];

	if (!v1) {
		snprintf(p, sizeof(p), "sys/fs/cgroup/%s/", rel);
#define F(name, ...)                                                                               \
	do {                                                                                       \
		char q_[4200];                                                                     \
		snprintf(t, sizeof(t), __VA_ARGS__);                                               \
		snprintf(q_, sizeof(q_), "%s%s", p, name);                                         \
		put(q_, t);                                                                        \
	} while (0)
		F("cgroup.procs", "%d\n", pid);
		F("cgroup.events", "populated 1\nfrozen 0\n");
		F("cpu.stat", "usage_usec %u\nuser_usec %u\nsystem_usec 0\n", 1000 + k * 12345,
		  1000 + k * 12345);
		F("memory.current", "%u\n", 1048576 + k * 4096);
		F("memory.max", "max\n");
		F("memory.events", "low 0\nhigh 0\nmax 0\noom 0\noom_kill 0\n");
		F("pids.current", "3\n");
		F("io.stat", "8:0 rbytes=%u wbytes=%u rios=1 wios=1 dbytes=0 dios=0\n", k * 4096,
		  k * 8192);
		return;
	}
	for (size_t h = 0; h < sizeof(hiers) / sizeof(hiers[0]); h++) {
		snprintf(p, sizeof(p), "sys/fs/cgroup/%s/%s/", hiers[h], rel);
		F("cgroup.procs", "%d\n", pid);
		if (h == 0)
			F("cpuacct.usage", "%llu\n", 1000000ull + k * 12345000ull);
		if (h == 1) {
			F("memory.usage_in_bytes", "%u\n", 1048576 + k * 4096);
			F("memory.limit_in_bytes", "9223372036854771712\n");
			F("memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 0\n");
		}
		if (h == 2)
			F("pids.current", "3\n");
		if (h == 3)
			F("blkio.throttle.io_service_bytes",
			  "8:0 Read %u\n8:0 Write %u\nTotal %u\n", k * 4096, k * 8192, k * 12288);
		if (h == 4)
			F("freezer.state", "THAWED\n");
	}
#undef F
}

static void id_of(unsigned i, char *id)
{
	for (unsigned k = 0; k < 64; k++)
		id[k] = "0123456789abcdef"[(i * 2654435761u >> (k % 28)) & 15];
	snprintf(id + 56, 9, "%08x", i);
}

/* The counters of the parents (system.slice, and docker/ on v1) at step
 * k: their members' summed, as the kernel's hold them (a sleeping
 * container's stay at step 0's). */
static void parents(unsigned containers, unsigned services, unsigned k)
{
	uint64_t cpu[2] = {0, 0}, rd[2] = {0, 0}, wr[2] = {0, 0}; /* services, containers */
	char text[256];

	for (unsigned i = 0; i < services + containers; i++) {
		bool svc = i < services;
		unsigned c = svc ? 0 : i - services;
		uint64_t ki = svc ? k + i : (c < busy ? k : 0) + c;

		cpu[!svc] += v1 ? 1000000ull + ki * 12345000ull : 1000 + ki * 12345;
		rd[!svc] += ki * 4096;
		wr[!svc] += ki * 8192;
	}
	if (!v1) {
		snprintf(text, sizeof(text), "usage_usec %llu\nuser_usec %llu\nsystem_usec 0\n",
			 (unsigned long long)(cpu[0] + cpu[1]),
			 (unsigned long long)(cpu[0] + cpu[1]));
		put("sys/fs/cgroup/system.slice/cpu.stat", text);
		snprintf(text, sizeof(text), "8:0 rbytes=%llu wbytes=%llu rios=1 wios=1\n",
			 (unsigned long long)(rd[0] + rd[1]), (unsigned long long)(wr[0] + wr[1]));
		put("sys/fs/cgroup/system.slice/io.stat", text);
		return;
	}
	for (int j = 0; j < 2; j++) {
		char path[128];
		const char *dir = j ? "docker" : "system.slice";

		snprintf(path, sizeof(path), "sys/fs/cgroup/cpu,cpuacct/%s/cpuacct.usage", dir);
		snprintf(text, sizeof(text), "%llu\n", (unsigned long long)cpu[j]);
		put(path, text);
		snprintf(path, sizeof(path),
			 "sys/fs/cgroup/blkio/%s/blkio.throttle.io_service_bytes_recursive", dir);
		snprintf(text, sizeof(text), "8:0 Read %llu\n8:0 Write %llu\nTotal %llu\n",
			 (unsigned long long)rd[j], (unsigned long long)wr[j],
			 (unsigned long long)(rd[j] + wr[j]));
		put(path, text);
	}
}

/* Step k of the host: every cgroup's counters, and the members' net/dev. */
static void host(unsigned containers, unsigned services, unsigned k)
{
	char rel[512], text[1024], id[65];

	for (unsigned i = 0; i < services; i++) {
		snprintf(rel, sizeof(rel), "system.slice/svc%03u.service", i);
		cgroup(rel, k + i, 100 + (int)i);
	}
	for (unsigned i = 0; i < containers; i++) {
		if (k > 0 && i >= busy)
			break; /* the others sleep: their counters stay */
		id_of(i, id);
		snprintf(rel, sizeof(rel), v1 ? "docker/%s" : "system.slice/docker-%s.scope", id);
		cgroup(rel, k + i, 10000 + (int)i);
		snprintf(rel, sizeof(rel), "proc/%u/net/dev", 10000 + i);
		snprintf(
		    text, sizeof(text),
		    "Inter-|   Receive                                                |  Transmit\n"
		    " face |bytes    packets errs drop fifo frame compressed multicast|bytes    "
		    "packets errs drop fifo colls carrier compressed\n"
		    "    lo: 100 1 0 0 0 0 0 0 100 1 0 0 0 0 0 0\n"
		    "  eth0: %u 10 0 0 0 0 0 0 %u 10 0 0 0 0 0 0\n",
		    k * 1500, k * 700);
		put(rel, text);
		if (k > 0)
			continue;
		snprintf(rel, sizeof(rel), "var/lib/docker/containers/%s/config.v2.json", id);
		snprintf(text, sizeof(text),
			 "{\"ID\":\"%s\",\"Name\":\"/app-%03u\",\"Config\":{\"Image\":\"example/"
			 "app:%u\"},\"State\":{\"Running\":true}}",
			 id, i, i % 7);
		put(rel, text);
	}
	parents(containers, services, k);
	if (k == 0)
		put(v1 ? "sys/fs/cgroup/memory/memory.usage_in_bytes"
		       : "sys/fs/cgroup/cgroup.controllers",
		    v1 ? "1\n" : "cpu io memory pids\n");
	if (k == 0 && v1) {
		put("sys/fs/cgroup/cpu,cpuacct/cpuacct.usage", "1\n");
		put("sys/fs/cgroup/pids/cgroup.procs", "1\n");
		put("sys/fs/cgroup/blkio/cgroup.procs", "1\n");
		put("sys/fs/cgroup/freezer/cgroup.procs", "1\n");
		put("sys/fs/cgroup/systemd/cgroup.procs", "1\n");
		snprintf(rel, sizeof(rel), "%s/sys/fs/cgroup/cpuacct", root);
		(void)symlink("cpu,cpuacct", rel);
	}
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static void no_publish(const struct collector_env *env, cJSON *payload,
		       const struct collector_event *ev)
{
	(void)env;
	(void)ev;
	cJSON_Delete(payload);
}

/* A state is encoded (or copied) as the daemon does it, then dropped,
 * inside the measured tick that set it. */
static size_t state_bytes; /* the last state's */

static void print_state(const struct collector_env *env, cJSON *state)
{
	char *text;

	(void)env;
	text = json_print(state, &state_bytes);
	free(text);
	cJSON_Delete(state);
}

static void copy_state(const struct collector_env *env, const char *json, size_t len)
{
	char *copy = malloc(len + 1);

	(void)env;
	if (copy)
		memcpy(copy, json, len);
	free(copy);
	state_bytes = len;
}

/* One tick of both collectors: sample and encode. Returns its CPU ns. */
static uint64_t tick(const struct collector *const *cols, void **st,
		     const struct collector_env *env, unsigned t)
{
	struct collector_tick tk = {.t_ms = 1700000000000 + (int64_t)t * 1000,
				    .mono_ns = (uint64_t)(t + 1) * 1000000000u};
	uint64_t c0;

	if (live) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		tk.mono_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	}
	c0 = cpu_ns();

	for (size_t i = 0; i < 2; i++) {
		cJSON *p = NULL;

		if (cols[i]->sample(st[i], env, &tk, &p) == 0 && p) {
			size_t len = 0;

			free(json_print(p, &len));
			if (i && measuring)
				frame_bytes += (double)len;
			found[i] = cJSON_GetNumberValue(
			    cJSON_GetObjectItem(p, i ? "containers" : "services"));
		}
		cJSON_Delete(p);
	}
	return cpu_ns() - c0;
}

void workload_cost_measured(const struct collector *const *cols, void **st,
			    const struct collector_env *env, unsigned t, uint64_t *ret);

__attribute__((noinline)) void workload_cost_measured(const struct collector *const *cols,
						      void **st, const struct collector_env *env,
						      unsigned t, uint64_t *ret)
{
	*ret = tick(cols, st, env, t);
}

int main(int argc, char **argv)
{
	const struct collector *const cols[2] = {&svc_collector, &containers_collector};
	unsigned containers = 200, services = 50, ticks = 200, warmup = 20;
	struct collector_env env = {
	    .publish = no_publish, .set_state = print_state, .set_state_json = copy_state};
	struct config cfg;
	struct rlimit rl;
	void *st[2] = {NULL, NULL};
	uint64_t *cost;
	char path[128], reason[256];
	double user_us = 0, sys_us = 0, mean_ns = 0;
	bool still = false;
	unsigned interval_ms = 0;
	int opt, rc = 0;

	while ((opt = getopt(argc, argv, "l:c:s:t:w:kb:ri:")) != -1) {
		switch (opt) {
		case 'r':
			live = still = true;
			break;
		case 'i':
			interval_ms = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'b':
			busy = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'k':
			still = true; /* counters kept still: the ticks alone, for profiles */
			break;
		case 'l':
			v1 = strcmp(optarg, "v1") == 0;
			break;
		case 'c':
			containers = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 's':
			services = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 't':
			ticks = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'w':
			warmup = (unsigned)strtoul(optarg, NULL, 10);
			break;
		default:
			fprintf(stderr, "usage: workload_cost [-l v2|v1] [-c containers] [-b busy] "
					"[-s services] [-t ticks] [-w warmup] [-k] [-r [-i ms]]\n");
			return 2;
		}
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	if (live)
		snprintf(root, sizeof(root), "%s", "");
	else
		snprintf(root, sizeof(root), "/dev/shm/sysfeed-workload-XXXXXX");
	if ((!live && !mkdtemp(root)) || config_defaults(&cfg) < 0)
		return 2;
	if (!live)
		host(containers, services, 0);
	snprintf(path, sizeof(path), "%s/proc", root);
	env.proc_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(path, sizeof(path), "%s/sys", root);
	env.sys_fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cost = calloc(ticks + 1, sizeof(*cost));
	for (size_t i = 0; i < 2; i++) {
		if (cols[i]->init(&env, cfg.col[collector_topic(cols[i]->name)], &st[i], reason,
				  sizeof(reason)) < 0) {
			fprintf(stderr, "workload_cost: %s: %s\n", cols[i]->name, reason);
			rc = 2;
			goto out;
		}
	}
	for (unsigned t = 0; t < warmup + ticks; t++) {
		struct rusage r0, r1;

		if (!still)
			host(containers, services, t + 1);
		if (interval_ms)
			nanosleep(&(struct timespec){interval_ms / 1000,
						     (long)(interval_ms % 1000) * 1000000},
				  NULL);
		if (t < warmup) {
			tick(cols, st, &env, t);
			continue;
		}
		getrusage(RUSAGE_SELF, &r0);
		measuring = true;
		workload_cost_measured(cols, st, &env, t, &cost[t - warmup]);
		measuring = false;
		getrusage(RUSAGE_SELF, &r1);
		user_us += (double)(r1.ru_utime.tv_sec - r0.ru_utime.tv_sec) * 1e6 +
			   (double)(r1.ru_utime.tv_usec - r0.ru_utime.tv_usec);
		sys_us += (double)(r1.ru_stime.tv_sec - r0.ru_stime.tv_sec) * 1e6 +
			  (double)(r1.ru_stime.tv_usec - r0.ru_stime.tv_usec);
	}
	for (unsigned t = 0; t < ticks; t++)
		mean_ns += (double)cost[t];
	qsort(cost, ticks, sizeof(*cost), cmp_u64);
	printf("workload_cost: the last tick saw %.0f services and %.0f containers\n", found[0],
	       found[1]);
	printf("workload_cost: user %.1f us, system %.1f us a tick (mean, getrusage)\n",
	       user_us / ticks, sys_us / ticks);
	printf("workload_cost: containers frame %.0f bytes a tick (mean), state %zu bytes\n",
	       frame_bytes / ticks, state_bytes);
	printf(
	    "workload_cost: layout %s%s containers %u busy %u services %u ticks %u median_us %.1f "
	    "p90_us %.1f mean_us %.1f\n",
	    live ? "live-" : "", v1 ? "v1" : "v2", containers,
	    busy < containers ? busy : containers, services, ticks, (double)cost[ticks / 2] / 1e3,
	    (double)cost[ticks * 9 / 10] / 1e3, mean_ns / ticks / 1e3);
out:
	for (size_t i = 0; i < 2; i++)
		if (st[i])
			cols[i]->fini(st[i]);
	free(cost);
	config_free(&cfg);
	close(env.proc_fd);
	close(env.sys_fd);
	if (!live)
		nftw(root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	return rc;
}
