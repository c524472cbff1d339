/* Number formatting for JSON and Prometheus, and parsers' reasons: see fmt.h. */
#include "fmt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* 10^0 to 10^19 */
static const uint64_t fmt_pow10[20] = {1,
				       10,
				       100,
				       1000,
				       10000,
				       100000,
				       1000000,
				       10000000,
				       100000000,
				       1000000000,
				       10000000000,
				       100000000000,
				       1000000000000,
				       10000000000000,
				       100000000000000,
				       1000000000000000,
				       10000000000000000,
				       100000000000000000,
				       1000000000000000000,
				       10000000000000000000u};

/* "00" to "99", two characters each */
static const char fmt_pairs[201] = "00010203040506070809"
				   "10111213141516171819"
				   "20212223242526272829"
				   "30313233343536373839"
				   "40414243444546474849"
				   "50515253545556575859"
				   "60616263646566676869"
				   "70717273747576777879"
				   "80818283848586878889"
				   "90919293949596979899";

/* The digits of v, most significant first, without a NUL; returns how
 * many. Counted first (from the bit length), then written from the last,
 * four at a time (two pairs from a table), in place: a division by 10^4
 * per four digits instead of one by 10 per digit and a reversal (a tick
 * prints ~500 numbers, some of 13 digits). */
static size_t fmt_digits(char *out, uint64_t v)
{
	size_t n, t;
	char *q;

	if (v < 10) {
		out[0] = (char)('0' + v);
		return 1;
	}
	/* floor(log10(2^bits)) by 1233 / 4096 ~ log10(2): n - 1 or n */
	t = ((size_t)(64 - __builtin_clzll(v)) * 1233) >> 12;
	n = t + (v >= fmt_pow10[t]);
	q = out + n;
	while (v >= 10000) {
		uint32_t r = (uint32_t)(v % 10000);

		v /= 10000;
		q -= 4;
		memcpy(q, fmt_pairs + 2 * (r / 100), 2);
		memcpy(q + 2, fmt_pairs + 2 * (r % 100), 2);
	}
	if (v >= 100) {
		uint32_t r = (uint32_t)(v % 100);

		v /= 100;
		q -= 2;
		memcpy(q, fmt_pairs + 2 * r, 2);
	}
	if (v >= 10)
		memcpy(q - 2, fmt_pairs + 2 * v, 2);
	else
		q[-1] = (char)('0' + v);
	return n;
}

size_t fmt_i64(char *out, int64_t v)
{
	size_t n = 0;
	uint64_t u = (uint64_t)v;

	if (v < 0) {
		out[n++] = '-';
		u = 0 - u;
	}
	n += fmt_digits(out + n, u);
	out[n] = '\0';
	return n;
}

/* A decimal D = k / 10^j with k < 10^15 has at most 15 significant digits,
 * so "%.15g" of the double nearest to D rounds that double (within half
 * an ulp, 2^-53 relative, of D) back to D exactly, and prints it in fixed
 * notation when 1e-4 <= D < 1e15, trailing zeros removed: the text is D's
 * own digits. The double nearest to k / 10^j is the quotient of the two
 * (both exact, the division correctly rounded), which tells whether v is
 * such a double. */
size_t fmt_g15(char *out, double v, bool *ret_exact)
{
	static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
	double a = fabs(v);
	int n;

	*ret_exact = false;
	if (a == 0 && !signbit(v)) {
		memcpy(out, "0", 2);
		*ret_exact = true;
		return 1;
	}
	/* a whole number (most of what the collectors count): its digits,
	 * without the divisions by 10^j below */
	if (a >= 1 && a < 1e15 && a == (double)(uint64_t)a) {
		size_t len = 0;

		if (v < 0)
			out[len++] = '-';
		len += fmt_digits(out + len, (uint64_t)a);
		out[len] = '\0';
		*ret_exact = true;
		return len;
	}
	if (a >= 1e-4 && a < 1e15) {
		for (size_t j = 0; j < sizeof(pow10) / sizeof(pow10[0]); j++) {
			/* k = floor(x), by truncation (x > 0), when below 1e15 */
			double x = a * pow10[j] + 0.5;
			uint64_t k, ip, fp;
			size_t len = 0;

			if (x >= 1e15)
				break;
			k = (uint64_t)x;
			if ((double)k / pow10[j] != a)
				continue;
			ip = k / fmt_pow10[j];
			fp = k % fmt_pow10[j];
			if (v < 0)
				out[len++] = '-';
			len += fmt_digits(out + len, ip);
			if (fp) {
				size_t w = j;

				while (fp % 10 == 0) {
					fp /= 10;
					w--;
				}
				out[len++] = '.';
				for (uint64_t p = fmt_pow10[w] / 10; p > fp && p > 1; p /= 10)
					out[len++] = '0';
				len += fmt_digits(out + len, fp);
			}
			out[len] = '\0';
			*ret_exact = true;
			return len;
		}
	}
	n = snprintf(out, FMT_NUM_MAX, "%.15g", v);
	return n > 0 ? (size_t)n : 0;
}

void fmt_err(char *err, size_t err_len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !err_len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}
