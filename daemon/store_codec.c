/* The history store's chunk blobs: see store_codec.h. The blob is "SFC1",
 * the body's length (u32, little endian), then the body compressed by zlib:
 *
 *   rows, times (zigzag deltas of deltas), columns (name, type, presence,
 *   then the values as integers of a decimal quantum over their common
 *   divisor: deltas, deltas of deltas or distances from their median,
 *   whichever costs fewest bits; raw doubles XORed with the previous one
 *   when no quantum fits), top lists (store_tops.c), their names. */
#include "store_codec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "array.h"
#include "store_bytes.h"
#include "store_tops.h"

#define MAGIC       "SFC1"
#define LEVEL       6 /* zlib's: 9 costs twice the CPU for 1 % less */
#define MAX_BODY    (64u << 20)
#define MAX_ROWS    (1u << 22)
#define K_MIN       (-9)
#define K_MAX       18
#define MODE_NONE   0
#define MODE_DELTA  1
#define MODE_DOD    2
#define MODE_RAW    3
#define MODE_CENTER 4

/* --- numbers --- */

static double pow10i(int k)
{
	static const double p[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,  1e8, 1e9,
				   1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18};

	return k >= 0 ? p[k] : 1.0 / p[-k];
}

static double of_int(int64_t i, int k);

/* v as an integer count of 10^k, when that count gives v back exactly. */
static bool as_int(double v, int k, int64_t *ret)
{
	double x = k >= 0 ? v / pow10i(k) : v * pow10i(-k);

	if (!(fabs(x) < 9007199254740992.0))
		return false;
	*ret = (int64_t)nearbyint(x);
	return of_int(*ret, k) == v;
}

static double of_int(int64_t i, int k)
{
	return k >= 0 ? (double)i * pow10i(k) : (double)i / pow10i(-k);
}

static int64_t gcd64(int64_t a, int64_t b)
{
	if (a < 0)
		a = -a;
	if (b < 0)
		b = -b;
	while (b) {
		int64_t t = a % b;

		a = b;
		b = t;
	}
	return a;
}

/* The quantum's exponent for a column's present values (see
 * store_chunk_encode); false when only raw doubles will do. */
static bool pick_k(const double *v, size_t n, unsigned rel, int *ret_k)
{
	double maxabs = 0, minabs = INFINITY;
	int k_rel = K_MIN, k;

	for (size_t i = 0; i < n; i++) {
		double a = fabs(v[i]);

		if (!isfinite(v[i]))
			return false;
		if (a > maxabs)
			maxabs = a;
		if (a > 0 && a < minabs)
			minabs = a;
	}
	if (maxabs == 0) {
		*ret_k = 0;
		return true;
	}
	if (rel) {
		k_rel = (int)floor(log10(maxabs / rel));
		k_rel = k_rel < K_MIN ? K_MIN : k_rel > K_MAX ? K_MAX : k_rel;
	}
	/* the coarsest exact quantum, down to k_rel */
	k = (int)floor(log10(minabs));
	k = k > K_MAX ? K_MAX : k;
	for (; k >= k_rel; k--) {
		size_t i;
		int64_t x;

		for (i = 0; i < n && as_int(v[i], k, &x); i++)
			;
		if (i == n) {
			*ret_k = k;
			return true;
		}
	}
	if (!rel)
		return false;
	/* lossy: the values must still fit in integers of 10^k_rel */
	for (size_t i = 0; i < n; i++)
		if (!(fabs(v[i] / pow10i(k_rel)) < 9007199254740992.0))
			return false;
	*ret_k = k_rel;
	return true;
}

