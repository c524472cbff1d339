/* The /proc/mdstat parser. */
#include "array.h"
#include "health_md.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

static struct md_array *md_add(struct md_stat *st)
{
	if (ARRAY_GROW(st->v, st->cap, st->n, 8) < 0)
		return NULL;
	memset(&st->v[st->n], 0, sizeof(st->v[0]));
	return &st->v[st->n++];
}

void md_stat_free(struct md_stat *st)
{
	if (!st)
		return;
	free(st->v);
	memset(st, 0, sizeof(*st));
}

static bool md_copy(char *dst, size_t size, const char *s, size_t len)
{
	if (len == 0 || len >= size || memchr(s, '\0', len))
		return false;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return true;
}

/* "name[N]" then any of "(W)", "(J)", "(F)", "(S)", "(R)", each at most
 * once, and never both (F) and (S): the kernel writes (F) for a faulty
 * member and goes on to the next, (S) only for a member without a slot. */
static int md_member(struct md_array *a, const char *tok, size_t len)
{
	static const char flags[] = "FSWJR"; /* bit 0 (F), bit 1 (S), ... */
	const char *open = memchr(tok, '[', len), *close, *end = tok + len;
	unsigned seen = 0;
	uint64_t slot;

	if (!open || open == tok)
		return -EINVAL;
	close = memchr(open, ']', (size_t)(end - open));
	if (!close || procfs_parse_u64(open + 1, (size_t)(close - open - 1), &slot) < 0)
		return -EINVAL;
	for (const char *p = close + 1; p < end; p += 3) {
		const char *flag =
		    end - p < 3 || p[0] != '(' || p[2] != ')' || !p[1] ? NULL : strchr(flags, p[1]);
		unsigned bit = flag ? 1u << (flag - flags) : 0;

		if (!flag || (seen & bit))
			return -EINVAL;
		seen |= bit;
	}
	if ((seen & 3u) == 3u) /* (F) and (S) */
		return -EINVAL;
	a->failed += seen & 1u;
	a->spares += (seen >> 1) & 1u;
	a->members++;
	return 0;
}

