/* json_print against cJSON_PrintUnformatted, byte for byte, and fmt_g15 /
 * fmt_i64 against printf: numbers of every shape (random bit patterns,
 * short decimals, the edges of each fast path), every byte in strings and
 * keys (at every offset of runs longer than a word), nesting, and what
 * cJSON refuses to print; the exact text of the fast paths' cases; host
 * text checked a word at a time; rows written as text (json_buf,
 * json_head) and by reference against json_print. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "json.h"
#include "unit.h"

/* A fixed generator, so that a failure repeats. */
static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static uint64_t rng(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15u);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
	return z ^ (z >> 31);
}

static void same_text(const cJSON *item)
{
	char *want = cJSON_PrintUnformatted(item);
	size_t len = 12345;
	char *got = json_print(item, &len);

	if (!want) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	if (strcmp(want, got) != 0) {
		size_t at = 0;

		while (want[at] == got[at])
			at++;
		fail_msg("cJSON and json_print differ at byte %zu: cJSON ...%.60s, json_print "
			 "...%.60s",
			 at, want + (at > 20 ? at - 20 : 0), got + (at > 20 ? at - 20 : 0));
	}
	assert_int_equal(len, strlen(want));
	free(want);
	free(got);
}

static void same_number(double v)
{
	cJSON *n = cJSON_CreateNumber(v);

	assert_non_null(n);
	same_text(n);
	cJSON_Delete(n);
}

/* What printf writes, and that "exact" is only claimed when true. */
static void same_g15(double v)
{
	char want[64], got[FMT_NUM_MAX];
	bool exact;
	size_t n;

	if (isnan(v) || isinf(v))
		return;
	snprintf(want, sizeof(want), "%.15g", v);
	n = fmt_g15(got, v, &exact);
	if (strcmp(want, got) != 0)
		fail_msg("%%.15g of %a: printf %s, fmt_g15 %s", v, want, got);
	assert_int_equal(n, strlen(want));
	if (exact && strtod(got, NULL) != v)
		fail_msg("%s claimed exact for %a", got, v);
}

static double random_decimal(void)
{
	static const double scale[] = {1, 10, 100, 1000, 1e4, 1e5, 1e6, 1e9, 1e12};
	uint64_t digits = rng() % 16;
	uint64_t k = rng() % (uint64_t)pow(10, (double)digits);
	double v = (double)k / scale[rng() % (sizeof(scale) / sizeof(scale[0]))];

	return rng() & 1 ? -v : v;
}

TEST(test_numbers)
{
	static const double edges[] = {
	    0.0,
	    -0.0,
	    1.0,
	    -1.0,
	    0.1,
	    0.2,
	    0.1 + 0.2,
	    1.0 / 3.0,
	    2.0 / 3.0,
	    12.34,
	    99.99,
	    100.0 / 3.0,
	    1e-4,
	    9.9999999999999e-5,
	    1.00000000000001e-4,
	    1e-5,
	    1e15,
	    1e15 - 1,
	    1e15 + 1,
	    999999999999999.9,
	    99999999999999.99,
	    9007199254740992.0,
	    9007199254740993.0,
	    (double)INT_MAX,
	    (double)INT_MAX + 0.5,
	    (double)INT_MAX + 1.0,
	    (double)INT_MIN,
	    (double)INT_MIN - 1.0,
	    (double)INT_MIN - 0.5,
	    1700000000123.0,
	    1.7e12 + 0.5,
	    18446744073709551615.0,
	    1e21,
	    1e22,
	    1e300,
	    -1e300,
	    DBL_MAX,
	    -DBL_MAX,
	    DBL_MIN,
	    DBL_TRUE_MIN,
	    5e-324,
	    0.000123456789012345,
	    123456.789,
	    0.5,
	    0.25,
	    0.125,
	    1e-9,
	    123456789.123456789,
	};

	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++) {
		same_number(edges[i]);
		same_number(-edges[i]);
		same_g15(edges[i]);
		same_g15(-edges[i]);
		same_g15(nextafter(edges[i], INFINITY));
		same_g15(nextafter(edges[i], -INFINITY));
		same_number(nextafter(edges[i], INFINITY));
		same_number(nextafter(edges[i], -INFINITY));
	}
	same_number(NAN);
	same_number(INFINITY);
	same_number(-INFINITY);
	for (int i = 0; i < 200000; i++) {
		double v;
		uint64_t bits = rng();

		memcpy(&v, &bits, sizeof(v));
		same_number(v);
		same_g15(v);
		v = random_decimal();
		same_number(v);
		same_g15(v);
		/* what collectors compute: rates rounded to hundredths, ratios */
		v = floor((double)(rng() % 100000000) / 7.0 * 100.0 + 0.5) / 100.0;
		same_number(v);
		same_g15(v);
		v = (double)(rng() % 1000000) / (double)(rng() % 1000 + 1);
		same_number(v);
		same_g15(v);
		v = (double)(rng() >> (rng() % 64));
		same_number(v);
		same_g15(v);
	}
}

