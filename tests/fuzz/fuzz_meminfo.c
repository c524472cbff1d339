/* mem_info_parse(): /proc/meminfo. Checks the payload (JSON as promised,
 * used + available = total as free(1) counts them, swap_used never
 * negative) and that only the lines a kernel prints make a parse: every
 * value a whole number of kB (huge page counts bare). */
#include "fuzz.h"

#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_dup(data, size);
	struct mem_info mi;
	struct mem_vmstat prev = {{1, 2, 3, 4}, 0xf}, cur = {{1501, 2, 5, 1000000004}, 0xf};
	cJSON *payload = NULL;
	double total, used, avail, swap_used;

	if (mem_info_parse(text, size, &mi) < 0)
		goto out;
	FUZZ_CHECK(mi.total % 1024 == 0 && mi.free % 1024 == 0 && mi.available % 1024 == 0);
	FUZZ_CHECK(mi.has <= 0x1fff);
	FUZZ_CHECK(mem_build_payload(&mi, size % 2 ? &prev : NULL, &cur, 1000000000, 1700000000000,
				     &payload) == 0);
	fuzz_check_json(payload);
	total = cJSON_GetNumberValue(cJSON_GetObjectItem(payload, "total"));
	used = cJSON_GetNumberValue(cJSON_GetObjectItem(payload, "used"));
	avail = cJSON_GetNumberValue(cJSON_GetObjectItem(payload, "available"));
	swap_used = cJSON_GetNumberValue(cJSON_GetObjectItem(payload, "swap_used"));
	FUZZ_CHECK(avail <= total && used >= 0 && used <= total && swap_used >= 0);
	/* exact in integers; the doubles may round the sum */
	FUZZ_CHECK(used + avail == total || (total > 9007199254740992.0));
	cJSON_Delete(payload);
out:
	free(text);
	return 0;
}
