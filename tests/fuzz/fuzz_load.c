/* load_avg_parse() and load_uptime_parse(): /proc/loadavg and
 * /proc/uptime. Input: "loadavg\0uptime" (each file is also tried as the
 * other). Checks that an accepted file is read back from the kernel's own
 * spelling of what was parsed ("%lu.%02lu", "%lu/%lu"), and the payload. */
#include "fuzz.h"

#include <inttypes.h>
#include <math.h>

#include "load.h"

/* Below 2^50 hundredths, v * 100 rounds back to the number the text
 * spelled; beyond, a double cannot tell neighbours apart (no load or
 * uptime comes near). */
#define CENTI_EXACT 1125899906842624.0

/* v, which holds at most two decimals, as the kernel prints it */
static int centi(char *out, size_t size, double v)
{
	uint64_t c = (uint64_t)llround(v * 100);

	return snprintf(out, size, "%" PRIu64 ".%02" PRIu64, c / 100, c % 100);
}

static void check_avg(const char *text, size_t len)
{
	struct load_avg la, back;
	char line[256], a[32], b[32], c[32];

	if (load_avg_parse(text, len, &la) < 0 || la.load1 * 100 >= CENTI_EXACT ||
	    la.load5 * 100 >= CENTI_EXACT || la.load15 * 100 >= CENTI_EXACT)
		return;
	centi(a, sizeof(a), la.load1);
	centi(b, sizeof(b), la.load5);
	centi(c, sizeof(c), la.load15);
	snprintf(line, sizeof(line), "%s %s %s %" PRIu64 "/%" PRIu64 " %" PRIu64 "\n", a, b, c,
		 la.running, la.tasks, la.last_pid);
	FUZZ_CHECK(load_avg_parse(line, strlen(line), &back) == 0);
	FUZZ_CHECK(memcmp(&la, &back, sizeof(la)) == 0);
}

static void check_uptime(const char *text, size_t len, const struct load_avg *la)
{
	struct load_uptime up, back;
	char line[128], a[32], b[32];
	cJSON *payload = NULL;

	if (load_uptime_parse(text, len, &up) < 0 || up.uptime * 100 >= CENTI_EXACT ||
	    up.idle * 100 >= CENTI_EXACT)
		return;
	centi(a, sizeof(a), up.uptime);
	centi(b, sizeof(b), up.idle);
	snprintf(line, sizeof(line), "%s %s\n", a, b);
	FUZZ_CHECK(load_uptime_parse(line, strlen(line), &back) == 0);
	FUZZ_CHECK(memcmp(&up, &back, sizeof(up)) == 0);
	if (!la)
		return;
	FUZZ_CHECK(load_build_payload(la, &up, 1700000000000, &payload) == 0);
	fuzz_check_json(payload);
	cJSON_Delete(payload);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	char *a = NULL, *b = NULL;
	size_t a_len = 0, b_len = 0;
	struct load_avg la;

	fuzz_take_two(&in, &a, &a_len, &b, &b_len);
	check_avg(a, a_len);
	check_avg(b, b_len);
	check_uptime(a, a_len, NULL);
	check_uptime(b, b_len, load_avg_parse(a, a_len, &la) == 0 ? &la : NULL);
	free(a);
	free(b);
	return 0;
}
