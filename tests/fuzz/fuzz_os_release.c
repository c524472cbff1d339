/* host_os_release_value(): os-release(5). Input: the key, NUL, the file.
 * Checks that a value read is found again when written back in each of
 * the file's quoting styles (double quotes with backslash escapes, single
 * quotes, bare), and that the last assignment wins. */
#include "fuzz.h"

#include <errno.h>

#include "host_parse.h"

static void check_round_trip(const char *key, const char *v)
{
	size_t len = strlen(v), n = 0;
	char *text = malloc(2 * strlen(key) + 2 * len + 64), *got = NULL;

	FUZZ_CHECK(text);
	n = (size_t)sprintf(text, "%s=\"", key);
	for (const char *p = v; *p; p++) {
		if (strchr("\\\"$`", *p))
			text[n++] = '\\';
		text[n++] = *p;
	}
	n += (size_t)sprintf(text + n, "\"\n");
	if (!strpbrk(v, "\n")) {
		FUZZ_CHECK(host_os_release_value(text, n, key, &got) == 0 && strcmp(got, v) == 0);
		free(got);
	}
	if (!strpbrk(v, "'\n")) {
		n = (size_t)sprintf(text, "%s='%s'\n%s_X=1\n", key, v, key);
		FUZZ_CHECK(host_os_release_value(text, n, key, &got) == 0 && strcmp(got, v) == 0);
		free(got);
	}
	if (*v && !strpbrk(v, "\"'\\`$ \t\n#")) {
		n = (size_t)sprintf(text, "%s=other\n  # note\n\n%s=%s\n", key, key, v);
		FUZZ_CHECK(host_os_release_value(text, n, key, &got) == 0 && strcmp(got, v) == 0);
		free(got);
	}
	free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	char *key, *text = NULL, *value = NULL;
	size_t key_len, text_len = 0;
	int r;

	key = fuzz_take_str(&in, &key_len);
	if (!fuzz_take(&in, &text, &text_len))
		text = fuzz_dup(data, 0);
	r = host_os_release_value(text, text_len, key, &value);
	FUZZ_CHECK(r == 0 || r == -ENOENT || r == -EINVAL);
	if (r == 0) {
		FUZZ_CHECK(strlen(value) <= text_len);
		if (*key &&
		    strspn(key,
			   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") ==
			key_len)
			check_round_trip(key, value);
		free(value);
	}
	free(key);
	free(text);
	return 0;
}
