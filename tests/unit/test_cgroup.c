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

/* A v1 host (cpuacct alone) with machine.slice and its members a (busy),
 * b and c (asleep): their CPU times, and the parent's P = q + theirs. */
struct host {
	struct scratch s;
	struct cgroup_root root;
	struct cgroup_reader rd;
	struct cgroup_groups gs;
	struct cgroup_unit u[NUNITS];
	uint64_t cpu[NUNITS], q;
	unsigned tick;
};

static const char *const rels[NUNITS] = {"machine.slice/a.scope", "machine.slice/b.scope",
					 "machine.slice/c.scope"};

static void put_u64(struct host *h, const char *rel, uint64_t v)
{
	char path[256], text[32];

	snprintf(path, sizeof(path), "fs/cgroup/cpuacct/%s/cpuacct.usage", rel);
	snprintf(text, sizeof(text), "%llu\n", (unsigned long long)v);
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

static void host_make(struct host *h)
{
	char reason[256];

	memset(h, 0, sizeof(*h));
	scratch_make(&h->s, "cgroup");
	scratch_write(&h->s, "fs/cgroup/cpuacct/cpuacct.usage", "1\n");
	h->q = 5000;
	for (size_t i = 0; i < NUNITS; i++)
		h->cpu[i] = 1000000 * (i + 1);
	host_write(h);
	assert_int_equal(cgroup_root_open(&h->root, h->s.fd, reason, sizeof(reason)), 0);
	assert_int_equal(cgroup_reader_init(&h->rd, &h->root, 64), 0);
	for (size_t i = 0; i < NUNITS; i++) {
		cgroup_unit_init(&h->u[i], rels[i]);
		assert_int_equal(cgroup_unit_join(&h->gs, &h->u[i], rels[i]), 0);
	}
}

static void host_free(struct host *h)
{
	for (size_t i = 0; i < NUNITS; i++)
		cgroup_unit_done(&h->rd, &h->gs, &h->u[i]);
	cgroup_groups_free(&h->rd, &h->gs);
	cgroup_reader_done(&h->rd);
	cgroup_root_close(&h->root);
	scratch_remove(&h->s);
}

/* One tick: a has run 10 ms; between the reading of the busy members and
 * the test, a runs ran_ns more (the files change as the kernel's would).
 * Returns the files read. */
static uint64_t host_tick(struct host *h, uint64_t ran_ns)
{
	uint64_t reads = h->rd.reads;

	h->tick++;
	h->cpu[0] += 10000000;
	host_write(h);
	cgroup_tick_begin(&h->rd, &h->gs);
	for (size_t i = 0; i < NUNITS; i++)
		cgroup_unit_ahead(&h->rd, &h->u[i], rels[i]);
	if (ran_ns) {
		h->cpu[0] += ran_ns;
		host_write(h);
	}
	if (cgroup_tick_test(&h->rd, &h->gs)) {
		for (size_t i = 0; i < NUNITS; i++)
			cgroup_unit_again(&h->rd, &h->u[i], rels[i]);
		assert_false(cgroup_tick_test(&h->rd, &h->gs)); /* once */
	}
	for (size_t i = 0; i < NUNITS; i++) {
		struct cgroup_values v;
		int r = cgroup_sample(&h->rd, &h->u[i], rels[i], 1u << CGROUP_CPU, 0, &v,
				      (uint64_t)h->tick * SEC);

		assert_true(r >= 0);
		if (!(r & CGROUP_SKIPPED))
			cgroup_pace_set(&h->rd, &h->u[i].pace, r & CGROUP_STILL);
	}
	cgroup_tick_end(&h->rd, &h->gs);
	return h->rd.reads - reads;
}

/* The busy member ran between its reading and P's: P is more than the
 * bound, but the busy member and P read again agree, and the sleeping
 * members are still not read (one P, a, then a and P again). */
static void test_ran_between(void **state)
{
	struct host h;
	uint64_t proven;

	(void)state;
	host_make(&h);
	for (unsigned k = 0; k < 4; k++) /* b, c go idle; a bound is made */
		host_tick(&h, 0);
	proven = h.rd.proven;
	assert_int_equal(host_tick(&h, 0), 2); /* a and P: b and c proven */
	assert_int_equal(h.rd.proven, proven + 2);
	assert_int_equal(host_tick(&h, 1234), 4);
	assert_int_equal(h.rd.proven, proven + 4);
	assert_true(h.u[0].st.cpu.value == h.cpu[0]); /* the later reading */
	assert_int_equal(h.gs.tests, h.gs.passed);
	host_free(&h);
}

/* A sleeping member that woke fails the test twice: then every member is
 * read, the one that woke with its rate over the tick. */
static void test_woke(void **state)
{
	struct host h;

	(void)state;
	host_make(&h);
	for (unsigned k = 0; k < 4; k++)
		host_tick(&h, 0);
	h.cpu[2] += 250000000;
	assert_int_equal(host_tick(&h, 0), 6); /* a, P, a, P, b, c */
	assert_int_equal(h.u[2].st.cpu_h, 2500);
	assert_int_equal(h.u[1].st.cpu_h, 0);
	host_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ran_between),
	    cmocka_unit_test(test_woke),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
