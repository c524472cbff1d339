/* Unit tests of collectors/svc.c: the collector over two snapshots compared
 * with golden payloads (tests/fixtures/host16/expected/svc*.json, from
 * expected_proc.py), over scratch trees (cgroup v1, hybrid, services coming
 * and going), and the reason it gives on this machine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "config.h"
#include "fixture.h"
#include "metrics.h"
#include "procfs.h"
#include "prom_check.h"
#include "svc.h"

#define V1_NO_SLICE "/sys/fs/cgroup/*/system.slice: No such file or directory (not run by systemd?)"

static const cJSON *row_of(const cJSON *payload, const char *key, const char *name)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, get(payload, key))
	{
		if (strcmp(cJSON_GetStringValue(get(r, "unit")), name) == 0)
			return r;
	}
	return NULL;
}

/* --- the collector over host16 --- */

TEST(test_collector_host16)
{
	int fd1 = open_dir("host16", "sys"), fd2 = open_dir("host16", "sys.2");
	struct collector_env env = {.proc_fd = -1, .sys_fd = fd1};
	struct collector_tick t1 = {.t_ms = T1, .mono_ns = 5 * SEC};
	struct collector_tick t2 = {.t_ms = T2, .mono_ns = 6 * SEC};
	struct config cfg;
	assert_int_equal(config_defaults(&cfg), 0);
	COLSET(&cfg, svc)->top_n = 2;
	char reason[256] = "";
	void *st = NULL;
	const cJSON *r;
	cJSON *p;

	st = init_check(&svc_collector, &env, 0, "");
	assert_int_equal(svc_collector.sample(st, &env, &t1, &p), 0);
	assert_json_file(p, "host16", "svc.1.json");
	assert_int_equal(cJSON_GetArraySize(get(p, "top_cpu")), 0); /* no rates yet */
	cJSON_Delete(p);
	env.sys_fd = fd2;
	assert_int_equal(svc_collector.sample(st, &env, &t2, &p), 0);
	assert_json_file(p, "host16", "svc.json");

	/* by hand */
	assert_true(num(p, "services") == 9);
	r = row_of(p, "top_cpu", "nginx.service"); /* 254321 us in 1 s */
	assert_true(num(r, "cpu_pct") == 25.43);
	assert_true(num(r, "io_read_bytes_per_s") == 2097152);
	assert_true(num(r, "io_write_bytes_per_s") == 524288 + 4096);
	r = row_of(p, "top_mem", "systemd-journald.service"); /* restarted: no rates */
	assert_true(cJSON_IsNull(get(r, "cpu_pct")));
	assert_true(cJSON_IsNull(get(r, "io_read_bytes_per_s")));
	assert_true(num(r, "mem_bytes") == 8388608);
	r = row_of(p, "top_cpu", "cron.service"); /* no io.stat */
	assert_true(cJSON_IsNull(get(r, "io_write_bytes_per_s")));
	r = row_of(p, "top_cpu", "nomem.service");
	assert_true(cJSON_IsNull(get(r, "mem_bytes")) && cJSON_IsNull(get(r, "tasks")));
	assert_null(row_of(p, "top_mem", "nomem.service"));
	assert_non_null(row_of(p, "top_cpu", "getty@tty1.service"));
	assert_non_null(row_of(p, "top_mem", "postgresql@15-main.service"));
	assert_null(row_of(p, "top_mem", "old.service"));
	assert_null(row_of(p, "top_cpu", "new.service"));
	assert_null(row_of(p, "top_mem", "boot.mount"));
	cJSON_Delete(p);

	/* top_n = 2 */
	svc_collector.fini(st);
	env.sys_fd = fd1;
	assert_int_equal(svc_collector.init(&env, cfg.col[collector_topic(svc_collector.name)], &st,
					    reason, sizeof(reason)),
			 0);
	assert_int_equal(svc_collector.sample(st, &env, &t1, &p), 0);
	cJSON_Delete(p);
	env.sys_fd = fd2;
	assert_int_equal(svc_collector.sample(st, &env, &t2, &p), 0);
	assert_int_equal(cJSON_GetArraySize(get(p, "top_cpu")), 2);
	assert_int_equal(cJSON_GetArraySize(get(p, "top_mem")), 2);
	assert_string_equal(
	    cJSON_GetStringValue(get(cJSON_GetArrayItem(get(p, "top_cpu"), 0), "unit")),
	    "nginx.service");
	assert_string_equal(
	    cJSON_GetStringValue(get(cJSON_GetArrayItem(get(p, "top_mem"), 0), "unit")),
	    "postgresql@15-main.service");
	cJSON_Delete(p);
	/* again a second later, nothing moved: rates 0 */
	t2.mono_ns += SEC;
	assert_int_equal(svc_collector.sample(st, &env, &t2, &p), 0);
	assert_true(num(cJSON_GetArrayItem(get(p, "top_cpu"), 0), "cpu_pct") == 0);
	cJSON_Delete(p);
	svc_collector.fini(st);
	svc_collector.fini(NULL);
	close(fd1);
	close(fd2);
	config_free(&cfg);
}

