/* The Prometheus text writer and the OpenMetrics rewrite. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "unit.h"

TEST(test_families_and_escaping)
{
	struct metrics m = {0};

	metrics_family(&m, "x_bytes", "gauge", "Help with \\ and\nnewline.");
	metrics_sample(&m, "x_bytes",
		       (const char *const[]){"path", "/a b\"c\\d\ne", "k", "v", NULL}, 1.5);
	metrics_sample(&m, "x_bytes", NULL, 42);
	metrics_sample(&m, "x_bytes", NULL, 0.1);
	metrics_sample(&m, "x_bytes", NULL, 1e300);
	metrics_sample(&m, "x_bytes", NULL, NAN);
	metrics_sample(&m, "x_bytes", NULL, -INFINITY);
	metrics_sample(&m, "x_bytes", NULL, 18446744073709551615.0);
	assert_int_equal(metrics_error(&m), 0);
	assert_string_equal(m.buf, "# HELP x_bytes Help with \\\\ and\\nnewline.\n"
				   "# TYPE x_bytes gauge\n"
				   "x_bytes{path=\"/a b\\\"c\\\\d\\ne\",k=\"v\"} 1.5\n"
				   "x_bytes 42\n"
				   "x_bytes 0.1\n"
				   "x_bytes 1e+300\n"
				   "x_bytes NaN\n"
				   "x_bytes -Inf\n"
				   "x_bytes 1.8446744073709552e+19\n");
	metrics_reset(&m);
	assert_int_equal(m.len, 0);
	metrics_free(&m);
}

/* Label values are host text (mount points, interface, disk, process and
 * unit names): bytes that are not UTF-8 become U+FFFD, as a scraper
 * refuses a whole page holding one invalid label value. Found by
 * tests/fuzz/fuzz_metrics.c. */
TEST(test_label_values_utf8)
{
	struct metrics m = {0};

	metrics_sample(&m, "node_filesystem_readonly",
		       (const char *const[]){"mountpoint", "/mnt/caf\xe9", "device",
					     "\xff\xfe\\\xc3", "fstype",
					     "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", NULL},
		       0);
	metrics_sample(&m, "x", (const char *const[]){"a", "\xed\xa0\x80\xe2\x82\"", NULL}, 1);
	assert_int_equal(metrics_error(&m), 0);
	assert_string_equal(m.buf,
			    "node_filesystem_readonly{mountpoint=\"/mnt/caf\xef\xbf\xbd\","
			    "device=\"\xef\xbf\xbd\xef\xbf\xbd\\\\\xef\xbf\xbd\","
			    "fstype=\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"} 0\n"
			    "x{a=\"\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\\\"\"} 1\n");
	metrics_free(&m);
}

/* The lines of test_openmetrics's text that OpenMetrics keeps as they are. */
#define OM_KEPT                                                                                    \
	"a_total{x=\"1\"} 3\n"                                                                     \
	"# HELP b_total A gauge that ends in total.\n"                                             \
	"# TYPE b_total gauge\n"                                                                   \
	"b_total 1\n"                                                                              \
	"# HELP c Plain.\n"                                                                        \
	"# TYPE c counter\n"                                                                       \
	"c 2\n"                                                                                    \
	"# HELP d Untyped.\n"

TEST(test_openmetrics)
{
	const char *text = "# HELP a_total Things.\n"
			   "# TYPE a_total counter\n" OM_KEPT "# TYPE d untyped\n"
			   "d 1\n";
	size_t len;
	char *om = metrics_openmetrics(text, strlen(text), &len);

	assert_non_null(om);
	assert_string_equal(om, "# HELP a Things.\n"
				"# TYPE a counter\n" OM_KEPT "# TYPE d unknown\n"
				"d 1\n"
				"# EOF\n");
	assert_int_equal(len, strlen(om));
	free(om);
}
