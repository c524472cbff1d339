/* The history store's chunk blobs: see store_codec.h. The blob is "SFC1", the body's length (u32,
 * little endian), then the body compressed by zlib:
 *
 *   rows, times (zigzag deltas of deltas), columns (name, type, presence,
 *   then the values as integers of a decimal quantum, divided by their
 *   common divisor, as zigzag deltas or deltas of deltas, whichever is
 *   shorter; raw doubles XORed with the previous one when no quantum
 *   fits), top lists, their names, and each row's entries. */
#include "store_codec.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "array.h"

#define MAGIC      "SFC1"
#define LEVEL      6 /* zlib's: 9 costs twice the CPU for 1 % less */
#define MAX_BODY   (64u << 20)
#define MAX_ROWS   (1u << 22)
#define K_MIN      (-9)
#define K_MAX      18
#define MODE_NONE  0
#define MODE_DELTA 1
#define MODE_DOD   2
#define MODE_RAW   3
#define TOP_NO_ID  1
#define TOP_NO_CPU 2
#define TOP_NO_MEM 4

/* --- bytes --- */

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom;
};

static void put(struct wbuf *b, const void *data, size_t n)
{
	if (b->oom)
		return;
	if (array_reserve(&b->p, &b->cap, b->len + n, 1, 4096) < 0) {
		b->oom = true;
		return;
	}
	memcpy(b->p + b->len, data, n);
	b->len += n;
}

static void put_u8(struct wbuf *b, unsigned v)
{
	uint8_t c = (uint8_t)v;

	put(b, &c, 1);
}

static void put_uv(struct wbuf *b, uint64_t v)
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

static uint64_t zig(int64_t v)
{
	return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}

static int64_t unzig(uint64_t v)
{
	return (int64_t)(v >> 1) ^ -(int64_t)(v & 1);
}

static void put_sv(struct wbuf *b, int64_t v)
{
	put_uv(b, zig(v));
}

static void put_str(struct wbuf *b, const char *s)
{
	size_t n = strlen(s);

	put_uv(b, n);
	put(b, s, n);
}

static size_t uv_len(uint64_t v)
{
	size_t n = 1;

	while (v >>= 7)
		n++;
	return n;
}

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
	bool bad;
};

static unsigned get_u8(struct rbuf *b)
{
	if (b->pos >= b->len) {
		b->bad = true;
		return 0;
	}
	return b->p[b->pos++];
}

static uint64_t get_uv(struct rbuf *b)
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

static int64_t get_sv(struct rbuf *b)
{
	return unzig(get_uv(b));
}

