/* JSON text of a cJSON tree: the bytes cJSON_PrintUnformatted() writes,
 * at a fraction of its cost (it prints every number with sprintf and reads
 * it back with sscanf; most of ours are integers or short decimals, which
 * fmt_i64 and fmt_g15 write directly). */
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

/* Blocks of up to this many bytes are pooled by json_pool_start. */
#define JSON_POOL_BYTES 64
/* A pooling thread keeps at most this many free blocks (~160 KiB). */
#define JSON_POOL_MAX 2048

/* Makes cJSON allocate through a pool of the calling thread's freed
 * small blocks (nodes, keys, short strings: JSON_POOL_BYTES at most),
 * up to JSON_POOL_MAX of them: a tick builds and frees about a thousand,
 * which overflowed malloc's small per-thread cache into its fastbins,
 * consolidated again at each larger request (malloc took a seventh of an
 * idle daemon's CPU). Sets cJSON's hooks, process-wide; other threads go
 * straight to malloc and free. Every pooled block is a malloc'd one, so
 * free() and the hooks may each release what the other allocated. */
void json_pool_start(void);
/* Frees the calling thread's pooled blocks and stops pooling there. */
void json_pool_done(void);
/* How many free blocks the calling thread's pool holds (for tests). */
size_t json_pool_count(void);

/* How many bytes the byte c takes in a JSON string as cJSON writes it: 6
 * for a control character written as \u00XX, 2 for '"', '\\' and the
 * short escapes (\b \f \n \r \t), else 1. */
size_t json_width(unsigned char c);

/* Keys of json_str, json_num and json_num_or_null are constants (a
 * literal, a static table), not copied: a payload of hundreds of fields
 * made each tick saves a copy each (a malloc and a free). */

/* Adds host text (file names, paths, process and user names, unit names,
 * ...) to a JSON object as a string of valid UTF-8 (see
 * utf8_sanitize: cJSON copies bytes as they are), or null when v is
 * NULL. Returns 0 or -ENOMEM. */
int json_str(cJSON *o, const char *key, const char *v);
/* The same under a key that is copied (one that may not outlive o). */
int json_str_dup(cJSON *o, const char *key, const char *v);
/* The same, appended to a JSON array. */
int json_array_str(cJSON *arr, const char *v);
/* As json_str and json_num (and null for v < 0), for payloads of many
 * rows built each tick from data that outlives them: key is a constant
 * and v is not copied when it is valid UTF-8 (it must outlive o). */
int json_str_ref(cJSON *o, const char *key, const char *v);
int json_num_ref(cJSON *o, const char *key, double v);
/* Sets a number item made by json_num_ref to v (null for v < 0), in place:
 * a row kept from tick to tick, put into each payload by reference. */
void json_num_set(cJSON *item, double v);

/* Adds a number to a JSON object; 0 or -ENOMEM. */
int json_num(cJSON *o, const char *key, double v);
/* The same, or null when !have. */
int json_num_or_null(cJSON *o, const char *key, bool have, double v);

/* JSON written as text: rows that a collector writes each tick (services,
 * containers) without a tree per row. Their heads (the fields that do not
 * change) are printed once with json_head; the numbers follow as text. */
struct json_buf {
	char *p; /* NUL-terminated */
	size_t len, cap;
};

/* Appends len bytes. Returns 0 or -ENOMEM. */
int json_buf_put(struct json_buf *b, const char *text, size_t len);
/* Appends "key":v and end (',' or '}'): v / 100 when hundredths (as
 * "%.15g" writes it: "25.43", "25.4", "25"), null when v < 0. Always the
 * exact decimal (json_print writes 1e15 and above with an exponent, and
 * hundredths of 1e9 and above with 17 digits). Returns 0 or -ENOMEM. */
int json_buf_num(struct json_buf *b, const char *key, int64_t v, bool hundredths, char end);
void json_buf_free(struct json_buf *b);
/* The text of object o but its closing brace, with a ',' in its place:
 * the head of a row whose other fields are appended with json_buf_num.
 * malloc'd; NULL without memory. */
char *json_head(const cJSON *o, size_t *ret_len);

/* A new payload: an object holding "t", the tick's wall time in ms since
 * the epoch. NULL when out of memory. */
cJSON *json_payload(int64_t t_ms);

/* A new payload as json_payload's with an empty array under key, the
 * topic's rows, in *ret_arr. NULL (nothing made) when out of memory. */
cJSON *json_payload_array(int64_t t_ms, const char *key, cJSON **ret_arr);

/* The end of a payload builder: hands payload to *ret_payload when r is 0
 * (NULL when there is none), else deletes it and sets *ret_payload to
 * NULL. Returns r. */
int json_hand_over(cJSON *payload, int r, cJSON **ret_payload);

#endif