TEST(test_off)
{
	struct scratch s;
	struct collector_env env;
	void *st = NULL;

	scratch_env(&s, "svc", true, &env);
	init_fails(&svc_collector, &s, &env,
		   (const struct init_fail[]){
		       /* no fs/cgroup at all */
		       {NULL, NULL, -ENOENT, "/sys/fs/cgroup: No such file or directory"},
		       /* nothing mounted under it */
		       {"fs/cgroup/cpu/cpu.shares", "1024\n", -ENOENT,
			"/sys/fs/cgroup: neither the unified hierarchy nor cgroup v1 controllers"},
		       /* cgroup v1: controllers mounted one by one, no system.slice yet */
		       {"fs/cgroup/memory/memory.usage_in_bytes", "1\n", -ENOENT, V1_NO_SLICE},
		       {NULL}});
	/* with one in a controller's hierarchy: on */
	scratch_write(&s, "fs/cgroup/memory/system.slice/cgroup.procs", "");
	st = init_check(&svc_collector, &env, 0, "");
	svc_collector.fini(st);
	/* hybrid: cgroup2 only at fs/cgroup/unified, as on the development VM */
	scratch_rm(&s, "fs/cgroup/memory/system.slice");
	scratch_write(&s, "fs/cgroup/unified/cgroup.controllers", "\n");
	init_check(&svc_collector, &env, -ENOENT, V1_NO_SLICE);
	scratch_write(&s, "fs/cgroup/unified/system.slice/ssh.service/cgroup.procs", "");
	st = init_check(&svc_collector, &env, 0, "");
	svc_collector.fini(st);
	/* cgroup v2 without systemd */
	scratch_rm(&s, "fs/cgroup");
	scratch_write(&s, "fs/cgroup/cgroup.controllers", "cpu io memory pids\n");
	init_check(&svc_collector, &env, -ENOENT,
		   "/sys/fs/cgroup/system.slice: No such file or directory (not "
		   "run by systemd?)");
	/* and with it: on, even with no service yet */
	scratch_write(&s, "fs/cgroup/system.slice/cgroup.procs", "");
	st = init_check(&svc_collector, &env, 0, NULL);
	svc_collector.fini(st);
	scratch_remove(&s);
}

static cJSON *tick(void *st, struct collector_env *env, unsigned n)
{
	struct collector_tick t = {.t_ms = T1 + n * 1000, .mono_ns = (uint64_t)n * SEC};
	cJSON *p = NULL;

	assert_int_equal(svc_collector.sample(st, env, &t, &p), 0);
	assert_non_null(p);
	return p;
}

#define SL "fs/cgroup/system.slice/"

/* A v2 tree with a.service (CPU time and memory), and the collector on it. */
static void *one_service(struct scratch *s, struct collector_env *env)
{
	scratch_make(s, "svc");
	env->sys_fd = s->fd;
	scratch_write(s, "fs/cgroup/cgroup.controllers", "cpu io memory pids\n");
	scratch_write(s, SL "a.service/cpu.stat", "usage_usec 1000\n");
	scratch_write(s, SL "a.service/memory.current", "4096\n");
	return init_check(&svc_collector, env, 0, NULL);
}

/* Services and files coming and going between ticks, on files rewritten in
 * place (held fds see the new contents). */
