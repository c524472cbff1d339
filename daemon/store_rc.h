/* The history store's range coder: integers coded bit by bit against
 * probabilities that learn from the bits before them (a binary range
 * coder, carry handled as LZMA's is), for the column values of the chunk
 * format (store_codec.c). Each column has its own model, so a column that
 * moves by ±3 and one that moves by ±3000 each cost what their own
 * numbers need. Pure: no I/O, no log. */
#ifndef SYSFEED_STORE_RC_H
#define SYSFEED_STORE_RC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store_bytes.h"

#define RC_SMALL_BITS 10 /* magnitudes below 2^10 are learnt value by value */

/* The probability that a bit is 0, in 1/65536: the mean of one estimate
 * that averages every bit so far (then the last 256 or so) and one that
 * follows the last 16: steady columns and columns whose noise changes
 * both cost little. Both are kept XORed with 1/2, so that zeros are a
 * bit that has learnt nothing. */
struct rc_bit {
	uint16_t slow, fast, n;
};

/* One column's integers: the bit length of the magnitude (0 for 0) told
 * from the column's most frequent one, base (equal? else above or below,
 * then one step at a time away from it), the sign, and the bits under
 * the leading one: all of them learnt below 2^RC_SMALL_BITS (each value
 * its own probability), the top two above, the rest sent as they are. */
struct rc_model {
	unsigned base;
	struct rc_bit eq, up_or_down;
	struct rc_bit up[65], down[65]; /* [k]: k steps away */
	struct rc_bit sign[65];
	struct rc_bit mant[(1 << RC_SMALL_BITS) + 4 * (64 - RC_SMALL_BITS)];
};

struct rc_enc {
	struct wbuf *out; /* NULL: only count what the bits would cost */
	uint64_t low;
	uint32_t range;
	uint8_t cache;
	bool started;     /* the first byte (always 0) went, unwritten */
	uint64_t pending; /* bytes held back for a carry: the cache and 0xffs */
	uint64_t cost;    /* counting: 1/256 bits */
};

struct rc_dec {
	const uint8_t *p;
	size_t len, pos;
	uint32_t range, code;
	bool bad; /* sticks: read past the end or a value out of range */
};

/* The bit length of v's magnitude (0 for 0), for base. */
unsigned rc_len(int64_t v);
/* A model that has learnt nothing; base: the bit length expected most,
 * 0-64. */
void rc_model_init(struct rc_model *m, unsigned base);
/* An encoder writing to out, or counting only (out NULL). */
void rc_enc_init(struct rc_enc *e, struct wbuf *out);
/* Writes the last bytes: the stream is complete. */
void rc_enc_end(struct rc_enc *e);
void rc_put(struct rc_enc *e, struct rc_model *m, int64_t v);

void rc_dec_init(struct rc_dec *d, const uint8_t *p, size_t len);
int64_t rc_get(struct rc_dec *d, struct rc_model *m);
/* Whether a decoder read its stream exactly: no byte missing, none left. */
bool rc_dec_done(const struct rc_dec *d);

#endif
