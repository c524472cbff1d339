/* Unit tests of daemon/store_chunk.c and store_codec.c: rows in and out of
 * a blob exactly (nulls, bools, keys, times, tops), the quantum kept to
 * 1/rel of a column's scale, raw doubles where no decimal fits, and
 * garbage, cut and altered blobs refused without a crash. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "store_codec.h"

static void set(struct store_chunk *c, const char *name, enum store_col_type type, double v)
{
	struct store_col *col = store_chunk_col(c, name, type, NULL);

	assert_non_null(col);
	col->v[c->n - 1] = v;
}

/* A chunk like a minute of real rows: jittered times, a core that
 * appears late, a null, a bool, an element key, two top lists. */
static void fill(struct store_chunk *c, size_t n)
{
	int l = store_chunk_list(c, "proc.top_cpu", false);
	int m = store_chunk_list(c, "svc.top_mem", true);

	assert_int_equal(l, 0);
	assert_int_equal(m, 1);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(
		    store_chunk_add_row(c, 1796548000000 + (int64_t)i * 1000 + (i % 3)), 0);
		set(c, "cpu.total.user", STORE_NUM, (double)(i * 37 % 1000) / 100);
		if (i > n / 2)
			set(c, "cpu.cores[1].busy", STORE_NUM, 12.5);
		if (i != 3)
			set(c, "mem.used", STORE_NUM, 770322432.0 + 4096.0 * (double)(i * i % 97));
		set(c, "disk.disks[vda].name", STORE_KEY, 0);
		set(c, "disk.disks[vda].partition", STORE_BOOL, i % 2);
		set(c, "net.interfaces[lo].rx_bytes_per_s", STORE_NUM, 594367.08 + (double)i);
		assert_int_equal(store_chunk_add_top(c, c->n - 1, 0, 1000 + (int64_t)i % 4,
						     "stress", 99.5 - (double)i, 1048576),
				 0);
		assert_int_equal(store_chunk_add_top(c, c->n - 1, 0, 1, "init", 0.1, NAN), 0);
		assert_int_equal(
		    store_chunk_add_top(c, c->n - 1, 1, -1, "nginx.service", NAN, 5e8 + (double)i),
		    0);
	}
}

/* The chunk of tests/fixtures/history/chunk-sfc1.bin, a blob written by
 * the first format's encoder ("SFC1") at 3 digits: values that 3 digits
 * keep exactly, in every mode it had (deltas, deltas of deltas, distances
 * from the median, raw doubles, no value), nulls, a bool, a key, top
 * lists with pids and without, nulls in them. */
static void fill_old(struct store_chunk *c)
{
	uint32_t x = 13;
	double user = 40;

	assert_int_equal(store_chunk_list(c, "proc.top_cpu", false), 0);
	assert_int_equal(store_chunk_list(c, "svc.top_mem", true), 1);
	store_chunk_col(c, "gone.value", STORE_NUM, NULL); /* null in every row */
	for (int i = 0; i < 120; i++) {
		/* a gap of 30 s after row 59, a tick 1 ms late now and then */
		int64_t t = 1700000000000 + (int64_t)i * 1000 + (i >= 60) * 30000 + (i % 7 == 3);

		x = x * 1103515245 + 12345;
		assert_int_equal(store_chunk_add_row(c, t), 0);
		user += (double)((int)(x >> 16) % 31 - 15) / 10;
		user = user < 0 ? -user : user > 100 ? 200 - user : user;
		set(c, "cpu.total.user", STORE_NUM, round(user * 10) / 10);
		set(c, "mem.used", STORE_NUM, 1e9 + 2e6 * i);
		set(c, "load.load1", STORE_NUM, (double)(400 + (int)(x >> 20) % 7) / 1000);
		set(c, "x.huge", STORE_NUM, 1e300 * (1 + i / 7.0));
		if (i % 5 != 2)
			set(c, "net.interfaces[lo].rx_bytes_per_s", STORE_NUM, (double)(x >> 22));
		if (i >= 40)
			set(c, "cpu.cores[1].busy", STORE_NUM, 12.5);
		set(c, "disk.disks[vda].name", STORE_KEY, 0);
		set(c, "disk.disks[vda].partition", STORE_BOOL, i / 10 % 2);
		for (int k = 0; k < 1 + i % 5; k++)
			assert_int_equal(
			    store_chunk_add_top(c, c->n - 1, 0, 4000 + (i + k) % 9,
						k % 2 ? "stress" : "cc1",
						(double)(995 - 10 * k - i % 13) / 10,
						k == 3 ? NAN : 4096.0 * (123 + i % 4) * 100),
			    0);
		assert_int_equal(store_chunk_add_top(c, c->n - 1, 1, -1, "nginx.service", NAN,
						     4096.0 * (500 + i % 3) * 1000),
				 0);
	}
}

