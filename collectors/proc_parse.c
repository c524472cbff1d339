/* The `proc` topic's parsers of /proc/<pid>/stat, status and cmdline: bytes
 * in, struct out, nothing read, nothing logged. */
#include "proc_parse.h"

#include <errno.h>
#include <string.h>

#include "procfs.h"
#include "utf8.h"

/* Field numbers are proc(5)'s, from 1: (1) pid, (2) comm, (3) state, then
 * tokens 0, 1, ... of the rest are fields 4, 5, ...: (4) ppid, (9) flags, (14) utime,
 * (15) stime, (20) num_threads, (22) starttime, (24) rss. Fields not used
 * must still be integers; later kernels may add fields at the end. */
int proc_stat_parse(const char *text, size_t len, struct proc_stat *ret)
{
	enum {
		F_PPID = 4 - 4,
		F_FLAGS = 9 - 4,
		F_UTIME = 14 - 4,
		F_STIME = 15 - 4,
		F_THREADS = 20 - 4,
		F_START = 22 - 4,
		F_RSS = 24 - 4,
		F_NEED = 24 - 4 + 1,
		USED = 1u << F_PPID | 1u << F_FLAGS | 1u << F_UTIME | 1u << F_STIME |
		       1u << F_THREADS | 1u << F_START | 1u << F_RSS,
	};
	const char *end, *open, *close, *p, *tok;
	struct proc_stat st;
	size_t tok_len, comm_len, n = 0;
	uint64_t pid;
	int r = -EINVAL;

	memset(&st, 0, sizeof(st));
	if (len == 0 || text[len - 1] != '\n')
		goto out;
	end = text + len - 1;
	open = memchr(text, '(', (size_t)(end - text));
	close = memrchr(text, ')', (size_t)(end - text));
	if (!open || !close || close < open || open - text < 2 || open[-1] != ' ')
		goto out;
	r = procfs_parse_u64(text, (size_t)(open - 1 - text), &pid);
	if (r < 0)
		goto out;
	r = -ERANGE;
	if (pid == 0 || pid > INT32_MAX)
		goto out;
	st.pid = (uint32_t)pid;
	r = -EINVAL;
	comm_len = (size_t)(close - open - 1);
	if (comm_len >= sizeof(st.comm) || memchr(open + 1, '\0', comm_len))
		goto out;
	memcpy(st.comm, open + 1, comm_len);
	st.comm[comm_len] = '\0';

	/* " S " */
	p = close + 1;
	if (end - p < 3 || p[0] != ' ' || p[2] != ' ')
		goto out;
	if (!((p[1] >= 'A' && p[1] <= 'Z') || (p[1] >= 'a' && p[1] <= 'z')))
		goto out;
	st.state = p[1];
	p += 2;
	/* one pass: each token an integer as the kernel prints %d/%ld/%lu/%llu
	 * (optional '-', digits), the fields used parsed as procfs_parse_u64()
	 * does (no sign, -ERANGE past UINT64_MAX); past the last one used,
	 * only checked (the loop below: half the tokens, a third the cost) */
	while (p < end && n < F_NEED) {
		uint64_t v = 0;
		bool neg, used;

		if (*p == ' ') {
			p++;
			continue;
		}
		neg = *p == '-';
		tok = p + neg;
		for (p = tok; p < end && (unsigned)(*p - '0') <= 9; p++)
			v = v * 10 + (uint64_t)(*p - '0');
		tok_len = (size_t)(p - tok);
		if (tok_len == 0 || (p < end && *p != ' '))
			goto out;
		used = (USED >> n) & 1u;
		if (used && neg)
			goto out;
		/* 20 digits or more may have wrapped: parse them again, checked */
		if (used && tok_len >= 20) {
			r = procfs_parse_u64(tok, tok_len, &v);
			if (r < 0)
				goto out;
			r = -EINVAL;
		}
		if ((n == F_FLAGS || n == F_PPID) && v > UINT32_MAX) {
			r = -ERANGE;
			goto out;
		}
		switch (n) {
		case F_PPID:
			st.ppid = (uint32_t)v;
			break;
		case F_FLAGS:
			st.flags = (uint32_t)v;
			break;
		case F_UTIME:
			st.utime = v;
			break;
		case F_STIME:
			st.stime = v;
			break;
		case F_THREADS:
			st.num_threads = v;
			break;
		case F_START:
			st.starttime = v;
			break;
		case F_RSS:
			st.rss_pages = v;
			break;
		}
		n++;
	}
	if (n < F_NEED)
		goto out;
	while (p < end) {
		if (*p == ' ') {
			p++;
			continue;
		}
		tok = p + (*p == '-');
		for (p = tok; p < end && (unsigned)(*p - '0') <= 9; p++)
			;
		if (p == tok || (p < end && *p != ' '))
			goto out;
	}
	*ret = st;
	r = 0;
out:
	return r;
}

