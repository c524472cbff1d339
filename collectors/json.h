/* JSON text of a cJSON tree: the bytes cJSON_PrintUnformatted() writes,
 * at a fraction of its cost (it prints every number with sprintf and reads
 * it back with sscanf; most of ours are integers or short decimals, which
 * fmt_g15 writes directly). */
#ifndef SYSFEED_JSON_H
#define SYSFEED_JSON_H

#include <stddef.h>

#include <cjson/cJSON.h>

/* Returns a malloc'd NUL-terminated string, its length in *ret_len (may be
 * NULL), or NULL where cJSON_PrintUnformatted() returns NULL too (out of
 * memory, a raw item without text, an item of no known type). */
char *json_print(const cJSON *item, size_t *ret_len);

#endif
