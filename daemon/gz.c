/* gzip parts: see gz.h. */
#include "array.h"
#include "gz.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

/* magic, deflate, no flags, no mtime, no extra flags, OS unix */
const unsigned char gz_head[GZ_HEADER_LEN] = {0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3};

struct gz {
	z_stream s;
};

void gz_stored_header(unsigned char out[GZ_STORED_HDR_LEN], size_t len)
{
	/* BFINAL 0, BTYPE 00, padding to the byte, then LEN and ~LEN (LE) */
	out[0] = 0;
	out[1] = (unsigned char)(len & 0xff);
	out[2] = (unsigned char)(len >> 8);
	out[3] = (unsigned char)(~len & 0xff);
	out[4] = (unsigned char)((~len >> 8) & 0xff);
}

size_t gz_stored_size(size_t len)
{
	size_t blocks = (len + GZ_STORED_MAX - 1) / GZ_STORED_MAX;

	return len + (blocks ? blocks : 1) * GZ_STORED_HDR_LEN;
}

struct gz *gz_new(int level, int mem_level)
{
	struct gz *z = calloc(1, sizeof(*z));

	if (!z)
		return NULL;
	/* raw deflate (negative window bits): the gzip header is sent apart */
	if (deflateInit2(&z->s, level, Z_DEFLATED, -15, mem_level, Z_DEFAULT_STRATEGY) != Z_OK) {
		free(z);
		return NULL;
	}
	return z;
}

void gz_free(struct gz *z)
{
	if (!z)
		return;
	deflateEnd(&z->s);
	free(z);
}

void gz_reset(struct gz *z)
{
	deflateReset(&z->s);
}

/* Feeds one buffer (or none, to flush) into z, growing *out as needed. */
static int feed(struct gz *z, const char *data, size_t len, int flush, char **out, size_t *out_len,
		size_t *cap)
{
	z->s.next_in = (Bytef *)data;
	z->s.avail_in = (uInt)len;
	do {
		int r;

		if (*cap - *out_len < 64 && array_reserve(out, cap, *out_len + 64, 1, 1024) < 0)
			return -ENOMEM;
		z->s.next_out = (Bytef *)*out + *out_len;
		z->s.avail_out = (uInt)(*cap - *out_len);
		r = deflate(&z->s, flush);
		*out_len = *cap - z->s.avail_out;
		if (r == Z_STREAM_ERROR)
			return -EINVAL;
		/* done when the input is taken and the output had room to spare */
	} while (z->s.avail_in > 0 || z->s.avail_out == 0);
	return 0;
}

int gz_chunk(struct gz *z, bool join, const char *const *bufs, const size_t *lens, size_t n,
	     char **ret, size_t *ret_len)
{
	char *out = NULL;
	size_t out_len = 0, cap = 0;
	int r = 0;

	if (join)
		r = feed(z, NULL, 0, Z_FULL_FLUSH, &out, &out_len, &cap);
	for (size_t i = 0; r == 0 && i < n; i++)
		r = feed(z, bufs[i], lens[i], Z_NO_FLUSH, &out, &out_len, &cap);
	if (r == 0)
		r = feed(z, NULL, 0, Z_SYNC_FLUSH, &out, &out_len, &cap);
	if (r < 0) {
		free(out);
		return r;
	}
	*ret = out;
	*ret_len = out_len;
	return 0;
}

int gz_piece(struct gz *z, const char *data, size_t len, char **ret, size_t *ret_len)
{
	char *out = NULL;
	size_t out_len = 0, cap = 0;
	int r;

	gz_reset(z);
	r = feed(z, data, len, Z_NO_FLUSH, &out, &out_len, &cap);
	if (r == 0)
		r = feed(z, NULL, 0, Z_FULL_FLUSH, &out, &out_len, &cap);
	if (r < 0) {
		free(out);
		return r;
	}
	*ret = out;
	*ret_len = out_len;
	return 0;
}
