/* Helpers shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.c, one per
 * parser or per input the HTTP side parses; `make fuzz` builds and runs
 * them). A harness checks invariants with FUZZ_CHECK, which aborts so that
 * libFuzzer saves the input. Every function is marked unused so that a
 * harness using some of them still builds with -Werror. */
#ifndef SYSFEED_FUZZ_H
#define SYSFEED_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_CHECK(cond)                                                                           \
	do {                                                                                       \
		if (!(cond))                                                                       \
			fuzz_fail(__FILE__, __LINE__, #cond);                                      \
	} while (0)

__attribute__((unused, noreturn)) static void fuzz_fail(const char *file, int line,
							const char *what)
{
	fprintf(stderr, "%s:%d: invariant broken: %s\n", file, line, what);
	abort();
}

/* An exact-size heap copy: a parser reading past `size` is an ASan error
 * (a libFuzzer input may sit in a larger buffer). */
__attribute__((unused)) static char *fuzz_dup(const uint8_t *data, size_t size)
{
	char *p = malloc(size ? size : 1);

	FUZZ_CHECK(p);
	if (size)
		memcpy(p, data, size);
	return p;
}

/* A NUL-terminated copy, for inputs that arrive as C strings (headers,
 * query values): it ends at the first NUL of data. */
__attribute__((unused)) static char *fuzz_str(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, '\0', size);
	size_t n = nul ? (size_t)(nul - data) : size;
	char *p = malloc(n + 1);

	FUZZ_CHECK(p);
	memcpy(p, data, n);
	p[n] = '\0';
	return p;
}

/* Reads an input as fields: fuzz_take() gives the bytes up to the next
 * NUL (or the rest), so that "text1\0text2" feeds two files to a parser;
 * fuzz_byte() and fuzz_u64() take bytes off the front (0 when none are
 * left). */
struct fuzz_in {
	const uint8_t *p;
	size_t n;
};

__attribute__((unused)) static uint8_t fuzz_byte(struct fuzz_in *in)
{
	uint8_t b = 0;

	if (in->n) {
		b = in->p[0];
		in->p++;
		in->n--;
	}
	return b;
}

__attribute__((unused)) static uint64_t fuzz_u64(struct fuzz_in *in)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v = v << 8 | fuzz_byte(in);
	return v;
}

/* The next field, as an exact-size copy (free it); false when the input
 * is used up. */
__attribute__((unused)) static bool fuzz_take(struct fuzz_in *in, char **ret, size_t *ret_len)
{
	const uint8_t *nul;
	size_t n;

	if (!in->p)
		return false;
	nul = memchr(in->p, '\0', in->n);
	n = nul ? (size_t)(nul - in->p) : in->n;
	*ret = fuzz_dup(in->p, n);
	*ret_len = n;
	if (nul) {
		in->p = nul + 1;
		in->n -= n + 1;
	} else {
		in->p = NULL; /* the last field, even when empty */
		in->n = 0;
	}
	return true;
}

/* The next field as a C string (a header, a query value, a name): empty
 * when the input is used up. Free it. */
__attribute__((unused)) static char *fuzz_take_str(struct fuzz_in *in, size_t *ret_len)
{
	char *s = NULL;
	size_t n = 0;

	if (!fuzz_take(in, &s, &n))
		s = NULL;
	s = realloc(s, n + 1);
	FUZZ_CHECK(s);
	s[n] = '\0';
	if (ret_len)
		*ret_len = n;
	return s;
}

/* A file at two ticks, "prev\0cur": the first two fields, the second
 * empty when there is none. */
__attribute__((unused)) static void fuzz_take_two(struct fuzz_in *in, char **a, size_t *a_len,
						  char **b, size_t *b_len)
{
	if (!fuzz_take(in, a, a_len)) {
		*a = fuzz_dup(NULL, 0);
		*a_len = 0;
	}
	if (!fuzz_take(in, b, b_len)) {
		*b = fuzz_dup(NULL, 0);
		*b_len = 0;
	}
}

