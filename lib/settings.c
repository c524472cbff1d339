/* Configuration keys described in tables: see settings.h. */
#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fmt.h"

#define AT(base, s) ((char *)(base) + (s)->offset)

bool list_match(const struct list *list, const char *name, bool dflt)
{
	bool any_include = false;
	int last = -1;

	if (list->n == 0)
		return dflt;
	for (size_t i = 0; i < list->n; i++) {
		const char *pat = list->v[i];
		bool neg = pat[0] == '!';

		any_include |= !neg;
		if (fnmatch(neg ? pat + 1 : pat, name, 0) == 0)
			last = (int)i;
	}
	if (last < 0)
		return !any_include;
	return list->v[last][0] != '!';
}

static void list_clear(struct list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

int settings_priority(const char *s)
{
	static const char *const names[] = {"emerg",   "alert",  "crit", "err",
					    "warning", "notice", "info", "debug"};

	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	for (int i = 0; i < 8; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

/* Decimal number with an optional K/M/G suffix (powers of 1024) for sizes. */
static int parse_number(const char *value, bool allow_suffix, unsigned long long *ret)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)value[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno)
		return -EINVAL;
	if (allow_suffix && *end) {
		unsigned shift;

		switch (toupper((unsigned char)*end)) {
		case 'K':
			shift = 10;
			break;
		case 'M':
			shift = 20;
			break;
		case 'G':
			shift = 30;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if (toupper((unsigned char)*end) == 'I')
			end++;
		if (toupper((unsigned char)*end) == 'B')
			end++;
		if (v > (ULLONG_MAX >> shift))
			return -EINVAL;
		v <<= shift;
	}
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* Appends comma- or blank-separated words; the first assignment replaces
 * a default. */
static int list_add(const struct setting *s, struct list *l, const char *value, char *err,
		    size_t err_len)
{
	char *copy = strdup(value), *save = NULL, *tok;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	if (!value[strspn(value, ", \t")]) { /* separators alone: no word at all */
		fmt_err(err, err_len, "%s: empty value", s->name);
		r = -EINVAL;
		goto out;
	}
	if (l->dflt) {
		list_clear(l);
		l->dflt = false;
	}
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (tok[0] == '#') { /* it would read as a comment once printed */
			fmt_err(err, err_len,
				"%s: bad value '%.100s' (a word may not start with #)", s->name,
				tok);
			r = -EINVAL;
			goto out;
		}
		if (s->check && s->check(tok) < 0) {
			fmt_err(err, err_len, "%s: bad value '%.100s' (expected %s)", s->name, tok,
				s->expect ? s->expect : "a valid word");
			r = -EINVAL;
			goto out;
		}
		if (l->n >= s->max || l->n >= LIST_MAX) {
			fmt_err(err, err_len, "%s: more than %llu entries", s->name,
				s->max < LIST_MAX ? s->max : (unsigned long long)LIST_MAX);
			r = -EINVAL;
			goto out;
		}
		if (!(l->v[l->n] = strdup(tok))) {
			r = -ENOMEM;
			goto out;
		}
		l->n++;
	}
out:
	free(copy);
	return r;
}

const struct setting *settings_find(const struct setting *table, const char *name)
{
	for (const struct setting *s = table; s && s->name; s++)
		if (strcmp(s->name, name) == 0)
			return s;
	return NULL;
}

/* yes/no, true/false, on/off, 1/0: 1, 0, or -1. */
static int parse_bool(const char *v)
{
	static const char *const words[] = {"no", "yes", "false", "true", "off", "on", "0", "1"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (strcasecmp(v, words[i]) == 0)
			return (int)(i & 1);
	return -1;
}

int settings_set(const struct setting *s, void *base, const char *value, char *err, size_t err_len)
{
	unsigned long long v;
	int prio;
	char *str;

	if (!*value) {
		fmt_err(err, err_len, "%s: empty value", s->name);
		return -EINVAL;
	}
	switch (s->type) {
	case SET_UINT:
	case SET_SIZE:
		if (parse_number(value, s->type == SET_SIZE, &v) < 0 || v < s->min || v > s->max) {
			fmt_err(err, err_len, "%s: bad value '%.100s' (expected %llu to %llu)",
				s->name, value, s->min, s->max);
			return -EINVAL;
		}
		if (s->type == SET_UINT)
			*(unsigned *)AT(base, s) = (unsigned)v;
		else
			*(size_t *)AT(base, s) = (size_t)v;
		return 0;
	case SET_PRIO:
		if ((prio = settings_priority(value)) < 0) {
			fmt_err(
			    err, err_len,
			    "%s: bad value '%.100s' (expected 0 to 7 or emerg, alert, crit, err, "
			    "warning, notice, info, debug)",
			    s->name, value);
			return -EINVAL;
		}
		*(unsigned *)AT(base, s) = (unsigned)prio;
		return 0;
	case SET_BOOL:
		if ((prio = parse_bool(value)) < 0) {
			fmt_err(err, err_len, "%s: bad value '%.100s' (expected yes or no)",
				s->name, value);
			return -EINVAL;
		}
		*(unsigned *)AT(base, s) = (unsigned)prio;
		return 0;
	case SET_STR:
		if (!(str = strdup(value)))
			return -ENOMEM;
		free(*(char **)AT(base, s));
		*(char **)AT(base, s) = str;
		return 0;
	case SET_LIST:
		return list_add(s, (struct list *)AT(base, s), value, err, err_len);
	}
	return -EINVAL;
}

int settings_defaults(const struct setting *table, void *base)
{
	for (const struct setting *s = table; s && s->name; s++) {
		char err[256];

		if (!s->dflt)
			continue;
		if (settings_set(s, base, s->dflt, err, sizeof(err)) < 0)
			return -ENOMEM; /* a table's own default is always valid */
		if (s->type == SET_LIST)
			((struct list *)AT(base, s))->dflt = true;
	}
	return 0;
}

void settings_free(const struct setting *table, void *base)
{
	for (const struct setting *s = table; base && s && s->name; s++) {
		if (s->type == SET_STR) {
			free(*(char **)AT(base, s));
			*(char **)AT(base, s) = NULL;
		} else if (s->type == SET_LIST) {
			list_clear((struct list *)AT(base, s));
		}
	}
}

int settings_copy(const struct setting *table, void *dst, const void *src, size_t size)
{
	int r = 0;

	memcpy(dst, src, size);
	for (const struct setting *s = table; s && s->name; s++) {
		if (s->type == SET_STR) {
			char **p = (char **)AT(dst, s);

			if (*p && !(*p = strdup(*p)))
				r = -ENOMEM;
		} else if (s->type == SET_LIST) {
			struct list *l = (struct list *)AT(dst, s);

			for (size_t i = 0; i < l->n; i++)
				if (!(l->v[i] = strdup(l->v[i]))) {
					r = -ENOMEM;
					/* the rest still point into src: forget them */
					l->n = i;
					break;
				}
		}
	}
	if (r < 0)
		settings_free(table, dst);
	return r;
}

bool settings_equal(const struct setting *s, const void *a, const void *b)
{
	const char *pa = AT(a, s), *pb = AT(b, s);

	switch (s->type) {
	case SET_UINT:
	case SET_PRIO:
	case SET_BOOL:
		return *(const unsigned *)pa == *(const unsigned *)pb;
	case SET_SIZE:
		return *(const size_t *)pa == *(const size_t *)pb;
	case SET_STR: {
		const char *x = *(char *const *)pa, *y = *(char *const *)pb;

		return x == y || (x && y && strcmp(x, y) == 0);
	}
	case SET_LIST: {
		const struct list *x = (const struct list *)pa, *y = (const struct list *)pb;

		if (x->n != y->n)
			return false;
		for (size_t i = 0; i < x->n; i++)
			if (strcmp(x->v[i], y->v[i]) != 0)
				return false;
		return true;
	}
	}
	return false;
}

bool settings_apply_live(const struct setting *table, void *dst, void *src)
{
	bool restart = false;

	for (const struct setting *s = table; s && s->name; s++) {
		size_t n = s->type == SET_LIST   ? sizeof(struct list)
			   : s->type == SET_SIZE ? sizeof(size_t)
			   : s->type == SET_STR  ? sizeof(char *)
						 : sizeof(unsigned);
		char tmp[sizeof(struct list)];

		if (settings_equal(s, dst, src))
			continue;
		if (s->restart) {
			restart = true;
			continue;
		}
		memcpy(tmp, AT(dst, s), n);
		memcpy(AT(dst, s), AT(src, s), n);
		memcpy(AT(src, s), tmp, n);
	}
	return restart;
}

int settings_format(const struct setting *s, const void *base, char *buf, size_t len)
{
	static const char *const prio[] = {"emerg",   "alert",  "crit", "err",
					   "warning", "notice", "info", "debug"};
	const char *p = AT(base, s);
	size_t off = 0;

	switch (s->type) {
	case SET_UINT:
		return snprintf(buf, len, "%u", *(const unsigned *)p);
	case SET_SIZE:
		return snprintf(buf, len, "%zu", *(const size_t *)p);
	case SET_PRIO:
		return snprintf(buf, len, "%s", prio[*(const unsigned *)p & 7]);
	case SET_BOOL:
		return snprintf(buf, len, "%s", *(const unsigned *)p ? "yes" : "no");
	case SET_STR:
		return snprintf(buf, len, "%s", *(char *const *)p ? *(char *const *)p : "");
	case SET_LIST: {
		const struct list *l = (const struct list *)p;

		if (len)
			buf[0] = '\0';
		for (size_t i = 0; i < l->n; i++)
			off += (size_t)snprintf(off < len ? buf + off : NULL,
						off < len ? len - off : 0, "%s%s", i ? ", " : "",
						l->v[i]);
		return (int)off;
	}
	}
	return 0;
}
