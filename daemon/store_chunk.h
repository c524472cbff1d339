/* The history store's rows in RAM, column by column: every topic's chart
 * columns and the top processes and services of each row (see
 * store_codec.h for their form on disk). Pure: no I/O, no log. */
#ifndef SYSFEED_STORE_CHUNK_H
#define SYSFEED_STORE_CHUNK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STORE_TOP_N     5                    /* entries kept per top list and row */
#define STORE_MAX_LISTS 8                    /* top lists in a chunk */
#define STORE_NAME_MAX  96                   /* a column name, with its NUL */
#define STORE_BASE_MAX  (STORE_NAME_MAX - 4) /* the same, before ":min" */
#define STORE_MAX_COLS  4096
#define STORE_MAX_STRS  65536 /* names in a chunk's tops */

enum store_col_type {
	STORE_NUM,  /* a number; null where absent */
	STORE_BOOL, /* 0 or 1 */
	STORE_KEY,  /* no value: marks the rows where an array element (named by
		     * its string field, e.g. "disks[].name") was present */
};

/* One column: "topic.path" with array elements as "[key]" ("cpu.total.user",
 * "cpu.cores[0].busy", "disk.disks[vda].read_bytes_per_s"); consolidated
 * tiers add "NAME:min" and "NAME:max"; "#n" counts the rows behind a row. */
struct store_col {
	char name[STORE_NAME_MAX];
	uint32_t hash; /* of the name, set by store_chunk_add_col */
	enum store_col_type type;
	double *v; /* one per row; NAN: null */
};

/* One entry of a top list: pid (-1 for none), name, CPU % and bytes. */
struct store_top {
	int64_t id;
	uint32_t name; /* index into the chunk's strings */
	double cpu, mem;
};

/* A top list: "proc.top_cpu" ranked by CPU, "proc.top_mem" by memory. */
struct store_list {
	char name[STORE_NAME_MAX];
	bool by_mem;
};

struct store_chunk {
	size_t n, cap; /* rows */
	int64_t *t;    /* ms since the epoch, ascending */
	struct store_col *cols;
	size_t n_cols, cap_cols;
	struct store_list lists[STORE_MAX_LISTS];
	size_t n_lists;
	/* n * n_lists * STORE_TOP_N entries; count[row * n_lists + list] used */
	struct store_top *tops;
	uint8_t *n_tops;
	char **strs; /* the names tops refer to */
	size_t n_strs, cap_strs;
};

void store_chunk_init(struct store_chunk *c);
/* Frees the contents; the chunk is empty again. */
void store_chunk_done(struct store_chunk *c);
/* Room for that many rows and columns, exactly when the chunk has none
 * yet (a tick's row: one, not the 64 rows added rows start with); 0 or
 * -ENOMEM. */
int store_chunk_reserve(struct store_chunk *c, size_t rows, size_t cols);
/* Appends a row at t (columns null, no tops); 0 or -ENOMEM. */
int store_chunk_add_row(struct store_chunk *c, int64_t t);
/* The column of that name, made (null in every row) with that type when
 * missing; hint: where to look first (the previous row's order). NULL
 * when out of memory or the name is too long. */
struct store_col *store_chunk_col(struct store_chunk *c, const char *name, enum store_col_type type,
				  size_t *hint);
/* A new column of that name (not in c: the caller knows), null in every
 * row; NULL when out of memory or the name is too long. */
struct store_col *store_chunk_add_col(struct store_chunk *c, const char *name,
				      enum store_col_type type);
/* The same for a name whose length and store_chunk_hash are known. */
struct store_col *store_chunk_add_col_hashed(struct store_chunk *c, const char *name, size_t len,
					     uint32_t hash, enum store_col_type type);
/* The hash of a column's name (kept with the column), and its length. */
uint32_t store_chunk_hash(const char *name, size_t *ret_len);
/* Index of a column, or -1. */
int store_chunk_find(const struct store_chunk *c, const char *name);
/* Index of a top list, made when missing; -1 when full. */
int store_chunk_list(struct store_chunk *c, const char *name, bool by_mem);
/* Adds an entry to a row's list (ignored past STORE_TOP_N); 0 or -ENOMEM. */
int store_chunk_add_top(struct store_chunk *c, size_t row, size_t list, int64_t id,
			const char *name, double cpu, double mem);
/* The same with the name given as its index in the chunk's strings. */
void store_chunk_add_top_at(struct store_chunk *c, size_t row, size_t list, int64_t id,
			    uint32_t name, double cpu, double mem);
/* The entries of a row's list. */
const struct store_top *store_chunk_tops(const struct store_chunk *c, size_t row, size_t list,
					 size_t *ret_n);
/* The index of a string in the chunk's table (tops' names), added when
 * new; 0 or -ENOMEM. */
int store_chunk_intern(struct store_chunk *c, const char *s, uint32_t *ret);
/* Appends every row of src (columns and lists matched by name). */
int store_chunk_append(struct store_chunk *dst, const struct store_chunk *src);
/* The same for src's rows [from, to). */
int store_chunk_append_rows(struct store_chunk *dst, const struct store_chunk *src, size_t from,
			    size_t to);

#endif