/* A number item whose valueint does not follow its double (direct writers
 * of valuedouble leave it so): cJSON 1.7.15 prints the double, later
 * versions "%d" of valueint only when the two agree. */
TEST(test_valueint)
{
	cJSON *n = cJSON_CreateNumber(2.5);

	n->valueint = 3;
	same_text(n);
	n->valuedouble = 3.0;
	same_text(n);
	n->valueint = -7;
	n->valuedouble = -7.0;
	same_text(n);
	cJSON_Delete(n);
}

TEST(test_i64)
{
	static const int64_t v[] = {0,
				    1,
				    -1,
				    9,
				    10,
				    -10,
				    99,
				    100,
				    INT64_MAX,
				    INT64_MIN,
				    INT64_MIN + 1,
				    1700000000000,
				    -1234567890123456789};
	char want[32], got[FMT_NUM_MAX];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		snprintf(want, sizeof(want), "%lld", (long long)v[i]);
		assert_int_equal(fmt_i64(got, v[i]), strlen(want));
		assert_string_equal(got, want);
	}
	for (int i = 0; i < 100000; i++) {
		int64_t x = (int64_t)(rng() >> (rng() % 64));

		if (rng() & 1)
			x = -x;
		snprintf(want, sizeof(want), "%lld", (long long)x);
		fmt_i64(got, x);
		assert_string_equal(got, want);
	}
}

/* json_print's text of item is want, and cJSON's too; takes item. */
static void prints_as(cJSON *item, const char *want)
{
	size_t len = 0;
	char *got = json_print(item, &len), *cjson = cJSON_PrintUnformatted(item);

	assert_non_null(got);
	assert_string_equal(got, want);
	assert_int_equal(len, strlen(want));
	assert_string_equal(cjson, want);
	free(got);
	free(cjson);
	cJSON_Delete(item);
}

/* The exact text of what the fast paths take and of their edges: whole
 * numbers (written in place below 1e15, 0 but not -0), fractions, numbers
 * past 2^53, NaN and infinities; strings in one run or broken by escapes
 * of each kind, UTF-8 and bytes that are not UTF-8 as they are; the
 * closing bracket in place of the last ','. */
