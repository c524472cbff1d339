/* JSON text and helpers: see json.h. */
#include "json.h"

#include <errno.h>
#include <float.h>
#include <malloc.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"
#include "utf8.h"

/* Above this the scratch buffer becomes the printed text (no copy) and the
 * next print starts a new one: the loop thread printing the log backlog
 * (up to log-backlog-bytes, 256 KiB) kept that much resident for good. */
#define JSON_SCRATCH_KEEP (64u << 10)

struct json_out {
	char *buf;
	size_t len, cap;
	bool failed;
};

/* Grows o to hold n more bytes and a NUL; false once anything failed. */
static bool json_grow(struct json_out *o, size_t n)
{
	size_t cap = o->cap ? o->cap : 4096;
	char *p;

	if (o->failed)
		return false;
	while (cap <= o->len + n) {
		if (cap > SIZE_MAX / 2) {
			o->failed = true;
			return false;
		}
		cap *= 2;
	}
	p = realloc(o->buf, cap);
	if (!p) {
		o->failed = true;
		return false;
	}
	o->buf = p;
	o->cap = cap;
	return true;
}

/* Whether o holds n more bytes and a NUL as it is. */
static inline bool json_room(const struct json_out *o, size_t n)
{
	return o->len + n < o->cap && !o->failed;
}

static inline bool json_reserve(struct json_out *o, size_t n)
{
	return json_room(o, n) || json_grow(o, n);
}

