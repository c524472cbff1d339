/* proc_status_uid(): the Uid: line of /proc/<pid>/status. Checks that the
 * uid read is the second of the four tab-separated ids on the first "Uid:"
 * line. */
#include "fuzz.h"

#include "proc_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_dup(data, size);
	uint32_t uid;
	const char *p;

	if (proc_status_uid(text, size, &uid) == 0) {
		/* the first line starting "Uid:" (lines before it end in '\n') */
		for (p = text; memcmp(p, "Uid:", 4) != 0;
		     p = (const char *)memchr(p, '\n', (size_t)(text + size - p)) + 1)
			FUZZ_CHECK(p < text + size);
		p = memchr(p + 5, '\t', (size_t)(text + size - p - 5));
		FUZZ_CHECK(p && strtoul(p + 1, NULL, 10) == uid);
	}
	free(text);
	return 0;
}
