/* The text of /api/history answers: a growing buffer with JSON and CSV
 * writers, and a chunk's rows per topic in the snapshot's {fields, rows}
 * shape. Pure. */
#ifndef SYSFEED_STORE_OUT_H
#define SYSFEED_STORE_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_chunk.h"

struct out {
	char *p;
	size_t len, cap;
	bool oom; /* sticks */
};

void out_raw(struct out *o, const char *s);
/* A JSON string (NULL: null), escaped, invalid UTF-8 replaced. */
void out_str(struct out *o, const char *s);
/* A JSON number; NAN: null. */
void out_num(struct out *o, double v);
void out_i64(struct out *o, int64_t v);

/* One topic's {"fields": [...], "rows": [...]} from c's columns named
 * "topic.PATH" for the history paths: a path "a[].b" is an array over the
 * elements found in the rows (in the order they first appear; index keys
 * in number order), null where an element is absent. consolidated: each
 * number field also as "PATH:min" and "PATH:max" after the others. Rows
 * without any value of the topic are left out; a row of nulls marks a gap
 * (rows further apart than twice gap_ms). */
void out_topic(struct out *o, const struct store_chunk *c, const char *topic,
	       const char *const *paths, bool consolidated, int64_t gap_ms);

/* CSV: a header "t,time,COLUMN..." with the columns of the topics
 * (collector registry indexes) as stored ("cpu.cores[0].busy",
 * "cpu.total.user:min"), then one line per row; an empty cell is null. */
void out_csv(struct out *o, const struct store_chunk *c, const int *topics, size_t n_topics);

#endif