TEST(test_collector_changes)
{
	struct scratch s;
	struct collector_env env = {.proc_fd = -1};
	void *st = NULL;
	const cJSON *r;
	unsigned n;
	cJSON *p;

	st = one_service(&s, &env);

	p = tick(st, &env, 1);
	assert_true(num(p, "services") == 1);
	r = row_of(p, "top_mem", "a.service");
	assert_true(cJSON_IsNull(get(r, "cpu_pct")) && cJSON_IsNull(get(r, "tasks")) &&
		    cJSON_IsNull(get(r, "io_read_bytes_per_s")));
	cJSON_Delete(p);
	/* a second service; a's counter moves */
	scratch_write(&s, SL "a.service/cpu.stat", "usage_usec 501000\n");
	scratch_write(&s, SL "b.service/cpu.stat", "usage_usec 7\n");
	p = tick(st, &env, 2);
	assert_true(num(p, "services") == 2);
	assert_true(num(row_of(p, "top_cpu", "a.service"), "cpu_pct") == 50);
	assert_null(row_of(p, "top_cpu", "b.service"));
	cJSON_Delete(p);
	/* a file that was missing shows up within SVC_RETRY_TICKS (a busy
	 * service: its CPU time moves) */
	scratch_write(&s, SL "a.service/pids.current", "4\n");
	scratch_write(&s, SL "a.service/io.stat", "8:0 rbytes=0 wbytes=0\n");
	for (n = 3; n < 3 + SVC_RETRY_TICKS + 1; n++) {
		char cpu[64];

		snprintf(cpu, sizeof(cpu), "usage_usec %u\n", 501000 + n * 1000);
		scratch_write(&s, SL "a.service/cpu.stat", cpu);
		p = tick(st, &env, n);
		r = row_of(p, "top_mem", "a.service");
		if (!cJSON_IsNull(get(r, "tasks"))) {
			assert_true(num(r, "tasks") == 4);
			assert_true(
			    cJSON_IsNull(get(r, "io_read_bytes_per_s"))); /* first reading */
			cJSON_Delete(p);
			break;
		}
		cJSON_Delete(p);
	}
	assert_true(n < 3 + SVC_RETRY_TICKS + 1);
	scratch_write(&s, SL "a.service/io.stat", "8:0 rbytes=4096 wbytes=1000\n");
	scratch_write(&s, SL "a.service/cpu.stat", "usage_usec 900000\n");
	p = tick(st, &env, ++n);
	r = row_of(p, "top_mem", "a.service");
	assert_true(num(r, "io_read_bytes_per_s") == 4096 &&
		    num(r, "io_write_bytes_per_s") == 1000);
	cJSON_Delete(p);
	/* a malformed file is null for that field only: I/O at once, memory
	 * (which held still: read at its own pace) within CGROUP_STEADY_TICKS */
	scratch_write(&s, SL "a.service/io.stat", "8:0 rbytes=x\n");
	scratch_write(&s, SL "a.service/memory.current", "lots\n");
	for (unsigned k = 0;; k++) {
		char cpu[64];

		assert_true(k < CGROUP_STEADY_TICKS);
		snprintf(cpu, sizeof(cpu), "usage_usec %u\n", 950000 + k * 1000);
		scratch_write(&s, SL "a.service/cpu.stat", cpu);
		p = tick(st, &env, ++n);
		r = row_of(p, "top_cpu", "a.service");
		assert_true(cJSON_IsNull(get(r, "io_read_bytes_per_s")));
		assert_true(num(r, "tasks") == 4);
		if (cJSON_IsNull(get(r, "mem_bytes")))
			break;
		cJSON_Delete(p);
	}
	assert_null(row_of(p, "top_mem", "a.service"));
	cJSON_Delete(p);
	/* a service that stops: gone at the next tick */
	scratch_rm(&s, SL "b.service");
	p = tick(st, &env, ++n);
	assert_true(num(p, "services") == 1);
	assert_null(row_of(p, "top_cpu", "b.service"));
	cJSON_Delete(p);
	/* and starts again: a new service, no rates */
	scratch_write(&s, SL "b.service/cpu.stat", "usage_usec 3\n");
	p = tick(st, &env, ++n);
	assert_true(num(p, "services") == 2);
	assert_null(row_of(p, "top_cpu", "b.service"));
	cJSON_Delete(p);
	svc_collector.fini(st);
	scratch_remove(&s);
}

