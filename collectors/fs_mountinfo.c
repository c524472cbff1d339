/* The mountinfo parser the `fs` and `host` topics share: one line of
 * /proc/<pid>/mountinfo into one struct fs_mount, strings unescaped. */
#include "fs_mountinfo.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "procfs.h"

/* Splits the next field off [*pos, end): fields are separated by exactly
 * one space, so an empty field is possible and a run of spaces is not. */
static int fs_next_field(const char **pos, const char *end, const char **ret, size_t *ret_len)
{
	const char *p = *pos, *sp;

	if (p > end)
		return 0;
	sp = memchr(p, ' ', (size_t)(end - p));
	if (!sp)
		sp = end;
	*ret = p;
	*ret_len = (size_t)(sp - p);
	*pos = sp + 1; /* past end when this was the last field */
	return 1;
}

/* Copies a field into the arena at *dst, decoding the \ooo escapes the
 * kernel writes for space, tab, newline and backslash; returns the
 * NUL-terminated copy's start or NULL on a bad escape. */
static const char *fs_unescape(const char *s, size_t len, char **dst)
{
	char *out = *dst, *start = *dst;

	for (size_t i = 0; i < len; i++) {
		unsigned v;

		if (s[i] == '\0')
			return NULL;
		if (s[i] != '\\') {
			*out++ = s[i];
			continue;
		}
		if (len - i < 4)
			return NULL;
		if (s[i + 1] < '0' || s[i + 1] > '3' || s[i + 2] < '0' || s[i + 2] > '7' ||
		    s[i + 3] < '0' || s[i + 3] > '7')
			return NULL;
		v = (unsigned)(s[i + 1] - '0') * 64 + (unsigned)(s[i + 2] - '0') * 8 +
		    (unsigned)(s[i + 3] - '0');
		if (v == 0)
			return NULL;
		*out++ = (char)v;
		i += 3;
	}
	*out++ = '\0';
	*dst = out;
	return start;
}

/* Whether the comma-separated options hold exactly "ro". */
static bool fs_opts_ro(const char *s, size_t len)
{
	const char *p = s, *end = s + len;

	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);

		if (n == 2 && p[0] == 'r' && p[1] == 'o')
			return true;
		p += n + 1;
	}
	return false;
}

static struct fs_mount *fs_mountinfo_add(struct fs_mountinfo *mi)
{
	if (ARRAY_GROW(mi->v, mi->cap, mi->n, 32) < 0)
		return NULL;
	return &mi->v[mi->n++];
}

/* Fields: 1 mount id, 2 parent id, 3 major:minor, 4 root, 5 mount point,
 * 6 mount options, 7.. optional "tag[:value]" fields, then "-", then
 * filesystem type, mount source, super options. */
static int fs_parse_line(struct fs_mountinfo *mi, const char *line, size_t len, char **arena)
{
	const char *p = line, *end = line + len, *f[6], *colon, *t[3];
	size_t fl[6], tl[3], n;
	unsigned parent;
	struct fs_mount m;
	int r;

	for (size_t i = 0; i < 6; i++) {
		if (fs_next_field(&p, end, &f[i], &fl[i]) <= 0 || fl[i] == 0)
			return -EINVAL;
	}
	if ((r = procfs_parse_u32(f[0], fl[0], &m.mount_id)) < 0 ||
	    (r = procfs_parse_u32(f[1], fl[1], &parent)) < 0)
		return r;
	colon = memchr(f[2], ':', fl[2]);
	if (!colon)
		return -EINVAL;
	if ((r = procfs_parse_u32(f[2], (size_t)(colon - f[2]), &m.major)) < 0 ||
	    (r = procfs_parse_u32(colon + 1, fl[2] - (size_t)(colon - f[2]) - 1, &m.minor)) < 0)
		return r;
	m.mount_ro = fs_opts_ro(f[5], fl[5]);
	/* optional fields, up to the separator */
	for (;;) {
		const char *o;
		size_t ol;

		if (fs_next_field(&p, end, &o, &ol) <= 0 || ol == 0)
			return -EINVAL;
		if (ol == 1 && o[0] == '-')
			break;
	}
	for (n = 0; n < 3; n++) {
		if (fs_next_field(&p, end, &t[n], &tl[n]) <= 0)
			return -EINVAL;
	}
	if (p <= end || tl[0] == 0 || tl[2] == 0) /* a fourth field, or empty ones */
		return -EINVAL;
	m.super_ro = fs_opts_ro(t[2], tl[2]);
	m.read_only = m.mount_ro || m.super_ro;
	if (!(m.root = fs_unescape(f[3], fl[3], arena)) ||
	    !(m.mount_point = fs_unescape(f[4], fl[4], arena)) ||
	    !(m.fstype = fs_unescape(t[0], tl[0], arena)) ||
	    !(m.source = fs_unescape(t[1], tl[1], arena)))
		return -EINVAL;
	{
		struct fs_mount *slot = fs_mountinfo_add(mi);

		if (!slot)
			return -ENOMEM;
		*slot = m;
	}
	return 0;
}

int fs_mountinfo_parse(const char *text, size_t len, struct fs_mountinfo *mi)
{
	const char *p = text, *end = text + len, *line;
	size_t line_len;
	char *arena;
	int r;

	mi->n = 0;
	/* every unescaped field is at most as long as its text, and the
	 * separator after it makes room for its NUL */
	if (mi->arena_cap < len + 1) {
		char *a = realloc(mi->arena, len + 1);

		if (!a)
			return -ENOMEM;
		mi->arena = a;
		mi->arena_cap = len + 1;
	}
	arena = mi->arena;
	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		r = fs_parse_line(mi, line, line_len, &arena);
		if (r < 0)
			break;
	}
	if (r < 0)
		mi->n = 0;
	return r < 0 ? r : 0;
}

void fs_mountinfo_free(struct fs_mountinfo *mi)
{
	if (!mi)
		return;
	free(mi->v);
	free(mi->arena);
	memset(mi, 0, sizeof(*mi));
}
