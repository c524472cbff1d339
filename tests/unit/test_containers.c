/* Unit tests of collectors/containers.c, ctr_out.c, ctr_find.c and
 * ctr_meta.c: the collector over the ctr-v2, ctr-v1 and ctr-hybrid fixture
 * machines (two ticks, the changes pushed between them, the state, the
 * families) compared with the goldens of
 * tests/fixtures/expected_containers.py; names classified; containers made
 * and removed in a scratch tree pushed from inotify at once, with the
 * state; a tick's rows (those that changed) and the state (all); idle
 * containers not read while their parent's CPU time says so; and the
 * reasons it is off. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cgroup.h"
#include "containers.h"
#include "ctr_find.h"
#include "ctr_meta.h"
#include "fixture.h"
#include "metrics.h"

/* The row of name in payload's key ("rows" of a tick, "list" of the state). */
static const cJSON *row_in(const cJSON *payload, const char *key, const char *name)
{
	const cJSON *r;

	cJSON_ArrayForEach(r, get(payload, key))
	{
		if (strcmp(cJSON_GetStringValue(get(r, "name")), name) == 0)
			return r;
	}
	fail_msg("no container \"%s\"", name);
	return NULL;
}

static const cJSON *row_named(const cJSON *state, const char *name)
{
	return row_in(state, "list", name);
}

/* Two ticks over a machine: sys/ and proc/, then sys.2/ and proc.2/ a
 * second later, whose walk pushes what started and stopped. */
static void test_machine(void **state)
{
	const char *machine = *state;
	struct capture *cap = calloc(1, sizeof(*cap));
	struct run r;
	cJSON *p;

	assert_non_null(cap);
	run_start(&r, &containers_collector, machine);
	r.env.ctx = cap;
	r.env.publish = cap_publish;
	r.env.set_state = cap_set_state;
	r.env.set_state_json = cap_set_state_json;
	run_golden(&r, T1, 5 * SEC, "containers.1.json");
	assert_int_equal(cap->n, 0); /* those there at start are no change */
	r.env.sys_fd = r.fd[3];
	run_trees(&r, 1);
	p = run_tick(&r, T2, 6 * SEC);
	assert_json_file(p, machine, "containers.json");
	assert_int_equal(cap->n, 1);
	assert_json_file(cap->events[0], machine, "containers.changes.json");
	assert_json_file(cap->state, machine, "containers.state.json");
	run_metrics(&r, "containers.prom");
	cJSON_Delete(p);
	p = cap->state; /* rows are raw JSON text: as a client reads them */
	cap->state = NULL;

	/* by hand, so that a wrong golden cannot hide a wrong reading */
	if (strcmp(machine, "ctr-v2") == 0) {
		const cJSON *w = row_named(p, "web");

		assert_string_equal(cJSON_GetStringValue(get(w, "image")), "nginx:1.25");
		assert_true(num(w, "cpu_pct") == 25);
		assert_true(num(w, "mem_limit_bytes") == 512 << 20);
		assert_true(num(w, "net_rx_bytes_per_s") == 300000);
		assert_true(num(w, "oom_kills") == 2);
		assert_true(is_null(row_named(p, "hostnet"), "net_rx_bytes_per_s"));
		assert_string_equal(cJSON_GetStringValue(get(row_named(p, "alice-dev"), "image")),
				    "quay.io/fedora/fedora:40");
		assert_string_equal(
		    cJSON_GetStringValue(get(row_named(p, "shop/cart-7d9f/cart"), "engine")),
		    "containerd");
		assert_string_equal(cJSON_GetStringValue(get(row_named(p, "debian-12"), "image")),
				    "/var/lib/machines/debian-12");
		assert_true(is_null(row_named(p, "new"), "cpu_pct")); /* started: no rate */
		assert_true(num(p, "containers") == 8);
	} else {
		const cJSON *b = row_named(p, "batch"); /* named by its conmon */

		assert_string_equal(cJSON_GetStringValue(get(b, "state")), "paused");
		assert_true(num(b, "cpu_pct") == 100 && num(b, "oom_kills") == 4);
		assert_true(is_null(row_named(p, "cache"), "oom_kills")); /* before 4.13 */
		assert_true(num(row_named(p, "cache"), "io_write_bytes_per_s") == 65536);
	}
	cJSON_Delete(p);
	run_end(&r);
	cap_free(cap);
}

MACHINE_TEST(test_machine, "ctr-v2");
MACHINE_TEST(test_machine, "ctr-v1");
MACHINE_TEST(test_machine, "ctr-hybrid");