TEST(test_exact_text)
{
	static const struct {
		double v;
		const char *text;
	} nums[] = {
	    {0.0, "0"},
	    {-0.0, "-0"},
	    {1, "1"},
	    {-1, "-1"},
	    {9, "9"},
	    {10, "10"},
	    {-10, "-10"},
	    {99, "99"},
	    {100, "100"},
	    {101, "101"},
	    {4294967296.0, "4294967296"},
	    {1700000000123.0, "1700000000123"},
	    {-1700000000123.0, "-1700000000123"},
	    {99999999999999.0, "99999999999999"},
	    {100000000000000.0, "100000000000000"},
	    {999999999999999.0, "999999999999999"},
	    {-999999999999999.0, "-999999999999999"},
	    {999999999999999.5, "999999999999999.5"},
	    {1e15, "1e+15"},
	    {-1e15, "-1e+15"},
	    {1e15 + 1, "1000000000000001"},
	    {1e16, "1e+16"},
	    {9007199254740992.0, "9.00719925474099e+15"},
	    {-9007199254740992.0, "-9.00719925474099e+15"},
	    {9007199254740994.0, "9007199254740994"},
	    {9223372036854775808.0, "9.2233720368547758e+18"},
	    {1e300, "1e+300"},
	    {0.5, "0.5"},
	    {-0.5, "-0.5"},
	    {2.5, "2.5"},
	    {25.43, "25.43"},
	    {0.1, "0.1"},
	    {0.1 + 0.2, "0.3"},
	    {1.0 / 3.0, "0.33333333333333331"},
	    {1e-4, "0.0001"},
	    {1e-5, "1e-05"},
	    {0.000123, "0.000123"},
	    {NAN, "null"},
	    {INFINITY, "null"},
	    {-INFINITY, "null"},
	};
	static const struct {
		const char *s, *text;
	} strs[] = {
	    {"", "\"\""},
	    {"plain", "\"plain\""},
	    {"a\"b\\c/d", "\"a\\\"b\\\\c/d\""},
	    {"\"", "\"\\\"\""},
	    {"\\\\", "\"\\\\\\\\\""},
	    {"\b\f\n\r\t", "\"\\b\\f\\n\\r\\t\""},
	    {"x\x01y\x1fz\x7f", "\"x\\u0001y\\u001fz\x7f\""},
	    {"\x0b\x0e\x10\x1a", "\"\\u000b\\u000e\\u0010\\u001a\""},
	    {"caf\xc3\xa9 \xe2\x80\xa6 \xf0\x9f\x98\x80",
	     "\"caf\xc3\xa9 \xe2\x80\xa6 \xf0\x9f\x98\x80\""},
	    {"bad \xff\xfe\xc3(\x80", "\"bad \xff\xfe\xc3(\x80\""},
	    {"end\n", "\"end\\n\""},
	    {"\nstart", "\"\\nstart\""},
	};
	cJSON *o, *arr;

	for (size_t i = 0; i < sizeof(nums) / sizeof(nums[0]); i++)
		prints_as(cJSON_CreateNumber(nums[i].v), nums[i].text);
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++)
		prints_as(cJSON_CreateString(strs[i].s), strs[i].text);
	/* the same as keys, each followed by its ':' */
	for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		char want[128];

		o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, strs[i].s, 7);
		snprintf(want, sizeof(want), "{%s:7}", strs[i].text);
		prints_as(o, want);
	}
	/* brackets: empty, one item, several, nested, as the last member */
	prints_as(cJSON_CreateObject(), "{}");
	prints_as(cJSON_CreateArray(), "[]");
	o = cJSON_CreateObject();
	cJSON_AddNumberToObject(o, "a", 1);
	prints_as(o, "{\"a\":1}");
	arr = cJSON_CreateArray();
	cJSON_AddItemToArray(arr, cJSON_CreateNumber(1));
	prints_as(arr, "[1]");
	o = cJSON_CreateObject();
	cJSON_AddItemToObject(o, "e", cJSON_CreateArray());
	cJSON_AddItemToObject(o, "o", cJSON_CreateObject());
	arr = cJSON_AddArrayToObject(o, "n");
	cJSON_AddItemToArray(arr, cJSON_CreateNumber(-2.5));
	cJSON_AddItemToArray(arr, cJSON_CreateString("s"));
	cJSON_AddItemToArray(arr, cJSON_CreateNull());
	cJSON_AddItemToArray(arr, cJSON_CreateTrue());
	cJSON_AddItemToArray(arr, cJSON_CreateFalse());
	cJSON_AddItemToArray(arr, cJSON_CreateArray());
	cJSON_AddItemToObject(o, "last", cJSON_CreateObject());
	cJSON_AddNumberToObject(cJSON_GetObjectItem(o, "last"), "z", 0);
	prints_as(o,
		  "{\"e\":[],\"o\":{},\"n\":[-2.5,\"s\",null,true,false,[]],\"last\":{\"z\":0}}");
}

