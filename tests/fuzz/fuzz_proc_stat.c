/* proc_stat_parse(): /proc/<pid>/stat. Checks the fields read against the
 * line as proc(5) numbers them: pid first, comm up to the last ')', the
 * state letter, then tokens 4 and on, with flags, utime, stime,
 * num_threads, starttime and rss at 9, 14, 15, 20, 22 and 24. */
#include "fuzz.h"

#include "proc_parse.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct {
		size_t field;
		size_t off;
	} used[] = {
	    {9, offsetof(struct proc_stat, flags)},
	    {14, offsetof(struct proc_stat, utime)},
	    {15, offsetof(struct proc_stat, stime)},
	    {20, offsetof(struct proc_stat, num_threads)},
	    {22, offsetof(struct proc_stat, starttime)},
	    {24, offsetof(struct proc_stat, rss_pages)},
	};
	char *text = fuzz_dup(data, size), *line;
	const char *close, *p;
	struct proc_stat st;
	size_t field = 4;

	if (proc_stat_parse(text, size, &st) < 0)
		goto out;
	line = fuzz_str(data, size); /* parsed: no NUL, ends in '\n' */
	FUZZ_CHECK(strlen(line) == size && line[size - 1] == '\n');
	FUZZ_CHECK(st.pid > 0 && strtoul(line, NULL, 10) == st.pid);
	close = strrchr(line, ')');
	FUZZ_CHECK(strlen(st.comm) < PROC_COMM_MAX &&
		   (size_t)(close - strchr(line, '(') - 1) == strlen(st.comm) &&
		   memcmp(strchr(line, '(') + 1, st.comm, strlen(st.comm)) == 0);
	FUZZ_CHECK(close[1] == ' ' && close[2] == st.state && close[3] == ' ');
	for (p = close + 3; *p != '\n'; field++) {
		char *end;

		while (*p == ' ')
			p++;
		if (*p == '\n')
			break;
		for (size_t i = 0; i < sizeof(used) / sizeof(used[0]); i++) {
			if (used[i].field != field)
				continue;
			if (field == 9)
				FUZZ_CHECK(strtoull(p, &end, 10) == st.flags);
			else
				FUZZ_CHECK(strtoull(p, &end, 10) ==
					   *(const uint64_t *)((const char *)&st + used[i].off));
		}
		p += strcspn(p, " \n");
	}
	FUZZ_CHECK(field > 24);
	free(line);
out:
	free(text);
	return 0;
}