TEST(test_classify)
{
	static const char id[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	static const struct {
		const char *parent, *name;
		int engine; /* -1: not a container */
		const char *id;
	} cases[] = {
	    {"system.slice",
	     "docker-"
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	     ".scope",
	     CTR_DOCKER, id},
	    {"docker", id, CTR_DOCKER, id},
	    {"default", id, CTR_CONTAINERD, id},
	    {"machine.slice",
	     "libpod-"
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	     ".scope",
	     CTR_PODMAN, id},
	    {"libpod_parent",
	     "libpod-"
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	     CTR_PODMAN, id},
	    {"machine.slice",
	     "libpod-conmon-"
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	     ".scope",
	     -1, NULL},
	    {"x.slice",
	     "cri-containerd-"
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	     ".scope",
	     CTR_CONTAINERD, id},
	    {"x.slice",
	     "crio-"
	     "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	     ".scope",
	     CTR_CRIO, id},
	    {"machine.slice", "machine-debian\\x2d12.scope", CTR_NSPAWN, "debian-12"},
	    {"system.slice", "machine-debian.scope", -1, NULL},
	    {"machine.slice", "machine-bad\\x00.scope", -1, NULL},
	    {"machine.slice", "machine-bad\\x2.scope", -1, NULL},
	    {"docker", "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", -1,
	     NULL},
	    {"docker", "0123", -1, NULL},
	    {"system.slice", "ssh.service", -1, NULL},
	};
	struct ctr_ref ref;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool is = ctr_classify(cases[i].parent, cases[i].name, &ref);

		if (is != (cases[i].engine >= 0))
			fail_msg("case %zu: %s", i, cases[i].name);
		if (is) {
			assert_int_equal(ref.engine, cases[i].engine);
			assert_string_equal(ref.id, cases[i].id);
		}
	}
	assert_string_equal(ctr_engine_name(CTR_CRIO), "cri-o");
}

#define DK  "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DK2 "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

/* A scratch sys root of cgroup v2 for env, and a capture for its events
 * and state. */
static struct capture *ctr_scratch(struct scratch *s, struct collector_env *env)
{
	struct capture *cap = calloc(1, sizeof(*cap));

	assert_non_null(cap);
	scratch_make(s, "ctr");
	env->sys_fd = s->fd;
	env->ctx = cap;
	env->set_state_json = cap_set_state_json;
	scratch_write(s, "fs/cgroup/cgroup.controllers", "cpu memory\n");
	return cap;
}

/* A cgroup made or removed where containers appear is pushed by dispatch
 * (inotify), with no tick between; new parent directories are watched. */
TEST(test_inotify)
{
	struct scratch s;
	struct collector_env env = {.proc_fd = -1, .publish = cap_publish};
	struct capture *cap = ctr_scratch(&s, &env);
	void *st;
	cJSON *p;

	scratch_write(&s, "fs/cgroup/system.slice/cgroup.procs", "");
	st = init_check(&containers_collector, &env, 0, "");
	assert_true(containers_collector.get_fd(st) >= 0);
	assert_int_equal(containers_collector.dispatch(st, &env), 0); /* nothing yet */
	assert_int_equal(cap->n, 0);
	/* another program's cgroups: neither looked into nor watched */
	scratch_write(&s, "fs/cgroup/jobs/" DK "/cgroup.procs", "");
	assert_int_equal(containers_collector.dispatch(st, &env), 0);
	assert_int_equal(cap->n, 0);
	scratch_write(&s, "fs/cgroup/system.slice/docker-" DK ".scope/memory.current", "4096\n");
	assert_int_equal(containers_collector.dispatch(st, &env), 0);
	assert_int_equal(cap->n, 1);
	p = cJSON_GetArrayItem(get(cap->events[0], "changes"), 0);
	assert_string_equal(cJSON_GetStringValue(get(p, "change")), "started");
	assert_string_equal(cJSON_GetStringValue(get(p, "name")), "0123456789ab");
	assert_true(is_null(p, "image"));
	/* the state with it, not read yet: a snapshot has what the changes said */
	assert_true(num(cap->state, "containers") == 1);
	assert_true(is_null(row_named(cap->state, "0123456789ab"), "mem_bytes"));
	/* a parent made after the start (the first cgroupfs container) */
	scratch_write(&s, "fs/cgroup/docker/cgroup.procs", "");
	assert_int_equal(containers_collector.dispatch(st, &env), 0);
	assert_int_equal(cap->n, 1);
	scratch_write(&s, "fs/cgroup/docker/" DK2 "/cgroup.procs", "");
	assert_int_equal(containers_collector.dispatch(st, &env), 0);
	assert_int_equal(cap->n, 2);
	scratch_rm(&s, "fs/cgroup/system.slice/docker-" DK ".scope");
	assert_int_equal(containers_collector.dispatch(st, &env), 0);
	assert_int_equal(cap->n, 3);
	p = cJSON_GetArrayItem(get(cap->events[2], "changes"), 0);
	assert_string_equal(cJSON_GetStringValue(get(p, "change")), "stopped");
	assert_true(num(cap->state, "containers") == 1);
	assert_int_equal(cJSON_GetArraySize(get(cap->state, "list")), 1);
	row_named(cap->state, "fedcba987654");
	{
		struct collector_tick t = {.t_ms = T1, .mono_ns = SEC};

		assert_int_equal(containers_collector.sample(st, &env, &t, &p), 0);
		p = reparse(p);
		assert_true(num(p, "containers") == 1);
		assert_string_equal(
		    cJSON_GetStringValue(get(cJSON_GetArrayItem(get(p, "rows"), 0), "name")),
		    "fedcba987654");
		cJSON_Delete(p);
	}
	containers_collector.fini(st);
	containers_collector.fini(NULL);
	scratch_remove(&s);
	cap_free(cap);
}

/* Ends a test of a scratch tree with a proc root: the collector, the
 * proc fd, the tree and the capture. */
static void ctr_end(void *st, struct scratch *s, struct capture *cap, int proc_fd)
{
	containers_collector.fini(st);
	close(proc_fd);
	scratch_remove(s);
	cap_free(cap);
}

