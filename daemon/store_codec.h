/* The history store's chunk blobs: a chunk (store_chunk.h) as one
 * compressed blob (per column: integers of a decimal quantum, as deltas,
 * deltas of deltas or distances from the median, range-coded with a
 * model of the column's own; names, times and tops zlib'd), and back;
 * blobs of the first format (varints, all zlib'd) are read too. Pure:
 * no I/O, no log. */
#ifndef SYSFEED_STORE_CODEC_H
#define SYSFEED_STORE_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "store_chunk.h"

/* The blob of a chunk. rel: each number is kept to the power of ten at or
 * below 1/rel of its column's largest magnitude in the chunk (0: exactly);
 * exact decimals coarser than that stay exact. Returns 0 or -ENOMEM; *ret
 * is malloc'd. */
int store_chunk_encode(const struct store_chunk *c, unsigned rel, uint8_t **ret, size_t *ret_len);
/* A blob back into c (empty before). Returns 0, -EBADMSG for a blob that
 * is not one, or -ENOMEM. */
int store_chunk_decode(struct store_chunk *c, const uint8_t *blob, size_t len);

#endif