/* A service whose CPU time stood still is idle: its CPU time alone is
 * read each tick, its memory stands until that moves (read whole at once,
 * its CPU rate over the last tick) or its whole look (within
 * CGROUP_IDLE_TICKS, at its phase; then at least CGROUP_IDLE_TICKS apart). */
TEST(test_collector_idle)
{
	struct scratch s;
	struct collector_env env = {.proc_fd = -1};
	void *st = NULL;
	unsigned n, seen = 0;
	cJSON *p;

	st = one_service(&s, &env);
	cJSON_Delete(tick(st, &env, 1));
	cJSON_Delete(tick(st, &env, 2)); /* no CPU time: idle */
	/* its memory is looked at within CGROUP_IDLE_TICKS (at its phase) */
	scratch_write(&s, SL "a.service/memory.current", "8192\n");
	for (n = 3; n < 3 + CGROUP_IDLE_TICKS && !seen; n++) {
		p = tick(st, &env, n);
		if (num(row_of(p, "top_mem", "a.service"), "mem_bytes") == 8192)
			seen = n;
		assert_true(num(row_of(p, "top_cpu", "a.service"), "cpu_pct") == 0);
		cJSON_Delete(p);
	}
	assert_true(seen > 0);
	/* and then not before the next whole look: it stands */
	scratch_write(&s, SL "a.service/memory.current", "16384\n");
	for (; n < seen + CGROUP_IDLE_TICKS; n++) {
		p = tick(st, &env, n);
		assert_true(num(row_of(p, "top_mem", "a.service"), "mem_bytes") == 8192);
		cJSON_Delete(p);
	}
	/* until its CPU time moves: read whole at once, the rate over 1 s */
	scratch_write(&s, SL "a.service/cpu.stat", "usage_usec 251000\n");
	p = tick(st, &env, n);
	assert_true(num(row_of(p, "top_mem", "a.service"), "mem_bytes") == 16384);
	assert_true(num(row_of(p, "top_cpu", "a.service"), "cpu_pct") == 25);
	cJSON_Delete(p);
	svc_collector.fini(st);
	scratch_remove(&s);
}

/* Ticks until a.service's memory shows want (from tick *n on, its CPU time
 * moving by busy_us a tick), at most limit; *n is the next tick after. */
static unsigned until_mem(struct scratch *s, void *st, struct collector_env *env, unsigned *n,
			  unsigned busy_us, double want, unsigned limit)
{
	static unsigned usec = 1000;

	for (unsigned k = 1; k <= limit; k++) {
		char cpu[64];
		cJSON *p;
		bool seen;

		usec += busy_us;
		snprintf(cpu, sizeof(cpu), "usage_usec %u\n", usec);
		scratch_write(s, SL "a.service/cpu.stat", cpu);
		p = tick(st, env, (*n)++);
		seen = num(row_of(p, "top_mem", "a.service"), "mem_bytes") == want;
		cJSON_Delete(p);
		if (seen)
			return k;
	}
	return 0;
}

/* The paced readings (cgroup.h): a busy service's memory each tick while it
 * moves, then after 2, 4, up to CGROUP_STEADY_TICKS ticks while it holds;
 * an idle one's whole look after CGROUP_IDLE_TICKS, then twice as long
 * (up to CGROUP_IDLE_MAX) while nothing moved, and CGROUP_IDLE_TICKS again
 * once something did. */