static void roundtrip(const struct store_chunk *c, unsigned rel, struct store_chunk *out)
{
	uint8_t *blob = NULL;
	size_t len = 0;

	assert_int_equal(store_chunk_encode(c, rel, &blob, &len), 0);
	store_chunk_init(out);
	assert_int_equal(store_chunk_decode(out, blob, len), 0);
	free(blob);
}

/* d holds c's rows: the same times, columns and values (the same
 * doubles), top lists and names; tops' numbers to their precision (0.1 %,
 * three digits of memory), or exactly when c's are exact there. */
static void assert_same(const struct store_chunk *c, const struct store_chunk *d)
{
	assert_int_equal(d->n, c->n);
	assert_int_equal(d->n_cols, c->n_cols);
	assert_int_equal(d->n_lists, c->n_lists);
	for (size_t l = 0; l < c->n_lists; l++) {
		assert_string_equal(d->lists[l].name, c->lists[l].name);
		assert_int_equal(d->lists[l].by_mem, c->lists[l].by_mem);
	}
	for (size_t r = 0; r < c->n; r++) {
		assert_int_equal(d->t[r], c->t[r]);
		for (size_t i = 0; i < c->n_cols; i++) {
			int j = store_chunk_find(d, c->cols[i].name);

			assert_true(j >= 0);
			assert_int_equal(d->cols[j].type, c->cols[i].type);
			if (isnan(c->cols[i].v[r]))
				assert_true(isnan(d->cols[j].v[r]));
			else /* the same double: 13.54 stays the double nearest 13.54 */
				assert_true(d->cols[j].v[r] == c->cols[i].v[r]);
		}
		for (size_t l = 0; l < c->n_lists; l++) {
			size_t n1, n2;
			const struct store_top *a = store_chunk_tops(c, r, l, &n1);
			const struct store_top *b = store_chunk_tops(d, r, l, &n2);

			assert_int_equal(n1, n2);
			for (size_t k = 0; k < n1; k++) {
				assert_int_equal(a[k].id, b[k].id);
				assert_string_equal(c->strs[a[k].name], d->strs[b[k].name]);
				if (isnan(a[k].cpu))
					assert_true(isnan(b[k].cpu));
				else /* tops keep CPU to 0.1 % */
					assert_true(fabs(a[k].cpu - b[k].cpu) < 0.051);
				if (isnan(a[k].mem))
					assert_true(isnan(b[k].mem));
				else /* and memory to three digits */
					assert_true(fabs(a[k].mem - b[k].mem) <= a[k].mem * 5e-3);
			}
		}
	}
}

TEST(test_exact_roundtrip)
{
	struct store_chunk c, d;

	store_chunk_init(&c);
	fill(&c, 60);
	roundtrip(&c, 0, &d);
	assert_same(&c, &d);
	assert_true(d.lists[1].by_mem);
	assert_false(d.lists[0].by_mem);
	store_chunk_done(&c);
	store_chunk_done(&d);
}

/* A blob of the first format, as files written before the second hold
 * them, still reads back: its rows, and its rows written again now. */
