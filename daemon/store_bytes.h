/* The history store's bytes: a growing buffer and a bounded reader of
 * varints, zigzag integers and strings, for the chunk format
 * (store_codec.c, store_tops.c). Pure. */
#ifndef SYSFEED_STORE_BYTES_H
#define SYSFEED_STORE_BYTES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct wbuf {
	uint8_t *p;
	size_t len, cap;
	bool oom; /* sticks */
};

struct rbuf {
	const uint8_t *p;
	size_t len, pos;
	bool bad; /* sticks: read past the end or a varint too long */
};

void put(struct wbuf *b, const void *data, size_t n);
void put_u8(struct wbuf *b, unsigned v);
void put_uv(struct wbuf *b, uint64_t v);
void put_sv(struct wbuf *b, int64_t v);
void put_str(struct wbuf *b, const char *s);
uint64_t zig(int64_t v);
/* Arithmetic that wraps instead of overflowing: a damaged blob decodes to
 * garbage, never to undefined behaviour. */
int64_t wadd(int64_t a, int64_t b);
int64_t wsub(int64_t a, int64_t b);
int64_t wmul(int64_t a, int64_t b);
/* v as an integer, clamped to the int64 range (NAN: 0). */
int64_t to_i64(double v);

unsigned get_u8(struct rbuf *b);
uint64_t get_uv(struct rbuf *b);
int64_t get_sv(struct rbuf *b);
/* A string of at most max-1 bytes into out. */
void get_str(struct rbuf *b, char *out, size_t max);

#endif
