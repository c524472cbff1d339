/* The history store's range coder: see store_rc.h. The encoder keeps a
 * 64-bit low end and a 32-bit range; a byte leaves when the range falls
 * under 2^24, held back while a carry may still reach it (a run of 0xff).
 * The first byte of such a stream is always 0 and is not written. */
#include "store_rc.h"

#include <string.h>

#define TOP   (1u << 24)
#define HALF  32768u
#define SLOW  255 /* bits averaged before the slow estimate moves by 1/257 */
#define FAST  4   /* the fast one moves by 1/16 */
#define CHUNK 16  /* raw bits sent at once */

/* The slow estimate's step after n bits, in 1/65536 of the distance left:
 * 2/(2n + 3), the mean of the bits so far as if a 0 and a 1 came first;
 * from n = SLOW on, 1/257. */
#define R(n)   (uint16_t)(131072u / (2u * (n) + 3))
#define R4(n)  R(n), R(n + 1), R(n + 2), R(n + 3)
#define R16(n) R4(n), R4(n + 4), R4(n + 8), R4(n + 12)
#define R64(n) R16(n), R16(n + 16), R16(n + 32), R16(n + 48)
static const uint16_t rate[SLOW + 1] = {R64(0), R64(64), R64(128), R64(192)};

unsigned rc_len(int64_t v)
{
	uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	return a ? 64 - (unsigned)__builtin_clzll(a) : 0;
}

void rc_model_init(struct rc_model *m, unsigned base)
{
	memset(m, 0, sizeof(*m)); /* every estimate 1/2 (see struct rc_bit) */
	m->base = base;
}

/* The probability of a 0, in 1/65536: never 0, never 65536 (see learn). */
static inline uint32_t prob(const struct rc_bit *b)
{
	return ((uint32_t)(b->slow ^ HALF) + (b->fast ^ HALF)) >> 1;
}

/* After a bit: each estimate moves towards it by its step (rate[], 1/16)
 * of the distance left, rounded down: neither reaches 0 or 65536. */
static inline void learn(struct rc_bit *b, unsigned bit)
{
	uint32_t slow = b->slow ^ HALF, fast = b->fast ^ HALF, n = b->n, r = rate[n];

	if (bit) {
		slow -= (slow * r) >> 16;
		fast -= fast >> FAST;
	} else {
		slow += ((65536u - slow) * r) >> 16;
		fast += (65536u - fast) >> FAST;
	}
	b->slow = (uint16_t)(slow ^ HALF);
	b->fast = (uint16_t)(fast ^ HALF);
	b->n = (uint16_t)(n + (n < SLOW));
}

/* --- encoder --- */

void rc_enc_init(struct rc_enc *e, struct wbuf *out)
{
	*e = (struct rc_enc){.out = out, .range = 0xffffffffu, .pending = 1};
}

static void shift_low(struct rc_enc *e)
{
	if ((uint32_t)e->low < 0xff000000u || (e->low >> 32)) {
		unsigned carry = (unsigned)(e->low >> 32), c = e->cache;

		for (; e->pending; e->pending--, c = 0xff)
			if (e->started)
				put_u8(e->out, c + carry);
			else
				e->started = true;
		e->cache = (uint8_t)(e->low >> 24);
	}
	e->pending++;
	e->low = (e->low & 0x00ffffffu) << 8;
}

static inline void enc_norm(struct rc_enc *e)
{
	while (e->range < TOP) {
		e->range <<= 8;
		shift_low(e);
	}
}

/* What a bit of probability q (in 1/65536) costs, in 1/256 bits: 16 less
 * log2(q), the logarithm's fraction taken as linear (within 0.09 bit). */
static uint64_t cost(uint32_t q)
{
	unsigned lg = 31 - (unsigned)__builtin_clz(q);
	uint32_t frac = ((q << (31 - lg)) >> 23) & 0xff;

	return 16 * 256 - (lg * 256 + frac);
}

static inline void put_bit(struct rc_enc *e, struct rc_bit *b, unsigned bit)
{
	uint32_t p = prob(b), bound;

	if (!e->out) {
		e->cost += cost(bit ? 65536 - p : p);
		learn(b, bit);
		return;
	}
	bound = (e->range >> 16) * p;
	if (bit) {
		e->low += bound;
		e->range -= bound;
	} else {
		e->range = bound;
	}
	learn(b, bit);
	enc_norm(e);
}

/* The n low bits of v as they are, CHUNK at a time. */
static void put_raw(struct rc_enc *e, uint64_t v, unsigned n)
{
	while (n) {
		unsigned c = n > CHUNK ? CHUNK : n;

		n -= c;
		if (!e->out) {
			e->cost += 256 * c;
			continue;
		}
		e->range >>= c;
		e->low += (uint64_t)((v >> n) & ((1u << c) - 1)) * e->range;
		enc_norm(e);
	}
}

