/* The page's files, embedded into the binary at build time. */
#ifndef SYSFEED_ASSETS_H
#define SYSFEED_ASSETS_H

#include <stddef.h>

struct asset {
	const char *path; /* "/index.html" */
	const unsigned char *data;
	size_t len;
	const unsigned char *gz; /* gzip of data, or NULL when that is no smaller */
	size_t gz_len;
	const char *etag; /* quoted, from the content */
};

/* NULL-terminated by a zero entry; generated into build/assets_data.c. */
extern const struct asset assets[];

/* The asset served at a URL path ("/" is "/index.html"), or NULL. */
const struct asset *assets_find(const char *path);
/* Content type for a file name, by its extension. */
const char *assets_type(const char *name);

#endif
