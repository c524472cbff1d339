/* SSE wire encoding and event ids. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "sse.h"
#include "unit.h"

static char out[4096];

static const char *enc(const char *id, const char *event, const char *data, size_t len)
{
	long n = sse_encode(out, sizeof(out), id, event, data, len);

	assert_true(n >= 0);
	assert_int_equal(strlen(out), (size_t)n);
	return out;
}

TEST(test_fields)
{
	assert_string_equal(enc("00000000000000ab-7", "cpu", "{\"a\":1}", 7),
			    "event: cpu\ndata: {\"a\":1}\nid: 00000000000000ab-7\n\n");
	assert_string_equal(enc(NULL, NULL, "x", 1), "data: x\n\n");
	assert_string_equal(enc(NULL, "hello", "", 0), "event: hello\ndata: \n\n");
}

TEST(test_multiline)
{
	assert_string_equal(enc(NULL, NULL, "a\nb", 3), "data: a\ndata: b\n\n");
	assert_string_equal(enc(NULL, NULL, "a\r\nb", 4), "data: a\ndata: b\n\n");
	assert_string_equal(enc(NULL, NULL, "a\rb", 3), "data: a\ndata: b\n\n");
	assert_string_equal(enc(NULL, NULL, "a\n\nb\n", 5), "data: a\ndata: \ndata: b\ndata: \n\n");
	/* a CR LF pair split as CR then LF is one line end, not two */
	assert_string_equal(enc(NULL, NULL, "\r\n", 2), "data: \ndata: \n\n");
}

TEST(test_nul_and_utf8)
{
	assert_string_equal(enc(NULL, NULL, "a\0b", 3), "data: a\xEF\xBF\xBD"
							"b\n\n");
	/* valid multi-byte sequences pass through unchanged */
	assert_string_equal(enc(NULL, NULL, "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80", 9),
			    "data: \xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\n\n");
	/* stray continuation, overlong, surrogate, truncated sequence */
	assert_string_equal(enc(NULL, NULL, "\x80", 1), "data: \xEF\xBF\xBD\n\n");
	assert_string_equal(enc(NULL, NULL, "\xC0\xAF", 2), "data: \xEF\xBF\xBD\xEF\xBF\xBD\n\n");
	assert_string_equal(enc(NULL, NULL, "\xED\xA0\x80", 3),
			    "data: \xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\n\n");
	/* a truncated sequence is one ill-formed run: one U+FFFD, as browsers do */
	assert_string_equal(enc(NULL, NULL, "x\xE2\x82", 3), "data: x\xEF\xBF\xBD\n\n");
	/* tabs and other controls are passed on: only CR and LF end a line */
	assert_string_equal(enc(NULL, NULL, "a\tb\x01", 4), "data: a\tb\x01\n\n");
}

/* The runs of plain bytes are looked at eight at a time: a tab, a line
 * end, a NUL, a DEL, a high byte or a valid sequence at every offset of a
 * long line comes out as the byte-wise rules say. */
TEST(test_special_byte_at_every_offset)
{
	static const struct {
		const char *in, *out;
	} cases[] = {
	    {"\t", "\t"},
	    {"\n", "\ndata: "},
	    {"\r", "\ndata: "},
	    {"\x7f", "\x7f"},
	    {"\x1f", "\x1f"},
	    {"\x80", "\xEF\xBF\xBD"},
	    {"\xC3\xA9", "\xC3\xA9"},
	    {"\xff", "\xEF\xBF\xBD"},
	};
	char data[64], want[128];

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++)
		for (size_t k = 0; k + strlen(cases[c].in) <= 40; k++) {
			size_t in = strlen(cases[c].in), rest = 40 - k - in;

			memset(data, 'a', 40);
			memcpy(data + k, cases[c].in, in);
			snprintf(want, sizeof(want), "data: %.*s%s%.*s\n\n", (int)k, data,
				 cases[c].out, (int)rest, data + k + in);
			assert_string_equal(enc(NULL, NULL, data, 40), want);
		}
	/* and a NUL: one U+FFFD */
	memset(data, ' ', 40);
	data[17] = '\0';
	snprintf(want, sizeof(want), "data: %.17s\xEF\xBF\xBD%.22s\n\n", data + 18, data + 18);
	assert_string_equal(enc(NULL, NULL, data, 40), want);
}

TEST(test_bad_fields)
{
	assert_int_equal(sse_encode(out, sizeof(out), "1\n2", "cpu", "x", 1), -EINVAL);
	assert_int_equal(sse_encode(out, sizeof(out), "1", "cp\ru", "x", 1), -EINVAL);
}

TEST(test_truncation)
{
	char small[8];
	long need = sse_encode(NULL, 0, "id", "ev", "data", 4);

	assert_int_equal(need, strlen("event: ev\ndata: data\nid: id\n\n"));
	memset(small, 'Z', sizeof(small));
	assert_int_equal(sse_encode(small, 5, "id", "ev", "data", 4), need);
	assert_memory_equal(small, "event", 5);
	assert_int_equal(small[5], 'Z'); /* nothing past size */
}

TEST(test_ids)
{
	const uint64_t inst = 0x0123456789abcdefULL;
	char id[SSE_ID_MAX];
	uint64_t seq = 0;

	assert_int_equal(sse_format_id(id, sizeof(id), inst, 42), 19);
	assert_string_equal(id, "0123456789abcdef-42");
	/* as snprintf("%016" PRIx64 "-%" PRIu64) writes them, cut short too */
	assert_int_equal(sse_format_id(id, sizeof(id), 0xa, 0), 18);
	assert_string_equal(id, "000000000000000a-0");
	assert_int_equal(sse_format_id(id, sizeof(id), UINT64_MAX, UINT64_MAX), 37);
	assert_string_equal(id, "ffffffffffffffff-18446744073709551615");
	assert_int_equal(sse_format_id(id, 5, inst, 42), 19);
	assert_string_equal(id, "0123");
	sse_format_id(id, sizeof(id), inst, 42);
	assert_int_equal(sse_parse_id(id, inst, &seq), SSE_ID_OURS);
	assert_int_equal(seq, 42);
	assert_int_equal(sse_parse_id("0123456789abcdef-0", inst, &seq), SSE_ID_OURS);
	assert_int_equal(seq, 0);
	assert_int_equal(sse_parse_id("0123456789abcdef-18446744073709551615", inst, &seq),
			 SSE_ID_OURS);
	assert_true(seq == UINT64_MAX);
	assert_int_equal(sse_parse_id("fedcba9876543210-42", inst, &seq), SSE_ID_FOREIGN);
	assert_int_equal(sse_parse_id(NULL, inst, &seq), SSE_ID_NONE);
	assert_int_equal(sse_parse_id("", inst, &seq), SSE_ID_NONE);
	/* garbage of every kind */
	const char *bad[] = {
	    "garbage",
	    "0123456789abcdef",
	    "0123456789abcdef-",
	    "0123456789ABCDEF-1",
	    "0123456789abcde-1",
	    "0123456789abcdef-1x",
	    "0123456789abcdef--1",
	    "0123456789abcdef-01",
	    "0123456789abcdef- 1",
	    "0123456789abcdef-18446744073709551616",
	    "0123456789abcdef-99999999999999999999999",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sse_parse_id(bad[i], inst, &seq), SSE_ID_INVALID);
	/* huge */
	char huge[8192];
	memset(huge, '7', sizeof(huge) - 1);
	huge[sizeof(huge) - 1] = '\0';
	memcpy(huge, "0123456789abcdef-", 17);
	assert_int_equal(sse_parse_id(huge, inst, &seq), SSE_ID_INVALID);
}