void rc_enc_end(struct rc_enc *e)
{
	for (int i = 0; i < 5 && e->out; i++)
		shift_low(e);
}

/* The contexts of the mantissa of a bit length (2 or more), indexed by
 * the bits so far after the leading one (1, then 2 or 3, ...): below
 * 2^RC_SMALL_BITS one per prefix, above one per prefix of the top two. */
static struct rc_bit *mant_of(struct rc_model *m, unsigned len)
{
	return len <= RC_SMALL_BITS
		   ? &m->mant[((size_t)1 << (len - 1)) - 1]
		   : &m->mant[((size_t)1 << RC_SMALL_BITS) + 4 * (len - RC_SMALL_BITS - 1)];
}

void rc_put(struct rc_enc *e, struct rc_model *m, int64_t v)
{
	uint64_t a = v < 0 ? 0 - (uint64_t)v : (uint64_t)v, p = 1;
	unsigned len = rc_len(v), learnt;
	struct rc_bit *mant;

	put_bit(e, &m->eq, len != m->base);
	if (len > m->base) {
		if (m->base > 0)
			put_bit(e, &m->up_or_down, 1);
		for (unsigned j = m->base + 1; j < 64; j++) {
			put_bit(e, &m->up[j - m->base], len != j);
			if (len == j)
				break;
		}
	} else if (len < m->base) {
		if (m->base < 64)
			put_bit(e, &m->up_or_down, 0);
		for (unsigned j = m->base - 1; j > 0; j--) {
			put_bit(e, &m->down[m->base - j], len != j);
			if (len == j)
				break;
		}
	}
	if (!len)
		return;
	put_bit(e, &m->sign[len], v < 0);
	/* the len - 1 bits under the leading one */
	learnt = len <= RC_SMALL_BITS ? len - 1 : 2;
	mant = mant_of(m, len);
	for (unsigned i = 0; i < learnt; i++) {
		unsigned bit = a >> (len - 2 - i) & 1;

		put_bit(e, &mant[p], bit);
		p = 2 * p + bit;
	}
	put_raw(e, a, len - 1 - learnt);
}

/* --- decoder --- */

static inline uint8_t next_byte(struct rc_dec *d)
{
	if (d->pos < d->len)
		return d->p[d->pos++];
	d->bad = true;
	return 0;
}

void rc_dec_init(struct rc_dec *d, const uint8_t *p, size_t len)
{
	*d = (struct rc_dec){.p = p, .len = len, .range = 0xffffffffu};
	for (int i = 0; i < 4; i++)
		d->code = d->code << 8 | next_byte(d);
}

static inline void dec_norm(struct rc_dec *d)
{
	while (d->range < TOP) {
		d->range <<= 8;
		d->code = d->code << 8 | next_byte(d);
	}
}

static inline unsigned get_bit(struct rc_dec *d, struct rc_bit *b)
{
	uint32_t bound = (d->range >> 16) * prob(b);
	unsigned bit;

	if (d->code < bound) {
		d->range = bound;
		bit = 0;
	} else {
		d->code -= bound;
		d->range -= bound;
		bit = 1;
	}
	learn(b, bit);
	dec_norm(d);
	return bit;
}

static uint64_t get_raw(struct rc_dec *d, unsigned n)
{
	uint64_t v = 0;

	while (n) {
		unsigned c = n > CHUNK ? CHUNK : n;
		uint32_t x;

		n -= c;
		d->range >>= c;
		x = d->code / d->range;
		if (x >> c) { /* only in a stream no encoder wrote */
			d->bad = true;
			x = 0;
		}
		d->code -= x * d->range;
		dec_norm(d);
		v = v << c | x;
	}
	return v;
}

int64_t rc_get(struct rc_dec *dec, struct rc_model *m)
{
	struct rc_dec d = *dec; /* in registers while the value is read */
	unsigned len = m->base, learnt, neg;
	struct rc_bit *mant;
	uint64_t a = 1;

	if (get_bit(&d, &m->eq)) {
		bool up = m->base == 0 || (m->base < 64 && get_bit(&d, &m->up_or_down));

		if (up)
			for (len = m->base + 1; len < 64 && get_bit(&d, &m->up[len - m->base]);)
				len++;
		else
			for (len = m->base - 1; len > 0 && get_bit(&d, &m->down[m->base - len]);)
				len--;
	}
	if (!len) {
		*dec = d;
		return 0;
	}
	neg = get_bit(&d, &m->sign[len]);
	learnt = len <= RC_SMALL_BITS ? len - 1 : 2;
	mant = mant_of(m, len);
	for (unsigned i = 0; i < learnt; i++)
		a = 2 * a + get_bit(&d, &mant[a]);
	a = a << (len - 1 - learnt) | get_raw(&d, len - 1 - learnt);
	*dec = d;
	return neg ? (int64_t)(0 - a) : (int64_t)a;
}

bool rc_dec_done(const struct rc_dec *d)
{
	return !d->bad && d->pos == d->len;
}
