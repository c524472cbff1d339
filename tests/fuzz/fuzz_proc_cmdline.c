/* proc_cmdline_format(): the command line shown for raw
 * /proc/<pid>/cmdline bytes. Input: a flags byte (bit 0: the read stopped
 * early), comm, NUL, then the raw bytes. Checks that the text is valid
 * UTF-8 without control characters, at most PROC_CMD_MAX bytes, ends in
 * "…" exactly when cut, and is otherwise the arguments with NULs and
 * blanks as spaces, trailing ones gone; an empty line shows "[comm]". */
#include "fuzz.h"

#include "proc_parse.h"

static bool blank(unsigned char c)
{
	return c <= ' ' || c == 0x7f;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	bool more = fuzz_byte(&in) & 1;
	char *comm, *raw, out[PROC_CMD_BUF + 1];
	size_t comm_len, raw_len, n, len;
	const char *ell = "\xe2\x80\xa6";

	comm = fuzz_take_str(&in, &comm_len);
	if (comm_len >= PROC_COMM_MAX)
		comm[PROC_COMM_MAX - 1] = '\0';
	raw_len = in.n;
	raw = fuzz_dup(in.p ? in.p : data, raw_len);

	memset(out, 'x', sizeof(out));
	n = proc_cmdline_format(raw, raw_len, more, comm, out);
	FUZZ_CHECK(n < PROC_CMD_BUF && out[n] == '\0' && strlen(out) == n);
	FUZZ_CHECK(fuzz_utf8_valid(out, n));
	for (len = raw_len; len > 0 && blank((unsigned char)raw[len - 1]); len--)
		;
	if (len == 0) {
		FUZZ_CHECK(n >= 2 && out[0] == '[' && out[n - 1] == ']');
		goto out;
	}
	FUZZ_CHECK(n <= PROC_CMD_MAX);
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK((unsigned char)out[i] >= ' ' && out[i] != 0x7f);
	if (!fuzz_utf8_valid(raw, len))
		goto out;
	/* valid text: cut exactly when asked or too long, else all of it */
	if (more || len > PROC_CMD_MAX) {
		FUZZ_CHECK(n >= 3 && memcmp(out + n - 3, ell, 3) == 0);
		FUZZ_CHECK(n == 3 || out[n - 4] != ' ');
		n -= 3;
	} else {
		FUZZ_CHECK(n == len);
	}
	for (size_t i = 0; i < n; i++)
		FUZZ_CHECK(out[i] == (blank((unsigned char)raw[i]) ? ' ' : raw[i]));
out:
	free(comm);
	free(raw);
	return 0;
}
