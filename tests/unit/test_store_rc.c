/* Unit tests of daemon/store_rc.c: integers in and out of a range-coded
 * stream exactly (every bit length, both ends of int64, every base), the
 * stream read to its last byte, what the counting encoder says against
 * what the writing one writes, what a learnt column costs, and cut,
 * lengthened and garbage streams refused or read to nothing harmful. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "store_rc.h"
#include "unit.h"

static uint64_t rng = 88172645463325252ull;

static uint64_t next(void)
{
	rng ^= rng << 13; /* xorshift64 */
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* Values of every bit length and sign, the ends of int64 among them. */
static size_t values(int64_t *v, size_t max)
{
	size_t n = 0;

	v[n++] = 0;
	v[n++] = INT64_MIN;
	v[n++] = INT64_MAX;
	v[n++] = INT64_MIN + 1;
	for (int k = 0; k < 63 && n + 4 <= max; k++) {
		v[n++] = (int64_t)1 << k;
		v[n++] = -((int64_t)1 << k);
		v[n++] = ((int64_t)1 << k) - 1 + (k > 0 ? ((int64_t)1 << k) : 0);
		v[n++] = (int64_t)(next() >> (63 - k));
	}
	while (n < max) /* small ones, as most residuals are */
		v[n++] = (int64_t)(next() % 201) - 100;
	return n;
}

/* v written with a model of base, and read back with one. */
static void roundtrip(const int64_t *v, size_t n, unsigned base, struct wbuf *out)
{
	struct rc_model *m = malloc(sizeof(*m));
	struct rc_enc e;
	struct rc_dec d;

	assert_non_null(m);
	rc_model_init(m, base);
	rc_enc_init(&e, out);
	for (size_t i = 0; i < n; i++)
		rc_put(&e, m, v[i]);
	rc_enc_end(&e);
	assert_false(out->oom);
	rc_model_init(m, base);
	rc_dec_init(&d, out->p, out->len);
	for (size_t i = 0; i < n; i++)
		assert_true(rc_get(&d, m) == v[i]);
	assert_true(rc_dec_done(&d));
	free(m);
}

TEST(test_exact)
{
	static const unsigned bases[] = {0, 1, 2, 7, 10, 11, 12, 40, 63, 64};
	int64_t v[600];
	size_t n = values(v, 600);

	for (size_t b = 0; b < sizeof(bases) / sizeof(*bases); b++) {
		struct wbuf out = {0};

		roundtrip(v, n, bases[b], &out);
		free(out.p);
	}
	/* streams of every length up to 40 values */
	for (size_t k = 0; k <= 40; k++) {
		struct wbuf out = {0};

		roundtrip(v, k, 3, &out);
		free(out.p);
	}
}

/* The counting encoder tells what the writing one writes, within a few
 * per cent (its logarithm is approximate), and learns the same way. */
TEST(test_count)
{
	struct rc_model *m = malloc(sizeof(*m));
	struct wbuf out = {0};
	struct rc_enc e;
	int64_t v[20000];
	size_t n = values(v, 20000);
	double counted;

	assert_non_null(m);
	rc_model_init(m, 7);
	rc_enc_init(&e, NULL);
	for (size_t i = 0; i < n; i++)
		rc_put(&e, m, v[i]);
	rc_enc_end(&e);
	counted = (double)e.cost / 256 / 8;
	roundtrip(v, n, 7, &out);
	assert_true(counted > (double)out.len * 0.97 && counted < (double)out.len * 1.08);
	free(out.p);
	free(m);
}

/* A column's law is learnt: noise of a two-sided geometric law costs
 * within 2 % of its entropy; a steady column next to nothing. */
TEST(test_learns)
{
	struct wbuf out = {0}, steady = {0};
	static int64_t v[50000];
	size_t n = sizeof(v) / sizeof(*v);
	double h = 0;

	/* P(|x| = k) = 2^-(k+1) for k >= 0, the sign fair (0 twice as
	 * likely as a magnitude's either sign): H = 2 bits + 1 bit for the
	 * sign of what is not 0 (half) = 2.5 bits */
	for (size_t i = 0; i < n; i++) {
		uint64_t y = next();
		int64_t k = 0;

		while ((y & 1) && k < 60) {
			k++;
			y >>= 1;
		}
		v[i] = (y >> 32 & 1) ? -k : k;
	}
	h = 2.5 * (double)n / 8;
	roundtrip(v, n, 1, &out);
	assert_true((double)out.len < h * 1.02);
	for (size_t i = 0; i < n; i++)
		v[i] = i % 10000 == 5000; /* a blip now and then */
	roundtrip(v, n, 0, &steady);
	assert_true(steady.len < 60);
	free(out.p);
	free(steady.p);
}

TEST(test_bad_streams)
{
	struct rc_model *m = malloc(sizeof(*m));
	struct wbuf out = {0};
	struct rc_dec d;
	int64_t v[300];
	size_t n = values(v, 300);
	uint8_t *junk;

	assert_non_null(m);
	roundtrip(v, n, 5, &out);
	/* cut: a byte missing is seen */
	for (size_t cut = 0; cut < out.len; cut++) {
		rc_model_init(m, 5);
		rc_dec_init(&d, out.p, cut);
		for (size_t i = 0; i < n; i++)
			rc_get(&d, m);
		assert_false(rc_dec_done(&d));
	}
	/* a byte too many is seen */
	assert_non_null(junk = malloc(out.len + 1));
	memcpy(junk, out.p, out.len);
	junk[out.len] = 0;
	rc_model_init(m, 5);
	rc_dec_init(&d, junk, out.len + 1);
	for (size_t i = 0; i < n; i++)
		rc_get(&d, m);
	assert_false(rc_dec_done(&d));
	/* garbage of every base reads to values, or stops being read: no
	 * crash, nothing out of bounds (ASan runs this too) */
	for (unsigned base = 0; base <= 64; base++) {
		for (size_t i = 0; i <= out.len; i++)
			junk[i] = (uint8_t)next();
		rc_model_init(m, base);
		rc_dec_init(&d, junk, out.len + 1);
		for (size_t i = 0; i < 10000 && !d.bad; i++)
			rc_get(&d, m);
	}
	free(junk);
	free(out.p);
	free(m);
}
