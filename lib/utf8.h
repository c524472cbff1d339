/* UTF-8 for host text on its way to JSON: one validator and sanitiser for
 * the whole tree. Pure. */
#ifndef SYSFEED_UTF8_H
#define SYSFEED_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The UTF-8 sequence at s (len >= 1 bytes): returns its length when it is
 * well-formed (RFC 3629: no overlong forms, no surrogates, nothing past
 * U+10FFFF) and not NUL, else 0 with *ret_bad the length of its maximal
 * ill-formed subpart (at least 1), which stands for one U+FFFD, as browsers
 * and Python decode. */
size_t utf8_seq(const unsigned char *s, size_t len, size_t *ret_bad);

/* Copies host text into out (at least 3 * len + 1 bytes) as valid UTF-8:
 * each maximal ill-formed subpart and each NUL becomes one U+FFFD. Returns
 * the length written (out is NUL-terminated). */
size_t utf8_sanitize(const char *s, size_t len, char *out);

/* The same into a new string, cut on a character boundary so that it
 * takes at most max bytes once JSON-escaped (json_width): the bytes
 * it costs on the wire, not in memory. *ret_cut (may be NULL) says whether
 * it was cut. Returns 0 or -ENOMEM. */
int utf8_dup(const char *s, size_t len, size_t max, char **ret, bool *ret_cut);

#endif
