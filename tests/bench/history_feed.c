/* The history store at full speed, for tests/bench/history. Reads a
 * recording of real tier-0 rows (the CSV of /api/history) and either
 *
 *   pack CSV            prints the bytes per sample of those rows as one
 *                       chunk (an hour's chunk is made so), at 3 digits and
 *                       exactly, and of the per-minute chunks written first
 *   feed DIR CSV DAYS S [AGO]
 *                       writes DAYS days (up to now, or AGO days ago) of
 *                       ticks S seconds apart into a store
 *                       in DIR as fast as it takes them: each column
 *                       a walk whose steps are drawn from that column's
 *                       steps in the recording (so the values move as much
 *                       as the real ones, in a new order), its decimals
 *                       and range kept; five top processes of twenty by
 *                       CPU and by memory each tick. Prints the samples,
 *                       the writer's CPU time and the wall time.
 *
 *   split DIR           tier 0 of the store in DIR: its chunks' bytes, those
 *                       of their chart columns alone and of their top lists
 *                       alone, and its samples
 *
 * Output: `key value` lines. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sqlite3.h>

#include "clock.h"
#include "store_codec.h"
#include "store_impl.h"

#define MAX_COLS 512
#define MAX_ROWS 4000

struct rec_col {
	char name[STORE_NAME_MAX];
	double v[MAX_ROWS];
	double *steps;
	size_t n_steps;
	double lo, hi;
	int decimals;
};

static struct rec_col cols[MAX_COLS];
static size_t n_cols, n_rows;
static int64_t times[MAX_ROWS];

/* The decimals a CSV number is written with. */
static int decimals_of(const char *s)
{
	const char *dot = strchr(s, '.');
	int n = 0;

	if (!dot || strchr(s, 'e'))
		return 0;
	for (dot++; *dot >= '0' && *dot <= '9'; dot++)
		n++;
	return n > 6 ? 6 : n;
}

static void read_csv(const char *path)
{
	FILE *f = fopen(path, "r");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;

	if (!f) {
		perror(path);
		exit(2);
	}
	while ((len = getline(&line, &cap, f)) > 0) {
		char *save = NULL, *tok;
		size_t i = 0;

		line[strcspn(line, "\r\n")] = '\0';
		if (!n_cols && !n_rows) { /* the header: t, time, columns */
			for (tok = strtok_r(line, ",", &save); tok;
			     tok = strtok_r(NULL, ",", &save))
				if (i++ >= 2 && n_cols < MAX_COLS)
					snprintf(cols[n_cols++].name, STORE_NAME_MAX, "%s", tok);
			continue;
		}
		if (n_rows == MAX_ROWS)
			break;
		/* empty cells: strsep keeps them */
		for (char *p = line; (tok = strsep(&p, ",")); i++) {
			if (i == 0)
				times[n_rows] = strtoll(tok, NULL, 10);
			else if (i >= 2 && i - 2 < n_cols) {
				struct rec_col *c = &cols[i - 2];
				int d = decimals_of(tok);

				c->v[n_rows] = *tok ? strtod(tok, NULL) : NAN;
				if (d > c->decimals)
					c->decimals = d;
			}
		}
		n_rows++;
	}
	free(line);
	fclose(f);
	if (!n_rows || !n_cols) {
		fprintf(stderr, "%s: no rows\n", path);
		exit(2);
	}
}

static enum store_col_type type_of(const char *name)
{
	return strstr(name, ".partition") ? STORE_BOOL : STORE_NUM;
}

/* The recording as one chunk, from row a to b. */
static void chunk_of(struct store_chunk *c, size_t a, size_t b, size_t *ret_samples)
{
	store_chunk_init(c);
	*ret_samples = 0;
	for (size_t r = a; r < b; r++) {
		store_chunk_add_row(c, times[r]);
		for (size_t i = 0; i < n_cols; i++) {
			if (isnan(cols[i].v[r]))
				continue;
			store_chunk_col(c, cols[i].name, type_of(cols[i].name), NULL)->v[c->n - 1] =
			    cols[i].v[r];
			(*ret_samples)++;
		}
	}
}