/* A string of at most max-1 bytes into out. */
static void get_str(struct rbuf *b, char *out, size_t max)
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
static void put_numbers(struct wbuf *b, const double *vals, size_t n, unsigned rel, int64_t *ints)
{
	int64_t g = 0, prev = 0, pd = 0;
	size_t len_d = 0, len_dod = 0;
	int k;

	if (!n) {
		put_u8(b, MODE_NONE);
		return;
	}
	if (!pick_k(vals, n, rel, &k)) {
		uint64_t pb = 0;

		put_u8(b, MODE_RAW);
		for (size_t i = 0; i < n; i++) {
			uint64_t bits;

			memcpy(&bits, &vals[i], sizeof(bits));
			put_uv(b, bits ^ pb);
			pb = bits;
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
	for (size_t i = 0; i < n; i++) {
		int64_t x = ints[i] / g, d = x - prev;

		ints[i] = x;
		len_d += uv_len(zig(d));
		len_dod += uv_len(zig(d - pd));
		pd = d;
		prev = x;
	}
	put_u8(b, len_dod < len_d ? MODE_DOD : MODE_DELTA);
	put_sv(b, k);
	put_uv(b, (uint64_t)g);
	prev = pd = 0;
	for (size_t i = 0; i < n; i++) {
		int64_t d = ints[i] - prev;

		put_sv(b, len_dod < len_d ? d - pd : d);
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
	if ((mode != MODE_DELTA && mode != MODE_DOD) || k < K_MIN || k > K_MAX || g <= 0) {
		b->bad = true;
		return;
	}
	for (size_t i = 0; i < n && !b->bad; i++) {
		int64_t d = get_sv(b);

		if (mode == MODE_DOD)
			d += pd;
		pd = d;
		prev += d;
		vals[i] = of_int(prev * g, (int)k);
	}
}

/* Tops' memory in pages of 4 KiB, to three significant digits. */
static int64_t mem_pages(double mem)
{
	int64_t p = (int64_t)nearbyint(mem / 4096), unit = 1;

	while (p / unit >= 1000)
		unit *= 10;
	return (p + unit / 2) / unit * unit;
}

/* One top list's entity: a process or service as it recurs in the rows. */
struct entity {
	int64_t id;
	uint32_t name;
	int64_t cpu, mem; /* the last values written: the next is a delta */
};

/* The entity of (id, name) among n; n when new. */
static size_t entity_of(const struct entity *e, size_t n, int64_t id, uint32_t name)
{
	size_t i;

	for (i = n; i-- > 0;)
		if (e[i].id == id && e[i].name == name)
			return i;
	return n;
}

static void put_stream(struct wbuf *b, struct wbuf *s)
{
	put_uv(b, s->len);
	put(b, s->p, s->len);
	b->oom |= s->oom;
	free(s->p);
	*s = (struct wbuf){0};
}

/* One list's rows as streams (zlib finds more in each alone): the entities
 * of each row, the new entities, nulls, CPU deltas, memory deltas; each a
 * delta from the same entity's last value. */
static void put_list(struct wbuf *b, const struct store_chunk *c, size_t l)
{
	struct wbuf sidx = {0}, snew = {0}, snull = {0}, scpu = {0}, smem = {0};
	struct entity *ent = NULL;
	size_t n_ent = 0, cap = 0;
	int64_t last_id = 0;

	for (size_t r = 0; r < c->n; r++) {
		size_t n;
		const struct store_top *e = store_chunk_tops(c, r, l, &n);

		put_u8(&sidx, (unsigned)n);
		for (size_t k = 0; k < n; k++) {
			size_t i = entity_of(ent, n_ent, e[k].id, e[k].name);
			unsigned nulls =
			    (isnan(e[k].cpu) ? TOP_NO_CPU : 0) | (isnan(e[k].mem) ? TOP_NO_MEM : 0);

			put_uv(&sidx, i);
			if (i == n_ent) {
				if (array_reserve(&ent, &cap, n_ent + 1, sizeof(*ent), 16) < 0) {
					b->oom = true;
					goto out;
				}
				ent[n_ent++] = (struct entity){.id = e[k].id, .name = e[k].name};
				put_u8(&snew, e[k].id < 0 ? TOP_NO_ID : 0);
				if (e[k].id >= 0) {
					put_sv(&snew, e[k].id - last_id);
					last_id = e[k].id;
				}
				put_uv(&snew, e[k].name);
			}
			put_u8(&snull, nulls);
			if (!(nulls & TOP_NO_CPU)) {
				int64_t v = (int64_t)nearbyint(e[k].cpu * 10);

				put_sv(&scpu, v - ent[i].cpu);
				ent[i].cpu = v;
			}
			if (!(nulls & TOP_NO_MEM)) {
				int64_t v = mem_pages(e[k].mem);

				put_sv(&smem, v - ent[i].mem);
				ent[i].mem = v;
			}
		}
	}
out:
	put_stream(b, &sidx);
	put_stream(b, &snew);
	put_stream(b, &snull);
	put_stream(b, &scpu);
	put_stream(b, &smem);
	free(ent);
}

/* --- the blob --- */

static void encode_body(const struct store_chunk *c, unsigned rel, struct wbuf *b, double *vals,
			int64_t *ints)
{
	int64_t prev = 0, pd = 0;

	put_uv(b, c->n);
	for (size_t r = 0; r < c->n; r++) {
		int64_t d = c->t[r] - prev;

		put_sv(b, d - pd);
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
		put_list(b, c, l);
}

int store_chunk_encode(const struct store_chunk *c, unsigned rel, uint8_t **ret, size_t *ret_len)
{
	struct wbuf b = {0};
	double *vals = malloc((c->n ? c->n : 1) * sizeof(*vals));
	int64_t *ints = malloc((c->n ? c->n : 1) * sizeof(*ints));
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

/* A stream of a list (see put_list): a view of its bytes. */
static struct rbuf get_stream(struct rbuf *b)
{
	uint64_t n = get_uv(b);
	struct rbuf s = {0};

	if (b->bad || n > b->len - b->pos) {
		b->bad = true;
		return (struct rbuf){.bad = true};
	}
	s = (struct rbuf){.p = b->p + b->pos, .len = n};
	b->pos += n;
	return s;
}

/* One list's rows back (see put_list). */
static int get_list(struct store_chunk *c, struct rbuf *b, size_t l)
{
	struct rbuf sidx = get_stream(b), snew = get_stream(b), snull = get_stream(b),
		    scpu = get_stream(b), smem = get_stream(b);
	struct entity *ent = NULL;
	size_t n_ent = 0, cap = 0;
	int64_t last_id = 0;
	int r = 0;

	for (size_t row = 0; row < c->n && r == 0 && !b->bad; row++) {
		size_t n = get_u8(&sidx);

		if (n > STORE_TOP_N)
			r = -EBADMSG;
		for (size_t k = 0; k < n && r == 0; k++) {
			uint64_t i = get_uv(&sidx);
			unsigned nulls = get_u8(&snull);
			double cpu = NAN, mem = NAN;

			if (i == n_ent) {
				unsigned flags = get_u8(&snew);
				int64_t id = -1;
				uint64_t name;

				if (!(flags & TOP_NO_ID))
					id = last_id += get_sv(&snew);
				name = get_uv(&snew);
				if (flags & ~TOP_NO_ID || name >= c->n_strs ||
				    array_reserve(&ent, &cap, n_ent + 1, sizeof(*ent), 16) < 0) {
					r = -EBADMSG;
					break;
				}
				ent[n_ent++] = (struct entity){.id = id, .name = (uint32_t)name};
			}
			if (i >= n_ent || nulls & ~(unsigned)(TOP_NO_CPU | TOP_NO_MEM)) {
				r = -EBADMSG;
				break;
			}
			if (!(nulls & TOP_NO_CPU))
				cpu = (double)(ent[i].cpu += get_sv(&scpu)) / 10;
			if (!(nulls & TOP_NO_MEM))
				mem = (double)(ent[i].mem += get_sv(&smem)) * 4096;
			if (store_chunk_add_top(c, row, l, ent[i].id, c->strs[ent[i].name], cpu,
						mem) < 0)
				r = -ENOMEM;
		}
	}
	if (r == 0 && (sidx.bad || snew.bad || snull.bad || scpu.bad || smem.bad ||
		       sidx.pos != sidx.len || snew.pos != snew.len || snull.pos != snull.len ||
		       scpu.pos != scpu.len || smem.pos != smem.len))
		r = -EBADMSG;
	free(ent);
	return r;
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
		int r = get_list(c, b, l);

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
		int64_t d = get_sv(&b) + pd;

		pd = d;
		prev += d;
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
