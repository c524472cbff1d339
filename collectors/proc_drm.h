/* The parser of a DRM file's /proc/<pid>/fdinfo/<fd>: the keys of the
 * kernel's Documentation/gpu/drm-usage-stats.rst that the `proc` topic
 * uses for per-process GPU engine time and memory, and the busy share of
 * an engine between two readings. Pure: bytes in, struct out. */
#ifndef SYSFEED_PROC_DRM_H
#define SYSFEED_PROC_DRM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Engines and memory regions kept per client; more are ignored (amdgpu
 * has about ten engines, i915 and xe five, three or four regions each). */
#define PROC_DRM_ENGINES 16
#define PROC_DRM_REGIONS 8
/* Longest driver, pdev, engine or region name, NUL included. */
#define PROC_DRM_NAME_MAX 32

/* Which counters of an engine a file gave, as bits of proc_drm_engine.has. */
enum proc_drm_has {
	PROC_DRM_NS = 1u << 0,           /* drm-engine-<name>: busy_ns */
	PROC_DRM_CYCLES = 1u << 1,       /* drm-cycles-<name>: cycles */
	PROC_DRM_TOTAL_CYCLES = 1u << 2, /* drm-total-cycles-<name>: total_cycles (xe) */
};

/* One engine (or group of identical engines) of a client. */
struct proc_drm_engine {
	char name[PROC_DRM_NAME_MAX];
	uint64_t busy_ns;      /* time busy with this client's work */
	uint64_t cycles;       /* busy GPU cycles */
	uint64_t total_cycles; /* GPU cycles elapsed, the clock of `cycles` */
	uint64_t capacity;     /* drm-engine-capacity-<name>; 1 when absent */
	unsigned has;          /* enum proc_drm_has */
};

/* One DRM client (struct drm_file) as one fdinfo file shows it. */
struct proc_drm_client {
	char driver[PROC_DRM_NAME_MAX]; /* drm-driver */
	char pdev[PROC_DRM_NAME_MAX];   /* drm-pdev, or "" */
	uint64_t id;                    /* drm-client-id when has_id */
	bool has_id;
	/* memory of its buffers, every region summed: resident
	 * (drm-resident-<region>, or its deprecated alias drm-memory-<region>
	 * of amdgpu), else drm-total-<region> where a region has only that */
	bool has_mem;
	uint64_t mem_bytes;
	size_t n_engines;
	struct proc_drm_engine engines[PROC_DRM_ENGINES];
};

/* Parses an fdinfo file. Lines not starting with "drm-" are other
 * layers' (pos:, flags:, driver-specific keys) and skipped, as are drm-
 * keys not used here (shared, active, purgeable, maxfreq, client-name).
 * A used key must read "key:" then spaces or tabs then its value: a
 * decimal, with " ns" for drm-engine-, no unit for cycles and capacities,
 * an optional " KiB" or " MiB" for memory; a zero capacity, a name that is
 * empty or too long, or a missing final '\n' is an error. Returns 0,
 * -ENODATA without drm-driver (not a DRM file), -EINVAL or -ERANGE. */
int proc_drm_parse(const char *text, size_t len, struct proc_drm_client *ret);

/* Folds a new reading of an engine into the stored one: each counter
 * keeps the larger value, as the document asks of readers (a counter may
 * lag behind a value already reported, and catches up later). */
void proc_drm_fold(struct proc_drm_engine *stored, const struct proc_drm_engine *cur);

/* The busy share of an engine, 0 to 1 per unit of capacity (not capped),
 * between the stored reading prev and cur (before folding), dt_ns apart:
 * Δcycles / Δtotal_cycles where both readings have both, else Δbusy_ns /
 * dt_ns, divided by the capacity. A counter below the stored one counts
 * as no progress. Returns false when there is no share (the counters are
 * not in both readings, or no time or no cycles passed). */
bool proc_drm_busy(const struct proc_drm_engine *prev, const struct proc_drm_engine *cur,
		   uint64_t dt_ns, double *ret);

#endif
