/* The history store's top lists in a chunk's blob: each list's rows as
 * streams of recurring processes (see store_tops.c). Pure. */
#ifndef SYSFEED_STORE_TOPS_H
#define SYSFEED_STORE_TOPS_H

#include <stddef.h>

#include "store_bytes.h"
#include "store_chunk.h"

#define STORE_TOP_NO_ID  1
#define STORE_TOP_NO_CPU 2
#define STORE_TOP_NO_MEM 4

/* Writes list l of c's rows. */
void store_tops_put(struct wbuf *b, const struct store_chunk *c, size_t l);
/* Reads list l of c's rows back (c's rows and strings are there); 0,
 * -EBADMSG or -ENOMEM. */
int store_tops_get(struct store_chunk *c, struct rbuf *b, size_t l);

#endif