static size_t encoded(const struct store_chunk *c, unsigned rel)
{
	uint8_t *blob;
	size_t len;

	if (store_chunk_encode(c, rel, &blob, &len) < 0)
		exit(3);
	free(blob);
	return len;
}

static int pack(void)
{
	struct store_chunk c;
	size_t samples, seg = 0, seg_samples = 0;

	chunk_of(&c, 0, n_rows, &samples);
	printf("rows %zu\ncolumns %zu\nsamples %zu\n", n_rows, n_cols, samples);
	printf("bytes_per_sample %.3f\n", (double)encoded(&c, 1000) / (double)samples);
	printf("bytes_per_sample_exact %.3f\n", (double)encoded(&c, 0) / (double)samples);
	store_chunk_done(&c);
	for (size_t a = 0; a < n_rows; a += 60) {
		size_t s;

		chunk_of(&c, a, a + 60 < n_rows ? a + 60 : n_rows, &s);
		seg += encoded(&c, 1000);
		seg_samples += s;
		store_chunk_done(&c);
	}
	printf("bytes_per_sample_minute_chunks %.3f\n", (double)seg / (double)seg_samples);
	return 0;
}

/* Each column's steps, range and first value. */
static void model(void)
{
	for (size_t i = 0; i < n_cols; i++) {
		struct rec_col *c = &cols[i];
		double prev = NAN;

		c->steps = calloc(n_rows, sizeof(double));
		c->lo = INFINITY;
		c->hi = -INFINITY;
		for (size_t r = 0; r < n_rows; r++) {
			double v = c->v[r];

			if (isnan(v))
				continue;
			if (!isnan(prev))
				c->steps[c->n_steps++] = v - prev;
			prev = v;
			c->lo = v < c->lo ? v : c->lo;
			c->hi = v > c->hi ? v : c->hi;
		}
	}
}

static double next_value(struct rec_col *c, double v)
{
	double p = pow(10, c->decimals);

	if (c->n_steps)
		v += c->steps[(size_t)rand() % c->n_steps];
	if (v < c->lo)
		v = c->lo + (c->lo - v);
	if (v > c->hi)
		v = c->hi - (v - c->hi);
	if (v < c->lo || v > c->hi)
		v = c->lo;
	return round(v * p) / p;
}

