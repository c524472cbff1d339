/* md_stat_parse(): /proc/mdstat, and health_btrfs_errors() on the same
 * input. Checks counts that cannot disagree (failed and spare members
 * among the members, progress at most 100 %, a running action named) and
 * that a reused struct parses the same. */
#include "fuzz.h"

#include "health.h"
#include "health_md.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct md_stat st = {0}, again = {0};
	char *text = fuzz_dup(data, size);
	uint64_t sum;

	if (md_stat_parse(text, size, &st) == 0) {
		for (size_t i = 0; i < st.n; i++) {
			const struct md_array *a = &st.v[i];

			FUZZ_CHECK(a->name[0] && a->failed + a->spares <= a->members);
			FUZZ_CHECK(a->sync_permille <= 1000);
			FUZZ_CHECK(!a->sync_running || a->sync_action[0]);
		}
		FUZZ_CHECK(md_stat_parse(text, size, &again) == 0 && again.n == st.n);
	} else {
		FUZZ_CHECK(st.n == 0);
	}
	health_btrfs_errors(text, size, &sum);
	md_stat_free(&st);
	md_stat_free(&again);
	free(text);
	return 0;
}