TEST(test_sfc1)
{
	struct store_chunk c, d, e;
	size_t len;
	char *blob = slurp("history", "chunk-sfc1.bin", &len);

	assert_memory_equal(blob, "SFC1", 4);
	store_chunk_init(&c);
	fill_old(&c);
	store_chunk_init(&d);
	assert_int_equal(store_chunk_decode(&d, (const uint8_t *)blob, len), 0);
	assert_same(&c, &d);
	/* exact tops too: fill_old's are at their precision */
	for (size_t r = 0; r < c.n; r++)
		for (size_t l = 0; l < c.n_lists; l++) {
			size_t n;
			const struct store_top *a = store_chunk_tops(&c, r, l, &n);
			const struct store_top *b = store_chunk_tops(&d, r, l, &n);

			for (size_t k = 0; k < n; k++) {
				assert_true(isnan(a[k].cpu) ? isnan(b[k].cpu)
							    : a[k].cpu == b[k].cpu);
				assert_true(isnan(a[k].mem) ? isnan(b[k].mem)
							    : a[k].mem == b[k].mem);
			}
		}
	roundtrip(&d, 1000, &e);
	assert_same(&c, &e);
	free(blob);
	store_chunk_done(&c);
	store_chunk_done(&d);
	store_chunk_done(&e);
}

TEST(test_quantum)
{
	struct store_chunk c, d;
	const char *names[] = {"a", "b", "c"};

	store_chunk_init(&c);
	for (int i = 0; i < 100; i++) {
		assert_int_equal(store_chunk_add_row(&c, i), 0);
		set(&c, names[0], STORE_NUM, 1000.0 + i * 0.01);          /* scale 1100: 1 */
		set(&c, names[1], STORE_NUM, 5e9 + 4096.0 * i * 1001);    /* scale 5.4e9: 1e6 */
		set(&c, names[2], STORE_NUM, i % 2 ? 1.0 / 3 : -2.0 / 3); /* no decimal: raw */
	}
	roundtrip(&c, 1000, &d);
	for (int i = 0; i < 100; i++) {
		double a = d.cols[store_chunk_find(&d, "a")].v[i];
		double b = d.cols[store_chunk_find(&d, "b")].v[i];
		double x = d.cols[store_chunk_find(&d, "c")].v[i];

		assert_true(fabs(a - c.cols[0].v[i]) <= 0.5);
		assert_true(a == floor(a));
		assert_true(fabs(b - c.cols[1].v[i]) <= 5e5);
		/* 1/3 to 1e-4, the power of ten under 1/1000 of 2/3 */
		assert_true(fabs(x - c.cols[2].v[i]) <= 5e-5 + 1e-12);
	}
	store_chunk_done(&d);
	/* exactly: 1/3 goes raw, bit for bit */
	roundtrip(&c, 0, &d);
	for (int i = 0; i < 100; i++)
		assert_true(d.cols[store_chunk_find(&d, "c")].v[i] == c.cols[2].v[i]);
	store_chunk_done(&c);
	store_chunk_done(&d);
}

/* A second of steady rows costs well under a byte a value: the point of
 * the format (the figures are in `make bench`). */
TEST(test_small)
{
	struct store_chunk c;
	uint8_t *blob;
	size_t len;

	store_chunk_init(&c);
	for (int i = 0; i < 3600; i++) {
		assert_int_equal(store_chunk_add_row(&c, 1796548000000 + i * 1000), 0);
		set(&c, "load.load1", STORE_NUM, 0.5 + (i / 5 % 7) * 0.01);
		set(&c, "cpu.total.steal", STORE_NUM, 0);
		set(&c, "proc.processes", STORE_NUM, 120 + i / 600);
	}
	assert_int_equal(store_chunk_encode(&c, 1000, &blob, &len), 0);
	assert_true(len < 3600 * 3 / 10);
	free(blob);
	store_chunk_done(&c);
}

static uint64_t xorshift(uint64_t *x)
{
	*x ^= *x << 13;
	*x ^= *x >> 7;
	*x ^= *x << 17;
	return *x;
}

/* The bytes of c's blob (the second format), checked to read back as c. */
static size_t through(struct store_chunk *c, unsigned rel)
{
	struct store_chunk d;
	uint8_t *blob;
	size_t len;

	assert_int_equal(store_chunk_encode(c, rel, &blob, &len), 0);
	assert_memory_equal(blob, "SFC2", 4);
	store_chunk_init(&d);
	assert_int_equal(store_chunk_decode(&d, blob, len), 0);
	assert_same(c, &d);
	free(blob);
	store_chunk_done(c);
	store_chunk_done(&d);
	return len;
}

