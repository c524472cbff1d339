/* The history store's bytes: see store_bytes.h. */
#include "store_bytes.h"

#include <math.h>
#include <string.h>

#include "array.h"

void put(struct wbuf *b, const void *data, size_t n)
{
	if (b->oom || !n)
		return;
	if (array_reserve(&b->p, &b->cap, b->len + n, 1, 4096) < 0) {
		b->oom = true;
		return;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

void put_u8(struct wbuf *b, unsigned v)
{
	uint8_t c = (uint8_t)v;

	put(b, &c, 1);
}

void put_uv(struct wbuf *b, uint64_t v)
{
	uint8_t tmp[10];
	size_t n = 0;

	do {
		tmp[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			tmp[n] |= 0x80;
		n++;
	} while (v);
	put(b, tmp, n);
}

uint64_t zig(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzig(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

void put_sv(struct wbuf *b, int64_t v)
{
	put_uv(b, zig(v));
}

void put_str(struct wbuf *b, const char *s)
{
	size_t n = strlen(s);

	put_uv(b, n);
	put(b, s, n);
}

unsigned get_u8(struct rbuf *b)
{
	if (b->pos >= b->len) {
		b->bad = true;
		return 0;
	}
	return b->p[b->pos++];
}

uint64_t get_uv(struct rbuf *b)
{
	uint64_t v = 0;

	for (unsigned shift = 0; shift < 64; shift += 7) {
		unsigned c = get_u8(b);

		v |= (uint64_t)(c & 0x7f) << shift;
		if (!(c & 0x80))
			return v;
	}
	b->bad = true;
	return 0;
}

int64_t get_sv(struct rbuf *b)
{
	return unzig(get_uv(b));
}

void get_str(struct rbuf *b, char *out, size_t max)
{
	uint64_t n = get_uv(b);

	if (b->bad || n >= max || n > b->len - b->pos) {
		b->bad = true;
		out[0] = '\0';
		return;
	}
	memcpy(out, b->p + b->pos, n);
	out[n] = '\0';
	b->pos += n;
}

int64_t wadd(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a + (uint64_t)b);
}

int64_t wsub(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a - (uint64_t)b);
}

int64_t wmul(int64_t a, int64_t b)
{
	return (int64_t)((uint64_t)a * (uint64_t)b);
}

int64_t to_i64(double v)
{
	if (!(v > -9.2e18)) /* NAN too */
		return isnan(v) ? 0 : INT64_MIN;
	return v < 9.2e18 ? (int64_t)nearbyint(v) : INT64_MAX;
}