TEST(test_collector_paced)
{
	struct scratch s;
	struct collector_env env = {.proc_fd = -1};
	unsigned n = 1, k;
	void *st = NULL;

	st = one_service(&s, &env);
	assert_int_equal(until_mem(&s, st, &env, &n, 1000, 4096, 1), 1);
	/* busy, memory moving: seen the next tick */
	for (unsigned m = 1; m <= 3; m++) {
		scratch_write(&s, SL "a.service/memory.current", m % 2 ? "8192\n" : "4096\n");
		assert_int_equal(until_mem(&s, st, &env, &n, 1000, m % 2 ? 8192 : 4096, 1), 1);
	}
	/* holding still long enough: read every CGROUP_STEADY_TICKS at most */
	for (k = 0; k < 3 * CGROUP_STEADY_TICKS; k++)
		cJSON_Delete(tick(st, &env, n++));
	scratch_write(&s, SL "a.service/memory.current", "12288\n");
	k = until_mem(&s, st, &env, &n, 1000, 12288, CGROUP_STEADY_TICKS);
	assert_true(k >= 1 && k <= CGROUP_STEADY_TICKS);
	/* it moved: the next change is seen the next tick again */
	scratch_write(&s, SL "a.service/memory.current", "16384\n");
	assert_int_equal(until_mem(&s, st, &env, &n, 1000, 16384, 1), 1);
	/* idle (no CPU time): a whole look within CGROUP_IDLE_TICKS */
	cJSON_Delete(tick(st, &env, n++));
	scratch_write(&s, SL "a.service/memory.current", "20480\n");
	k = until_mem(&s, st, &env, &n, 0, 20480, CGROUP_IDLE_TICKS);
	assert_true(k >= 1 && k <= CGROUP_IDLE_TICKS);
	/* that look found it moved: the next comes CGROUP_IDLE_TICKS later and
	 * finds nothing; that one puts the next twice as far */
	for (k = 0; k < CGROUP_IDLE_TICKS; k++)
		cJSON_Delete(tick(st, &env, n++));
	scratch_write(&s, SL "a.service/memory.current", "24576\n");
	k = until_mem(&s, st, &env, &n, 0, 24576, 2 * CGROUP_IDLE_TICKS);
	assert_int_equal(k, 2 * CGROUP_IDLE_TICKS);
	/* and one that found a change brings it back */
	scratch_write(&s, SL "a.service/memory.current", "28672\n");
	assert_int_equal(until_mem(&s, st, &env, &n, 0, 28672, CGROUP_IDLE_TICKS),
			 CGROUP_IDLE_TICKS);
	svc_collector.fini(st);
	scratch_remove(&s);
}

#define V1 "fs/cgroup/"

/* cgroup v1: a service's numbers from each controller's hierarchy (cpuacct
 * in ns, blkio's Read and Write lines, a service only some hierarchies
 * have); null where a hierarchy lacks it, never a guess. */
TEST(test_collector_v1)
{
	struct scratch s;
	struct collector_env env = {.proc_fd = -1};
	void *st = NULL;
	const cJSON *r;
	cJSON *p;

	scratch_make(&s, "svc");
	env.sys_fd = s.fd;
	scratch_write(&s, V1 "cpuacct/cpuacct.usage", "5\n");
	scratch_write(&s, V1 "memory/memory.usage_in_bytes", "1\n");
	scratch_write(&s, V1 "pids/cgroup.procs", "1\n");
	scratch_write(&s, V1 "blkio/cgroup.procs", "1\n");
	scratch_write(&s, V1 "systemd/cgroup.procs", "1\n");
	scratch_write(&s, V1 "cpuacct/system.slice/a.service/cpuacct.usage", "1000000000\n");
	scratch_write(&s, V1 "memory/system.slice/a.service/memory.usage_in_bytes", "8192\n");
	scratch_write(&s, V1 "pids/system.slice/a.service/pids.current", "3\n");
	scratch_write(&s, V1 "blkio/system.slice/a.service/blkio.throttle.io_service_bytes",
		      "8:0 Read 4096\n8:0 Write 0\n8:0 Sync 0\n8:0 Async 4096\n8:0 Total 4096\n"
		      "Total 4096\n");
	scratch_write(&s, V1 "memory/system.slice/b.service/memory.usage_in_bytes", "4096\n");
	scratch_write(&s, V1 "systemd/system.slice/c.service/cgroup.procs", "");
	st = init_check(&svc_collector, &env, 0, "");
	p = tick(st, &env, 1);
	assert_true(num(p, "services") == 3);
	cJSON_Delete(p);
	scratch_write(&s, V1 "cpuacct/system.slice/a.service/cpuacct.usage", "1250000000\n");
	scratch_write(&s, V1 "blkio/system.slice/a.service/blkio.throttle.io_service_bytes",
		      "8:0 Read 8192\n8:0 Write 100\n8:16 Read 1\n8:16 Write 1\nTotal 8294\n");
	p = tick(st, &env, 2);
	r = row_of(p, "top_cpu", "a.service");
	assert_true(num(r, "cpu_pct") == 25);
	assert_true(num(r, "mem_bytes") == 8192 && num(r, "tasks") == 3);
	assert_true(num(r, "io_read_bytes_per_s") == 4097 && num(r, "io_write_bytes_per_s") == 101);
	r = row_of(p, "top_mem", "b.service");
	assert_true(num(r, "mem_bytes") == 4096);
	assert_true(is_null(r, "cpu_pct") && is_null(r, "tasks") &&
		    is_null(r, "io_read_bytes_per_s"));
	assert_null(row_of(p, "top_cpu", "c.service"));
	assert_null(row_of(p, "top_mem", "c.service"));
	assert_true(num(p, "services") == 3);
	cJSON_Delete(p);
	/* gone from every hierarchy: gone */
	scratch_rm(&s, V1 "memory/system.slice/b.service");
	p = tick(st, &env, 3);
	assert_true(num(p, "services") == 2);
	cJSON_Delete(p);
	svc_collector.fini(st);
	scratch_remove(&s);
}

