/* Chart history rows extracted from payloads. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "unit.h"

static char *row_of(const char *payload, const char *const *paths)
{
	cJSON *p = cJSON_Parse(payload), *row;
	char *s;

	assert_non_null(p);
	row = history_row(p, paths);
	assert_non_null(row);
	s = cJSON_PrintUnformatted(row);
	cJSON_Delete(row);
	cJSON_Delete(p);
	return s;
}

TEST(test_paths)
{
	const char *payload = "{\"t\":1000,\"total\":{\"user\":1.5,\"system\":2},"
			      "\"cores\":[{\"cpu\":0,\"busy\":3},{\"cpu\":1,\"busy\":4.25}],"
			      "\"interfaces\":[{\"name\":\"eth0\",\"rx\":{\"bytes\":10}},"
			      "{\"name\":\"lo\",\"rx\":{}}],\"up\":true}";
	const char *const paths[] = {"total.user",
				     "total.system",
				     "total.none",
				     "cores[].busy",
				     "interfaces[].name",
				     "interfaces[].rx.bytes",
				     "up",
				     "total",
				     NULL};
	char *s = row_of(payload, paths);

	/* an object is no leaf: null */
	assert_string_equal(s, "[1000,1.5,2,null,[3,4.25],[\"eth0\",\"lo\"],[10,null],true,null]");
	free(s);
}

TEST(test_missing_and_odd)
{
	const char *const paths[] = {"a[].b", "a.b.c", "x[]", NULL};
	char *s = row_of("{\"a\":5,\"x\":[1,\"two\",null]}", paths);

	/* no t: null; a is no array: null; a.b.c through a number: null */
	assert_string_equal(s, "[null,null,null,[1,\"two\",null]]");
	free(s);
	const char *const none[] = {NULL};
	s = row_of("{\"t\":7}", none);
	assert_string_equal(s, "[7]");
	free(s);
}