/* Short strings and keys of each length (those copied without a call)
 * across the scratch buffer's first growths, from an empty buffer. */
TEST(test_string_growth)
{
	for (size_t len = 0; len <= 17; len++) {
		cJSON *arr = cJSON_CreateArray(), *o = cJSON_CreateObject();
		char s[18];

		for (int i = 0; i < 3000; i++) {
			for (size_t k = 0; k < len; k++)
				s[k] = (char)('a' + (i + k) % 26);
			s[len] = '\0';
			cJSON_AddItemToArray(arr, cJSON_CreateString(s));
			cJSON_AddItemToObject(o, s, cJSON_CreateNumber(i));
		}
		json_print_done();
		same_text(arr);
		json_print_done();
		same_text(o);
		cJSON_Delete(arr);
		cJSON_Delete(o);
	}
	json_print_done();
}

/* fmt_i64 and fmt_g15 at each count of digits: 10^k - 1, 10^k and
 * 10^k + 1, either sign, against printf; the integer path of fmt_g15 up
 * to 1e15, then its exponent. */
TEST(test_digit_counts)
{
	char want[64], got[FMT_NUM_MAX];
	int64_t p = 1; /* 10^k */

	for (int k = 0; k <= 18; k++, p *= k <= 18 ? 10 : 1) {
		const int64_t v[] = {p - 1, p, p + 1, -(p - 1), -p, -(p + 1)};

		for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
			snprintf(want, sizeof(want), "%lld", (long long)v[i]);
			assert_int_equal(fmt_i64(got, v[i]), strlen(want));
			assert_string_equal(got, want);
			same_g15((double)v[i]);
		}
	}
	fmt_i64(got, INT64_MIN);
	assert_string_equal(got, "-9223372036854775808");
	fmt_i64(got, INT64_MAX);
	assert_string_equal(got, "9223372036854775807");
	{
		bool exact;

		assert_int_equal(fmt_g15(got, 123456789012345.0, &exact), 15);
		assert_string_equal(got, "123456789012345");
		assert_true(exact);
		fmt_g15(got, 1e15, &exact);
		assert_string_equal(got, "1e+15");
		fmt_g15(got, -0.0, &exact);
		assert_string_equal(got, "-0");
	}
}

TEST(test_strings)
{
	char s[512];
	cJSON *o = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	size_t n = 0;

	/* every byte but NUL, alone and in runs */
	for (int c = 1; c < 256; c++) {
		char one[2] = {(char)c, '\0'};

		cJSON_AddItemToArray(arr, cJSON_CreateString(one));
		s[n++] = (char)c;
		s[n++] = 'a';
	}
	s[n] = '\0';
	cJSON_AddItemToArray(arr, cJSON_CreateString(s));
	cJSON_AddItemToArray(arr, cJSON_CreateString(""));
	cJSON_AddItemToArray(arr, cJSON_CreateString("\xef\xbf\xbd caf\xc3\xa9 \xe2\x80\xa6"));
	cJSON_AddItemToObject(o, "strings", arr);
	cJSON_AddStringToObject(o, "key \"quoted\"\n\x01\x1f\\/", "v");
	cJSON_AddStringToObject(o, "", "empty key");
	same_text(o);
	/* a string item without text prints "" */
	free(arr->child->valuestring);
	arr->child->valuestring = NULL;
	same_text(o);
	/* a member without a key prints "" too */
	free(o->child->next->string);
	o->child->next->string = NULL;
	same_text(o);
	cJSON_Delete(o);
}

