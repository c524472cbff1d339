/* The daemon's own families (daemon/self_metrics.c): the hub's and the
 * history writer's, written from their stats, to the byte of their goldens
 * in tests/fixtures/daemon/expected/. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "metrics.h"
#include "prom_check.h"
#include "self_metrics.h"

/* What m holds is <fixtures>/daemon/expected/<name> (SYSFEED_PROM_UPDATE=1
 * rewrites it); m is freed. */
static void check_golden(struct metrics *m, const char *name)
{
	char path[PATH_MAX];

	assert_int_equal(metrics_error(m), 0);
	snprintf(path, sizeof(path), "%s/daemon/expected/%s", fixtures(), name);
	prom_check_file(m->buf, path);
	metrics_free(m);
}

TEST(test_hub_families)
{
	const struct hub_stats s = {
	    .ring_used = 4096,
	    .ring_bytes = 1 << 20,
	    .clients = 3,
	    .gzip_clients = 1,
	    .published = 12345,
	    .bytes_sent = UINT64_C(9876543210),
	    .resyncs = 2,
	    .stalled = 1,
	    .gzip_in_bytes = 5000,
	    .gzip_out_bytes = 900,
	};
	struct metrics m = {0};

	self_metrics_hub(&m, &s);
	check_golden(&m, "hub.prom");
}

TEST(test_history_families)
{
	/* up, rows, then events, commits, errors, dropped, evicted, bytes,
	 * cpu_ns, queries as store.h declares them */
	const struct store_stats s = {true,  {100, 2, 1},          7, 50, 1, 3, 4,
				      65536, UINT64_C(1500000000), 9};
	struct metrics m = {0};

	self_metrics_history(&m, &s);
	check_golden(&m, "history.prom");
}