/* A noisy column (a walk of CPU percents to 0.01 whose steps spread
 * over a few hundred hundredths) costs what its steps need: about 7.8
 * bits a value (the first format: 9.6), and a column with one value
 * costs nothing per row. */
TEST(test_noisy)
{
	struct store_chunk c;
	uint64_t x = 88172645463325252ull;
	double v = 50;

	store_chunk_init(&c);
	for (int i = 0; i < 3600; i++) {
		uint64_t y = xorshift(&x) >> 8;
		int step, ones = 0;

		/* 64 values at each of a geometric law's levels, either sign */
		for (; (y & 1) && ones < 20; y >>= 1)
			ones++;
		step = (int)((x >> 4) % 64) + 64 * ones;
		v += (x >> 63 ? -step : step) / 100.0;
		v = v < 0 ? -v : v > 99.99 ? 199.98 - v : v;
		assert_int_equal(store_chunk_add_row(&c, 1796548000000 + i * 1000), 0);
		set(&c, "cpu.total.user", STORE_NUM, round(v * 100) / 100);
		set(&c, "cpu.total.steal", STORE_NUM, 0);
		set(&c, "mem.total", STORE_NUM, 25160000000.0);
	}
	assert_true(through(&c, 1000) * 8 < 3600 * 8.1);
}

/* The bytes of a chunk of n rows of noisy walks: columns names[i] hold
 * the walk times mul[i] plus noise of spread jit[i] (a key column after
 * the first); 0 is the walk alone. */
static size_t walks(const char *const *names, const double *mul, const int *jit, size_t cols, int n)
{
	struct store_chunk c;
	uint64_t x = 88172645463325252ull;
	double v = 1e6;

	store_chunk_init(&c);
	for (int i = 0; i < n; i++) {
		v += (double)(xorshift(&x) % 20001) - 10000;
		assert_int_equal(store_chunk_add_row(&c, 1796548000000 + i * 1000), 0);
		for (size_t k = 0; k < cols; k++) {
			set(&c, names[k], STORE_NUM,
			    round(v * mul[k]) + (double)((x >> 40) % (2 * jit[k] + 1)) - jit[k]);
			set(&c, "disk.disks[vda].name", STORE_KEY, 0);
		}
	}
	return through(&c, 0);
}

/* Columns that move together (a loopback's bytes received and sent, a
 * count and another that follows it) cost about one column: each is sent
 * as its difference from the one before; one that moves otherwise costs
 * its own. */
TEST(test_pairs)
{
	static const char *const names[] = {"net.interfaces[lo].rx_bytes_per_s",
					    "net.interfaces[lo].tx_bytes_per_s", "proc.threads"};
	static const double one[] = {1}, same[] = {1, 1, 1}, other[] = {1, 1, 0.5};
	static const int none[] = {0, 0, 0}, noise[] = {0, 0, 8};
	size_t alone = walks(names, one, none, 1, 3600);

	assert_true(walks(names, same, none, 3, 3600) < alone + 100);
	assert_true(walks(names, same, noise, 3, 3600) < alone * 1.3 + 100);
	/* half of the walk moves otherwise: it costs what a walk costs */
	assert_true(walks(names, other, none, 3, 3600) > alone * 1.8);
}

/* Every cut of a blob is refused, every byte altered is refused or
 * decodes to something: never a crash (ASan runs this too). */
static void mangle(uint8_t *blob, size_t len)
{
	struct store_chunk d;

	for (size_t cut = 0; cut < len; cut++) {
		store_chunk_init(&d);
		assert_int_equal(store_chunk_decode(&d, blob, cut), -EBADMSG);
		store_chunk_done(&d);
	}
	for (size_t i = 0; i < len; i++) {
		blob[i] ^= 0x5a;
		store_chunk_init(&d);
		store_chunk_decode(&d, blob, len);
		store_chunk_done(&d);
		blob[i] ^= 0x5a;
	}
}