/* One number column's present values (vals, n of them). */
static int by_value(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Bits of a zigzag value: what a varint of it costs once zlib has seen
 * many (a cheaper guide than compressing each choice). */
static size_t bits(int64_t v)
{
	uint64_t z = zig(v);

	return z ? 64 - (size_t)__builtin_clzll(z) : 0;
}

/* One number column's present values (vals, n of them): integers of 10^k
 * over their common divisor, as deltas, deltas of deltas, or distances
 * from their median (noise about a level), whichever costs the fewest
 * bits. */
static void put_numbers(struct wbuf *b, const double *vals, size_t n, unsigned rel, int64_t *ints)
{
	int64_t g = 0, prev = 0, pd = 0, med;
	size_t cost[3] = {0, 0, 0}, mode = MODE_DELTA;
	int k;

	if (!n) {
		put_u8(b, MODE_NONE);
		return;
	}
	if (!pick_k(vals, n, rel, &k)) {
		uint64_t pb = 0;

		put_u8(b, MODE_RAW);
		for (size_t i = 0; i < n; i++) {
			uint64_t x;

			memcpy(&x, &vals[i], sizeof(x));
			put_uv(b, x ^ pb);
			pb = x;
		}
		return;
	}
	for (size_t i = 0; i < n; i++) {
		double x = k >= 0 ? vals[i] / pow10i(k) : vals[i] * pow10i(-k);

		ints[i] = (int64_t)nearbyint(x);
		g = gcd64(g, ints[i]);
	}
	if (!g)
		g = 1;
	for (size_t i = 0; i < n; i++)
		ints[i] /= g;
	/* the median, from a sorted copy in the second half of ints */
	memcpy(ints + n, ints, n * sizeof(*ints));
	qsort(ints + n, n, sizeof(*ints), by_value);
	med = ints[n + n / 2];
	for (size_t i = 0; i < n; i++) {
		int64_t d = wsub(ints[i], prev);

		cost[0] += bits(d);
		cost[1] += bits(wsub(d, pd));
		cost[2] += bits(wsub(ints[i], med));
		pd = d;
		prev = ints[i];
	}
	if (cost[1] < cost[0])
		mode = MODE_DOD;
	if (cost[2] < cost[mode == MODE_DOD ? 1 : 0])
		mode = MODE_CENTER;
	put_u8(b, (unsigned)mode);
	put_sv(b, k);
	put_uv(b, (uint64_t)g);
	if (mode == MODE_CENTER)
		put_sv(b, med);
	prev = pd = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t d = wsub(ints[i], prev);

		put_sv(b, mode == MODE_CENTER ? wsub(ints[i], med)
			  : mode == MODE_DOD  ? wsub(d, pd)
					      : d);
		pd = d;
		prev = ints[i];
	}
}

/* Reads back n present values into vals. */
static void get_numbers(struct rbuf *b, double *vals, size_t n)
{
	unsigned mode = get_u8(b);
	int64_t k, g, prev = 0, pd = 0;

	if (mode == MODE_NONE) {
		if (n)
			b->bad = true;
		return;
	}
	if (mode == MODE_RAW) {
		uint64_t pb = 0;

		for (size_t i = 0; i < n && !b->bad; i++) {
			uint64_t bits = get_uv(b) ^ pb;

			memcpy(&vals[i], &bits, sizeof(bits));
			pb = bits;
		}
		return;
	}
	k = get_sv(b);
	g = (int64_t)get_uv(b);
	if ((mode != MODE_DELTA && mode != MODE_DOD && mode != MODE_CENTER) || k < K_MIN ||
	    k > K_MAX || g <= 0) {
		b->bad = true;
		return;
	}
	if (mode == MODE_CENTER) {
		int64_t med = get_sv(b);

		for (size_t i = 0; i < n && !b->bad; i++)
			vals[i] = of_int(wmul(wadd(med, get_sv(b)), g), (int)k);
		return;
	}
	for (size_t i = 0; i < n && !b->bad; i++) {
		int64_t d = get_sv(b);

		if (mode == MODE_DOD)
			d = wadd(d, pd);
		pd = d;
		prev = wadd(prev, d);
		vals[i] = of_int(wmul(prev, g), (int)k);
	}
}

