/* Number formatting for the JSON and Prometheus writers: the text printf
 * would write, without printf where the value allows. Nothing here
 * allocates or logs. */
#ifndef SYSFEED_FMT_H
#define SYSFEED_FMT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* snprintf into err when err and err_len are set: the one-line reasons
 * parsers give. */
void fmt_err(char *err, size_t err_len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Room for any of the texts below, with its NUL. */
#define FMT_NUM_MAX 32

/* Writes v in decimal (as "%lld" would) and its NUL; returns the length. */
size_t fmt_i64(char *out, int64_t v);

/* Writes finite v as "%.15g" would, and its NUL; returns the length.
 * *ret_exact is true when strtod() of the text is known to give v back
 * (v is the double nearest to a decimal of at most 15 significant digits
 * between 1e-4 and 1e15, which is then the text, written without printf);
 * false means not known, and the caller checks if it cares. */
size_t fmt_g15(char *out, double v, bool *ret_exact);

#endif