/* One tick at second n; returns its payload as a client reads it. */
static cJSON *ctr_tick(void *st, const struct collector_env *env, unsigned n)
{
	struct collector_tick k = {.t_ms = T1 + (int64_t)n * 1000, .mono_ns = n * SEC};
	cJSON *p = NULL;

	assert_int_equal(containers_collector.sample(st, env, &k, &p), 0);
	assert_non_null(p);
	return reparse(p);
}

/* How many rows a tick carries. */
static int rows_of(const cJSON *p)
{
	return cJSON_GetArraySize(get(p, "rows"));
}

/* A container without CPU time between two readings is idle: its CPU time
 * alone is read each tick, the rest stands until that moves (or
 * CGROUP_IDLE_TICKS pass); the CPU rate then covers the last tick. Its row
 * is in a tick's rows only when it changed; the state has it always. */
TEST(test_idle)
{
	struct scratch s;
	struct collector_env env = {.proc_fd = -1};
	struct capture *cap = ctr_scratch(&s, &env);
	const char *cg = "fs/cgroup/system.slice/docker-" DK ".scope/";
	char path[256];
	void *st;
	cJSON *p;

#define W(file, text)                                                                              \
	do {                                                                                       \
		snprintf(path, sizeof(path), "%s%s", cg, file);                                    \
		scratch_write(&s, path, text);                                                     \
	} while (0)
	W("cpu.stat", "usage_usec 1000\n");
	W("memory.current", "4096\n");
	st = init_check(&containers_collector, &env, 0, "");
	p = ctr_tick(st, &env, 1);
	assert_int_equal(rows_of(p), 1); /* new */
	cJSON_Delete(p);
	p = ctr_tick(st, &env, 2); /* no CPU time: idle; its rate 0 is news */
	assert_int_equal(rows_of(p), 1);
	cJSON_Delete(p);
	W("memory.current", "8192\n"); /* stands while idle */
	p = ctr_tick(st, &env, 3);
	assert_int_equal(rows_of(p), 0); /* nothing changed: no row */
	assert_true(num(p, "containers") == 1);
	assert_true(num(row_named(cap->state, "0123456789ab"), "mem_bytes") == 4096);
	assert_true(num(row_named(cap->state, "0123456789ab"), "cpu_pct") == 0);
	cJSON_Delete(p);
	W("cpu.stat", "usage_usec 501000\n"); /* wakes: read whole, rate over 1 s */
	p = ctr_tick(st, &env, 4);
	assert_int_equal(rows_of(p), 1);
	assert_true(num(row_in(p, "rows", "0123456789ab"), "mem_bytes") == 8192);
	assert_true(num(row_in(p, "rows", "0123456789ab"), "cpu_pct") == 50);
	assert_true(num(cap->state, "t") == T1 + 4000);
	assert_true(num(row_named(cap->state, "0123456789ab"), "cpu_pct") == 50);
	cJSON_Delete(p);
#undef W
	containers_collector.fini(st);
	scratch_remove(&s);
	cap_free(cap);
}

/* A busy container's freezer state is read when it is found, when it goes
 * idle and when it wakes, not while its CPU time moves (a frozen cgroup's
 * tasks do not run): "frozen 1" written while it keeps running (which no
 * kernel shows) is not seen; once its CPU time stops it is, the next tick. */
TEST(test_freezer_busy)
{
	struct scratch s;
	struct collector_env env = {.proc_fd = -1};
	struct capture *cap = ctr_scratch(&s, &env);
	const char *cg = "fs/cgroup/system.slice/docker-" DK ".scope/";
	char path[256], text[64];
	unsigned n = 1, usec = 1000;
	void *st;

#define W(file, text_)                                                                             \
	do {                                                                                       \
		snprintf(path, sizeof(path), "%s%s", cg, file);                                    \
		scratch_write(&s, path, text_);                                                    \
	} while (0)
#define STATE() cJSON_GetStringValue(get(row_named(cap->state, "0123456789ab"), "state"))
	W("cpu.stat", "usage_usec 1000\n");
	W("memory.current", "4096\n");
	W("cgroup.events", "populated 1\nfrozen 1\n");
	st = init_check(&containers_collector, &env, 0, "");
	cJSON_Delete(ctr_tick(st, &env, n++));
	assert_string_equal(STATE(), "paused"); /* found: read */
	W("cgroup.events", "populated 1\nfrozen 0\n");
	for (unsigned k = 0; k < 3 * CGROUP_STEADY_TICKS; k++) {
		snprintf(text, sizeof(text), "usage_usec %u\n", usec += 100000);
		W("cpu.stat", text);
		if (k == 1)
			W("cgroup.events", "populated 1\nfrozen 1\n");
		cJSON_Delete(ctr_tick(st, &env, n++));
		/* last seen paused, its CPU time moved: read; then not while busy */
		assert_string_equal(STATE(), "running");
	}
	cJSON_Delete(ctr_tick(st, &env, n++)); /* its CPU time stands: idle */
	assert_string_equal(STATE(), "paused");
#undef STATE
#undef W
	containers_collector.fini(st);
	scratch_remove(&s);
	cap_free(cap);
}

/* The state is made from the last one with the rows that changed put in:
 * over ticks where a few of 12 containers change (CPU time, memory,
 * pause, a name found late), it is always what a client holds that took
 * the first state and then each tick's rows by cgroup; and a container
 * that starts or stops makes it whole again. */
