/* sse_parse_id(): the Last-Event-ID header (or ?lastEventId=). Input: 8
 * bytes of instance, 8 of sequence, then the header value. Checks the
 * round trip through sse_format_id() and that an id parsed as ours is
 * spelled exactly as we write it (one spelling per id, so no two headers
 * name the same place in the ring). */
#include "fuzz.h"

#include "sse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	uint64_t instance = fuzz_u64(&in), seq = fuzz_u64(&in), got = 0;
	char id[SSE_ID_MAX + 1], *s = fuzz_str(in.p, in.n);
	enum sse_id_kind kind;
	int n;

	n = sse_format_id(id, sizeof(id), instance, seq);
	FUZZ_CHECK(n > 0 && (size_t)n < sizeof(id));
	FUZZ_CHECK(sse_parse_id(id, instance, &got) == SSE_ID_OURS && got == seq);
	FUZZ_CHECK(sse_parse_id(id, instance + 1, &got) == SSE_ID_FOREIGN);

	kind = sse_parse_id(s, instance, &got);
	FUZZ_CHECK(kind == SSE_ID_NONE || kind == SSE_ID_OURS || kind == SSE_ID_FOREIGN ||
		   kind == SSE_ID_INVALID);
	FUZZ_CHECK((kind == SSE_ID_NONE) == (*s == '\0'));
	if (kind == SSE_ID_OURS) {
		sse_format_id(id, sizeof(id), instance, got);
		FUZZ_CHECK(strcmp(id, s) == 0);
	}
	if (kind == SSE_ID_FOREIGN) {
		uint64_t other = strtoull(s, NULL, 16);

		FUZZ_CHECK(other != instance);
		FUZZ_CHECK(sse_parse_id(s, other, &got) == SSE_ID_OURS);
		sse_format_id(id, sizeof(id), other, got);
		FUZZ_CHECK(strcmp(id, s) == 0);
	}
	free(s);
	return 0;
}
