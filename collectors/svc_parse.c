/* The parsers of cgroup v2 and v1 files (flat keyed files, single-number
 * files, io.stat, blkio, memory limits, freezer.state) that the `svc` and
 * `containers` topics read: bytes in, numbers out. */
#include "svc_parse.h"

#include <errno.h>
#include <string.h>

#include "procfs.h"

int svc_keyed_parse(const char *text, size_t len, const char *want, uint64_t *ret)
{
	const char *p = text, *end = text + len;
	size_t want_len = strlen(want);
	bool found = false;

	/* the kernel writes "%s %llu\n" lines: one space, a number */
	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *sp = memchr(p, ' ', (size_t)((eol ? eol : end) - p));
		uint64_t v;
		int r;

		if (!eol || !sp || sp == p)
			return -EINVAL;
		r = procfs_parse_u64(sp + 1, (size_t)(eol - sp - 1), &v);
		if (r < 0)
			return r;
		if ((size_t)(sp - p) == want_len && memcmp(p, want, want_len) == 0) {
			if (found)
				return -EINVAL;
			found = true;
			*ret = v;
		}
		p = eol + 1;
	}
	return found ? 0 : -ENODATA;
}

int svc_cpu_stat_parse(const char *text, size_t len, uint64_t *ret_usage_usec)
{
	return svc_keyed_parse(text, len, "usage_usec", ret_usage_usec);
}

int svc_single_parse(const char *text, size_t len, uint64_t *ret)
{
	if (len < 2 || text[len - 1] != '\n')
		return -EINVAL;
	return procfs_parse_u64(text, len - 1, ret);
}

/* "MAJ:MIN" */
static bool svc_is_dev(const char *s, size_t len)
{
	const char *colon = memchr(s, ':', len);
	uint64_t v;

	return colon && procfs_parse_u64(s, (size_t)(colon - s), &v) == 0 &&
	       procfs_parse_u64(colon + 1, len - (size_t)(colon + 1 - s), &v) == 0;
}

int svc_io_stat_parse(const char *text, size_t len, uint64_t *ret_rbytes, uint64_t *ret_wbytes)
{
	const char *p = text, *end = text + len, *line;
	uint64_t rsum = 0, wsum = 0;
	size_t line_len;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		const char *q = line, *e = line + line_len, *tok;
		size_t tok_len;
		uint64_t rb = 0, wb = 0;
		unsigned seen = 0;

		if (procfs_next_token(&q, e, &tok, &tok_len) <= 0 || !svc_is_dev(tok, tok_len))
			return -EINVAL;
		while (procfs_next_token(&q, e, &tok, &tok_len) > 0) {
			const char *eq = memchr(tok, '=', tok_len);
			size_t klen, vlen;

			if (!eq || eq == tok || eq == tok + tok_len - 1)
				return -EINVAL;
			klen = (size_t)(eq - tok);
			vlen = tok_len - klen - 1;
			if (procfs_token_is(tok, klen, "rbytes") ||
			    procfs_token_is(tok, klen, "wbytes")) {
				unsigned bit = tok[0] == 'r' ? 1u : 2u;

				if (seen & bit)
					return -EINVAL;
				seen |= bit;
				r = procfs_parse_u64(eq + 1, vlen, bit == 1 ? &rb : &wb);
				if (r < 0)
					return r;
			}
		}
		if (seen != 3)
			return -EINVAL;
		if (rsum > UINT64_MAX - rb || wsum > UINT64_MAX - wb)
			return -ERANGE;
		rsum += rb;
		wsum += wb;
	}
	if (r < 0)
		return r;
	*ret_rbytes = rsum;
	*ret_wbytes = wsum;
	return 0;
}

int svc_limit_parse(const char *text, size_t len, uint64_t *ret)
{
	if (len == 4 && memcmp(text, "max\n", 4) == 0) {
		*ret = UINT64_MAX;
		return 0;
	}
	return svc_single_parse(text, len, ret);
}

int svc_blkio_parse(const char *text, size_t len, uint64_t *ret_rbytes, uint64_t *ret_wbytes)
{
	const char *p = text, *end = text + len, *line;
	uint64_t sum[2] = {0, 0};
	size_t line_len;
	bool total = false;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		const char *q = line, *e = line + line_len, *tok[4];
		size_t tlen[4], n = 0;
		uint64_t v;

		while (n < 4 && procfs_next_token(&q, e, &tok[n], &tlen[n]) > 0)
			n++;
		if (total || n == 4)
			return -EINVAL; /* a line after "Total N", or four words */
		if (n == 2 && procfs_token_is(tok[0], tlen[0], "Total")) {
			total = true; /* the last line: the sum of every device */
			r = procfs_parse_u64(tok[1], tlen[1], &v);
			if (r < 0)
				return r;
			continue;
		}
		if (n != 3 || !svc_is_dev(tok[0], tlen[0]))
			return -EINVAL;
		r = procfs_parse_u64(tok[2], tlen[2], &v);
		if (r < 0)
			return r;
		for (unsigned k = 0; k < 2; k++) {
			if (!procfs_token_is(tok[1], tlen[1], k == 0 ? "Read" : "Write"))
				continue;
			if (sum[k] > UINT64_MAX - v)
				return -ERANGE;
			sum[k] += v;
		}
	}
	if (r < 0)
		return r;
	if (!total)
		return -EINVAL;
	*ret_rbytes = sum[0];
	*ret_wbytes = sum[1];
	return 0;
}

int svc_freezer_parse(const char *text, size_t len, bool *ret_frozen)
{
	if (len == 7 && memcmp(text, "THAWED\n", 7) == 0)
		*ret_frozen = false;
	else if ((len == 7 && memcmp(text, "FROZEN\n", 7) == 0) ||
		 (len == 9 && memcmp(text, "FREEZING\n", 9) == 0))
		*ret_frozen = true;
	else
		return -EINVAL;
	return 0;
}