TEST(test_state_patched)
{
	struct scratch s;
	struct collector_env env = {.proc_fd = -1};
	struct capture *cap = ctr_scratch(&s, &env);
	uint64_t usec[13] = {0}, seed = 42;
	char path[256], text[64];
	cJSON *held = NULL;
	void *st;

	for (unsigned i = 0; i < 12; i++) {
		snprintf(path, sizeof(path), "fs/cgroup/system.slice/docker-%02u%s.scope/cpu.stat",
			 i, DK + 2);
		scratch_write(&s, path, "usage_usec 1000\n");
	}
	st = init_check(&containers_collector, &env, 0, "");
	for (unsigned n = 1; n <= 60; n++) {
		const cJSON *r, *h;
		cJSON *p;

		for (unsigned i = 0; i < 12; i++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			if ((seed >> 62 != 0 && i % 3 != 0) || (i == 3 && n >= 30))
				continue; /* a quarter of them, and every third, move */
			snprintf(path, sizeof(path),
				 "fs/cgroup/system.slice/docker-%02u%s.scope/%s", i, DK + 2,
				 (seed >> 40) % 2 ? "cpu.stat" : "memory.current");
			snprintf(text, sizeof(text),
				 (seed >> 40) % 2 ? "usage_usec %llu\n" : "%llu\n",
				 (unsigned long long)(usec[i] += 1000 + (seed >> 50)));
			scratch_write(&s, path, text);
			if (i == 4 && n % 7 == 0) {
				snprintf(path, sizeof(path),
					 "fs/cgroup/system.slice/docker-%02u%s.scope/cgroup.events",
					 i, DK + 2);
				scratch_write(&s, path, n % 14 ? "frozen 1\n" : "frozen 0\n");
			}
		}
		if (n == 30) { /* one starts, one stops */
			scratch_write(&s, "fs/cgroup/system.slice/docker-" DK2 ".scope/cpu.stat",
				      "usage_usec 5\n");
			snprintf(path, sizeof(path), "fs/cgroup/system.slice/docker-03%s.scope",
				 DK + 2);
			scratch_rm(&s, path);
		}
		p = ctr_tick(st, &env, n);
		if (!held || n == 30) { /* a client that takes the state now */
			cJSON_Delete(held);
			held = cJSON_Duplicate(get(cap->state, "list"), true);
			cJSON_Delete(p);
			continue;
		}
		cJSON_ArrayForEach(r, get(p, "rows"))
		{
			const char *cg = cJSON_GetStringValue(get(r, "cgroup"));
			int at = 0;

			cJSON_ArrayForEach(h, held)
			{
				if (strcmp(cJSON_GetStringValue(get(h, "cgroup")), cg) == 0)
					break;
				at++;
			}
			assert_non_null(h);
			assert_true(cJSON_ReplaceItemInArray(held, at, cJSON_Duplicate(r, true)));
		}
		assert_true(cJSON_Compare(held, get(cap->state, "list"), true));
		assert_true(num(cap->state, "paused") == num(p, "paused"));
		assert_true(num(cap->state, "containers") == 12);
		cJSON_Delete(p);
	}
	cJSON_Delete(held);
	containers_collector.fini(st);
	scratch_remove(&s);
	cap_free(cap);
}

/* The last state's text, as the hub got it (test_state_in_place). */
static char raw_state[1 << 14];
static size_t raw_len;

static void raw_set_state_json(const struct collector_env *env, const char *json, size_t len)
{
	assert_true(len < sizeof(raw_state));
	memcpy(raw_state, json, len);
	raw_len = len;
	cap_set_state_json(env, json, len);
}

/* A row that changed is given room after it in the state: while its
 * numbers grow within that room, a tick writes it in its place, and the
 * state keeps its length and every other byte but the time (a copy of
 * the whole list each tick otherwise); a row that outgrows its room makes
 * the state from the runs again, and the state stays the rows a client
 * holds. */
TEST(test_state_in_place)
{
	struct scratch s;
	struct collector_env env = {.proc_fd = -1};
	struct capture *cap = ctr_scratch(&s, &env);
	char path[256], text[64], before[sizeof(raw_state)];
	size_t len0 = 0, at = 0;
	uint64_t mem = 1;
	void *st;

	env.set_state_json = raw_set_state_json;
	for (unsigned i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "fs/cgroup/system.slice/docker-%02u%s.scope/cpu.stat",
			 i, DK + 2);
		scratch_write(&s, path, "usage_usec 1000\n");
	}
	st = init_check(&containers_collector, &env, 0, "");
	for (unsigned n = 1; n <= 16; n++) {
		cJSON *p;
		const char *row;

		/* container 01 busy, its memory a digit longer each tick; at 12 its
		 * memory and CPU time leap by more than its room */
		snprintf(path, sizeof(path), "fs/cgroup/system.slice/docker-01%s.scope/cpu.stat",
			 DK + 2);
		snprintf(text, sizeof(text), "usage_usec %llu\n",
			 (unsigned long long)(1000 + n * 1000 + (n >= 12 ? UINT64_C(1) << 30 : 0)));
		scratch_write(&s, path, text);
		mem = n >= 12 ? UINT64_C(1234567890123456789) : n < 3 ? 1 : mem * 10;
		snprintf(path, sizeof(path),
			 "fs/cgroup/system.slice/docker-01%s.scope/memory.current", DK + 2);
		snprintf(text, sizeof(text), "%llu\n", (unsigned long long)mem);
		scratch_write(&s, path, text);
		memcpy(before, raw_state, raw_len);
		p = ctr_tick(st, &env, n);
		assert_true(num(row_named(cap->state, "0123456789ab"), "mem_bytes") == (double)mem);
		if (n > 5 && n < 12) {
			/* in its place: same length, the other rows as they were */
			assert_int_equal(raw_len, len0);
			row = strstr(raw_state, "/docker-01");
			assert_non_null(row);
			while (row > raw_state && !(row[0] == '{' && row[-1] == ','))
				row--; /* its row's start: the one after 00's */
			assert_memory_equal(raw_state + at, before + at,
					    (size_t)(row - raw_state) - at);
		}
		if (n == 5) { /* tick 4 gave it room (its memory grew beyond its length) */
			len0 = raw_len;
			at = (size_t)(strstr(raw_state, "\"list\"") - raw_state);
		}
		if (n == 12)
			assert_true(raw_len > len0); /* outgrew it: from the runs */
		cJSON_Delete(p);
	}
	containers_collector.fini(st);
	scratch_remove(&s);
	cap_free(cap);
}

