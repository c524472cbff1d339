/* UTF-8: see utf8.h. */
#include "utf8.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

#define UTF8_FFFD "\xef\xbf\xbd" /* U+REPLACEMENT CHARACTER */

size_t utf8_seq(const unsigned char *s, size_t len, size_t *ret_bad)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n;

	*ret_bad = 1;
	if (s[0] < 0x80)
		return s[0] ? 1 : 0;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4;
	else
		return 0;
	if (s[0] == 0xe0)
		lo = 0xa0; /* no overlong 3-byte forms */
	else if (s[0] == 0xed)
		hi = 0x9f; /* no surrogates */
	else if (s[0] == 0xf0)
		lo = 0x90; /* no overlong 4-byte forms */
	else if (s[0] == 0xf4)
		hi = 0x8f; /* nothing past U+10FFFF */
	for (size_t i = 1; i < n; i++) {
		if (i >= len || s[i] < lo || s[i] > hi) {
			*ret_bad = i;
			return 0;
		}
		lo = 0x80;
		hi = 0xbf;
	}
	return n;
}

/* ASCII that JSON writes as itself: one byte in, one on the wire. */
static bool utf8_plain(unsigned char c)
{
	return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* The one sanitiser: writes [s, s + len) into out as valid UTF-8, stopping
 * before the character that would take the JSON-escaped size past max.
 * out holds at least min(3 * len, max) + 1 bytes: every character takes at
 * least as many bytes escaped as it writes. Runs of plain ASCII (most
 * host text) are copied whole. */
static size_t utf8_put(const unsigned char *s, size_t len, size_t max, char *out, bool *ret_cut)
{
	size_t i = 0, o = 0, w = 0;

	*ret_cut = false;
	while (i < len) {
		size_t run = 0, room = max - w, bad, n, cost;

		while (i + run < len && run < room && utf8_plain(s[i + run]))
			run++;
		if (run) {
			memcpy(out + o, s + i, run);
			o += run;
			i += run;
			w += run;
			continue;
		}
		n = utf8_seq(s + i, len - i, &bad);
		cost = n == 1 ? json_width(s[i]) : n ? n : 3;
		if (cost > room) {
			*ret_cut = true;
			break;
		}
		w += cost;
		if (n) {
			memcpy(out + o, s + i, n);
			o += n;
			i += n;
		} else {
			memcpy(out + o, UTF8_FFFD, 3);
			o += 3;
			i += bad;
		}
	}
	out[o] = '\0';
	return o;
}

size_t utf8_sanitize(const char *s, size_t len, char *out)
{
	bool cut;

	return utf8_put((const unsigned char *)s, len, SIZE_MAX, out, &cut);
}

int utf8_dup(const char *s, size_t len, size_t max, char **ret, bool *ret_cut)
{
	size_t cap = len > (SIZE_MAX - 1) / 3 ? SIZE_MAX - 1 : len * 3;
	bool cut;
	char *out;

	if (cap > max)
		cap = max;
	if (!(out = malloc(cap + 1)))
		return -ENOMEM;
	utf8_put((const unsigned char *)s, len, max, out, &cut);
	*ret = out;
	if (ret_cut)
		*ret_cut = cut;
	return 0;
}
