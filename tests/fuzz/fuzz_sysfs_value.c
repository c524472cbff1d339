/* One-value sysfs attributes: temperatures (hwmon tempN_*, thermal zones,
 * trip points), scaling_cur_freq, and a network interface's speed and
 * operstate. Every parser gets the input. Checks that each accepted value
 * is the number the text spells (read back from "%lld\n") and that
 * operstate names one of the kernel's states. */
#include "fuzz.h"

#include <inttypes.h>

#include "cpu.h"
#include "net.h"
#include "temp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_dup(data, size), back[32];
	int64_t mc, again, speed;
	uint64_t khz, k2;
	const char *state;
	int n;

	if (temp_parse_millideg(text, size, &mc) == 0) {
		FUZZ_CHECK(size >= 2 && text[size - 1] == '\n');
		FUZZ_CHECK((mc < 0) == (text[0] == '-' && mc != 0));
		n = snprintf(back, sizeof(back), "%" PRId64 "\n", mc);
		FUZZ_CHECK(temp_parse_millideg(back, (size_t)n, &again) == 0 && again == mc);
	}
	if (cpu_freq_parse(text, size, &khz) == 0) {
		n = snprintf(back, sizeof(back), "%" PRIu64 "\n", khz);
		FUZZ_CHECK(cpu_freq_parse(back, (size_t)n, &k2) == 0 && k2 == khz);
	}
	speed = net_speed_parse(text, size);
	FUZZ_CHECK(speed >= -1 && speed <= INT32_MAX);
	if (speed >= 0) {
		n = snprintf(back, sizeof(back), "%" PRId64 "\n", speed);
		FUZZ_CHECK(net_speed_parse(back, (size_t)n) == speed);
	}
	state = net_operstate_parse(text, size);
	if (state) {
		FUZZ_CHECK(size == strlen(state) + 1 && memcmp(text, state, size - 1) == 0);
		FUZZ_CHECK(text[size - 1] == '\n');
	}
	free(text);
	return 0;
}
