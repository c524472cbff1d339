/* net_sockstat_parse(): /proc/net/sockstat. Checks that the values read
 * follow their keys on the one "TCP:" line. */
#include "fuzz.h"

#include "net.h"

/* The number after " key " on the TCP: line of a parsed text. */
static uint64_t tcp_value(const char *text, size_t len, const char *key)
{
	const char *p = text, *end = text + len;
	char pat[16];

	snprintf(pat, sizeof(pat), " %s ", key);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *at;
		size_t n = (size_t)(nl - p);

		while (p < nl && *p == ' ')
			p++, n--;
		if (n >= 4 && memcmp(p, "TCP:", 4) == 0 && (n == 4 || p[4] == ' ')) {
			/* the key is a token at an even place after "TCP:" */
			for (at = p + 4; (at = memmem(at, (size_t)(nl - at), pat, strlen(pat)));
			     at++) {
				size_t tokens = 0;

				for (const char *q = p + 4; q <= at; q++)
					tokens += *q != ' ' && q[-1] == ' ';
				if (tokens % 2 == 0)
					return strtoull(at + strlen(pat), NULL, 10);
			}
			FUZZ_CHECK(!"key not on the TCP line");
		}
		p = nl + 1;
	}
	FUZZ_CHECK(!"no TCP line");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_dup(data, size);
	struct net_sockstat ss;

	if (net_sockstat_parse(text, size, &ss) == 0) {
		FUZZ_CHECK(tcp_value(text, size, "inuse") == ss.inuse);
		FUZZ_CHECK(tcp_value(text, size, "orphan") == ss.orphan);
		FUZZ_CHECK(tcp_value(text, size, "tw") == ss.tw);
	}
	free(text);
	return 0;
}
