/* Field tables: a flat topic describes each value it reports once, in a
 * row that says where it comes from, what the payload and Prometheus call
 * it, its type, unit and help, and where the parser stores it. The
 * payload's JSON and the /metrics families are written from the rows, and
 * tools/fields lists them for the docs. Values a row cannot hold (a sum, a
 * share) are computed by a function beside the table. */
#ifndef SYSFEED_FIELDS_H
#define SYSFEED_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct metrics;

/* What the value is to Prometheus: INFO rows (a name, a device number, a
 * flag) have no family. */
enum field_type {
	FIELD_INFO,
	FIELD_GAUGE,
	FIELD_COUNTER,
};

/* How the value is stored at its offset. */
enum field_kind {
	FIELD_U64,
	FIELD_U32, /* also unsigned */
	FIELD_I64,
	FIELD_DOUBLE,
	FIELD_BOOL,
	FIELD_TRI,     /* int: negative is unknown (null), else a boolean */
	FIELD_CHARS,   /* a char array holding a C string */
	FIELD_STR,     /* a char pointer; NULL is null */
	FIELD_DERIVED, /* nothing stored: .derive computes it */
};

enum field_flag {
	FIELD_KB = 1u << 0,          /* the source says kB; stored in bytes */
	FIELD_CENTI = 1u << 1,       /* the source prints "N.NN"; stored in hundredths */
	FIELD_ZERO_ABSENT = 1u << 2, /* JSON: a value the source lacks is the 0 it reads as,
					not null */
	FIELD_NEG_UNKNOWN = 1u << 3, /* a negative value is unknown: null, no sample */
};

/* One value of a topic. Unset numbers mean: 0 scale is 1, 0 rate_mul is
 * per second (1e9 over nanoseconds), 0 rate_max is no cap. */
struct field {
	const char *source; /* its name in the source file (a key, a column), or NULL */
	const char *file;   /* the source file when not the table's */
	const char *json;   /* its key in the payload, or NULL */
	const char *prom;   /* its Prometheus family, or NULL */
	enum field_type type;
	const char *unit;   /* of the value as the payload and the family give it */
	const char *help;   /* one sentence: the family's # HELP, the docs' meaning */
	const char *labels; /* the family's labels when not the table's (docs) */
	enum field_kind kind;
	size_t off; /* in the struct of an instance (struct field_inst.p) */
	/* Bits of the instance's has mask the value needs: without them the
	 * payload has null (or 0, FIELD_ZERO_ABSENT) and the family no sample.
	 * prom_has: more bits only the family needs. 0: always there. */
	unsigned has, prom_has;
	unsigned flags;  /* enum field_flag */
	double mul, div; /* value = stored * mul / div */
	/* The per-second rate of a counter: its key, unit and help. It is
	 * delta * rate_mul / elapsed ns, rounded half up to hundredths, at
	 * most rate_max; null without a previous reading, for a counter that
	 * went backwards or missing from either reading, and when no time
	 * passed. */
	const char *rate, *rate_unit, *rate_help;
	double rate_mul, rate_max;
	/* A value (or with .rate instead of .json, a rate) computed from the
	 * instance (and the previous one, NULL on the first reading, dt_ns
	 * apart): returns false for null / no sample. */
	bool (*derive)(const void *cur, const void *prev, uint64_t dt_ns, double *ret);
	/* /metrics writes this family just before that of the row whose
	 * source is this, where it has always been: not in table order. */
	const char *prom_before;
};

/* Which rows the payload writes, in what order: groups of rows by type
 * (each in table order), then the rates. */
enum field_pass {
	FIELDS_INFO = 1u << FIELD_INFO,
	FIELDS_GAUGES = 1u << FIELD_GAUGE,
	FIELDS_COUNTERS = 1u << FIELD_COUNTER,
	FIELDS_VALUES = FIELDS_INFO | FIELDS_GAUGES | FIELDS_COUNTERS,
	FIELDS_RATES = 1u << 3,
};

#define FIELD_PASSES_MAX 4

struct field_table {
	const char *path;   /* its object in the payload: "" the top, "interfaces[]",
			       "{cpu,memory}.{some,full}" (docs); NULL: none */
	const char *file;   /* where its sources are: "/proc/meminfo" */
	const char *labels; /* its families' labels: "device" (docs) */
	unsigned char passes[FIELD_PASSES_MAX]; /* enum field_pass, 0-terminated */
	const struct field *v;
	size_t n;
};

/* One row: FIELD(.source = "MemTotal", .json = "total", ...) (a macro, so
 * that clang-format packs its members). */
#define FIELD(...)                                                                                 \
	{                                                                                          \
		__VA_ARGS__                                                                        \
	}

#define FIELD_ROWS(rows) .v = (rows), .n = sizeof(rows) / sizeof((rows)[0])

/* The offset and kind of a member: FIELD_AT(struct mem_info, total); a
 * member of another type does not compile. (clang-format would take the
 * associations of _Generic for labels.) */
