/* The cgroup v2 and v1 files the svc and containers topics read, and
 * /proc/1/cgroup: every parser gets the input. Checks cpu.stat's
 * usage_usec against the text, that io.stat sums rbytes and wbytes over
 * its lines, that a single value reads back from "%llu\n", that blkio's
 * text has its Total line, and that a container manager is
 * named only when its path is there. */
#include "fuzz.h"

#include <inttypes.h>

#include "host_parse.h"
#include "svc_parse.h"

/* The sum of key=N over the lines of an accepted io.stat */
static uint64_t io_sum(const char *text, size_t len, const char *key)
{
	uint64_t sum = 0;
	char pat[16];
	size_t k = (size_t)snprintf(pat, sizeof(pat), " %s=", key);

	for (size_t i = 0; i + k <= len; i++)
		if (memcmp(text + i, pat, k) == 0)
			sum += strtoull(text + i + k, NULL, 10);
	return sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_dup(data, size), back[32];
	uint64_t v, rb, wb;
	const char *who;

	if (svc_cpu_stat_parse(text, size, &v) == 0) {
		/* the one key token "usage_usec" (values are digits) */
		const char *at = text;

		while ((at = memmem(at, size - (size_t)(at - text), "usage_usec ", 11)) &&
		       at > text && at[-1] != ' ' && at[-1] != '\n')
			at++;
		FUZZ_CHECK(at && strtoull(at + 11, NULL, 10) == v);
	}
	if (svc_io_stat_parse(text, size, &rb, &wb) == 0) {
		FUZZ_CHECK(rb == io_sum(text, size, "rbytes"));
		FUZZ_CHECK(wb == io_sum(text, size, "wbytes"));
	}
	if (svc_single_parse(text, size, &v) == 0) {
		int n = snprintf(back, sizeof(back), "%" PRIu64 "\n", v);

		FUZZ_CHECK(svc_single_parse(back, (size_t)n, &rb) == 0 && rb == v);
	}
	if (svc_blkio_parse(text, size, &rb, &wb) == 0)
		FUZZ_CHECK(memmem(text, size, "Total ", 6));
	if (svc_limit_parse(text, size, &v) == 0 && v != UINT64_MAX)
		FUZZ_CHECK(svc_single_parse(text, size, &rb) == 0 && rb == v);
	{
		bool frozen;

		if (svc_freezer_parse(text, size, &frozen) == 0)
			FUZZ_CHECK(frozen == (text[0] == 'F'));
		if (svc_keyed_parse(text, size, "oom_kill", &v) == 0)
			FUZZ_CHECK(memmem(text, size, "oom_kill ", 9));
	}
	who = host_container_from_cgroup(text, size);
	if (who) {
		char needle[8];

		snprintf(needle, sizeof(needle), "/%.3s", strcmp(who, "podman") ? who : "libpod");
		FUZZ_CHECK(memmem(text, size, needle, strlen(needle)));
	}
	free(text);
	return 0;
}
