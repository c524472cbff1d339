/* json_print(), the daemon's JSON writer, against cJSON's own printer:
 * any tree cJSON parses (the input as JSON), and numbers from raw bytes
 * (every double, NaN and infinities included) and strings of any bytes,
 * must print to the same text as cJSON_PrintUnformatted(). */
#include "fuzz.h"

#include <math.h>

static void check_same_text(cJSON *tree)
{
	char *a = json_print(tree, NULL), *b = cJSON_PrintUnformatted(tree);

	FUZZ_CHECK(a && b && strcmp(a, b) == 0);
	free(a);
	free(b);
	cJSON_Delete(tree);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	cJSON *tree = cJSON_ParseWithLength((const char *)data, size), *arr;
	char *s;

	if (tree)
		check_same_text(tree);

	/* numbers of every bit pattern, and the input as a string */
	arr = cJSON_CreateArray();
	FUZZ_CHECK(arr);
	for (size_t i = 0; i + 8 <= size; i += 8) {
		double d;

		memcpy(&d, data + i, 8);
		cJSON_AddItemToArray(arr, cJSON_CreateNumber(d));
		cJSON_AddItemToArray(arr, cJSON_CreateNumber(round(d)));
		cJSON_AddItemToArray(arr, cJSON_CreateNumber(round(d * 100) / 100));
	}
	s = fuzz_str(data, size);
	cJSON_AddItemToArray(arr, cJSON_CreateString(s));
	free(s);
	check_same_text(arr);
	return 0;
}
