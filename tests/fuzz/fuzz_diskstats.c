/* disk_stats_parse(): /proc/diskstats. Input: one or two files
 * ("prev\0cur"). Checks the statistics count (4, 11, 15 or 17), names
 * without NUL and never "." or "..", a reused struct parsing the same, and
 * the payload between the two (JSON as promised, one entry per device,
 * rates never negative). */
#include "fuzz.h"

#include "disk.h"

static void check_stats(const struct disk_stats *st, const char *text, size_t len)
{
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
	struct fuzz_in in = {data, size};
	struct disk_stats prev = {0}, cur = {0};
	char *a = NULL, *b = NULL;
	size_t a_len = 0, b_len = 0;
	cJSON *payload = NULL;
	int ra, rb;

	fuzz_take_two(&in, &a, &a_len, &b, &b_len);
	ra = disk_stats_parse(a, a_len, &prev);
	rb = disk_stats_parse(b, b_len, &cur);
	if (ra == 0)
		check_stats(&prev, a, a_len);
	if (rb == 0)
		check_stats(&cur, b, b_len);
	if (rb < 0)
		goto out;
	for (size_t i = 0; i < cur.n; i++) {
		cur.v[i].included = true;
		cur.v[i].partition = (int)(i % 3) - 1;
	}
	prev.mono_ns = 1000000000;
	cur.mono_ns = 2000000000;
	FUZZ_CHECK(disk_build_payload(ra == 0 ? &prev : NULL, &cur, 1700000000000, &payload) == 0);
	fuzz_check_json(payload);
	fuzz_check_nonneg(payload);
	cJSON_Delete(payload);
out:
	disk_stats_free(&prev);
	disk_stats_free(&cur);
	free(a);
	free(b);
	return 0;
}