/* Every byte (but NUL) at every offset of plain runs longer than a
 * word, in strings and keys, printed as cJSON prints them; and host text
 * (checked for UTF-8 eight bytes at a time) with a byte that is not ASCII
 * at every offset: valid UTF-8 kept as it is, an ill-formed byte
 * replaced. */
TEST(test_strings_by_words)
{
	char s[41], want[64];
	cJSON *o;

	for (int c = 1; c < 256; c++) {
		o = cJSON_CreateObject();
		for (size_t at = 0; at < sizeof(s) - 1; at++) {
			memset(s, 'a' + (int)(at % 26), sizeof(s) - 1);
			s[sizeof(s) - 1] = '\0';
			s[at] = (char)c;
			cJSON_AddItemToArray(o, cJSON_CreateString(s));
			s[at + 1] = '\0'; /* the byte last, at every length */
			cJSON_AddStringToObject(o, s, "v");
		}
		same_text(o);
		cJSON_Delete(o);
	}
	for (size_t at = 0; at < 30; at++) {
		cJSON *item;
		char *json;

		memset(s, 'x', 32);
		s[32] = '\0';
		memcpy(s + at, "\xc3\xa9", 2); /* valid: kept */
		o = cJSON_CreateObject();
		assert_int_equal(json_str(o, "k", s), 0);
		assert_string_equal(cJSON_GetObjectItem(o, "k")->valuestring, s);
		s[at] = (char)0xff; /* ill-formed: U+FFFD */
		assert_int_equal(json_str(o, "bad", s), 0);
		item = cJSON_GetObjectItem(o, "bad");
		snprintf(want, sizeof(want), "%.*s\xef\xbf\xbd%s", (int)at, s, s + at + 1);
		assert_true(strncmp(item->valuestring, want, at + 3) == 0);
		json = json_print(o, NULL);
		assert_non_null(json);
		free(json);
		cJSON_Delete(o);
	}
}

TEST(test_structure)
{
	cJSON *o = cJSON_CreateObject(), *deep = o, *raw;

	cJSON_AddItemToObject(o, "empty_object", cJSON_CreateObject());
	cJSON_AddItemToObject(o, "empty_array", cJSON_CreateArray());
	cJSON_AddNullToObject(o, "null");
	cJSON_AddTrueToObject(o, "yes");
	cJSON_AddFalseToObject(o, "no");
	cJSON_AddItemToObject(o, "raw", cJSON_CreateRaw("{\"pre\":[1,2]}"));
	for (int i = 0; i < 200; i++) {
		cJSON *next = i % 2 ? cJSON_CreateObject() : cJSON_CreateArray();

		if (cJSON_IsArray(deep))
			cJSON_AddItemToArray(deep, next);
		else
			cJSON_AddItemToObject(deep, "d", next);
		cJSON_AddItemToArray(next, cJSON_CreateNumber(i * 1.5));
		deep = next;
	}
	same_text(o);
	/* long enough to grow the buffer many times */
	for (int i = 0; i < 5000; i++)
		cJSON_AddNumberToObject(o, "n", random_decimal());
	same_text(o);
	cJSON_Delete(o);

	/* what cJSON refuses: a raw item without text, an item of no type */
	raw = cJSON_CreateRaw("1");
	free(raw->valuestring);
	raw->valuestring = NULL;
	same_text(raw);
	raw->type = cJSON_Invalid;
	same_text(raw);
	o = cJSON_CreateArray();
	cJSON_AddItemToArray(o, raw);
	same_text(o);
	cJSON_Delete(o);
	assert_null(json_print(NULL, NULL));
	/* the usual top levels */
	o = cJSON_Parse("{\"t\":1700000001000,\"load1\":0.52,\"a\":[1,-2.5e-7,3e30,\"x\"]}");
	same_text(o);
	cJSON_Delete(o);
}

/* Texts above the scratch buffer's kept size are handed over whole and the
 * next print starts a new buffer: sizes up and down, each text whole. */
