/* The main of every unit test binary: runs the tests the file registered
 * (tests/unit/unit.h) in the order of the file, as one cmocka group named
 * after the binary. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "unit.h"

struct unit_entry {
	struct CMUnitTest t;
	int line;
};

static struct unit_entry *entries;
static size_t n_entries, cap_entries;
static CMFixtureFunction group_setup, group_teardown;

/* Runs from constructors, before main: no cmocka here, a failure to grow
 * ends the binary. */
void unit_register(const struct CMUnitTest *t, int line)
{
	if (n_entries == cap_entries) {
		size_t cap = cap_entries ? 2 * cap_entries : 32;
		struct unit_entry *p = realloc(entries, cap * sizeof(*p));

		if (!p) {
			perror("unit_register");
			exit(1);
		}
		entries = p;
		cap_entries = cap;
	}
	entries[n_entries++] = (struct unit_entry){*t, line};
}

void unit_group(CMFixtureFunction setup, CMFixtureFunction teardown)
{
	group_setup = setup;
	group_teardown = teardown;
}

static int by_line(const void *a, const void *b)
{
	const struct unit_entry *x = a, *y = b;

	return (x->line > y->line) - (x->line < y->line);
}

int main(int argc, char **argv)
{
	const char *name = argc > 0 ? strrchr(argv[0], '/') : NULL;
	struct CMUnitTest *tests = calloc(n_entries ? n_entries : 1, sizeof(*tests));
	int r;

	if (!tests) {
		perror("main");
		return 1;
	}
	name = name ? name + 1 : argc > 0 ? argv[0] : "tests";
	/* constructors run in no promised order: the file's order is theirs */
	qsort(entries, n_entries, sizeof(*entries), by_line);
	for (size_t i = 0; i < n_entries; i++)
		tests[i] = entries[i].t;
	r = _cmocka_run_group_tests(name, tests, n_entries, group_setup, group_teardown);
	free(tests);
	free(entries);
	return r;
}