TEST(test_bad_blobs)
{
	struct store_chunk c, d;
	uint8_t *blob, *more, junk[64];
	char *old;
	size_t len, n;

	store_chunk_init(&c);
	fill(&c, 20);
	assert_int_equal(store_chunk_encode(&c, 1000, &blob, &len), 0);
	mangle(blob, len); /* which leaves it as it was */
	old = slurp("history", "chunk-sfc1.bin", &n);
	mangle((uint8_t *)old, n);
	free(old);
	/* a byte after the values, and a head longer than the blob */
	assert_non_null(more = malloc(len + 1));
	memcpy(more, blob, len);
	more[len] = 0;
	store_chunk_init(&d);
	assert_int_equal(store_chunk_decode(&d, more, len + 1), -EBADMSG);
	more[8] = 0xff;
	assert_int_equal(store_chunk_decode(&d, more, len), -EBADMSG);
	memset(junk, 0xff, sizeof(junk));
	assert_int_equal(store_chunk_decode(&d, junk, sizeof(junk)), -EBADMSG);
	memcpy(junk, "SFC1\xff\xff\xff\x7f", 8); /* a body of 2 GiB claimed */
	assert_int_equal(store_chunk_decode(&d, junk, sizeof(junk)), -EBADMSG);
	memcpy(junk, "SFC2\xff\xff\xff\x7f\x04\0\0\0", 12); /* and a head so */
	assert_int_equal(store_chunk_decode(&d, junk, sizeof(junk)), -EBADMSG);
	free(blob);
	free(more);
	store_chunk_done(&c);
	store_chunk_done(&d);
}

TEST(test_append_rows)
{
	struct store_chunk c, d;
	const struct store_top *e;
	uint32_t s;
	size_t n;

	store_chunk_init(&c);
	store_chunk_init(&d);
	fill(&c, 10);
	assert_int_equal(store_chunk_append_rows(&d, &c, 1, 4), 0);
	assert_int_equal(d.n, 3);
	assert_int_equal(d.t[0], c.t[1]);
	/* a column null in every row taken is not made */
	assert_int_equal(store_chunk_find(&d, "cpu.cores[1].busy"), -1);
	store_chunk_tops(&d, 2, 0, &n);
	assert_int_equal(n, 2);
	store_chunk_done(&d);
	/* into a chunk whose columns, lists and names come in another
	 * order: each value, entry and name where its name says */
	store_chunk_init(&d);
	assert_int_equal(store_chunk_list(&d, "svc.top_mem", true), 0);
	assert_int_equal(store_chunk_add_row(&d, 1), 0);
	set(&d, "mem.used", STORE_NUM, 1);
	assert_int_equal(store_chunk_intern(&d, "nginx.service", &s), 0);
	assert_int_equal(store_chunk_intern(&d, "x", &s), 0);
	assert_int_equal(store_chunk_append_rows(&d, &c, 5, 10), 0);
	assert_int_equal(d.n, 6);
	assert_true(d.cols[store_chunk_find(&d, "mem.used")].v[1] ==
		    c.cols[store_chunk_find(&c, "mem.used")].v[5]);
	assert_true(d.cols[store_chunk_find(&d, "cpu.total.user")].v[5] == c.cols[0].v[9]);
	assert_true(isnan(d.cols[store_chunk_find(&d, "cpu.total.user")].v[0]));
	e = store_chunk_tops(&d, 5, (size_t)store_chunk_list(&d, "proc.top_cpu", false), &n);
	assert_int_equal(n, 2);
	assert_string_equal(d.strs[e[0].name], "stress");
	assert_string_equal(d.strs[e[1].name], "init");
	e = store_chunk_tops(&d, 5, 0, &n);
	assert_int_equal(n, 1);
	assert_string_equal(d.strs[e[0].name], "nginx.service");
	assert_true(e[0].mem == 5e8 + 9);
	assert_int_equal(d.n_strs, 4); /* nginx.service, x, stress, init */
	store_chunk_done(&c);
	store_chunk_done(&d);
}