/* --- the blob --- */

static void encode_body(const struct store_chunk *c, unsigned rel, struct wbuf *b, double *vals,
			int64_t *ints)
{
	int64_t prev = 0, pd = 0;

	put_uv(b, c->n);
	for (size_t r = 0; r < c->n; r++) {
		int64_t d = wsub(c->t[r], prev);

		put_sv(b, wsub(d, pd));
		pd = d;
		prev = c->t[r];
	}
	put_uv(b, c->n_cols);
	for (size_t i = 0; i < c->n_cols; i++) {
		const struct store_col *col = &c->cols[i];
		size_t n = 0;
		bool all = true;

		put_str(b, col->name);
		put_u8(b, col->type);
		for (size_t r = 0; r < c->n; r++)
			all &= !isnan(col->v[r]);
		put_u8(b, all ? 0 : 1);
		for (size_t r = 0; !all && r < c->n; r += 8) {
			unsigned byte = 0;

			for (size_t j = 0; j < 8 && r + j < c->n; j++)
				byte |= (unsigned)!isnan(col->v[r + j]) << j;
			put_u8(b, byte);
		}
		for (size_t r = 0; r < c->n; r++)
			if (!isnan(col->v[r]))
				vals[n++] = col->v[r];
		if (col->type != STORE_KEY)
			put_numbers(b, vals, n, col->type == STORE_BOOL ? 0 : rel, ints);
	}
	put_uv(b, c->n_lists);
	for (size_t l = 0; l < c->n_lists; l++) {
		put_str(b, c->lists[l].name);
		put_u8(b, c->lists[l].by_mem);
	}
	put_uv(b, c->n_lists ? c->n_strs : 0);
	for (size_t i = 0; c->n_lists && i < c->n_strs; i++)
		put_str(b, c->strs[i]);
	for (size_t l = 0; l < c->n_lists; l++)
		store_tops_put(b, c, l);
}

int store_chunk_encode(const struct store_chunk *c, unsigned rel, uint8_t **ret, size_t *ret_len)
{
	struct wbuf b = {0};
	double *vals = malloc((c->n ? c->n : 1) * sizeof(*vals));
	int64_t *ints = malloc((c->n ? 2 * c->n : 1) * sizeof(*ints)); /* values, sorted */
	uint8_t *out = NULL;
	uLongf zlen;
	int r = -ENOMEM;

	if (!vals || !ints)
		goto out;
	encode_body(c, rel, &b, vals, ints);
	if (b.oom || b.len > MAX_BODY)
		goto out;
	zlen = compressBound((uLong)b.len);
	if (!(out = malloc(8 + zlen)))
		goto out;
	memcpy(out, MAGIC, 4);
	for (int i = 0; i < 4; i++)
		out[4 + i] = (uint8_t)(b.len >> (8 * i));
	if (compress2(out + 8, &zlen, b.p, (uLong)b.len, LEVEL) != Z_OK)
		goto out;
	*ret = out;
	*ret_len = 8 + zlen;
	out = NULL;
	r = 0;
out:
	free(out);
	free(b.p);
	free(vals);
	free(ints);
	return r;
}

