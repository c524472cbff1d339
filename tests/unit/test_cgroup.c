/* Unit tests of collectors/cgroup.c's groups: a parent's CPU time telling
 * which of its members' files need no reading, driven step by step through
 * cgroup.h over a scratch tree, so that files can change between the steps
 * of a tick as the kernel's do (a member running between two readings). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "cgroup.h"
#include "fixture.h"

#define NUNITS 3

/* A v1 host (cpuacct alone) or a v2 one with machine.slice and its
 * members a (busy), b and c (asleep): their CPU times in ns, and the
 * parent's P = q + theirs, as the kernel shows them (v2: each cgroup's ns
 * rounded down to µs apart). */
struct host {
	struct scratch s;
	bool v2;
	struct cgroup_set cg;
	struct cgroup_unit u[NUNITS];
	uint64_t cpu[NUNITS], q;
	unsigned tick;
};

static const char *const rels[NUNITS] = {"machine.slice/a.scope", "machine.slice/b.scope",
					 "machine.slice/c.scope"};

static void put_u64(struct host *h, const char *rel, uint64_t v)
{
	char path[256], text[32];

	if (h->v2) {
		snprintf(path, sizeof(path), "fs/cgroup/%s/cpu.stat", rel);
		snprintf(text, sizeof(text), "usage_usec %llu\n", (unsigned long long)(v / 1000));
	} else {
		snprintf(path, sizeof(path), "fs/cgroup/cpuacct/%s/cpuacct.usage", rel);
		snprintf(text, sizeof(text), "%llu\n", (unsigned long long)v);
	}
	scratch_write(&h->s, path, text);
}

/* Writes every member's CPU time and P, as the kernel shows them. */
static void host_write(struct host *h)
{
	uint64_t p = h->q;

	for (size_t i = 0; i < NUNITS; i++) {
		put_u64(h, rels[i], h->cpu[i]);
		p += h->cpu[i];
	}
	put_u64(h, "machine.slice", p);
}

static void host_make(struct host *h, bool v2)
{
	struct cgroup_root root;
	char reason[256];

	memset(h, 0, sizeof(*h));
	h->v2 = v2;
	scratch_make(&h->s, "cgroup");
	if (v2)
		scratch_write(&h->s, "fs/cgroup/cgroup.controllers", "cpu\n");
	else
		scratch_write(&h->s, "fs/cgroup/cpuacct/cpuacct.usage", "1\n");
	h->q = 5000;
	for (size_t i = 0; i < NUNITS; i++)
		h->cpu[i] = 1000000 * (i + 1) + 700 * i; /* not whole µs */
	host_write(h);
	assert_int_equal(cgroup_set_init(&h->cg, 64), 0);
	assert_int_equal(cgroup_root_open(&root, h->s.fd, reason, sizeof(reason)), 0);
	cgroup_set_root(&h->cg, &root);
	assert_int_equal(h->cg.root.fd[CGROUP_H_UNIFIED] >= 0, v2);
	for (size_t i = 0; i < NUNITS; i++) {
		cgroup_unit_init(&h->u[i], rels[i]);
		assert_int_equal(cgroup_unit_join(&h->cg.groups, &h->u[i], rels[i]), 0);
	}
}

static void host_free(struct host *h)
{
	for (size_t i = 0; i < NUNITS; i++)
		cgroup_unit_done(&h->cg.rd, &h->cg.groups, &h->u[i]);
	cgroup_set_done(&h->cg);
	assert_int_equal(h->cg.inotify_fd, -1);
	scratch_remove(&h->s);
}

/* One tick: a has run 10 ms and some ns; between the reading of the busy
 * members and the test, a runs ran_ns more (the files change as the
 * kernel's would). Returns the files read. */
static uint64_t host_tick(struct host *h, uint64_t ran_ns)
{
	uint64_t reads = h->cg.rd.reads;

	h->tick++;
	h->cpu[0] += 10000000 + h->tick * 337 % 1000;
	host_write(h);
	cgroup_tick_begin(&h->cg.rd, &h->cg.groups, (uint64_t)h->tick * SEC);
	for (size_t i = 0; i < NUNITS; i++)
		cgroup_unit_ahead(&h->cg.rd, &h->u[i], rels[i]);
	if (ran_ns) {
		h->cpu[0] += ran_ns;
		host_write(h);
	}
	if (cgroup_tick_test(&h->cg.rd, &h->cg.groups)) {
		for (size_t i = 0; i < NUNITS; i++)
			cgroup_unit_again(&h->cg.rd, &h->u[i], rels[i]);
		assert_false(cgroup_tick_test(&h->cg.rd, &h->cg.groups)); /* once */
	}
	for (size_t i = 0; i < NUNITS; i++) {
		struct cgroup_values v;
		int r = cgroup_sample(&h->cg.rd, &h->u[i], rels[i], 1u << CGROUP_CPU, 0, &v,
				      (uint64_t)h->tick * SEC);

		assert_true(r >= 0);
		if (!(r & CGROUP_SKIPPED))
			cgroup_pace_set(&h->cg.rd, &h->u[i].pace, r & CGROUP_STILL);
	}
	cgroup_tick_end(&h->cg.rd, &h->cg.groups);
	return h->cg.rd.reads - reads;
}