/* clang-format off */
#define FIELD_KIND_OF(x)                                                                           \
	_Generic((x),                                                                              \
		 uint64_t: FIELD_U64,                                                              \
		 uint32_t: FIELD_U32,                                                              \
		 int64_t: FIELD_I64,                                                               \
		 double: FIELD_DOUBLE,                                                             \
		 bool: FIELD_BOOL)
/* clang-format on */
#define FIELD_AT(type, member)                                                                     \
	.off = offsetof(type, member), .kind = FIELD_KIND_OF(((type *)0)->member)
#define FIELD_TRI_AT(type, member)   .off = offsetof(type, member), .kind = FIELD_TRI
#define FIELD_CHARS_AT(type, member) .off = offsetof(type, member), .kind = FIELD_CHARS
#define FIELD_STR_AT(type, member)   .off = offsetof(type, member), .kind = FIELD_STR
#define FIELD_DERIVE(fn)             .kind = FIELD_DERIVED, .derive = (fn)

/* One thing a table describes: the struct its rows point into, which of
 * their has bits it holds, and its Prometheus labels (name, value pairs,
 * NULL-terminated; NULL for none). */
struct field_inst {
	const void *p;
	unsigned has;
	const char *const *labels;
};

/* Instances for fields_prom(), each with up to two labels that point into
 * the instance: devices ("device", name) or sensors ("chip", ..., "sensor",
 * ...). Zero-initialise, fields_insts_init() for at most max of them,
 * release with fields_insts_free(). */
struct field_insts {
	struct field_inst *v;
	const char *(*labels)[5];
	size_t n;
};

/* Returns 0 or -ENOMEM. */
int fields_insts_init(struct field_insts *x, size_t max);
/* Adds one (no more than max): k2 NULL for one label. */
void fields_insts_add(struct field_insts *x, const void *p, unsigned has, const char *k1,
		      const char *v1, const char *k2, const char *v2);
void fields_insts_free(struct field_insts *x);

/* Adds the rows' keys to o in the table's passes: cur's values, and the
 * rates between prev (NULL: none yet) and cur, dt_ns apart. Returns 0 or
 * -ENOMEM. */
int fields_json(cJSON *o, const struct field_table *t, const struct field_inst *cur,
		const struct field_inst *prev, uint64_t dt_ns);

/* The same into a new object appended to the array arr (a device, a
 * sensor). Returns 0 or -ENOMEM. */
int fields_json_append(cJSON *arr, const struct field_table *t, const struct field_inst *cur,
		       const struct field_inst *prev, uint64_t dt_ns);

/* Writes the families of the table's rows for n instances: each family
 * with a sample (an instance that lacks the value has none) once, its
 * samples in the instances' order, the families in table order (see
 * prom_before). Errors stick in m. */
void fields_prom(struct metrics *m, const struct field_table *t, const struct field_inst *v,
		 size_t n);

/* Calls fn for each row with a family, in the order fields_prom() writes
 * them. */
void fields_each_family(const struct field_table *t, void (*fn)(const struct field *f, void *ctx),
			void *ctx);

/* The value of row f in instance x as the payload and the family give it
 * (scaled); false when it has none (null). */
bool fields_value(const struct field *f, const struct field_inst *x, double *ret);

/* Whether path (below the topic: "available", "interfaces[].rx_bytes",
 * "memory.some.avg60") is a key one of the tables (NULL-terminated) writes
 * into the payload, or "t". */
bool fields_known(const struct field_table *const *tables, const char *path);
/* Whether the tables can tell if path is there: one of them describes
 * the object its last key is in ("" the top, "smart.devices[]"), or a
 * value they know lies on the way ("tasks" of "tasks.x"). A topic whose
 * payload the tables describe in part (health: its SMART devices) knows
 * nothing of its other objects. */
bool fields_covers(const struct field_table *const *tables, const char *path);

/* The row whose source is the token [s, s + len), or NULL. */
const struct field *fields_find(const struct field_table *t, const char *s, size_t len);
/* A lookup of a table's rows by source, token after token of one file:
 * fields_cursor_init() it for each reading of the file. */
struct fields_cursor {
	const struct field_table *t;
	size_t next;      /* the row looked at first */
	uint64_t sigs[4]; /* a bit for each source's length and end bytes */
};

void fields_cursor_init(struct fields_cursor *c, const struct field_table *t);

/* fields_find() through c: a token whose length, first and last bytes
 * hash to no source's is ruled out at once (most are), and the rows are
 * looked at from the one after the last found, wrapping around, so that
 * for a file whose lines come in the table's order, a line's row is the
 * first one compared. */
const struct field *fields_find_next(struct fields_cursor *c, const char *s, size_t len);

/* Stores a parsed number into row f's place in base: kB made bytes for
 * FIELD_KB rows, range-checked for narrower kinds. Returns 0, -ERANGE, or
 * -EINVAL for a row that holds no number. */
int fields_store(const struct field *f, void *base, uint64_t v);

/* Parses a token as row f's source prints it: decimal digits, "N.NN" for
 * FIELD_CENTI rows, and stores it (fields_store). Returns 0, -EINVAL or
 * -ERANGE. */
int fields_parse(const struct field *f, void *base, const char *s, size_t len);

#endif