/* "md0 : active [(read-only)] raid1 sdb1[1] sda1[0](F)" */
static int md_header(struct md_array *a, const char *line, size_t len)
{
	const char *p = line, *end = line + len, *tok;
	size_t tl;
	int r;

	if (procfs_next_token(&p, end, &tok, &tl) <= 0 ||
	    !md_copy(a->name, sizeof(a->name), tok, tl))
		return -EINVAL;
	if (procfs_next_token(&p, end, &tok, &tl) <= 0 || !procfs_token_is(tok, tl, ":"))
		return -EINVAL;
	if (procfs_next_token(&p, end, &tok, &tl) <= 0)
		return -EINVAL;
	if (procfs_token_is(tok, tl, "active"))
		a->active = true;
	else if (!procfs_token_is(tok, tl, "inactive"))
		return -EINVAL;
	while (procfs_next_token(&p, end, &tok, &tl) > 0) {
		if (procfs_token_is(tok, tl, "(read-only)") ||
		    procfs_token_is(tok, tl, "(auto-read-only)")) {
			a->read_only = true;
		} else if (!memchr(tok, '[', tl)) {
			if (a->level[0] || a->members ||
			    !md_copy(a->level, sizeof(a->level), tok, tl))
				return -EINVAL;
		} else {
			r = md_member(a, tok, tl);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* "[n/m]" */
static int md_counts(struct md_array *a, const char *tok, size_t tl)
{
	const char *slash = memchr(tok, '/', tl);
	uint32_t n, m;
	int r;

	if (!slash || tok[tl - 1] != ']')
		return -EINVAL;
	if ((r = procfs_parse_u32(tok + 1, (size_t)(slash - tok - 1), &n)) < 0 ||
	    (r = procfs_parse_u32(slash + 1, (size_t)(tok + tl - 1 - slash - 1), &m)) < 0)
		return r;
	a->has_disks = true;
	a->disks = n;
	a->disks_up = m;
	return 0;
}

static bool md_action(const char *s, size_t len)
{
	static const char *const actions[] = {"resync", "recovery", "reshape", "check", "repair"};

	for (size_t i = 0; i < sizeof(actions) / sizeof(actions[0]); i++) {
		if (procfs_token_is(s, len, actions[i]))
			return true;
	}
	return false;
}

/* "N[.D]" with the suffix given cut off: into tenths. */
static int md_tenths(const char *s, size_t len, const char *suffix, uint64_t *ret)
{
	size_t k = strlen(suffix);

	if (len <= k || memcmp(s + len - k, suffix, k) != 0)
		return -EINVAL;
	return procfs_parse_fixed(s, len - k, 1, ret);
}

/* "[==>....]  resync = 12.6% (246231040/1953382400) finish=151.3min
 * speed=188012K/sec": the bar, the action, "=", the percent (glued to
 * "=" at 100.0%), done/total, then finish= and speed= in any order. */
static int md_progress(struct md_array *a, const char *p, const char *end)
{
	const char *tok, *slash;
	size_t tl;
	uint64_t v;
	int r;

	if (procfs_next_token(&p, end, &tok, &tl) <= 0 || tok[0] != '[' || tok[tl - 1] != ']')
		return -EINVAL;
	if (procfs_next_token(&p, end, &tok, &tl) <= 0 || !md_action(tok, tl))
		return -EINVAL;
	memcpy(a->sync_action, tok, tl);
	a->sync_action[tl] = '\0';
	if (procfs_next_token(&p, end, &tok, &tl) <= 0 || tok[0] != '=')
		return -EINVAL;
	if (tl == 1 && procfs_next_token(&p, end, &tok, &tl) <= 0)
		return -EINVAL;
	else if (tok[0] == '=') {
		tok++;
		tl--;
	}
	r = md_tenths(tok, tl, "%", &v);
	if (r < 0)
		return r;
	if (v > 1000)
		return -ERANGE;
	a->sync_permille = (unsigned)v;
	if (procfs_next_token(&p, end, &tok, &tl) <= 0 || tl < 5 || tok[0] != '(' ||
	    tok[tl - 1] != ')' || !(slash = memchr(tok, '/', tl)))
		return -EINVAL;
	if ((r = procfs_parse_u64(tok + 1, (size_t)(slash - tok - 1), &a->sync_done_kb)) < 0 ||
	    (r = procfs_parse_u64(slash + 1, (size_t)(tok + tl - 1 - slash - 1),
				  &a->sync_total_kb)) < 0)
		return r;
	while (procfs_next_token(&p, end, &tok, &tl) > 0) {
		if (tl > 7 && memcmp(tok, "finish=", 7) == 0)
			r = md_tenths(tok + 7, tl - 7, "min", &a->finish_ds);
		else if (tl > 6 && memcmp(tok, "speed=", 6) == 0 && tl > 6 + 5 &&
			 memcmp(tok + tl - 5, "K/sec", 5) == 0)
			r = procfs_parse_u64(tok + 6, tl - 6 - 5, &a->speed_kbs);
		else
			r = -EINVAL;
		if (r < 0)
			return r;
	}
	a->sync_running = true;
	return 0;
}

/* An indented line of the array's block. */
static int md_body(struct md_array *a, const char *line, size_t len)
{
	const char *p = line, *end = line + len, *tok, *eq;
	size_t tl;
	bool blocks = false;
	int r;

	if (procfs_next_token(&p, end, &tok, &tl) <= 0)
		return 0; /* the blank line after each array */
	while (tl > 1 && tok[0] == '\t') {
		tok++;
		tl--;
	}
	if (tok[0] == '[' && tl > 1 && (tok[1] == '=' || tok[1] == '>' || tok[1] == '.'))
		return md_progress(a, line, end);
	eq = memchr(tok, '=', tl);
	if (eq && md_action(tok, (size_t)(eq - tok))) { /* resync=DELAYED, =PENDING */
		memcpy(a->sync_action, tok, (size_t)(eq - tok));
		a->sync_action[eq - tok] = '\0';
		return 0;
	}
	for (p = line; procfs_next_token(&p, end, &tok, &tl) > 0;) {
		if (procfs_token_is(tok, tl, "blocks"))
			blocks = true;
		else if (blocks && tl >= 5 && tok[0] == '[' && memchr(tok, '/', tl)) {
			r = md_counts(a, tok, tl);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

int md_stat_parse(const char *text, size_t len, struct md_stat *st)
{
	const char *p = text, *end = text + len, *line;
	struct md_array *a = NULL;
	size_t ll;
	int r;

	st->n = 0;
	while ((r = procfs_next_line(&p, end, &line, &ll)) > 0) {
		if (ll == 0)
			continue;
		if (line[0] == ' ' || line[0] == '\t') {
			if (a && (r = md_body(a, line, ll)) < 0)
				break;
			continue;
		}
		a = NULL;
		if ((ll >= 13 && memcmp(line, "Personalities", 13) == 0) ||
		    (ll >= 14 && memcmp(line, "unused devices", 14) == 0))
			continue;
		a = md_add(st);
		if (!a) {
			r = -ENOMEM;
			break;
		}
		r = md_header(a, line, ll);
		if (r < 0)
			break;
	}
	if (r < 0)
		st->n = 0;
	return r;
}
