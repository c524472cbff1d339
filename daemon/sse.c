#include "sse.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "utf8.h"

static const char replacement[] = "\xEF\xBF\xBD"; /* U+FFFD */

struct out {
	char *buf;
	size_t size;
	size_t len;
};

static void out_put(struct out *o, const char *s, size_t n)
{
	if (o->len < o->size) {
		size_t room = o->size - o->len;
		memcpy(o->buf + o->len, s, n < room ? n : room);
	}
	o->len += n;
}

#define BYTES(b) (0x0101010101010101ULL * (b))

/* The length of the run of bytes 0x20..0x7f at p, looked at eight at a
 * time: the JSON of every payload is nearly all such bytes. */
static size_t plain_run(const unsigned char *p, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, p + i, sizeof(w));
		/* a byte with its top bit set, or one below 0x20 (its
		 * subtraction borrows: exact as a test of the whole word) */
		if ((w | ((w - BYTES(0x20)) & ~w)) & BYTES(0x80))
			break;
	}
	while (i < n && p[i] >= 0x20 && p[i] < 0x80)
		i++;
	return i;
}

static bool field_ok(const char *s)
{
	return strpbrk(s, "\r\n") == NULL;
}

long sse_encode(char *buf, size_t size, const char *id, const char *event, const char *data,
		size_t data_len)
{
	struct out o = {buf, size, 0};
	const unsigned char *p = (const unsigned char *)data;
	size_t i = 0, bad = 0;

	if ((id && !field_ok(id)) || (event && !field_ok(event)))
		return -EINVAL;
	if (event) {
		out_put(&o, "event: ", 7);
		out_put(&o, event, strlen(event));
		out_put(&o, "\n", 1);
	}
	out_put(&o, "data: ", 6);
	while (i < data_len) {
		size_t run = i + plain_run(p + i, data_len - i), n;

		/* the longest run of plain valid bytes goes in one copy */
		out_put(&o, data + i, run - i);
		i = run;
		if (i >= data_len)
			break;
		if (p[i] == '\r' || p[i] == '\n') {
			if (p[i] == '\r' && i + 1 < data_len && p[i + 1] == '\n')
				i++;
			i++;
			out_put(&o, "\ndata: ", 7);
		} else if ((n = utf8_seq(p + i, data_len - i, &bad)) > 0) {
			out_put(&o, data + i, n);
			i += n;
		} else {
			out_put(&o, replacement, 3); /* NUL, or an ill-formed run */
			i += bad;
		}
	}
	/* id last: clients that take the id as soon as they read it (npm
	 * eventsource 2, fetch-event-source) never skip a frame cut short */
	if (id) {
		out_put(&o, "\nid: ", 5);
		out_put(&o, id, strlen(id));
	}
	out_put(&o, "\n\n", 2);
	if (size > 0 && o.len < size)
		buf[o.len] = '\0';
	return (long)o.len;
}

/* By hand, as snprintf("%016" PRIx64 "-%" PRIu64) would: every frame
 * the hub encodes takes one (snprintf: ~1,300 instructions each, 0.8 %
 * of an idle tick's). */
int sse_format_id(char *buf, size_t size, uint64_t instance, uint64_t seq)
{
	static const char hex[] = "0123456789abcdef";
	char id[16 + 1 + 20], digits[20];
	size_t n = 0, k = 0;

	for (int shift = 60; shift >= 0; shift -= 4)
		id[n++] = hex[(instance >> shift) & 15];
	id[n++] = '-';
	do {
		digits[k++] = (char)('0' + seq % 10);
		seq /= 10;
	} while (seq);
	while (k > 0)
		id[n++] = digits[--k];
	if (size > 0) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(buf, id, c);
		buf[c] = '\0';
	}
	return (int)n;
}

enum sse_id_kind sse_parse_id(const char *s, uint64_t instance, uint64_t *ret_seq)
{
	uint64_t inst = 0, seq = 0;
	size_t i;

	if (!s || !*s)
		return SSE_ID_NONE;
	if (strnlen(s, SSE_ID_MAX + 1) > SSE_ID_MAX)
		return SSE_ID_INVALID;
	for (i = 0; i < 16; i++) {
		char c = s[i];
		unsigned v;

		if (c >= '0' && c <= '9')
			v = (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v = (unsigned)(c - 'a' + 10);
		else
			return SSE_ID_INVALID;
		inst = (inst << 4) | v;
	}
	if (s[i++] != '-' || s[i] == '\0')
		return SSE_ID_INVALID;
	if (s[i] == '0' && s[i + 1] != '\0')
		return SSE_ID_INVALID; /* no leading zeros: one spelling per id */
	for (; s[i]; i++) {
		if (s[i] < '0' || s[i] > '9')
			return SSE_ID_INVALID;
		if (seq > (UINT64_MAX - (uint64_t)(s[i] - '0')) / 10)
			return SSE_ID_INVALID;
		seq = seq * 10 + (uint64_t)(s[i] - '0');
	}
	if (inst != instance)
		return SSE_ID_FOREIGN;
	*ret_seq = seq;
	return SSE_ID_OURS;
}