TEST(test_sizes)
{
	static const size_t sizes[] = {10, 300000, 50, 70000, 65000, 200000, 0, 1 << 20, 30};

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *s = malloc(sizes[i] + 1);
		cJSON *o = cJSON_CreateObject();

		assert_non_null(s);
		for (size_t k = 0; k < sizes[i]; k++)
			s[k] = (char)('a' + (k + i) % 26);
		s[sizes[i]] = '\0';
		cJSON_AddStringToObject(o, "s", s);
		cJSON_AddNumberToObject(o, "i", (double)i);
		same_text(o);
		cJSON_Delete(o);
		free(s);
	}
	json_print_done();
}

/* json_payload_array: a payload's "t" then its rows' array, empty. */
TEST(test_payload_array)
{
	cJSON *arr = NULL, *o = json_payload_array(INT64_C(1700000000123), "disks", &arr);
	char *text;

	assert_non_null(o);
	assert_ptr_equal(cJSON_GetObjectItem(o, "disks"), arr);
	assert_true(cJSON_IsArray(arr));
	text = cJSON_PrintUnformatted(o);
	assert_string_equal(text, "{\"t\":1700000000123,\"disks\":[]}");
	free(text);
	cJSON_Delete(o);
}

/* Rows as text: json_buf_num writes what json_print writes for v (or
 * v / 100) as a number, and null below 0; json_head is the object's text
 * with ',' for its brace; json_str_ref and json_num_ref print as
 * json_str and json_num do, and keep a valid name by reference;
 * json_num_set sets such a number in place. */
TEST(test_rows)
{
	struct json_buf b = {0};
	cJSON *o = cJSON_CreateObject(), *row;
	char name[] = "nginx.service", bad[] = "caf\xe9", *head, *text;
	size_t len = 0;

	for (int i = 0; i < 100000; i++) {
		int64_t v = (int64_t)(rng() >> (1 + rng() % 63)); /* 0 .. INT64_MAX */
		bool h = i % 2;
		cJSON *n = cJSON_CreateObject();

		if (i % 7 == 0)
			v = -v - 1; /* null */
		if (v < 0)
			cJSON_AddNullToObject(n, "k");
		else
			cJSON_AddNumberToObject(n, "k", h ? (double)v / 100 : (double)v);
		text = json_print(n, NULL);
		b.len = 0;
		assert_int_equal(json_buf_put(&b, "{", 1), 0);
		assert_int_equal(json_buf_num(&b, "k", v, h, '}'), 0);
		if (h ? v < 100000000000 : v < 1000000000000000) /* where %.15g is exact */
			assert_string_equal(b.p, text);
		else if (!h) /* the integer itself, where cJSON would round it */
			assert_true(strtoll(b.p + 5, NULL, 10) == v);
		free(text);
		cJSON_Delete(n);
	}
	json_str(o, "unit", "a\"b\n");
	json_num(o, "n", 3);
	head = json_head(o, &len);
	assert_string_equal(head, "{\"unit\":\"a\\\"b\\n\",\"n\":3,");
	assert_int_equal(len, strlen(head));
	free(head);
	cJSON_Delete(o);

	o = cJSON_CreateObject();
	row = cJSON_CreateObject();
	assert_int_equal(json_str_ref(o, "unit", name), 0);
	assert_int_equal(json_str_ref(o, "bad", bad), 0);
	assert_int_equal(json_str_ref(o, "none", NULL), 0);
	assert_int_equal(json_num_ref(o, "cpu_pct", 25.43), 0);
	assert_int_equal(json_num_ref(o, "tasks", -1), 0);
	json_str(row, "unit", name);
	json_str(row, "bad", bad);
	json_str(row, "none", NULL);
	json_num(row, "cpu_pct", 25.43);
	cJSON_AddNullToObject(row, "tasks");
	text = json_print(o, NULL);
	head = json_print(row, NULL);
	assert_string_equal(text, head);
	assert_ptr_equal(cJSON_GetObjectItem(o, "unit")->valuestring, name); /* not copied */
	assert_ptr_not_equal(cJSON_GetObjectItem(o, "bad")->valuestring, bad);
	free(text);
	free(head);
	/* json_num_set: the same item a number, null, a number again, printed
	 * and found as such; a reference to the object prints it, and deleting
	 * the reference leaves it */
	json_num_set(cJSON_GetObjectItem(o, "tasks"), 7);
	json_num_set(cJSON_GetObjectItem(o, "cpu_pct"), -1);
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "tasks")) == 7);
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(o, "cpu_pct")));
	json_num_set(cJSON_GetObjectItem(o, "cpu_pct"), 1.5);
	{
		cJSON *arr = cJSON_CreateArray();

		assert_true(cJSON_AddItemToArray(arr, cJSON_CreateObjectReference(o->child)));
		text = json_print(arr, NULL);
		head = json_print(o, NULL);
		assert_true(text[0] == '[' && strncmp(text + 1, head, strlen(head)) == 0);
		assert_non_null(strstr(head, "\"none\":null,\"cpu_pct\":1.5,\"tasks\":7}"));
		free(text);
		free(head);
		cJSON_Delete(arr);
	}
	assert_true(cJSON_GetNumberValue(cJSON_GetObjectItem(o, "cpu_pct")) == 1.5);
	cJSON_Delete(o); /* frees neither name nor the constant keys */
	cJSON_Delete(row);
	json_buf_free(&b);
	assert_null(b.p);
}

