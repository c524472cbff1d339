/* JSON text of a cJSON tree: the bytes cJSON_PrintUnformatted() writes,
 * at a fraction of its cost (it prints every number with sprintf and reads
 * it back with sscanf; most of ours are integers or short decimals, which
 * fmt_g15 writes directly). */
#ifndef SYSFEED_JSON_H
#define SYSFEED_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Returns a malloc'd NUL-terminated string, its length in *ret_len (may be
 * NULL), or NULL where cJSON_PrintUnformatted() returns NULL too (out of
 * memory, a raw item without text, an item of no known type). */
char *json_print(const cJSON *item, size_t *ret_len);
/* Frees the calling thread's scratch buffer of json_print: a thread that
 * printed calls it before it ends. */
void json_print_done(void);

/* How many bytes the byte c takes in a JSON string as cJSON writes it: 6
 * for a control character written as \u00XX, 2 for '"', '\\' and the
 * short escapes (\b \f \n \r \t), else 1. */
size_t json_width(unsigned char c);

/* Adds host text (file names, paths, process and user names, unit names,
 * ...) to a JSON object as a string of valid UTF-8 (see
 * utf8_sanitize: cJSON copies bytes as they are), or null when v is
 * NULL. Returns 0 or -ENOMEM. */
int json_str(cJSON *o, const char *key, const char *v);
/* The same, appended to a JSON array. */
int json_array_str(cJSON *arr, const char *v);

/* Adds a number to a JSON object; 0 or -ENOMEM. */
int json_num(cJSON *o, const char *key, double v);
/* The same, or null when !have. */
int json_num_or_null(cJSON *o, const char *key, bool have, double v);

/* A new payload: an object holding "t", the tick's wall time in ms since
 * the epoch. NULL when out of memory. */
cJSON *json_payload(int64_t t_ms);

/* The end of a payload builder: hands payload to *ret_payload when r is 0
 * (NULL when there is none), else deletes it and sets *ret_payload to
 * NULL. Returns r. */
int json_hand_over(cJSON *payload, int r, cJSON **ret_payload);

#endif
