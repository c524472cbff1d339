/* utf8_sanitize() and utf8_dup(): the one sanitiser every
 * piece of host text goes through on its way into JSON. Input: two bytes
 * of a JSON budget, then the text. Checks that the output is valid UTF-8,
 * that valid text without NUL comes out unchanged, that each invalid byte
 * run becomes one U+FFFD, and that a cut copy is a prefix of the whole one
 * within the budget, stopping only where the next character would not
 * fit. */
#include "fuzz.h"

#include "procfs.h"
#include "utf8.h"

/* The bytes a string takes in JSON, quotes aside, as cJSON escapes it. */
static size_t text_width(const char *s)
{
	cJSON *item = cJSON_CreateString(s);
	char *text = json_print(item, NULL);
	size_t n;

	FUZZ_CHECK(text);
	n = strlen(text) - 2;
	free(text);
	cJSON_Delete(item);
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	size_t max = (size_t)fuzz_byte(&in) << 8 | fuzz_byte(&in), len = in.n, n, cut_len;
	char *text = fuzz_dup(in.p ? in.p : data, len), *whole, *cut = NULL;
	bool was_cut = false;

	whole = malloc(3 * len + 1);
	FUZZ_CHECK(whole);
	n = utf8_sanitize(text, len, whole);
	FUZZ_CHECK(whole[n] == '\0' && strlen(whole) == n);
	FUZZ_CHECK(fuzz_utf8_valid(whole, n));
	if (fuzz_utf8_valid(text, len) && !memchr(text, '\0', len))
		FUZZ_CHECK(n == len && memcmp(whole, text, len) == 0);
	else
		FUZZ_CHECK(strstr(whole, "\xef\xbf\xbd"));

	FUZZ_CHECK(utf8_dup(text, len, max, &cut, &was_cut) == 0);
	cut_len = strlen(cut);
	FUZZ_CHECK(fuzz_utf8_valid(cut, cut_len));
	FUZZ_CHECK(cut_len <= n && memcmp(cut, whole, cut_len) == 0);
	FUZZ_CHECK(text_width(cut) <= max);
	FUZZ_CHECK(was_cut == (cut_len < n));
	if (was_cut) {
		/* the next character (at most 4 bytes) did not fit */
		size_t next = 1;
		char save;

		while (next < 4 && cut_len + next < n &&
		       ((unsigned char)whole[cut_len + next] & 0xc0) == 0x80)
			next++;
		save = whole[cut_len + next];
		whole[cut_len + next] = '\0';
		FUZZ_CHECK(text_width(whole) > max);
		whole[cut_len + next] = save;
	}
	free(cut);
	free(whole);
	free(text);
	return 0;
}