/* A host with no container has a state from its first tick on (the
 * snapshot carries the topic: none running). */
TEST(test_none)
{
	struct scratch s;
	struct collector_env env = {.proc_fd = -1};
	struct capture *cap = ctr_scratch(&s, &env);
	void *st;
	cJSON *p;

	scratch_write(&s, "fs/cgroup/system.slice/cron.service/cpu.stat", "usage_usec 1000\n");
	st = init_check(&containers_collector, &env, 0, "");
	p = ctr_tick(st, &env, 1);
	assert_int_equal(rows_of(p), 0);
	cJSON_Delete(p);
	assert_non_null(cap->state);
	assert_true(num(cap->state, "containers") == 0 && num(cap->state, "running") == 0);
	containers_collector.fini(st);
	scratch_remove(&s);
	cap_free(cap);
}

/* Two containers whose ids share their first 12 digits get their whole
 * ids as the id label: every series of a family is its own. */
TEST(test_same_short_id)
{
	static const char *const ids[] = {"0123456789ab"
					  "cccccccccccccccccccccccccccccccccccccccccccccccccccc",
					  "0123456789ab"
					  "dddddddddddddddddddddddddddddddddddddddddddddddddddd"};
	struct scratch s;
	struct collector_env env = {.proc_fd = -1};
	struct capture *cap = ctr_scratch(&s, &env);
	struct metrics m = {0};
	char path[256];
	void *st;

	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path), "fs/cgroup/system.slice/docker-%s.scope/cpu.stat",
			 ids[i]);
		scratch_write(&s, path, "usage_usec 1000\n");
	}
	st = init_check(&containers_collector, &env, 0, "");
	cJSON_Delete(ctr_tick(st, &env, 1));
	cJSON_Delete(ctr_tick(st, &env, 2));
	assert_int_equal(containers_collector.metrics(st, &m), 0);
	for (size_t i = 0; i < 2; i++) {
		snprintf(path, sizeof(path),
			 "sysfeed_container_cpu_seconds_total{name=\"0123456789ab\","
			 "engine=\"docker\",id=\"%s\"}",
			 ids[i]);
		assert_non_null(strstr(m.buf, path));
	}
	assert_null(strstr(m.buf, "id=\"0123456789ab\""));
	metrics_free(&m);
	containers_collector.fini(st);
	scratch_remove(&s);
	cap_free(cap);
}

#define V1       "fs/cgroup/"
#define ID(c)    c "123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SCOPE(c) "machine.slice/libpod-" ID(c) ".scope/"

/* Writes the counters of a v1 host with four containers in machine.slice:
 * their CPU times (ns) and bytes written, and machine.slice's, which hold
 * theirs as the kernel's do (plus q of its own), but for hid_cpu and
 * hid_wr (a lie no kernel tells, to see what is read). */
static void v1_host(struct scratch *s, const uint64_t *cpu, const uint64_t *wr, uint64_t q,
		    uint64_t hid_cpu, uint64_t hid_wr)
{
	static const char *const scopes[] = {SCOPE("a"), SCOPE("b"), SCOPE("c"), SCOPE("d")};
	uint64_t cpu_sum = q, wr_sum = 0;
	char path[256], text[128];

	for (size_t i = 0; i < 4; i++) {
		snprintf(path, sizeof(path), V1 "cpuacct/%scpuacct.usage", scopes[i]);
		snprintf(text, sizeof(text), "%llu\n", (unsigned long long)cpu[i]);
		scratch_write(s, path, text);
		snprintf(path, sizeof(path), V1 "blkio/%sblkio.throttle.io_service_bytes",
			 scopes[i]);
		snprintf(text, sizeof(text), "8:0 Read 0\n8:0 Write %llu\nTotal %llu\n",
			 (unsigned long long)wr[i], (unsigned long long)wr[i]);
		scratch_write(s, path, text);
		snprintf(path, sizeof(path), V1 "memory/%smemory.usage_in_bytes", scopes[i]);
		scratch_write(s, path, "4096\n");
		cpu_sum += cpu[i];
		wr_sum += wr[i];
	}
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)(cpu_sum - hid_cpu));
	scratch_write(s, V1 "cpuacct/machine.slice/cpuacct.usage", text);
	wr_sum -= hid_wr;
	snprintf(text, sizeof(text), "8:0 Read 0\n8:0 Write %llu\nTotal %llu\n",
		 (unsigned long long)wr_sum, (unsigned long long)wr_sum);
	scratch_write(s, V1 "blkio/machine.slice/blkio.throttle.io_service_bytes_recursive", text);
}