static inline void json_put(struct json_out *o, const char *s, size_t n)
{
	if (!json_reserve(o, n))
		return;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static inline void json_putc(struct json_out *o, char c)
{
	if (!json_reserve(o, 1))
		return;
	o->buf[o->len++] = c;
}

/* cJSON's escaping: the two-character escapes for '"', '\\', and \b \f \n
 * \r \t, "\u00xx" (lower-case hex) for other bytes below 32; every other
 * byte as it is. json_esc[c] is the letter after the backslash, 'u' for
 * \u00xx, 0 for a byte that goes as it is (NUL: 'u', to stop a run). */
static const char json_esc[256] = {
    ['\0'] = 'u', [1] = 'u',    [2] = 'u',    [3] = 'u',     [4] = 'u',    [5] = 'u',
    [6] = 'u',    [7] = 'u',    ['\b'] = 'b', ['\t'] = 't',  ['\n'] = 'n', [11] = 'u',
    ['\f'] = 'f', ['\r'] = 'r', [14] = 'u',   [15] = 'u',    [16] = 'u',   [17] = 'u',
    [18] = 'u',   [19] = 'u',   [20] = 'u',   [21] = 'u',    [22] = 'u',   [23] = 'u',
    [24] = 'u',   [25] = 'u',   [26] = 'u',   [27] = 'u',    [28] = 'u',   [29] = 'u',
    [30] = 'u',   [31] = 'u',   ['"'] = '"',  ['\\'] = '\\',
};

/* The first byte of p that json_esc stops at (NUL at the latest), four
 * tests to a step; a byte is read only once those before it are known
 * not to end the string. */
static inline const unsigned char *json_scan(const unsigned char *p)
{
	for (;; p += 4) {
		if (json_esc[p[0]])
			return p;
		if (json_esc[p[1]])
			return p + 1;
		if (json_esc[p[2]])
			return p + 2;
		if (json_esc[p[3]])
			return p + 3;
	}
}

/* n bytes from s to q, w <= n <= 2 w (w at most 8): the first w and the
 * last w, two moves that overlap. */
static inline void json_copy_ends(char *q, const unsigned char *s, size_t n, size_t w)
{
	char a[8], b[8];

	memcpy(a, s, w);
	memcpy(b, s + n - w, w);
	memcpy(q, a, w);
	memcpy(q + n - w, b, w);
}

/* n bytes from s to q, reading none past s + n: a run of up to 16 bytes
 * (most keys and values) in two overlapping moves, without a call. */
static inline void json_copy(char *q, const unsigned char *s, size_t n)
{
	if (n > 16) {
		memcpy(q, s, n);
	} else if (n >= 8) {
		json_copy_ends(q, s, n, 8);
	} else if (n >= 4) {
		json_copy_ends(q, s, n, 4);
	} else if (n) {
		q[0] = (char)s[0];
		q[n / 2] = (char)s[n / 2];
		q[n - 1] = (char)s[n - 1];
	}
}

/* json_string of a string that needs escapes: a reserve per run of plain
 * bytes, which holds the run, its opening quote and what follows it (an
 * escape, or the closing quote and after). */
static __attribute__((noinline)) void json_string_escaped(struct json_out *o,
							  const unsigned char *p, char after)
{
	static const char hex[] = "0123456789abcdef";
	size_t open = 1;

	for (;;) {
		const unsigned char *run = p;
		size_t n;
		char *q;

		p = json_scan(p);
		n = (size_t)(p - run);
		if (!json_reserve(o, open + n + 6))
			return;
		q = o->buf + o->len;
		*q = '"';
		q += open;
		open = 0;
		json_copy(q, run, n);
		q += n;
		if (!*p) {
			*q++ = '"';
			if (after)
				*q++ = after;
			o->len = (size_t)(q - o->buf);
			return;
		}
		*q++ = '\\';
		*q++ = json_esc[*p];
		if (json_esc[*p] == 'u') {
			*q++ = '0';
			*q++ = '0';
			*q++ = hex[*p >> 4];
			*q++ = hex[*p & 15];
		}
		o->len = (size_t)(q - o->buf);
		p++;
	}
}

/* Writes n plain bytes at p as a JSON string and after (when not '\0')
 * to q, which has room for n + 3 bytes; returns how many it wrote. */
static inline size_t json_quote(char *q, const unsigned char *p, size_t n, char after)
{
	q[0] = '"';
	json_copy(q + 1, p, n);
	q[n + 1] = '"';
	q[n + 2] = after;
	return n + 2 + (after != '\0');
}

/* json_string of n plain bytes at p, with a call to grow o or to
 * memcpy. */
static __attribute__((noinline)) void json_string_plain(struct json_out *o, const unsigned char *p,
							size_t n, char after)
{
	if (json_reserve(o, n + 3))
		o->len += json_quote(o->buf + o->len, p, n, after);
}

/* s as a JSON string (NULL prints as ""), then after unless it is '\0'
 * (':' after a key). Most strings, keys above all, need no escape and are
 * short: one scan, one test for room, two or four moves, and no call
 * (nor registers to save for one). */
static void json_string(struct json_out *o, const char *s, char after)
{
	const unsigned char *p = (const unsigned char *)(s ? s : ""), *end = json_scan(p);
	size_t n = (size_t)(end - p);

	if (*end)
		json_string_escaped(o, p, after);
	else if (n <= 16 && json_room(o, n + 3))
		o->len += json_quote(o->buf + o->len, p, n, after);
	else
		json_string_plain(o, p, n, after);
}

/* cJSON's rule (1.7.15): "%1.15g" when that reads back within
 * DBL_EPSILON (relative), else "%1.17g"; null for NaN and infinities.
 * Later versions print "%d" of valueint when it equals the double, which
 * is the same text but for -0, so that one is left to cJSON itself. */
static void json_number(struct json_out *o, const cJSON *item)
{
	double d = item->valuedouble, test, max;
	char num[FMT_NUM_MAX], *end, *text;
	bool exact;
	size_t n;

	/* a whole number of at most 15 digits, 0 but not -0 (most of what the
	 * collectors count, zeros above all): its digits are the text, written
	 * in place (NaN fails the first test) */
	if (d > -1e15 && d < 1e15 && d == (double)(int64_t)d && (d != 0 || !signbit(d))) {
		int64_t i = (int64_t)d;

		if (i >= 0 && i < 10) /* most of them: 0 above all */
			json_putc(o, (char)('0' + i));
		else if (json_reserve(o, FMT_NUM_MAX))
			o->len += fmt_i64(o->buf + o->len, i);
		return;
	}
	if (isnan(d) || isinf(d)) {
		json_put(o, "null", 4);
		return;
	}
	if (d == 0 && signbit(d)) {
		text = cJSON_PrintUnformatted(item);
		if (!text)
			o->failed = true;
		else
			json_put(o, text, strlen(text));
		free(text);
		return;
	}
	n = fmt_g15(num, d, &exact);
	if (!exact) {
		test = strtod(num, &end);
		max = fabs(test) > fabs(d) ? fabs(test) : fabs(d);
		if (end == num || !(fabs(test - d) <= max * DBL_EPSILON)) {
			int r = snprintf(num, sizeof(num), "%1.17g", d);

			n = r > 0 ? (size_t)r : 0;
		}
	}
	json_put(o, num, n);
}

static void json_value(struct json_out *o, const cJSON *item);

/* The items of an array or object (with their keys) between its brackets,
 * each followed by a ',', the last one's overwritten by the closing
 * bracket: one write less per item. */
static void json_items(struct json_out *o, const cJSON *c, bool keys, char open, char close)
{
	json_putc(o, open);
	for (; c && !o->failed; c = c->next) {
		if (keys)
			json_string(o, c->string, ':');
		json_value(o, c);
		json_putc(o, ',');
	}
	if (o->failed)
		return;
	if (o->buf[o->len - 1] == ',')
		o->buf[o->len - 1] = close;
	else
		json_putc(o, close);
}

static void json_value(struct json_out *o, const cJSON *item)
{
	switch (item->type & 0xFF) {
	case cJSON_NULL:
		json_put(o, "null", 4);
		break;
	case cJSON_False:
		json_put(o, "false", 5);
		break;
	case cJSON_True:
		json_put(o, "true", 4);
		break;
	case cJSON_Number:
		json_number(o, item);
		break;
	case cJSON_Raw:
		if (!item->valuestring)
			o->failed = true;
		else
			json_put(o, item->valuestring, strlen(item->valuestring));
		break;
	case cJSON_String:
		json_string(o, item->valuestring, '\0');
		break;
	case cJSON_Array:
		json_items(o, item->child, false, '[', ']');
		break;
	case cJSON_Object:
		json_items(o, item->child, true, '{', '}');
		break;
	default:
		o->failed = true;
	}
}

/* The text is built in a scratch buffer kept from one print to the next
 * (per thread), then copied out at its size: one allocation per print. */
static _Thread_local struct json_out json_scratch;

void json_print_done(void)
{
	free(json_scratch.buf);
	json_scratch = (struct json_out){0};
}

char *json_print(const cJSON *item, size_t *ret_len)
{
	struct json_out *o = &json_scratch;
	char *text = NULL;

	if (!item)
		return NULL;
	o->len = 0;
	o->failed = false;
	json_value(o, item);
	if (!o->failed && o->cap > JSON_SCRATCH_KEEP) {
		o->buf[o->len] = '\0'; /* len < cap: json_reserve */
		text = realloc(o->buf, o->len + 1);
		text = text ? text : o->buf;
		o->buf = NULL;
	} else if (!o->failed && (text = malloc(o->len + 1))) {
		memcpy(text, o->buf, o->len);
		text[o->len] = '\0';
	}
	if (text && ret_len)
		*ret_len = o->len;
	if (o->failed || o->cap > JSON_SCRATCH_KEEP) {
		free(o->buf);
		*o = (struct json_out){0};
	}
	return text;
}

/* The pool, per thread: the free blocks' addresses in an array, not a
 * list through the blocks themselves. A list made each allocation load
 * the next address from the block it takes, a block a second cold (other
 * work and other processes went through the cache meanwhile): a chain of
 * cache misses, each waiting for the one before (perf: 5.8 % of an idle
 * daemon's CPU on the one load). From the array the next address is at
 * hand, and the misses of a node's first writes overlap. */
struct json_pool {
	void **v; /* JSON_POOL_MAX of them */
	size_t n;
	bool on;
};

static _Thread_local struct json_pool json_pool;
/* malloc_usable_size of a JSON_POOL_BYTES block: only blocks of exactly
 * this size go into the pool, so any of them fits any pooled request */
static size_t json_pool_usable;

static void *json_pool_alloc(size_t size)
{
	struct json_pool *p = &json_pool;

	if (size > JSON_POOL_BYTES || !p->on)
		return malloc(size);
	if (!p->n)
		return malloc(JSON_POOL_BYTES);
	return p->v[--p->n];
}

static void json_pool_free(void *ptr)
{
	struct json_pool *p = &json_pool;

	if (!ptr || !p->on || p->n >= JSON_POOL_MAX ||
	    malloc_usable_size(ptr) != json_pool_usable) {
		free(ptr);
		return;
	}
	p->v[p->n++] = ptr;
}

void json_pool_start(void)
{
	void *probe = malloc(JSON_POOL_BYTES);

	if (!probe)
		return;
	json_pool_usable = malloc_usable_size(probe);
	free(probe);
	if (!json_pool.v && !(json_pool.v = malloc(JSON_POOL_MAX * sizeof(*json_pool.v))))
		return;
	json_pool.on = true;
	cJSON_InitHooks(&(cJSON_Hooks){.malloc_fn = json_pool_alloc, .free_fn = json_pool_free});
}

void json_pool_done(void)
{
	struct json_pool *p = &json_pool;

	while (p->n)
		free(p->v[--p->n]);
	free(p->v);
	*p = (struct json_pool){0};
}

size_t json_pool_count(void)
{
	return json_pool.n;
}

size_t json_width(unsigned char c)
{
	switch (c) {
	case '"':
	case '\\':
	case '\b':
	case '\f':
	case '\n':
	case '\r':
	case '\t':
		return 2;
	default:
		return c < 0x20 ? 6 : 1;
	}
}

/* Adds item under the constant key; takes item. */
static int json_add_cs(cJSON *o, const char *key, cJSON *item)
{
	if (!item || !cJSON_AddItemToObjectCS(o, key, item)) {
		cJSON_Delete(item);
		return -ENOMEM;
	}
	return 0;
}

int json_num(cJSON *o, const char *key, double v)
{
	return json_add_cs(o, key, cJSON_CreateNumber(v));
}

int json_num_or_null(cJSON *o, const char *key, bool have, double v)
{
	return json_add_cs(o, key, have ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}

#define JSON_HIGHS 0x8080808080808080ULL /* each byte's high bit */

/* Whether s is valid UTF-8 (it holds no NUL: it is a C string); runs of
 * ASCII eight bytes at a time. */
static bool utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, bad;

	while (i < len) {
		uint64_t w;
		size_t n;

		if (len - i >= 8 && (memcpy(&w, p + i, 8), !(w & JSON_HIGHS))) {
			i += 8; /* eight ASCII bytes */
			continue;
		}
		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if (!(n = utf8_seq(p + i, len - i, &bad)))
			return false;
		i += n;
	}
	return true;
}

/* A JSON string of host text: as it is when valid (the common case costs
 * one scan), else through the sanitiser. */
static cJSON *json_text(const char *v)
{
	size_t len = strlen(v);
	cJSON *item;
	char *clean;

	if (utf8_valid(v, len))
		return cJSON_CreateString(v);
	if (len > (SIZE_MAX - 1) / 3 || !(clean = malloc(len * 3 + 1)))
		return NULL;
	utf8_sanitize(v, len, clean);
	item = cJSON_CreateString(clean);
	free(clean);
	return item;
}

int json_str(cJSON *o, const char *key, const char *v)
{
	return json_add_cs(o, key, v ? json_text(v) : cJSON_CreateNull());
}

int json_str_dup(cJSON *o, const char *key, const char *v)
{
	cJSON *item = v ? json_text(v) : cJSON_CreateNull();

	if (!item || !cJSON_AddItemToObject(o, key, item)) {
		cJSON_Delete(item);
		return -ENOMEM;
	}
	return 0;
}

int json_array_str(cJSON *arr, const char *v)
{
	cJSON *item = v ? json_text(v) : cJSON_CreateNull();

	if (!item || !cJSON_AddItemToArray(arr, item)) {
		cJSON_Delete(item);
		return -ENOMEM;
	}
	return 0;
}

int json_str_ref(cJSON *o, const char *key, const char *v)
{
	if (!v)
		return json_add_cs(o, key, cJSON_CreateNull());
	return json_add_cs(
	    o, key, utf8_valid(v, strlen(v)) ? cJSON_CreateStringReference(v) : json_text(v));
}

int json_num_ref(cJSON *o, const char *key, double v)
{
	return json_add_cs(o, key, v < 0 ? cJSON_CreateNull() : cJSON_CreateNumber(v));
}

void json_num_set(cJSON *item, double v)
{
	item->type = (item->type & ~0xFF) | (v < 0 ? cJSON_NULL : cJSON_Number);
	if (v >= 0)
		cJSON_SetNumberHelper(item, v);
}

cJSON *json_payload(int64_t t_ms)
{
	cJSON *o = cJSON_CreateObject();

	if (o && json_num(o, "t", (double)t_ms) < 0) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

cJSON *json_payload_array(int64_t t_ms, const char *key, cJSON **ret_arr)
{
	cJSON *o = json_payload(t_ms);

	*ret_arr = o ? cJSON_AddArrayToObject(o, key) : NULL;
	if (!*ret_arr) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

int json_hand_over(cJSON *payload, int r, cJSON **ret_payload)
{
	if (r < 0) {
		cJSON_Delete(payload);
		payload = NULL;
	}
	*ret_payload = payload;
	return r;
}

int json_buf_put(struct json_buf *b, const char *text, size_t len)
{
	if (b->len + len + 1 > b->cap) {
		size_t cap = (b->len + len + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p)
			return -ENOMEM;
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, text, len);
	b->len += len;
	b->p[b->len] = '\0';
	return 0;
}

int json_buf_num(struct json_buf *b, const char *key, int64_t v, bool hundredths, char end)
{
	char buf[64 + FMT_NUM_MAX], *p = buf;
	size_t klen = strlen(key);

	if (klen > 60)
		return -EINVAL;
	*p++ = '"';
	memcpy(p, key, klen);
	p += klen;
	*p++ = '"';
	*p++ = ':';
	if (v < 0) {
		memcpy(p, "null", 4);
		p += 4;
	} else if (!hundredths) {
		p += fmt_i64(p, v);
	} else {
		p += fmt_i64(p, v / 100);
		if (v % 100) {
			*p++ = '.';
			*p++ = (char)('0' + v % 100 / 10);
			if (v % 10)
				*p++ = (char)('0' + v % 10);
		}
	}
	*p++ = end;
	return json_buf_put(b, buf, (size_t)(p - buf));
}

void json_buf_free(struct json_buf *b)
{
	free(b->p);
	*b = (struct json_buf){0};
}

char *json_head(const cJSON *o, size_t *ret_len)
{
	size_t len = 0;
	char *text = json_print(o, &len);

	if (text && len < 2) {
		free(text);
		return NULL;
	}
	if (text) {
		text[len - 1] = ','; /* the closing brace */
		*ret_len = len;
	}
	return text;
}
