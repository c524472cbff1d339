/* fmt_g15() and fmt_i64(), the number writers of the JSON and Prometheus
 * output, against printf: each 8 input bytes as a double and as an int64
 * must print as "%.15g" and "%lld" do, and a text said to be exact must
 * read back as the same double. Doubles are also tried rounded to
 * hundredths and to integers, the values the payloads hold. */
#include "fuzz.h"

#include <inttypes.h>
#include <math.h>

#include "fmt.h"

static void check_double(double v)
{
	char ours[FMT_NUM_MAX], want[64];
	bool exact;
	size_t n;

	if (!isfinite(v))
		return;
	n = fmt_g15(ours, v, &exact);
	snprintf(want, sizeof(want), "%.15g", v);
	FUZZ_CHECK(n == strlen(ours) && n < FMT_NUM_MAX);
	FUZZ_CHECK(strcmp(ours, want) == 0);
	FUZZ_CHECK(!exact || strtod(ours, NULL) == v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t i = 0; i + 8 <= size; i += 8) {
		char ours[FMT_NUM_MAX], want[32];
		int64_t k;
		double d;

		memcpy(&d, data + i, 8);
		memcpy(&k, data + i, 8);
		check_double(d);
		check_double(round(d));
		check_double(round(d * 100) / 100);
		check_double((double)k / 100);
		check_double((double)(k % 100000000000) / 1000);
		FUZZ_CHECK(fmt_i64(ours, k) == strlen(ours));
		snprintf(want, sizeof(want), "%" PRId64, k);
		FUZZ_CHECK(strcmp(ours, want) == 0);
	}
	return 0;
}
