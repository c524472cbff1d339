#include "json.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fmt.h"

struct json_out {
	char *buf;
	size_t len, cap;
	bool failed;
};

/* Room for n more bytes and a NUL; false once anything failed. */
static bool json_reserve(struct json_out *o, size_t n)
{
	size_t cap = o->cap ? o->cap : 256;
	char *p;

	if (o->failed)
		return false;
	if (o->len + n < o->cap)
		return true;
	while (cap <= o->len + n) {
		if (cap > SIZE_MAX / 2) {
			o->failed = true;
			return false;
		}
		cap *= 2;
	}
	p = realloc(o->buf, cap);
	if (!p) {
		o->failed = true;
		return false;
	}
	o->buf = p;
	o->cap = cap;
	return true;
}

static void json_put(struct json_out *o, const char *s, size_t n)
{
	if (!json_reserve(o, n))
		return;
	memcpy(o->buf + o->len, s, n);
	o->len += n;
}

static void json_putc(struct json_out *o, char c)
{
	if (!json_reserve(o, 1))
		return;
	o->buf[o->len++] = c;
}

/* cJSON's escaping: the two-character escapes for '"', '\\', and \b \f \n
 * \r \t, "\u00xx" (lower-case hex) for other bytes below 32; every other
 * byte as it is. NULL prints as "". */
static void json_string(struct json_out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;

	json_putc(o, '"');
	while (p && *p) {
		const unsigned char *run = p;
		char esc[6] = {'\\', 'u', '0', '0', 0, 0};

		while (*p > 31 && *p != '"' && *p != '\\')
			p++;
		if (p > run)
			json_put(o, (const char *)run, (size_t)(p - run));
		if (!*p)
			break;
		switch (*p) {
		case '"':
		case '\\':
			esc[1] = (char)*p;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			json_put(o, esc, 6);
			p++;
			continue;
		}
		json_put(o, esc, 2);
		p++;
	}
	json_putc(o, '"');
}

/* cJSON's rule (1.7.15): "%1.15g" when that reads back within
 * DBL_EPSILON (relative), else "%1.17g"; null for NaN and infinities.
 * Later versions print "%d" of valueint when it equals the double, which
 * is the same text but for -0, so that one is left to cJSON itself. */
static void json_number(struct json_out *o, const cJSON *item)
{
	double d = item->valuedouble, test, max;
	char num[FMT_NUM_MAX], *end, *text;
	bool exact;
	size_t n;

	if (isnan(d) || isinf(d)) {
		json_put(o, "null", 4);
		return;
	}
	if (d == 0 && signbit(d)) {
		text = cJSON_PrintUnformatted(item);
		if (!text)
			o->failed = true;
		else
			json_put(o, text, strlen(text));
		free(text);
		return;
	}
	n = fmt_g15(num, d, &exact);
	if (!exact) {
		test = strtod(num, &end);
		max = fabs(test) > fabs(d) ? fabs(test) : fabs(d);
		if (end == num || !(fabs(test - d) <= max * DBL_EPSILON)) {
			int r = snprintf(num, sizeof(num), "%1.17g", d);

			n = r > 0 ? (size_t)r : 0;
		}
	}
	json_put(o, num, n);
}

static void json_value(struct json_out *o, const cJSON *item)
{
	const cJSON *c;

	switch (item->type & 0xFF) {
	case cJSON_NULL:
		json_put(o, "null", 4);
		break;
	case cJSON_False:
		json_put(o, "false", 5);
		break;
	case cJSON_True:
		json_put(o, "true", 4);
		break;
	case cJSON_Number:
		json_number(o, item);
		break;
	case cJSON_Raw:
		if (!item->valuestring)
			o->failed = true;
		else
			json_put(o, item->valuestring, strlen(item->valuestring));
		break;
	case cJSON_String:
		json_string(o, item->valuestring);
		break;
	case cJSON_Array:
		json_putc(o, '[');
		for (c = item->child; c && !o->failed; c = c->next) {
			json_value(o, c);
			if (c->next)
				json_putc(o, ',');
		}
		json_putc(o, ']');
		break;
	case cJSON_Object:
		json_putc(o, '{');
		for (c = item->child; c && !o->failed; c = c->next) {
			json_string(o, c->string);
			json_putc(o, ':');
			json_value(o, c);
			if (c->next)
				json_putc(o, ',');
		}
		json_putc(o, '}');
		break;
	default:
		o->failed = true;
	}
}

char *json_print(const cJSON *item, size_t *ret_len)
{
	struct json_out o = {0};

	if (!item)
		return NULL;
	json_value(&o, item);
	if (!json_reserve(&o, 0)) {
		free(o.buf);
		return NULL;
	}
	o.buf[o.len] = '\0';
	if (ret_len)
		*ret_len = o.len;
	return o.buf;
}
