/* GET /api/history's arguments (daemon/store_query.c): the input is split
 * at NUL bytes into topics, from, to, step, format, tops and events (a
 * missing one is absent), answered by a store without a directory. Checks
 * that the answer is 400 with one line of text for bad arguments, else 503
 * (history off), never anything else, and that the body is its length. */
#include "fuzz.h"

#include "store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = malloc(size + 1), *body = NULL;
	const char *arg[7] = {0}, *type;
	struct store *s = store_open(&(struct store_options){.dir = NULL});
	size_t n = 0, len = 0;
	unsigned status;

	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0'; /* the last argument's end */
	for (size_t i = 0, start = 0; i <= size && n < 7; i++)
		if (i == size || text[i] == '\0') {
			arg[n++] = text + start;
			start = i + 1;
		}
	status = store_api(
	    s, &(struct store_query){arg[0], arg[1], arg[2], arg[3], arg[4], arg[5], arg[6]},
	    1796000000000LL, &body, &len, &type);
	FUZZ_CHECK(status == 400 || status == 503);
	FUZZ_CHECK(body && strlen(body) == len && len > 0);
	FUZZ_CHECK(strchr(body, '\n') == body + len - 1);
	FUZZ_CHECK(strcmp(type, "text/plain; charset=utf-8") == 0);
	free(body);
	store_close(s);
	free(text);
	return 0;
}