/* cgroup v1: while machine.slice's CPU time is what its busy containers
 * and its own time account for, its idle containers are not read (a CPU
 * time written into one of them alone, which a kernel never shows, is not
 * seen) until it says one moved; likewise the bytes written, by its
 * subtree's. Containers a and b are busy, c and d sleep. */
TEST(test_group)
{
	struct capture *cap = calloc(1, sizeof(*cap));
	struct scratch s;
	struct collector_env env = {
	    .proc_fd = -1, .set_state_json = cap_set_state_json, .ctx = cap};
	uint64_t cpu[4] = {1000000, 2000000, 3000000, 4000000}, wr[4] = {0, 0, 0, 0};
	const uint64_t q = 777000;
	unsigned n;
	void *st;

	assert_non_null(cap);
	scratch_make(&s, "ctr");
	env.sys_fd = s.fd;
	scratch_write(&s, V1 "cpuacct/cpuacct.usage", "1\n");
	scratch_write(&s, V1 "memory/memory.usage_in_bytes", "1\n");
	scratch_write(&s, V1 "blkio/cgroup.procs", "1\n");
	v1_host(&s, cpu, wr, q, 0, 0);
	st = init_check(&containers_collector, &env, 0, "");
	/* each tick a runs 10 % of a core, b 20 % */
#define TICK(q_, hid_cpu, hid_wr)                                                                  \
	do {                                                                                       \
		cpu[0] += 100000000;                                                               \
		cpu[1] += 200000000;                                                               \
		v1_host(&s, cpu, wr, q_, hid_cpu, hid_wr);                                         \
		cJSON_Delete(ctr_tick(st, &env, n++));                                             \
	} while (0)
	for (n = 1; n <= 5;) /* found; c and d go idle; a bound is made */
		TICK(q, 0, 0);
	/* c's CPU time moves, machine.slice's does not: c is not read */
	cpu[2] += 500000000;
	TICK(q, 500000000, 0);
	assert_true(num(row_named(cap->state, "c123456789ab"), "cpu_pct") == 0);
	assert_true(num(row_named(cap->state, "a123456789ab"), "cpu_pct") == 10);
	/* machine.slice's too: c is read at once (its rate over the last tick) */
	TICK(q, 0, 0);
	assert_true(num(row_named(cap->state, "c123456789ab"), "cpu_pct") == 50);
	assert_true(num(row_named(cap->state, "d123456789ab"), "cpu_pct") == 0);
	/* a's bytes move, its subtree's do not: a's are not read again */
	wr[0] += 4096;
	TICK(q, 0, 4096);
	assert_true(num(row_named(cap->state, "a123456789ab"), "io_write_bytes_per_s") == 0);
	/* they do: read */
	TICK(q, 0, 0);
	assert_true(num(row_named(cap->state, "a123456789ab"), "io_write_bytes_per_s") == 4096);
	/* the slice's own CPU time moves (Q), not the containers': d stays
	 * idle and right (read each tick again, until a new bound holds) */
	for (unsigned k = 1; k <= 3; k++) {
		TICK(q + 1000 * k, 0, 0);
		assert_true(num(row_named(cap->state, "d123456789ab"), "cpu_pct") == 0);
	}
	cpu[3] += 250000000;
	TICK(q + 3000, 0, 0);
	assert_true(num(row_named(cap->state, "d123456789ab"), "cpu_pct") == 25);
#undef TICK
	{ /* the readings left out are counted */
		struct metrics m = {0};
		const char *at;

		assert_int_equal(containers_collector.metrics(st, &m), 0);
		at = strstr(m.buf, "\nsysfeed_containers_idle_proven_total ");
		assert_non_null(at);
		assert_true(strtoull(at + 38, NULL, 10) >= 2);
		metrics_free(&m);
	}
	containers_collector.fini(st);
	scratch_remove(&s);
	cap_free(cap);
}

/* A busy container's net/dev each tick while its bytes move, then after
 * 2, 4, up to CTR_NET_STEADY_TICKS ticks while they stand (the rate then
 * over the whole time since the reading before). */
