/* sse_encode(): one SSE frame of arbitrary data. Input: event name, id and
 * data, NUL-separated. Checks that the frame is "event: E\n", then only
 * "data: " lines, then "id: I\n\n"; that no CR or LF of the data survives
 * inside a field (each becomes a new `data:` line, as many as the data
 * has line ends); that the data's part of the frame is valid UTF-8 (NULs
 * and invalid bytes made U+FFFD) and valid text goes through unchanged;
 * and that a short buffer gets the same bytes, cut. */
#include "fuzz.h"

#include <errno.h>

#include "sse.h"

/* The lines data splits into, as a client sees them: CRLF, CR and LF
 * each end a line. */
static size_t line_ends(const char *data, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
			i++;
		if (data[i] == '\r' || data[i] == '\n')
			n++;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *bytes, size_t size)
{
	struct fuzz_in in = {bytes, size};
	char *event, *id, *data = NULL, *buf, *small;
	size_t event_len, id_len, data_len = 0, lines = 0, cut;
	const char *p, *end;
	long n;

	/* the event name and id are C strings, the data bytes */
	event = fuzz_take_str(&in, &event_len);
	id = fuzz_take_str(&in, &id_len);
	if (!fuzz_take(&in, &data, &data_len))
		data = fuzz_dup(bytes, 0);

	n = sse_encode(NULL, 0, id_len ? id : NULL, event_len ? event : NULL, data, data_len);
	if (memchr(event, '\r', event_len) || memchr(event, '\n', event_len) ||
	    memchr(id, '\r', id_len) || memchr(id, '\n', id_len)) {
		FUZZ_CHECK(n == -EINVAL);
		goto out;
	}
	FUZZ_CHECK(n > 0);
	buf = malloc((size_t)n + 1);
	FUZZ_CHECK(buf);
	FUZZ_CHECK(sse_encode(buf, (size_t)n + 1, id_len ? id : NULL, event_len ? event : NULL,
			      data, data_len) == n);
	FUZZ_CHECK(buf[n] == '\0' && strlen(buf) == (size_t)n);
	/* event names and ids are the daemon's own ASCII; the data is the host's */
	if (fuzz_utf8_valid(event, event_len) && fuzz_utf8_valid(id, id_len))
		FUZZ_CHECK(fuzz_utf8_valid(buf, (size_t)n));

	/* the fields, in order; the frame ends with its one blank line */
	p = buf;
	end = buf + n;
	FUZZ_CHECK(n >= 2 && end[-1] == '\n' && end[-2] == '\n');
	FUZZ_CHECK(!memchr(buf, '\r', (size_t)n));
	if (event_len) {
		FUZZ_CHECK(strncmp(p, "event: ", 7) == 0 && strncmp(p + 7, event, event_len) == 0 &&
			   p[7 + event_len] == '\n');
		p += 8 + event_len;
	}
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));

		FUZZ_CHECK(nl);
		if (strncmp(p, "data: ", 6) != 0)
			break;
		lines++;
		p = nl + 1;
	}
	FUZZ_CHECK(lines == line_ends(data, data_len) + 1);
	if (id_len) {
		FUZZ_CHECK(strncmp(p, "id: ", 4) == 0 && strncmp(p + 4, id, id_len) == 0 &&
			   p[4 + id_len] == '\n');
		p += 5 + id_len;
	}
	FUZZ_CHECK(p == end - 1);

	/* valid UTF-8 without NUL or line ends goes through as it is */
	if (!event_len && !id_len && fuzz_utf8_valid(data, data_len) &&
	    !memchr(data, '\0', data_len) && !line_ends(data, data_len))
		FUZZ_CHECK((size_t)n == data_len + 8 && memcmp(buf + 6, data, data_len) == 0);

	/* a short buffer: the same bytes, cut, and nothing written past it */
	cut = (size_t)n / 2;
	small = malloc(cut ? cut : 1);
	FUZZ_CHECK(small);
	FUZZ_CHECK(sse_encode(small, cut, id_len ? id : NULL, event_len ? event : NULL, data,
			      data_len) == n);
	FUZZ_CHECK(memcmp(small, buf, cut) == 0);
	free(small);
	free(buf);
out:
	free(event);
	free(id);
	free(data);
	return 0;
}