static int feed(const char *dir, double days, double interval_s, double ago_days)
{
	static const char *const names[] = {"postgres", "nginx",   "java",   "python3", "node",
					    "sysfeed",  "systemd", "sshd",   "cron",    "rsyslogd",
					    "dockerd",  "kworker", "gzip",   "make",    "cc1",
					    "chrome",   "redis",   "mysqld", "php-fpm", "bash"};
	double cur[MAX_COLS], pcpu[20], pmem[20];
	struct store *s;
	int64_t step = (int64_t)(interval_s * 1000);
	size_t ticks = (size_t)(days * 86400 / interval_s), samples = 0;
	/* the days up to now (or ago_days before), so that a daemon goes on
	 * from there */
	int64_t end = clock_real_ms() - (int64_t)(ago_days * 86400000);
	int64_t t0 = (end - (int64_t)ticks * step) / step * step;
	double wall = clock_s(CLOCK_MONOTONIC);

	model();
	srand(13);
	for (size_t i = 0; i < n_cols; i++) {
		cur[i] = NAN;
		for (size_t r = 0; r < n_rows && isnan(cur[i]); r++)
			cur[i] = cols[i].v[r];
	}
	for (int k = 0; k < 20; k++) {
		pcpu[k] = rand() % 500 / 10.0;
		pmem[k] = (rand() % 1000 + 1) * 1048576.0;
	}
	s = store_open(&(struct store_options){.dir = dir,
					       .max_bytes = 1ULL << 34,
					       .flush_s = 60,
					       .interval_ms = (unsigned)step,
					       .rel = 1000});
	for (size_t n = 0; n < ticks; n++) {
		struct store_rec *r = store_rec_new();
		int lc, lm, order[20];

		store_chunk_add_row(&r->row, t0 + (int64_t)n * step);
		for (size_t i = 0; i < n_cols; i++) {
			if (isnan(cur[i]))
				continue;
			cur[i] = next_value(&cols[i], cur[i]);
			store_chunk_col(&r->row, cols[i].name, type_of(cols[i].name), NULL)->v[0] =
			    cur[i];
			samples++;
		}
		/* twenty processes whose CPU and memory wander; the best five of each */
		lc = store_chunk_list(&r->row, "proc.top_cpu", false);
		lm = store_chunk_list(&r->row, "proc.top_mem", true);
		for (int k = 0; k < 20; k++) {
			pcpu[k] = fabs(pcpu[k] + (rand() % 201 - 100) / 100.0);
			pmem[k] = fabs(pmem[k] + (rand() % 2001 - 1000) * 4096.0);
			order[k] = k;
		}
		for (int pass = 0; pass < 2; pass++) {
			const double *key = pass ? pmem : pcpu;

			for (int a = 0; a < 5; a++)
				for (int b = a + 1; b < 20; b++)
					if (key[order[b]] > key[order[a]]) {
						int x = order[a];

						order[a] = order[b];
						order[b] = x;
					}
			for (int a = 0; a < 5; a++)
				store_chunk_add_top(&r->row, 0, (size_t)(pass ? lm : lc),
						    1000 + order[a], names[order[a]],
						    round(pcpu[order[a]] * 100) / 100,
						    pmem[order[a]]);
		}
		store_push_wait(s, r);
	}
	store_close(s);
	wall = clock_s(CLOCK_MONOTONIC) - wall;
	/* the process's CPU less this thread's: the writer's */
	printf("ticks %zu\nsamples %zu\nwall_seconds %.3f\nwriter_cpu_seconds %.3f\n"
	       "feeder_cpu_seconds %.3f\n",
	       ticks, samples, wall,
	       clock_s(CLOCK_PROCESS_CPUTIME_ID) - clock_s(CLOCK_THREAD_CPUTIME_ID),
	       clock_s(CLOCK_THREAD_CPUTIME_ID));
	return 0;
}

static int split(const char *dir)
{
	char path[4096], why[200];
	sqlite3 *db;
	sqlite3_stmt *st;
	size_t total = 0, chart = 0, samples = 0, rows = 0;

	snprintf(path, sizeof(path), "%s/history.db", dir);
	if (store_db_open(path, false, &db, why, sizeof(why)) < 0) {
		fprintf(stderr, "%s: %s\n", path, why);
		return 2;
	}
	sqlite3_prepare_v2(db, "SELECT data FROM chunk WHERE tier = 0", -1, &st, NULL);
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct store_chunk c;
		size_t len = (size_t)sqlite3_column_bytes(st, 0);

		store_chunk_init(&c);
		if (store_chunk_decode(&c, sqlite3_column_blob(st, 0), len) < 0)
			return 3;
		total += len;
		rows += c.n;
		for (size_t i = 0; i < c.n_cols; i++)
			for (size_t r = 0; c.cols[i].type != STORE_KEY && r < c.n; r++)
				samples += !isnan(c.cols[i].v[r]);
		c.n_lists = 0; /* the same chunk without its tops */
		chart += encoded(&c, 1000);
		store_chunk_done(&c);
	}
	sqlite3_finalize(st);
	store_db_close(db);
	printf("rows %zu\nsamples %zu\nbytes %zu\nchart_bytes %zu\ntops_bytes %zu\n", rows, samples,
	       total, chart, total - chart);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "split") == 0)
		return split(argv[2]);
	if (argc == 3 && strcmp(argv[1], "pack") == 0) {
		read_csv(argv[2]);
		return pack();
	}
	if ((argc == 6 || argc == 7) && strcmp(argv[1], "feed") == 0) {
		read_csv(argv[3]);
		return feed(argv[2], atof(argv[4]), atof(argv[5]), argc == 7 ? atof(argv[6]) : 0);
	}
	fprintf(
	    stderr,
	    "usage: history_feed pack CSV | feed DIR CSV DAYS INTERVAL_S [DAYS_AGO] | split DIR\n");
	return 2;
}