/* The loop thread's pool of small cJSON blocks: what a payload frees
 * comes back for the next one, at most JSON_POOL_MAX blocks are kept,
 * larger blocks and other threads' go to malloc and free. */
TEST(test_pool)
{
	cJSON *o;
	void *big, *b;
	size_t n;
	char *text;

	json_pool_start();
	assert_int_equal(json_pool_count(), 0);
	o = json_payload(1);
	assert_non_null(o);
	assert_int_equal(json_num(o, "a", 1.5), 0);
	assert_int_equal(json_str(o, "key", "short text"), 0);
	cJSON_Delete(o);
	n = json_pool_count();
	assert_true(n >= 5); /* the object, three items, their keys, the string */
	o = cJSON_CreateObject();
	assert_int_equal(json_pool_count(), n - 1); /* taken from the pool */
	assert_int_equal(json_num(o, "b", 2), 0);
	text = json_print(o, NULL);
	assert_string_equal(text, "{\"b\":2}");
	free(text);
	cJSON_Delete(o); /* the object, the item, its key: all back */
	assert_int_equal(json_pool_count(), n);
	/* a block larger than JSON_POOL_BYTES is not kept */
	big = cJSON_malloc(JSON_POOL_BYTES * 4);
	assert_non_null(big);
	cJSON_free(big);
	assert_int_equal(json_pool_count(), n);
	/* a pooled block is a malloc'd one: free() takes it too */
	b = cJSON_malloc(8);
	assert_int_equal(json_pool_count(), n - 1);
	free(b);
	/* bounded */
	{
		void **v = calloc(JSON_POOL_MAX + 16, sizeof(*v));

		assert_non_null(v);
		for (size_t i = 0; i < JSON_POOL_MAX + 16; i++)
			assert_non_null(v[i] = cJSON_malloc(16));
		assert_int_equal(json_pool_count(), 0);
		for (size_t i = 0; i < JSON_POOL_MAX + 16; i++)
			cJSON_free(v[i]);
		assert_int_equal(json_pool_count(), JSON_POOL_MAX);
		free(v);
	}
	json_pool_done();
	assert_int_equal(json_pool_count(), 0);
	/* after it, what the hooks free goes to free() */
	o = cJSON_CreateObject();
	cJSON_Delete(o);
	assert_int_equal(json_pool_count(), 0);
	cJSON_InitHooks(NULL);
}