/* cgroup v1 and hybrid machines (tests/fixtures/construct_containers.py)
 * against the goldens of expected_containers.py, an independent reader:
 * services in some hierarchies only, one in systemd's alone; then the
 * families, expected/svc.prom. */
static void test_collector_v1_machine(void **state)
{
	const char *machine = *state;
	struct run r;
	cJSON *p;

	run_start(&r, &svc_collector, machine);
	run_golden(&r, T1, 5 * SEC, "svc.1.json");
	r.env.sys_fd = r.fd[3];
	p = run_tick(&r, T2, 6 * SEC);
	assert_json_file(p, machine, "svc.json");
	assert_true(num(row_of(p, "top_cpu", "nginx.service"), "cpu_pct") == 25.43);
	assert_true(is_null(row_of(p, "top_mem", "nocpu.service"), "cpu_pct"));
	assert_true(num(p, "services") == 5); /* bare.service: systemd's hierarchy alone */
	cJSON_Delete(p);
	run_metrics(&r, "svc.prom");
	run_end(&r);
}

MACHINE_TEST(test_collector_v1_machine, "ctr-v1");
MACHINE_TEST(test_collector_v1_machine, "ctr-hybrid");

/* This machine: on with a system.slice, else off with the reason. */

/* Top rows only (top-n 1: a by CPU, b by memory; c in neither), in name
 * order, raw counters, no sample where the file is missing; nothing before
 * the first tick. */
