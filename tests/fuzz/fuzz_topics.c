/* hub_topic_mask(): the `topics=` query value. Checks that an accepted
 * list sets exactly the bits of the names it holds, that a refused one
 * names its bad entry (at most 64 bytes of it, NUL-terminated), and that
 * the list written back from a mask gives the same mask. */
#include "fuzz.h"

#include "hub.h"

static const char *const names[] = {"hello", "cpu",  "mem", "load",  "psi",  "net", "disk", "fs",
				    "temp",  "proc", "svc", "units", "host", "log", "file", NULL};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *list = fuzz_str(data, size), bad[80], back[256];
	uint64_t mask = 0, again = 0;
	size_t n = 0;

	memset(bad, 'x', sizeof(bad));
	if (hub_topic_mask(names, list, &mask, bad, sizeof(bad)) == 0) {
		uint64_t want = 0;

		/* every comma-separated entry is a name */
		for (const char *p = list;; p++) {
			size_t len = strcspn(p, ",");
			size_t i = 0;

			while (names[i] && !(strlen(names[i]) == len && !strncmp(names[i], p, len)))
				i++;
			FUZZ_CHECK(names[i]);
			want |= 1ULL << i;
			p += len;
			if (!*p)
				break;
		}
		FUZZ_CHECK(mask == want);
	} else {
		FUZZ_CHECK(memchr(bad, '\0', 65));
		FUZZ_CHECK(strstr(list, bad));
	}

	/* the list of a mask (from the input's first bytes) reads back */
	mask = 0;
	memcpy(&mask, data, size < sizeof(mask) ? size : sizeof(mask));
	mask &= (1ULL << 15) - 1;
	back[0] = '\0';
	for (size_t i = 0; names[i]; i++) {
		if (mask & (1ULL << i))
			n += (size_t)snprintf(back + n, sizeof(back) - n, "%s%s", n ? "," : "",
					      names[i]);
	}
	if (mask) {
		FUZZ_CHECK(hub_topic_mask(names, back, &again, bad, sizeof(bad)) == 0);
		FUZZ_CHECK(again == mask);
	}
	free(list);
	return 0;
}
