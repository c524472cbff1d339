/* mem_vmstat_parse(): /proc/vmstat. Input: one or two files ("prev\0cur").
 * Checks that a parse is the same as a line-by-line reading of the
 * counters it keeps, and that rates between two parses exist only for
 * counters both have that did not go backwards, never negative. */
#include "fuzz.h"

#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct mem_vmstat prev = {{0}, 0}, cur = {{0}, 0};
	static const char *const rate_keys[MEM_VM_N] = {"page_faults_per_s", "major_faults_per_s",
							"swap_in_pages_per_s",
							"swap_out_pages_per_s"};
	struct mem_info mi = {.total = 1, .free = 1};
	cJSON *payload = NULL;
	char *a = NULL, *b = NULL;
	size_t a_len = 0, b_len = 0;
	int ra, rb;

	fuzz_take_two(&in, &a, &a_len, &b, &b_len);
	ra = mem_vmstat_parse(a, a_len, &prev);
	rb = mem_vmstat_parse(b, b_len, &cur);
	if (ra == 0) {
		/* each kept counter is the value of its one line */
		static const char *const names[MEM_VM_N] = {"pgfault", "pgmajfault", "pswpin",
							    "pswpout"};

		for (size_t i = 0; i < MEM_VM_N; i++) {
			char key[32];
			size_t k = (size_t)snprintf(key, sizeof(key), "%s ", names[i]);
			bool found = false;

			for (size_t at = 0; at + k <= a_len; at++) {
				if ((at == 0 || a[at - 1] == '\n') && memcmp(a + at, key, k) == 0) {
					FUZZ_CHECK(!found);
					found = true;
					FUZZ_CHECK(strtoull(a + at + k, NULL, 10) == prev.v[i]);
				}
			}
			FUZZ_CHECK(found == !!(prev.has & (1u << i)));
		}
	}
	if (ra < 0 || rb < 0)
		goto out;
	FUZZ_CHECK(mem_build_payload(&mi, &prev, &cur, 1000000000, 1700000000000, &payload) == 0);
	fuzz_check_json(payload);
	for (size_t i = 0; i < MEM_VM_N; i++) {
		bool want = (prev.has & cur.has & (1u << i)) && cur.v[i] >= prev.v[i];
		const cJSON *rate = cJSON_GetObjectItem(payload, rate_keys[i]);

		FUZZ_CHECK(want ? cJSON_IsNumber(rate) : cJSON_IsNull(rate));
		FUZZ_CHECK(!want || rate->valuedouble >= 0);
	}
	cJSON_Delete(payload);
out:
	free(a);
	free(b);
	return 0;
}
