/* Unit tests of lib/dl.c against a real library (zlib): found under its
 * first or a later name with every symbol filled; a missing library and
 * a missing symbol refused with the reason. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dlfcn.h>
#include <string.h>

#include "dl.h"
#include "unit.h"

static const char *(*z_version)(void);
static unsigned long (*z_crc32)(unsigned long crc, const unsigned char *buf, unsigned len);

TEST(test_load)
{
	/* the first name does not exist: the second one loads */
	static const char *const names[] = {"libsysfeed-none.so.9", "libz.so.1"};
	const struct dl_sym syms[] = {{(void **)&z_version, "zlibVersion"},
				      {(void **)&z_crc32, "crc32"}};
	char err[200] = "";
	void *h = dl_load(names, 2, syms, 2, err, sizeof(err));

	assert_non_null(h);
	assert_non_null(z_version);
	assert_int_equal(z_version()[0], '1');
	assert_int_equal(z_crc32(0, (const unsigned char *)"123456789", 9), 0xcbf43926UL);
	dlclose(h);
}

TEST(test_missing_library)
{
	static const char *const names[] = {"libsysfeed-none.so.9", "libsysfeed-none.so.8"};
	const struct dl_sym syms[] = {{(void **)&z_version, "zlibVersion"}};
	char err[200] = "";

	assert_null(dl_load(names, 2, syms, 1, err, sizeof(err)));
	/* the first name's reason: the others are fallbacks */
	assert_non_null(strstr(err, "libsysfeed-none.so.9"));
}

TEST(test_missing_symbol)
{
	static const char *const names[] = {"libz.so.1"};
	void *fn = NULL;
	const struct dl_sym syms[] = {{(void **)&z_version, "zlibVersion"},
				      {&fn, "sysfeed_no_such_function"}};
	char err[200] = "";

	assert_null(dl_load(names, 1, syms, 2, err, sizeof(err)));
	assert_string_equal(err, "libz.so.1 without sysfeed_no_such_function");
}
