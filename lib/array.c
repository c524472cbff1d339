/* Array growth: see array.h. */
#include "array.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The array's pointer is read and written through memcpy, so that any
 * element type's pointer can be passed as void *. */
int array_reserve(void *pv, size_t *cap, size_t want, size_t size, size_t first)
{
	size_t ncap = *cap ? *cap : (first ? first : 1);
	void *v;

	if (want <= *cap)
		return 0;
	while (ncap < want) {
		if (ncap > SIZE_MAX / 2)
			return -ENOMEM;
		ncap *= 2;
	}
	/* checked here: a sanitizer's reallocarray aborts on an overflow */
	if (size && ncap > SIZE_MAX / size)
		return -ENOMEM;
	memcpy(&v, pv, sizeof(v));
	v = reallocarray(v, ncap, size);
	if (!v)
		return -ENOMEM;
	memcpy(pv, &v, sizeof(v));
	*cap = ncap;
	return 0;
}

void array_free(void *pv, size_t *n, size_t *cap)
{
	void *v;

	memcpy(&v, pv, sizeof(v));
	free(v);
	v = NULL;
	memcpy(pv, &v, sizeof(v));
	*n = 0;
	*cap = 0;
}

size_t array_find_str(const void *base, size_t n, size_t size, size_t key_off, const char *key,
		      bool *found)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const char *k;
		int c;

		memcpy(&k, (const char *)base + mid * size + key_off, sizeof(k));
		c = strcmp(k, key);
		if (c == 0) {
			*found = true;
			return mid;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = false;
	return lo;
}