TEST(test_metrics)
{
	struct scratch s;
	struct config cfg;
	assert_int_equal(config_defaults(&cfg), 0);
	COLSET(&cfg, svc)->top_n = 1;
	struct collector_env env = {.proc_fd = -1};
	struct metrics m = {0};
	char reason[256];
	void *st = NULL;

	scratch_make(&s, "svc");
	env.sys_fd = s.fd;
	scratch_write(&s, "fs/cgroup/cgroup.controllers", "cpu io memory pids\n");
	scratch_write(&s, SL "a.service/cpu.stat", "usage_usec 1000000\nuser_usec 1\n");
	scratch_write(&s, SL "a.service/memory.current", "4096\n");
	scratch_write(&s, SL "a.service/pids.current", "4\n");
	scratch_write(&s, SL "a.service/io.stat",
		      "8:0 rbytes=4096 wbytes=1000\n8:16 rbytes=1 wbytes=2\n");
	scratch_write(&s, SL "b.service/cpu.stat", "usage_usec 7\n");
	scratch_write(&s, SL "b.service/memory.current", "1073741824\n");
	scratch_write(&s, SL "b.service/pids.current", "2\n");
	scratch_write(&s, SL "c.service/cpu.stat", "usage_usec 5\n");
	scratch_write(&s, SL "c.service/memory.current", "10\n");
	assert_int_equal(svc_collector.init(&env, cfg.col[collector_topic(svc_collector.name)], &st,
					    reason, sizeof(reason)),
			 0);
	assert_int_equal(svc_collector.metrics(st, &m), 0);
	assert_int_equal(m.len, 0);
	cJSON_Delete(tick(st, &env, 1));
	scratch_write(&s, SL "a.service/cpu.stat", "usage_usec 3500000\nuser_usec 1\n");
	scratch_write(&s, SL "b.service/cpu.stat", "usage_usec 8\n");
	cJSON_Delete(tick(st, &env, 2));
	assert_int_equal(svc_collector.metrics(st, &m), 0);
	prom_check_text(
	    m.buf,
	    "# HELP sysfeed_services Systemd services seen in system.slice.\n"
	    "# TYPE sysfeed_services gauge\n"
	    "sysfeed_services 3\n"
	    "# HELP sysfeed_services_fds Files of the topic's cgroups (and network namespaces) "
	    "held open.\n"
	    "# TYPE sysfeed_services_fds gauge\n"
	    "sysfeed_services_fds 9\n" /* a: 4, b: 3, c: 2 */
	    "# HELP sysfeed_services_reads_total Files of the topic read (pread calls).\n"
	    "# TYPE sysfeed_services_reads_total counter\n"
	    "sysfeed_services_reads_total 18\n" /* the same, twice */
	    "# HELP sysfeed_services_idle_proven_total Idle cgroups' CPU times not read: their "
	    "parent's CPU time showed them still.\n"
	    "# TYPE sysfeed_services_idle_proven_total counter\n"
	    "sysfeed_services_idle_proven_total 0\n"
	    "# HELP sysfeed_service_cpu_seconds_total CPU time used by the service's cgroup "
	    "(top services only).\n"
	    "# TYPE sysfeed_service_cpu_seconds_total counter\n"
	    "sysfeed_service_cpu_seconds_total{unit=\"a.service\"} 3.5\n"
	    "sysfeed_service_cpu_seconds_total{unit=\"b.service\"} 8e-06\n"
	    "# HELP sysfeed_service_memory_bytes Memory charged to the service's cgroup (top "
	    "services only).\n"
	    "# TYPE sysfeed_service_memory_bytes gauge\n"
	    "sysfeed_service_memory_bytes{unit=\"a.service\"} 4096\n"
	    "sysfeed_service_memory_bytes{unit=\"b.service\"} 1073741824\n"
	    "# HELP sysfeed_service_tasks Tasks in the service's cgroup (top services only).\n"
	    "# TYPE sysfeed_service_tasks gauge\n"
	    "sysfeed_service_tasks{unit=\"a.service\"} 4\n"
	    "sysfeed_service_tasks{unit=\"b.service\"} 2\n"
	    "# HELP sysfeed_service_io_read_bytes_total Bytes the service's cgroup read from "
	    "block devices (top services only).\n"
	    "# TYPE sysfeed_service_io_read_bytes_total counter\n"
	    "sysfeed_service_io_read_bytes_total{unit=\"a.service\"} 4097\n"
	    "# HELP sysfeed_service_io_written_bytes_total Bytes the service's cgroup wrote to "
	    "block devices (top services only).\n"
	    "# TYPE sysfeed_service_io_written_bytes_total counter\n"
	    "sysfeed_service_io_written_bytes_total{unit=\"a.service\"} 1002\n");
	metrics_free(&m);
	svc_collector.fini(st);
	scratch_remove(&s);
	config_free(&cfg);
}

TEST(test_collector_live)
{
	int fd = open("/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct collector_env env = {.proc_fd = -1, .sys_fd = fd};
	struct collector_tick t = {.t_ms = T1, .mono_ns = SEC};
	char reason[256] = "";
	void *st = NULL;
	cJSON *p = NULL;
	int r;

	assert_true(fd >= 0);
	r = svc_collector.init(&env, fixture_settings(&svc_collector), &st, reason, sizeof(reason));
	if (r < 0) {
		assert_int_equal(r, -ENOENT);
		assert_non_null(strstr(reason, "system.slice: No such file or directory"));
	} else {
		assert_int_equal(svc_collector.sample(st, &env, &t, &p), 0);
		assert_true(num(p, "services") >= 0);
		cJSON_Delete(p);
		svc_collector.fini(st);
	}
	close(fd);
}
