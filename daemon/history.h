/* Chart history: the few numbers of each payload a chart needs, kept per
 * tick so that a new page shows the last minutes at once. */
#ifndef SYSFEED_HISTORY_H
#define SYSFEED_HISTORY_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* The row of a payload for the given field paths, as a JSON array
 * [t, v1, v2, ...]. A path is dot-separated keys ("total.user"); a key
 * ending in "[]" maps over an array ("cores[].busy" gives an array of each
 * core's busy). A missing field is null. NULL on allocation failure. */
cJSON *history_row(const cJSON *payload, const char *const *paths);

/* The item at the first len bytes of a dot-separated path ("total.user",
 * no "[]") below item; NULL when absent. */
const cJSON *history_lookup(const cJSON *item, const char *path, size_t len);

#endif