/* "Uid:\t0\t0\t0\t0": real, effective, saved, filesystem. */
int proc_status_uid(const char *text, size_t len, uint32_t *ret_uid)
{
	const char *p = text, *end = text + len, *line;
	size_t line_len;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		const char *q, *e = line + line_len;
		uint32_t ids[4];

		if (line_len < 4 || memcmp(line, "Uid:", 4) != 0)
			continue;
		q = line + 4;
		for (size_t i = 0; i < 4; i++) {
			const char *start;

			if (q >= e || *q != '\t')
				return -EINVAL;
			start = ++q;
			while (q < e && *q != '\t')
				q++;
			r = procfs_parse_u32(start, (size_t)(q - start), &ids[i]);
			if (r < 0)
				return -EINVAL;
		}
		if (q != e)
			return -EINVAL;
		*ret_uid = ids[1];
		return 0;
	}
	return r < 0 ? r : -ENODATA;
}

static bool proc_is_blank(unsigned char c)
{
	return c <= ' ' || c == 0x7f;
}

size_t proc_cmdline_format(const char *raw, size_t len, bool more, const char *comm, char *out)
{
	const unsigned char *p = (const unsigned char *)raw;
	size_t i = 0, o = 0;
	bool cut = more;

	while (len > 0 && proc_is_blank(p[len - 1]))
		len--;
	if (len == 0) {
		out[0] = '[';
		o = 1 + utf8_sanitize(comm, strlen(comm), out + 1);
		out[o++] = ']';
		out[o] = '\0';
		return o;
	}
	while (i < len) {
		size_t bad = 1, n = proc_is_blank(p[i]) ? 1 : utf8_seq(p + i, len - i, &bad);
		size_t w = n == 0 ? 3 : n;

		if (o + w > PROC_CMD_MAX) {
			cut = true;
			break;
		}
		if (n == 0)
			memcpy(out + o, "\xef\xbf\xbd", 3);
		else if (proc_is_blank(p[i]))
			out[o] = ' ';
		else
			memcpy(out + o, p + i, n);
		o += w;
		i += n == 0 ? bad : n;
	}
	if (cut) {
		/* back to a character boundary with room for the ellipsis */
		while (o > PROC_CMD_MAX - 3) {
			do
				o--;
			while (o > 0 && ((unsigned char)out[o] & 0xc0) == 0x80);
		}
		while (o > 0 && out[o - 1] == ' ')
			o--;
		memcpy(out + o, "\xe2\x80\xa6", 3);
		o += 3;
	}
	out[o] = '\0';
	return o;
}

uint64_t proc_cpu_hundredths(uint64_t dticks, uint64_t hz, uint64_t dt_ns)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 num = (unsigned __int128)dticks * 10000u * 1000000000u;
	unsigned __int128 den = (unsigned __int128)hz * dt_ns, q;

	if (den == 0)
		return 0;
	q = (num + den / 2) / den;
	return q > UINT64_MAX ? UINT64_MAX : (uint64_t)q;
#else
	long double q;

	if (hz == 0 || dt_ns == 0)
		return 0;
	q = (long double)dticks * 1e13L / ((long double)hz * (long double)dt_ns) + 0.5L;
	return q >= 18446744073709551615.0L ? UINT64_MAX : (uint64_t)q;
#endif
}
