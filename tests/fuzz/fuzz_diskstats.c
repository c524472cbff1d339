/* disk_stats_parse(): /proc/diskstats. Input: one or two files
 * ("prev\0cur"). Checks the statistics count (4, 11, 15 or 17), names
 * without NUL and never "." or "..", a reused struct parsing the same, and
 * the payload between the two (JSON as promised, one entry per device,
 * rates never negative). */
#include "fuzz.h"

#include "disk.h"

static int parse(const char *text, size_t len, void *ret)
{
	return disk_stats_parse(text, len, ret);
}

static void check_stats(const void *parsed, const char *text, size_t len)
{
	const struct disk_stats *st = parsed;
	struct disk_stats again = {0};

	for (size_t i = 0; i < st->n; i++) {
		const struct disk_dev *d = &st->v[i];

		FUZZ_CHECK(d->nstats == 4 || d->nstats == 11 || d->nstats == 15 || d->nstats == 17);
		FUZZ_CHECK(d->name[0] && strcmp(d->name, ".") && strcmp(d->name, ".."));
	}
	FUZZ_CHECK(disk_stats_parse(text, len, &again) == 0 && again.n == st->n);
	for (size_t i = 0; i < st->n; i++)
		FUZZ_CHECK(strcmp(again.v[i].name, st->v[i].name) == 0 &&
			   memcmp(again.v[i].s, st->v[i].s, sizeof(st->v[i].s)) == 0);
	disk_stats_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct disk_stats prev = {0}, cur = {0};
	struct fuzz_two t;
	cJSON *payload = NULL;

	fuzz_parse_two(data, size, parse, check_stats, &prev, &cur, &t);
	if (t.r[1] < 0)
		goto out;
	for (size_t i = 0; i < cur.n; i++) {
		cur.v[i].included = true;
		cur.v[i].partition = (int)(i % 3) - 1;
	}
	prev.mono_ns = 1000000000;
	cur.mono_ns = 2000000000;
	FUZZ_CHECK(disk_build_payload(t.r[0] == 0 ? &prev : NULL, &cur, 1700000000000, &payload) ==
		   0);
	fuzz_check_json(payload);
	fuzz_check_nonneg(payload);
	cJSON_Delete(payload);
out:
	disk_stats_free(&prev);
	disk_stats_free(&cur);
	fuzz_two_free(&t);
	return 0;
}
