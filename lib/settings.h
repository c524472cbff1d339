/* Configuration keys described once in tables: the daemon's and each
 * collector's (a collector declares its own keys and gets only its own
 * settings). A table says each key's type, place in its settings struct,
 * range, default and whether a change needs a restart; parsing, defaults,
 * copies, live reloads and printing all walk it. Pure: errors come back
 * as text, nothing is logged. */
#ifndef SYSFEED_SETTINGS_H
#define SYSFEED_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>

#define LIST_MAX 64

/* A list of words, e.g. glob patterns ("!pattern" excludes). `dflt`: it
 * holds the default, which the first assignment replaces. */
struct list {
	char *v[LIST_MAX];
	size_t n;
	bool dflt;
};

/* Whether name passes the list: the last pattern that matches decides
 * ("!pat" excludes); a name no pattern matches is included when the list
 * only excludes, excluded when it names some to include; an empty list
 * answers `dflt`. */
bool list_match(const struct list *list, const char *name, bool dflt);

enum setting_type {
	SET_UINT, /* unsigned, decimal */
	SET_SIZE, /* size_t, decimal with an optional K, M or G (powers of 1024) */
	SET_STR,  /* char *, any text; NULL when unset */
	SET_LIST, /* struct list: words separated by commas or blanks, added up */
	SET_PRIO, /* unsigned, a syslog priority: 0..7 or emerg..debug */
	SET_BOOL, /* unsigned 0 or 1: yes/no, true/false, on/off, 1/0 */
};

struct setting {
	const char *name;
	enum setting_type type;
	size_t offset;                  /* in the settings struct */
	unsigned long long min, max;    /* numbers: the range; lists: at most max words */
	const char *dflt;               /* the default, written as in the file; NULL: none */
	bool restart;                   /* a change takes effect at the next start */
	int (*check)(const char *word); /* lists: each word must pass (0), else -EINVAL */
	const char *expect;             /* with check: what a word must be, for errors */
};

/* A table entry: name, type, offset, range and default, then any of
 * .restart, .check, .expect. Tables end with {0}. */
#define SETTING(n, t, o, lo, hi, d, ...)                                                           \
	{                                                                                          \
		.name = (n), .type = (t), .offset = (o), .min = (lo), .max = (hi), .dflt = (d),    \
		__VA_ARGS__                                                                        \
	}

const struct setting *settings_find(const struct setting *table, const char *name);
/* Sets the defaults into base (zeroed before); 0 or -ENOMEM. */
int settings_defaults(const struct setting *table, void *base);
void settings_free(const struct setting *table, void *base);
/* Deep copy of a settings struct of `size` bytes; 0 or -ENOMEM (dst is
 * then freed). */
int settings_copy(const struct setting *table, void *dst, const void *src, size_t size);
/* Sets one key from its text. Returns 0, -EINVAL with "KEY: reason" in
 * err, or -ENOMEM. */
int settings_set(const struct setting *s, void *base, const char *value, char *err, size_t err_len);
bool settings_equal(const struct setting *s, const void *a, const void *b);
/* Moves the keys that may change live from src into dst (src keeps the
 * values dst had). Returns whether a restart-only key differs. */
bool settings_apply_live(const struct setting *table, void *dst, void *src);
/* The value as it would be written in the file (lists joined by ", ");
 * returns the length it needs, like snprintf. */
int settings_format(const struct setting *s, const void *base, char *buf, size_t len);
/* A syslog priority by name (emerg..debug) or number (0..7), or -1. */
int settings_priority(const char *s);

#endif
