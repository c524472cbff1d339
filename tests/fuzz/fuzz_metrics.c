/* The Prometheus text writer: metrics_sample() with label values of any
 * bytes (interface, disk and mount names, process and unit names come from
 * the host) and any value, then metrics_openmetrics(). Input: 8 bytes of
 * value, then label values separated by NUL. Checks that a sample is one
 * line that a scraper reads back to the same label values and value, and
 * that the text is valid UTF-8 as the exposition format requires (a
 * scraper refuses the whole page otherwise). */
#include "fuzz.h"

#include <math.h>

#include "metrics.h"

/* Reads one escaped label value at *p up to its closing quote into out. */
static size_t unescape(const char **p, char *out)
{
	size_t n = 0;
	const char *s = *p;

	for (; *s != '"'; s++) {
		FUZZ_CHECK(*s && *s != '\n');
		if (*s == '\\') {
			s++;
			FUZZ_CHECK(*s == '\\' || *s == '"' || *s == 'n');
			out[n++] = *s == 'n' ? '\n' : *s;
		} else {
			out[n++] = *s;
		}
	}
	*p = s + 1;
	out[n] = '\0';
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"device", "mountpoint", "fstype", "comm"};
	struct fuzz_in in = {data, size};
	const char *labels[2 * 4 + 1] = {NULL};
	char *values[4] = {NULL}, *got, *om, *end;
	size_t nl = 0, len, om_len = 0;
	struct metrics m = {0};
	const char *p;
	uint64_t bits = fuzz_u64(&in);
	double v, back;

	memcpy(&v, &bits, sizeof(v));
	while (nl < 4 && in.n > 0) {
		values[nl] = fuzz_take_str(&in, NULL);
		labels[2 * nl] = names[nl];
		labels[2 * nl + 1] = values[nl];
		nl++;
	}
	metrics_family(&m, "node_test_total", "counter", "A test family.");
	metrics_sample(&m, "node_test_total", nl ? labels : NULL, v);
	FUZZ_CHECK(metrics_error(&m) == 0);
	len = m.len;
	FUZZ_CHECK(strlen(m.buf) == len && m.buf[len - 1] == '\n');
	FUZZ_CHECK(fuzz_utf8_valid(m.buf, len));

	/* the sample line: name{l="v",...} value */
	p = strstr(m.buf, "# TYPE node_test_total counter\nnode_test_total");
	FUZZ_CHECK(p);
	p += 31 + 15;
	got = malloc(len + 1);
	FUZZ_CHECK(got);
	if (nl) {
		FUZZ_CHECK(*p == '{');
		p++;
		for (size_t i = 0; i < nl; i++) {
			size_t k = strlen(names[i]);

			FUZZ_CHECK(strncmp(p, names[i], k) == 0 && p[k] == '=' && p[k + 1] == '"');
			p += k + 2;
			unescape(&p, got);
			FUZZ_CHECK(strcmp(got, values[i]) == 0 ||
				   !fuzz_utf8_valid(values[i], strlen(values[i])));
			FUZZ_CHECK(*p == (i + 1 < nl ? ',' : '}'));
			p++;
		}
	}
	FUZZ_CHECK(*p == ' ');
	back = strtod(p + 1, &end);
	FUZZ_CHECK(*end == '\n' && end[1] == '\0');
	FUZZ_CHECK(back == v || (isnan(v) && isnan(back)));

	om = metrics_openmetrics(m.buf, len, &om_len);
	FUZZ_CHECK(om && om_len >= 6 && strcmp(om + om_len - 6, "# EOF\n") == 0);
	FUZZ_CHECK(strstr(om, "# TYPE node_test counter\n"));
	free(om);
	free(got);
	metrics_free(&m);
	for (size_t i = 0; i < nl; i++)
		free(values[i]);
	return 0;
}