/* The busy member ran between its reading and P's: P is more than the
 * bound, but the busy member and P read again agree, and the sleeping
 * members are still not read (one P, a, then a and P again). */
TEST(test_ran_between)
{
	struct host h;
	uint64_t proven;

	host_make(&h, false);
	for (unsigned k = 0; k < 4; k++) /* b, c go idle; a bound is made */
		host_tick(&h, 0);
	proven = h.cg.rd.proven;
	assert_int_equal(host_tick(&h, 0), 2); /* a and P: b and c proven */
	assert_int_equal(h.cg.rd.proven, proven + 2);
	assert_int_equal(host_tick(&h, 1234), 4);
	assert_int_equal(h.cg.rd.proven, proven + 4);
	assert_true(h.u[0].st.cpu.value == h.cpu[0]); /* the later reading */
	assert_int_equal(h.cg.groups.tests, h.cg.groups.passed);
	host_free(&h);
}

/* A sleeping member that woke fails the test twice: then every member is
 * read, the one that woke with its rate over the tick. */
TEST(test_woke)
{
	struct host h;

	host_make(&h, false);
	for (unsigned k = 0; k < 4; k++)
		host_tick(&h, 0);
	h.cpu[2] += 250000000;
	assert_int_equal(host_tick(&h, 0), 6); /* a, P, a, P, b, c */
	assert_int_equal(h.u[2].st.cpu_h, 2500);
	assert_int_equal(h.u[1].st.cpu_h, 0);
	host_free(&h);
}

/* cgroup v2: usage_usec is each cgroup's ns rounded down to µs apart, so
 * that P is not its members' sum; the idle members are proven still to
 * within 1/20000 of the tick in all (50 µs at 1 s): b running 10 µs is
 * not seen (its CPU time then lags by that), c running 200 µs is (both
 * read then, c's rate over the tick, b's 10 µs with it). */
TEST(test_v2)
{
	struct host h;
	uint64_t proven;

	host_make(&h, true);
	for (unsigned k = 0; k < 4; k++)
		host_tick(&h, 0);
	proven = h.cg.rd.proven;
	for (unsigned k = 0; k < 5; k++) /* the busy one's ns moving as they do */
		assert_int_equal(host_tick(&h, 0), 2);
	assert_int_equal(h.cg.rd.proven, proven + 10);
	h.cpu[1] += 10000;
	assert_int_equal(host_tick(&h, 0), 2); /* within the bound: not read */
	assert_int_equal(h.u[1].st.cpu_h, 0);
	assert_true(h.u[1].st.cpu.value + 10000 == h.cpu[1] / 1000 * 1000);
	h.cpu[2] += 200000;
	assert_int_equal(host_tick(&h, 0), 6); /* a, P, a, P, b, c */
	assert_int_equal(h.u[2].st.cpu_h, 2);  /* 200 µs in 1 s: 0.02 % */
	assert_true(h.u[1].st.cpu.value == h.cpu[1] / 1000 * 1000);
	assert_int_equal(h.u[1].st.cpu_h, 0);
	/* a new bound, then still again */
	for (unsigned k = 0; k < 3; k++)
		host_tick(&h, 0);
	assert_int_equal(host_tick(&h, 0), 2);
	host_free(&h);
}

/* cgroup v2, over many ticks of random moves (the busy one's by any ns,
 * the sleeping ones' now and then by about the bound, 45 to 55 µs, Q by
 * some): whenever the sleeping members are left unread, what they ran in
 * all since their last readings is below 1/20000 of the tick; and most
 * ticks leave them. (Without the slack of the rounded readings this fails
 * within these 3,000 ticks.) */
TEST(test_v2_bound)
{
	uint64_t seed = 7, last[NUNITS], proven;
	struct host h;

	host_make(&h, true);
	for (size_t i = 0; i < NUNITS; i++)
		last[i] = h.cpu[i];
	proven = h.cg.rd.proven;
	for (unsigned k = 0; k < 3000; k++) {
		bool idle[NUNITS];
		uint64_t ran = 0;

		for (size_t i = 0; i < NUNITS; i++)
			idle[i] = h.u[i].pace.idle;
		for (size_t i = 1; i < NUNITS; i++) {
			seed = seed * 6364136223846793005u + 1442695040888963407u;
			if (seed >> 60 == 0)
				h.cpu[i] += 45000 + (seed >> 30) % 10000; /* 45 to 55 µs */
		}
		if (k % 50 == 49)
			h.q += 3000;
		host_tick(&h, 0);
		for (size_t i = 0; i < NUNITS; i++) {
			if (idle[i] && h.cg.groups.v[0]->still)
				ran += h.cpu[i] - last[i]; /* not read */
			else
				last[i] = h.cpu[i];
		}
		assert_true(ran < SEC / 20000);
	}
	assert_true(h.cg.rd.proven - proven > 3000);
	host_free(&h);
}
