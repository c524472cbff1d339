/* gzip streams assembled from parts: independently compressed pieces,
 * stored (uncompressed) blocks and the chunks of a shared compressor. Every
 * part ends on a byte boundary and none is final, so a client's stream is
 * any sequence of them after the gzip header. Pure, apart from zlib. */
#ifndef SYSFEED_GZ_H
#define SYSFEED_GZ_H

#include <stdbool.h>
#include <stddef.h>

#define GZ_HEADER_LEN     10
#define GZ_STORED_MAX     65535u /* payload of one stored block */
#define GZ_STORED_HDR_LEN 5

extern const unsigned char gz_head[GZ_HEADER_LEN];

/* The header of a non-final stored block carrying len bytes (at most
 * GZ_STORED_MAX); the block starts on a byte boundary. */
void gz_stored_header(unsigned char out[GZ_STORED_HDR_LEN], size_t len);

/* Bytes that `len` bytes take as stored blocks, headers included. */
size_t gz_stored_size(size_t len);

struct gz;

/* A deflate compressor (raw, 32 KiB window) at `level` 1..9, with zlib's
 * mem_level 1..9 (the size of its hash table, which gz_piece clears each
 * time: small for pieces). */
struct gz *gz_new(int level, int mem_level);
void gz_free(struct gz *z);

/* Starts z's stream afresh: what it compresses next refers to nothing
 * before it, and nothing pending from before is written. */
void gz_reset(struct gz *z);

/* Compresses `len` bytes as a piece that refers to nothing before it and
 * ends with a full flush: it can be spliced anywhere. Resets z first.
 * Returns 0 with a malloc'd *ret, or -ENOMEM. */
int gz_piece(struct gz *z, const char *data, size_t len, char **ret, size_t *ret_len);

/* Appends the n buffers to z's continuous stream and ends the chunk with a
 * sync flush. With `join` the chunk starts with a full flush: it refers to
 * nothing before it, so a client may start reading the stream there.
 * Returns 0 with a malloc'd *ret, or -ENOMEM. */
int gz_chunk(struct gz *z, bool join, const char *const *bufs, const size_t *lens, size_t n,
	     char **ret, size_t *ret_len);

#endif