TEST(test_net_paced)
{
	struct scratch s;
	struct collector_env env = {0};
	struct capture *cap = ctr_scratch(&s, &env);
	const char *cg = "fs/cgroup/system.slice/docker-" DK ".scope/";
	char path[256], text[512];
	unsigned n = 1, usec = 1000, k;
	uint64_t rx = 1000;
	void *st;

	snprintf(path, sizeof(path), "%scgroup.procs", cg);
	scratch_write(&s, path, "100\n");
	/* PID 100 in a namespace of its own: PID 1's is another */
	scratch_write(&s, "proc/1/ns/.keep", "");
	scratch_write(&s, "proc/100/ns/.keep", "");
	assert_int_equal(symlinkat("net:[1]", s.fd, "proc/1/ns/net"), 0);
	assert_int_equal(symlinkat("net:[2]", s.fd, "proc/100/ns/net"), 0);
	env.proc_fd = openat(s.fd, "proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(env.proc_fd >= 0);
#define STEP()                                                                                     \
	do {                                                                                       \
		snprintf(path, sizeof(path), "%scpu.stat", cg);                                    \
		snprintf(text, sizeof(text), "usage_usec %u\n", usec += 100000);                   \
		scratch_write(&s, path, text);                                                     \
		snprintf(text, sizeof(text),                                                       \
			 "Inter-|   Receive\n face |bytes    packets errs drop fifo frame "        \
			 "compressed multicast|bytes    packets errs drop fifo colls carrier "     \
			 "compressed\n"                                                            \
			 "    lo: 5 1 0 0 0 0 0 0 5 1 0 0 0 0 0 0\n"                               \
			 "  eth0: %llu 1 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n",                           \
			 (unsigned long long)rx);                                                  \
		scratch_write(&s, "proc/100/net/dev", text);                                       \
		cJSON_Delete(ctr_tick(st, &env, n++));                                             \
	} while (0)
#define RX() num(row_named(cap->state, "0123456789ab"), "net_rx_bytes_per_s")
	scratch_write(&s, "proc/100/net/dev", "");
	st = init_check(&containers_collector, &env, 0, "");
	STEP();
	STEP();
	assert_true(RX() == 0);
	/* its bytes stand: after a while, read every CTR_NET_STEADY_TICKS */
	for (k = 0; k < 3 * CTR_NET_STEADY_TICKS; k++)
		STEP();
	rx += 8000;
	for (k = 1; k <= CTR_NET_STEADY_TICKS; k++) {
		STEP();
		if (RX() != 0)
			break;
	}
	assert_true(k <= CTR_NET_STEADY_TICKS);
	/* over the CTR_NET_STEADY_TICKS seconds since the reading before */
	assert_true(RX() == 8000 / CTR_NET_STEADY_TICKS);
	/* they moved: each tick again */
	rx += 5000;
	STEP();
	assert_true(RX() == 5000);
#undef RX
#undef STEP
	ctr_end(st, &s, cap, env.proc_fd);
}

/* A name that is not in the engine's files yet is looked for again
 * within 2 ticks, then 8, 32, ... (CTR_NAME_TICKS), each container at a
 * phase of its own: one that shows 3 ticks after its container is found
 * within a few ticks more, and 32 unnamed containers whose names all
 * show at once are named over several ticks, not all in one, and only on
 * ticks that are multiples of CTR_NAME_GRID (the others carry no look). A
 * look that finds nothing new writes no row. */
TEST(test_name_late)
{
	struct scratch s;
	struct collector_env env = {0};
	struct capture *cap = ctr_scratch(&s, &env);
	char path[256], id[65];
	unsigned n, named = 0, most = 0;
	void *st;
	cJSON *p;

	scratch_write(&s, "proc/.keep", "");
	env.proc_fd = openat(s.fd, "proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_true(env.proc_fd >= 0);
	scratch_write(&s, "fs/cgroup/system.slice/docker-" DK ".scope/memory.current", "4096\n");
	st = init_check(&containers_collector, &env, 0, "");
	for (n = 1; n <= 3; n++)
		cJSON_Delete(ctr_tick(st, &env, n));
	row_named(cap->state, "0123456789ab");
	p = ctr_tick(st, &env, n++);
	assert_int_equal(rows_of(p), 0); /* nothing moved, nor its name */
	cJSON_Delete(p);
	scratch_write(&s, "var/lib/docker/containers/" DK "/config.v2.json",
		      "{\"Name\":\"/late\",\"Config\":{\"Image\":\"busybox\"}}");
	for (; n <= 4 + 8; n++) {
		p = ctr_tick(st, &env, n);
		cJSON_Delete(p);
		if (cJSON_GetArraySize(get(cap->state, "list")) == 1 &&
		    strcmp(cJSON_GetStringValue(
			       get(cJSON_GetArrayItem(get(cap->state, "list"), 0), "name")),
			   "late") == 0)
			break;
	}
	assert_true(n <= 4 + 8);
	containers_collector.fini(st);

	/* 32 found together, their names shown at tick 40 */
	for (unsigned i = 0; i < 32; i++) {
		snprintf(id, sizeof(id), "ff%02u%s", i, DK + 4);
		snprintf(path, sizeof(path),
			 "fs/cgroup/system.slice/docker-%s.scope/memory.current", id);
		scratch_write(&s, path, "4096\n");
	}
	st = init_check(&containers_collector, &env, 0, "");
	for (n = 1; n <= 40 + CTR_NAME_TICKS; n++) {
		unsigned now = 0;
		const cJSON *r;

		if (n == 40) {
			for (unsigned i = 0; i < 32; i++) {
				snprintf(id, sizeof(id), "ff%02u%s", i, DK + 4);
				snprintf(path, sizeof(path),
					 "var/lib/docker/containers/%s/config.v2.json", id);
				scratch_write(&s, path, "{\"Name\":\"/n\"}");
			}
		}
		cJSON_Delete(ctr_tick(st, &env, n));
		cJSON_ArrayForEach(r, get(cap->state, "list"))
		{
			now += strcmp(cJSON_GetStringValue(get(r, "name")), "n") == 0;
		}
		if (now > named && now - named > most)
			most = now - named;
		if (now > named && n % CTR_NAME_GRID != 0)
			fail_msg("named at tick %u", n);
		named = now;
		if (named == 32)
			break;
	}
	assert_int_equal(named, 32);
	assert_true(n <= 40 + 128); /* within the step they were at */
	assert_true(most <= 16);    /* spread over those ticks */
	ctr_end(st, &s, cap, env.proc_fd);
}

/* Podman's conmon (-n NAME) is asked at the first 2 looks with a
 * member: the container's first process is its child from moments after
 * the start (once the OCI runtime exits); a parent that is not conmon by
 * then is not asked again at each later look. */
TEST(test_conmon_tries)
{
	struct scratch s;
	struct collector_env env = {0};
	struct capture *cap = ctr_scratch(&s, &env);
	static const char conmon[] = "/usr/bin/conmon\0-c\0x\0-n\0web\0";
	unsigned n;
	void *st;

	scratch_write(&s, "fs/cgroup/machine.slice/libpod-" DK ".scope/cgroup.procs", "100\n");
	scratch_write(&s, "proc/100/stat", "100 (sh) S 50 100 100 0 -1 0\n");
	for (int pass = 0; pass < 2; pass++) {
		scratch_write(&s, "proc/50/cmdline", "runc\0init\0");
		env.proc_fd = openat(s.fd, "proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
		assert_true(env.proc_fd >= 0);
		st = init_check(&containers_collector, &env, 0, "");
		/* runc exits within the first looks: named; or only after them */
		for (n = 1; n <= 60; n++) {
			if (n == (pass ? 12u : 1u)) {
				int fd =
				    openat(s.fd, "proc/50/cmdline", O_WRONLY | O_TRUNC | O_CLOEXEC);

				assert_true(fd >= 0);
				assert_int_equal(write(fd, conmon, sizeof(conmon) - 1),
						 (ssize_t)sizeof(conmon) - 1);
				close(fd);
			}
			cJSON_Delete(ctr_tick(st, &env, n));
		}
		assert_string_equal(cJSON_GetStringValue(get(
					cJSON_GetArrayItem(get(cap->state, "list"), 0), "name")),
				    pass ? "0123456789ab" : "web");
		containers_collector.fini(st);
		close(env.proc_fd);
	}
	scratch_remove(&s);
	cap_free(cap);
}

/* Within a tick (ctr_meta_ctx.tick), Podman's containers.json is looked
 * at once for all the containers named in it: changed in the middle of a
 * tick, it is read again at the next one. */
TEST(test_podman_list_tick)
{
	static const char one[] = "[{\"id\":\"" DK "\",\"names\":[\"web\"]}]";
	static const char two[] = "[{\"id\":\"" DK "\",\"names\":[\"web\"]},"
				  "{\"id\":\"" DK2 "\",\"names\":[\"db\"]}]";
	const char *list = "var/lib/containers/storage/overlay-containers/containers.json";
	struct ctr_ref a = {.engine = CTR_PODMAN, .rel = "machine.slice/a", .uid = -1};
	struct ctr_ref b = a;
	struct ctr_meta_ctx m;
	struct ctr_meta meta;
	struct scratch s;
	int proc_fd;

	memcpy(a.id, DK, sizeof(DK));
	memcpy(b.id, DK2, sizeof(DK2));
	scratch_make(&s, "ctrmeta");
	scratch_write(&s, "proc/.keep", "");
	scratch_write(&s, list, one);
	proc_fd = openat(s.fd, "proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	assert_int_equal(ctr_meta_init(&m, proc_fd), 0);
	m.tick = 7;
	assert_int_equal(ctr_meta_read(&m, &a, -1, &meta), 0);
	assert_string_equal(meta.name, "web");
	ctr_meta_done(&meta);
	scratch_write(&s, list, two);
	assert_int_equal(ctr_meta_read(&m, &b, -1, &meta), 0);
	assert_null(meta.name); /* as it was at this tick's first look */
	m.tick = 8;
	assert_int_equal(ctr_meta_read(&m, &b, -1, &meta), 0);
	assert_string_equal(meta.name, "db");
	ctr_meta_done(&meta);
	m.tick = 0; /* outside ticks: looked at each time */
	scratch_write(&s, list, one);
	assert_int_equal(ctr_meta_read(&m, &b, -1, &meta), 0);
	assert_null(meta.name);
	ctr_meta_fini(&m);
	close(proc_fd);
	scratch_remove(&s);
}

TEST(test_off)
{
	struct scratch s;
	struct collector_env env;

	scratch_env(&s, "ctr", true, &env);
	init_check(&containers_collector, &env, -ENOENT,
		   "/sys/fs/cgroup: No such file or directory");
	scratch_write(&s, "fs/cgroup/unified/cgroup.controllers", "");
	scratch_write(&s, "fs/cgroup/pids/cgroup.procs", "");
	init_check(&containers_collector, &env, -ENOENT,
		   "/sys/fs/cgroup: no unified, memory or systemd hierarchy to find containers in");
	scratch_remove(&s);
}

/* This machine: on wherever cgroups are mounted. */
TEST(test_live)
{
	int fd = open("/sys", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int pfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	struct collector_env env = {.proc_fd = pfd, .sys_fd = fd};
	struct collector_tick t = {.t_ms = T1, .mono_ns = SEC};
	void *st;
	cJSON *p;

	st = init_check(&containers_collector, &env, 0, "");
	assert_int_equal(containers_collector.sample(st, &env, &t, &p), 0);
	assert_true(num(p, "containers") >= 0);
	cJSON_Delete(p);
	containers_collector.fini(st);
	close(fd);
	close(pfd);
}
