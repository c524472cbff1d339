/* smart_parse(): the file sysfeed-smart writes (smartctl's JSON inside).
 * Checks that every drive kept has a name, at most SMART_MAX_DEVICES, and
 * that its text fields are C strings without control bytes. */
#include "fuzz.h"

#include "health_smart.h"

static void check_text(const char *s, size_t size)
{
	size_t n = strnlen(s, size);

	FUZZ_CHECK(n < size);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)s[i] >= 0x20);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct smart_file f = {0};
	char *text = fuzz_dup(data, size);

	if (smart_parse(text, size, &f) == 0) {
		FUZZ_CHECK(f.n <= SMART_MAX_DEVICES && f.time_s >= 0);
		check_text(f.error, sizeof(f.error));
		for (size_t i = 0; i < f.n; i++) {
			FUZZ_CHECK(f.v[i].device[0]);
			check_text(f.v[i].device, sizeof(f.v[i].device));
			check_text(f.v[i].model, sizeof(f.v[i].model));
			check_text(f.v[i].error, sizeof(f.v[i].error));
		}
	} else {
		FUZZ_CHECK(f.n == 0 && !f.v);
	}
	smart_file_free(&f);
	free(text);
	return 0;
}
