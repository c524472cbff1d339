/* The `mem` topic: /proc/meminfo, in bytes. */
#ifndef SYSFEED_MEM_H
#define SYSFEED_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* The meminfo lines sysfeed uses, converted to bytes; absent optional
 * lines read 0. */
struct mem_info {
	uint64_t total;        /* MemTotal, required */
	uint64_t free;         /* MemFree, required */
	uint64_t available;    /* MemAvailable (3.14+), when has_available */
	uint64_t buffers;      /* Buffers */
	uint64_t cached;       /* Cached: page cache, without SReclaimable */
	uint64_t sreclaimable; /* SReclaimable (2.6.19+) */
	uint64_t swap_total;   /* SwapTotal */
	uint64_t swap_free;    /* SwapFree */
	uint64_t dirty;        /* Dirty */
	bool has_available;
};

/* Parses the text of /proc/meminfo: lines "Key: value kB", or without a
 * unit (HugePages_*). Every line must have that shape; the lines used must
 * be in kB and appear once; unknown keys are ignored. Returns 0, -EINVAL
 * or -ERANGE on a malformed file, -ENODATA when MemTotal or MemFree is
 * missing. */
int mem_info_parse(const char *text, size_t len, struct mem_info *ret);

/* The `mem` payload, all in bytes, as procps `free` computes it: cached =
 * Cached + SReclaimable; used = total - free - buffers - cached (at least
 * 0); available = MemAvailable, or free + buffers + cached on kernels
 * without it. Returns 0 or -ENOMEM. */
int mem_build_payload(const struct mem_info *mi, int64_t t_ms, cJSON **ret_payload);

extern const struct collector mem_collector;

#endif
