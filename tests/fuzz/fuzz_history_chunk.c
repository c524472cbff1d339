/* A chunk blob of the history file (daemon/store_codec.c), as a damaged or
 * hostile file would hold it: the input as it is; the input as the body
 * of a first-format blob ("SFC1", compressed as written); and the input
 * as a second-format blob ("SFC2"): its first two bytes (little endian)
 * say how many of the rest are the head (compressed as written), the
 * others are the range-coded values. Checks that a blob that decodes
 * encodes again and decodes to the same rows, columns and top lists. */
#include "fuzz.h"

#include <math.h>
#include <zlib.h>

#include "store_codec.h"

static void same(const struct store_chunk *a, const struct store_chunk *b)
{
	FUZZ_CHECK(a->n == b->n && a->n_cols == b->n_cols && a->n_lists == b->n_lists);
	for (size_t r = 0; r < a->n; r++) {
		FUZZ_CHECK(a->t[r] == b->t[r]);
		for (size_t l = 0; l < a->n_lists; l++) {
			size_t na, nb;

			store_chunk_tops(a, r, l, &na);
			store_chunk_tops(b, r, l, &nb);
			FUZZ_CHECK(na == nb);
		}
	}
	for (size_t i = 0; i < a->n_cols; i++) {
		int j = store_chunk_find(b, a->cols[i].name);

		FUZZ_CHECK(j >= 0 && b->cols[j].type == a->cols[i].type);
		for (size_t r = 0; r < a->n; r++)
			FUZZ_CHECK(isnan(a->cols[i].v[r]) == isnan(b->cols[j].v[r]));
	}
}

static void try(const uint8_t *blob, size_t len)
{
	struct store_chunk c, d;
	uint8_t *again;
	size_t n;

	store_chunk_init(&c);
	if (store_chunk_decode(&c, blob, len) == 0 && store_chunk_encode(&c, 0, &again, &n) == 0) {
		store_chunk_init(&d);
		FUZZ_CHECK(store_chunk_decode(&d, again, n) == 0);
		same(&c, &d);
		store_chunk_done(&d);
		free(again);
	}
	store_chunk_done(&c);
}

/* "SFC2", the head's length and its compressed length, the head
 * compressed, the values; or NULL. */
static uint8_t *sfc2(const uint8_t *head, size_t hlen, const uint8_t *values, size_t vlen,
		     size_t *ret_len)
{
	uLongf zlen = compressBound((uLong)hlen);
	uint8_t *blob = malloc(12 + zlen + vlen);

	if (!blob || compress2(blob + 12, &zlen, head, (uLong)hlen, 1) != Z_OK) {
		free(blob);
		return NULL;
	}
	memcpy(blob, "SFC2", 4);
	for (int i = 0; i < 4; i++) {
		blob[4 + i] = (uint8_t)(hlen >> (8 * i));
		blob[8 + i] = (uint8_t)(zlen >> (8 * i));
	}
	memcpy(blob + 12 + zlen, values, vlen);
	*ret_len = 12 + zlen + vlen;
	return blob;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uLongf zlen = compressBound((uLong)size);
	uint8_t *blob = malloc(8 + zlen);
	size_t len;

	try(data, size);
	if (blob && compress2(blob + 8, &zlen, data, (uLong)size, 1) == Z_OK) {
		memcpy(blob, "SFC1", 4);
		for (int i = 0; i < 4; i++)
			blob[4 + i] = (uint8_t)(size >> (8 * i));
		try(blob, 8 + zlen);
	}
	free(blob);
	if (size >= 2) {
		size_t hlen = (size_t)data[0] | (size_t)data[1] << 8;

		hlen = hlen > size - 2 ? size - 2 : hlen;
		if ((blob = sfc2(data + 2, hlen, data + 2 + hlen, size - 2 - hlen, &len)))
			try(blob, len);
		free(blob);
	}
	return 0;
}
