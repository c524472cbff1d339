/* The gzip parts of daemon/gz.c, spliced as the hub splices them for a
 * client: after the gzip header, pieces (gz_piece) and stored blocks until
 * the client joins its group at a chunk that starts with a full flush
 * (gz_chunk with join), then that group's chunks only. Input: a level
 * byte, then records of a kind byte, a 16-bit length and that many bytes.
 * Checks that the stream inflates to exactly the bytes of the records the
 * client was sent, whatever the level, the sizes and the mix. */
#include "fuzz.h"

#include <zlib.h>

#include "gz.h"

enum { PIECE, STORED, CHUNK, CHUNK_JOIN };

struct buf {
	unsigned char *p;
	size_t len, cap;
};

static void put(struct buf *b, const void *data, size_t len)
{
	if (b->len + len > b->cap) {
		b->cap = (b->len + len) * 2 + 64;
		b->p = realloc(b->p, b->cap);
		FUZZ_CHECK(b->p);
	}
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
}

/* Inflates a gzip stream that has no final block and no trailer. */
static void check_inflates_to(const struct buf *gz, const struct buf *want)
{
	unsigned char *out = malloc(want->len + 1);
	z_stream s = {0};
	int r;

	FUZZ_CHECK(out && inflateInit2(&s, 16 + 15) == Z_OK);
	s.next_in = gz->p;
	s.avail_in = (uInt)gz->len;
	s.next_out = out;
	s.avail_out = (uInt)want->len + 1;
	r = inflate(&s, Z_SYNC_FLUSH);
	FUZZ_CHECK(r == Z_OK || r == Z_BUF_ERROR);
	FUZZ_CHECK(s.avail_in == 0);
	FUZZ_CHECK(s.total_out == want->len);
	FUZZ_CHECK(want->len == 0 || memcmp(out, want->p, want->len) == 0);
	inflateEnd(&s);
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	int level = 1 + fuzz_byte(&in) % 9;
	struct gz *pieces = gz_new(level, 5), *group = gz_new(level, 8);
	struct buf stream = {0}, want = {0};
	bool member = false, first_chunk = true;

	FUZZ_CHECK(pieces && group);
	put(&stream, gz_head, GZ_HEADER_LEN);
	while (in.n > 0) {
		int kind = fuzz_byte(&in) % 4;
		size_t len = (size_t)fuzz_byte(&in) << 8 | fuzz_byte(&in);
		const char *rec = (const char *)in.p;
		char *out = NULL;
		size_t out_len = 0;

		if (len > in.n)
			len = in.n;
		in.p += len;
		in.n -= len;
		if (kind == PIECE) {
			FUZZ_CHECK(gz_piece(pieces, rec, len, &out, &out_len) == 0);
		} else if (kind == STORED) {
			unsigned char hdr[GZ_STORED_HDR_LEN];

			FUZZ_CHECK(gz_stored_size(len) == len + GZ_STORED_HDR_LEN);
			gz_stored_header(hdr, len);
			out = malloc(len + GZ_STORED_HDR_LEN);
			FUZZ_CHECK(out);
			memcpy(out, hdr, GZ_STORED_HDR_LEN);
			if (len)
				memcpy(out + GZ_STORED_HDR_LEN, rec, len);
			out_len = len + GZ_STORED_HDR_LEN;
		} else {
			const char *bufs[2] = {rec, rec + len / 2};
			size_t lens[2] = {len / 2, len - len / 2};
			bool join = kind == CHUNK_JOIN;

			FUZZ_CHECK(gz_chunk(group, join, bufs, lens, 2, &out, &out_len) == 0);
			/* the group's first chunk refers to nothing before it */
			if (join || first_chunk)
				member = true;
			first_chunk = false;
			if (!member) {
				free(out);
				continue;
			}
		}
		/* a member gets its group's chunks only */
		if (!member || kind == CHUNK || kind == CHUNK_JOIN) {
			put(&stream, out, out_len);
			put(&want, rec, len);
		}
		free(out);
	}
	check_inflates_to(&stream, &want);
	gz_free(pieces);
	gz_free(group);
	free(stream.p);
	free(want.p);
	return 0;
}
