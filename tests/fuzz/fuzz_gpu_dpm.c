/* gpu_parse_dpm() and gpu_parse_u64(): amdgpu's pp_dpm_sclk and the
 * one-number GPU attributes. Checks that the current level is one of the
 * levels (never above the highest) and that an accepted number reads back
 * from "%llu\n" to the text. */
#include "fuzz.h"

#include <inttypes.h>

#include "gpu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_dup(data, size), back[32];
	uint64_t cur, max, v;
	bool have;

	if (gpu_parse_dpm(text, size, &cur, &have, &max) == 0) {
		FUZZ_CHECK(!have || cur <= max);
		FUZZ_CHECK(have || cur == 0);
	}
	if (gpu_parse_u64(text, size, &v) == 0) {
		int n = snprintf(back, sizeof(back), "%" PRIu64 "\n", v);

		/* leading zeros aside, the text is the number */
		FUZZ_CHECK(n > 0 && (size_t)n <= size);
		FUZZ_CHECK(memcmp(text + size - (size_t)n, back, (size_t)n) == 0);
	}
	free(text);
	return 0;
}
