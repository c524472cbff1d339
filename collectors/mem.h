/* The `mem` topic: /proc/meminfo in bytes, and paging activity from
 * /proc/vmstat as rates. */
#ifndef SYSFEED_MEM_H
#define SYSFEED_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* Which meminfo lines were present (MemTotal and MemFree always are). */
enum {
	MEM_HAS_AVAILABLE = 1u << 0, /* 3.14+ */
	MEM_HAS_BUFFERS = 1u << 1,
	MEM_HAS_CACHED = 1u << 2,
	MEM_HAS_SRECLAIMABLE = 1u << 3, /* 2.6.19+ */
	MEM_HAS_SWAP_TOTAL = 1u << 4,
	MEM_HAS_SWAP_FREE = 1u << 5,
	MEM_HAS_DIRTY = 1u << 6,
	MEM_HAS_SLAB = 1u << 7,
	MEM_HAS_SUNRECLAIM = 1u << 8,       /* 2.6.19+ */
	MEM_HAS_SHMEM = 1u << 9,            /* 2.6.32+ */
	MEM_HAS_HUGEPAGES_TOTAL = 1u << 10, /* CONFIG_HUGETLB_PAGE */
	MEM_HAS_HUGEPAGES_FREE = 1u << 11,
	MEM_HAS_HUGEPAGESIZE = 1u << 12,
};

/* The meminfo lines sysfeed uses, converted to bytes (huge page counts
 * stay counts); absent optional lines read 0, and `has` says which were
 * there. */
struct mem_info {
	uint64_t total;           /* MemTotal, required */
	uint64_t free;            /* MemFree, required */
	uint64_t available;       /* MemAvailable */
	uint64_t buffers;         /* Buffers */
	uint64_t cached;          /* Cached: page cache, without SReclaimable */
	uint64_t sreclaimable;    /* SReclaimable: reclaimable slab */
	uint64_t swap_total;      /* SwapTotal */
	uint64_t swap_free;       /* SwapFree */
	uint64_t dirty;           /* Dirty */
	uint64_t slab;            /* Slab = SReclaimable + SUnreclaim */
	uint64_t sunreclaim;      /* SUnreclaim */
	uint64_t shmem;           /* Shmem: tmpfs, shared anonymous memory */
	uint64_t hugepages_total; /* HugePages_Total: a count, no unit */
	uint64_t hugepages_free;  /* HugePages_Free: a count, no unit */
	uint64_t hugepage_size;   /* Hugepagesize */
	unsigned has;             /* MEM_HAS_* */
};

/* Parses the text of /proc/meminfo: lines "Key: value kB", or without a
 * unit (HugePages_*). Every line must have that shape; the lines used must
 * appear once and carry the unit they always had (kB, none for the
 * HugePages_ counts); unknown keys are ignored. Returns 0, -EINVAL or
 * -ERANGE on a malformed file, -ENODATA when MemTotal or MemFree is
 * missing. *ret is untouched on error. */
int mem_info_parse(const char *text, size_t len, struct mem_info *ret);

/* The /proc/vmstat event counters sysfeed uses. */
enum mem_vm_counter {
	MEM_VM_PGFAULT,    /* page faults, minor and major */
	MEM_VM_PGMAJFAULT, /* major faults: the page had to be read in */
	MEM_VM_PSWPIN,     /* pages swapped in */
	MEM_VM_PSWPOUT,    /* pages swapped out */
	MEM_VM_N,
};

/* One parse of /proc/vmstat: v[i] is valid when bit i of has is set (a
 * kernel without CONFIG_VM_EVENT_COUNTERS prints no event counters). */
struct mem_vmstat {
	uint64_t v[MEM_VM_N];
	unsigned has;
};

/* Parses the text of /proc/vmstat: every line "name value", one space
 * between a name of letters, digits and '_' and a decimal number; unknown
 * names are ignored, the used ones may appear once. Returns 0 (an empty file is no counter),
 * -EINVAL or -ERANGE on a malformed file. *ret is untouched on error. */
int mem_vmstat_parse(const char *text, size_t len, struct mem_vmstat *ret);

/* The `mem` payload, in bytes, as procps `free` computes it: cached =
 * Cached + SReclaimable; available = MemAvailable, or free + buffers +
 * cached on kernels without it, at most total; used = total - available,
 * as free(1) of procps 4 counts it. slab, sreclaimable, sunreclaim, shmem,
 * hugepages_total, hugepages_free and hugepage_size are null when the
 * kernel has no such line. The *_per_s rates are between the vmstat
 * readings prev and cur, dt_ns apart, in hundredths: null without prev (the
 * first tick) or cur (no /proc/vmstat), for a counter missing from either
 * or gone backwards, and when dt_ns is 0. Returns 0 or -ENOMEM. */
int mem_build_payload(const struct mem_info *mi, const struct mem_vmstat *prev,
		      const struct mem_vmstat *cur, uint64_t dt_ns, int64_t t_ms,
		      cJSON **ret_payload);

extern const struct collector mem_collector;

#endif
