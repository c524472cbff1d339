/* The `svc` topic's parsers of cgroup v2 files (cpu.stat, single-number
 * files, io.stat): bytes in, numbers out. */
#include "svc_parse.h"

#include <errno.h>
#include <string.h>

#include "procfs.h"

int svc_cpu_stat_parse(const char *text, size_t len, uint64_t *ret_usage_usec)
{
	const char *p = text, *end = text + len, *line;
	size_t line_len;
	bool found = false;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		const char *q = line, *e = line + line_len, *key, *val, *extra;
		size_t key_len, val_len, extra_len;
		uint64_t v;

		if (procfs_next_token(&q, e, &key, &key_len) <= 0 ||
		    procfs_next_token(&q, e, &val, &val_len) <= 0 ||
		    procfs_next_token(&q, e, &extra, &extra_len) > 0)
			return -EINVAL;
		r = procfs_parse_u64(val, val_len, &v);
		if (r < 0)
			return r;
		if (procfs_token_is(key, key_len, "usage_usec")) {
			if (found)
				return -EINVAL;
			found = true;
			*ret_usage_usec = v;
		}
	}
	if (r < 0)
		return r;
	return found ? 0 : -ENODATA;
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