/* A file at two ticks, "prev\0cur", as fuzz_parse_two() reads it: each
 * text (an exact-size copy) and what the parser returned for it. */
struct fuzz_two {
	char *text[2];
	size_t len[2];
	int r[2];
};

/* A parser of a whole file into ret, and a check of a parse that
 * succeeded against the text it came from. */
typedef int (*fuzz_parse_fn)(const char *text, size_t len, void *ret);
typedef void (*fuzz_check_fn)(const void *parsed, const char *text, size_t len);

/* Parses the two files of data into prev and cur; check sees each one
 * that parsed. Release with fuzz_two_free(). */
__attribute__((unused)) static void fuzz_parse_two(const uint8_t *data, size_t size,
						   fuzz_parse_fn parse, fuzz_check_fn check,
						   void *prev, void *cur, struct fuzz_two *t)
{
	struct fuzz_in in = {data, size};
	void *ret[2] = {prev, cur};

	fuzz_take_two(&in, &t->text[0], &t->len[0], &t->text[1], &t->len[1]);
	for (int i = 0; i < 2; i++) {
		t->r[i] = parse(t->text[i], t->len[i], ret[i]);
		if (t->r[i] == 0)
			check(ret[i], t->text[i], t->len[i]);
	}
}

__attribute__((unused)) static void fuzz_two_free(struct fuzz_two *t)
{
	free(t->text[0]);
	free(t->text[1]);
}

/* Whether s is valid UTF-8 (RFC 3629: no overlong forms, no surrogates,
 * nothing past U+10FFFF). Written apart from the daemon's sanitisers, so
 * that it checks them rather than agrees with them. */
__attribute__((unused)) static bool fuzz_utf8_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < len) {
		uint32_t cp;
		size_t n;

		if (p[i] < 0x80) {
			i++;
			continue;
		}
		if ((p[i] & 0xe0) == 0xc0) {
			n = 2;
			cp = p[i] & 0x1f;
		} else if ((p[i] & 0xf0) == 0xe0) {
			n = 3;
			cp = p[i] & 0x0f;
		} else if ((p[i] & 0xf8) == 0xf0) {
			n = 4;
			cp = p[i] & 0x07;
		} else {
			return false;
		}
		if (len - i < n)
			return false;
		for (size_t k = 1; k < n; k++) {
			if ((p[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i + k] & 0x3f);
		}
		if ((n == 2 && cp < 0x80) || (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += n;
	}
	return true;
}

/* What the daemon promises of every JSON text it serves: json_print()
 * writes what cJSON_PrintUnformatted() writes, the text is valid UTF-8,
 * and it parses back. Frees nothing: the caller owns item. */
__attribute__((unused)) static void fuzz_check_json(const cJSON *item)
{
	char *ours, *theirs;
	size_t len = 0;
	cJSON *back;

	FUZZ_CHECK(item);
	ours = json_print(item, &len);
	theirs = cJSON_PrintUnformatted(item);
	FUZZ_CHECK(ours && theirs);
	FUZZ_CHECK(len == strlen(ours));
	FUZZ_CHECK(strcmp(ours, theirs) == 0);
	FUZZ_CHECK(fuzz_utf8_valid(ours, len));
	back = cJSON_ParseWithLength(ours, len);
	FUZZ_CHECK(back);
	cJSON_Delete(back);
	free(ours);
	free(theirs);
}

/* Every number in the tree is 0 or more: counters, rates and sizes. */
__attribute__((unused)) static void fuzz_check_nonneg(const cJSON *o)
{
	for (const cJSON *c = o->child; c; c = c->next) {
		if (c->child)
			fuzz_check_nonneg(c);
		else if (cJSON_IsNumber(c))
			FUZZ_CHECK(c->valuedouble >= 0);
	}
}

#endif
