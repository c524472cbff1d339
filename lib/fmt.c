/* Number formatting for JSON and Prometheus, and parsers' reasons: see fmt.h. */
#include "fmt.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* The digits of v, most significant first, without a NUL; returns how
 * many. */
static size_t fmt_digits(char *out, uint64_t v)
{
	char tmp[20];
	size_t n = 0;

	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	for (size_t i = 0; i < n; i++)
		out[i] = tmp[n - 1 - i];
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
	static const uint64_t upow10[] = {1,      10,      100,      1000,      10000,
					  100000, 1000000, 10000000, 100000000, 1000000000};
	double a = fabs(v);
	int n;

	*ret_exact = false;
	if (a == 0 && !signbit(v)) {
		memcpy(out, "0", 2);
		*ret_exact = true;
		return 1;
	}
	/* a whole number (most of what the collectors count): its digits,
	 * without floor() and the divisions by 10^j below */
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
			double kd = floor(a * pow10[j] + 0.5);
			uint64_t k, ip, fp;
			size_t len = 0;

			if (kd >= 1e15)
				break;
			if (kd / pow10[j] != a)
				continue;
			k = (uint64_t)kd;
			ip = k / upow10[j];
			fp = k % upow10[j];
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
				for (uint64_t p = upow10[w] / 10; p > fp && p > 1; p /= 10)
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