/* The columns part of a body. */
static int decode_cols(struct store_chunk *c, struct rbuf *b, double *vals)
{
	size_t n_cols = get_uv(b);

	if (n_cols > STORE_MAX_COLS)
		return -EBADMSG;
	for (size_t i = 0; i < n_cols && !b->bad; i++) {
		char name[STORE_NAME_MAX];
		unsigned type, bitmap;
		struct store_col *col;
		size_t n = 0, at;

		get_str(b, name, sizeof(name));
		type = get_u8(b);
		bitmap = get_u8(b);
		if (b->bad || type > STORE_KEY || bitmap > 1 || store_chunk_find(c, name) >= 0)
			return -EBADMSG;
		if (!(col = store_chunk_col(c, name, (enum store_col_type)type, NULL)))
			return -ENOMEM;
		at = b->pos;
		if (bitmap) {
			size_t bytes = (c->n + 7) / 8;

			if (bytes > b->len - b->pos)
				return -EBADMSG;
			b->pos += bytes;
		}
		for (size_t r = 0; r < c->n; r++) {
			bool on = !bitmap || (b->p[at + r / 8] >> (r % 8) & 1);

			col->v[r] = on ? 0 : NAN;
			n += on;
		}
		if (b->bad)
			return -EBADMSG;
		if (type == STORE_KEY)
			continue;
		get_numbers(b, vals, n);
		for (size_t r = 0, j = 0; r < c->n && !b->bad; r++)
			if (!isnan(col->v[r]))
				col->v[r] = vals[j++];
	}
	return b->bad ? -EBADMSG : 0;
}

/* The top lists part of a body. */
static int decode_tops(struct store_chunk *c, struct rbuf *b)
{
	size_t n_lists = get_uv(b), n_strs;
	char name[STORE_NAME_MAX];

	if (n_lists > STORE_MAX_LISTS)
		return -EBADMSG;
	for (size_t l = 0; l < n_lists && !b->bad; l++) {
		unsigned by_mem;

		get_str(b, name, sizeof(name));
		by_mem = get_u8(b);
		if (b->bad || by_mem > 1 || store_chunk_list(c, name, by_mem) != (int)l)
			return b->bad || by_mem > 1 ? -EBADMSG : -ENOMEM;
	}
	n_strs = get_uv(b);
	if (n_strs > STORE_MAX_STRS)
		return -EBADMSG;
	for (size_t i = 0; i < n_strs && !b->bad; i++) {
		char s[1024];
		uint32_t idx;

		get_str(b, s, sizeof(s));
		if (!b->bad && (store_chunk_intern(c, s, &idx) < 0 || idx != i))
			return -EBADMSG; /* or out of memory: a repeated name */
	}
	for (size_t l = 0; l < c->n_lists && !b->bad; l++) {
		int r = store_tops_get(c, b, l);

		if (r < 0)
			return r;
	}
	return b->bad ? -EBADMSG : 0;
}

int store_chunk_decode(struct store_chunk *c, const uint8_t *blob, size_t len)
{
	struct rbuf b = {0};
	uint8_t *body = NULL;
	double *vals = NULL;
	uLongf blen;
	int64_t prev = 0, pd = 0;
	size_t n;
	int r = -EBADMSG;

	if (len < 8 || memcmp(blob, MAGIC, 4) != 0)
		return -EBADMSG;
	blen =
	    (uLongf)blob[4] | (uLongf)blob[5] << 8 | (uLongf)blob[6] << 16 | (uLongf)blob[7] << 24;
	if (blen > MAX_BODY)
		return -EBADMSG;
	if (!(body = malloc(blen ? blen : 1)))
		return -ENOMEM;
	if (uncompress(body, &blen, blob + 8, (uLong)(len - 8)) != Z_OK)
		goto out;
	b = (struct rbuf){.p = body, .len = blen};
	n = get_uv(&b);
	if (b.bad || n > MAX_ROWS || n > blen)
		goto out;
	r = -ENOMEM;
	if (!(vals = malloc((n ? n : 1) * sizeof(*vals))))
		goto out;
	for (size_t i = 0; i < n; i++) {
		int64_t d = wadd(get_sv(&b), pd);

		pd = d;
		prev = wadd(prev, d);
		if (store_chunk_add_row(c, prev) < 0)
			goto out;
	}
	r = -EBADMSG;
	if (b.bad || (r = decode_cols(c, &b, vals)) < 0 || (r = decode_tops(c, &b)) < 0)
		goto out;
	r = b.pos == b.len ? 0 : -EBADMSG;
out:
	free(body);
	free(vals);
	if (r < 0)
		store_chunk_done(c);
	return r;
}
