/* What the `units` topic reports, apart from how it learns it over the
 * system bus: the units per active state and the failed ones with their
 * details as last listed, the units that changed since the last event,
 * and their JSON and Prometheus text. */
#ifndef SYSFEED_UNITS_REPORT_H
#define SYSFEED_UNITS_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#define UNITS_FAILED_MAX  64 /* failed units listed (with details) */
#define UNITS_CHANGES_MAX 64 /* changed units listed in one event */
/* The active states counted by name; counts[UNITS_NSTATES] is "other". */
#define UNITS_NSTATES 7

/* "org.freedesktop.systemd1.Service" for "x.service": the interface that
 * holds the unit type's Result, or NULL for types without one (target,
 * device, slice). Returns 0 or -ENAMETOOLONG / -EINVAL. */
int units_type_interface(const char *unit, char *out, size_t size);

/* A failed unit as listed, and the details asked for it. */
struct units_failed {
	void *owner; /* the collector's, for the answers to the details */
	char *name, *description, *sub_state, *path, *result;
	uint64_t since_us; /* 0: unknown */
};

/* One answer of ListUnits. */
struct units_list {
	unsigned counts[UNITS_NSTATES + 1]; /* in units_report.c's order, "other" last */
	unsigned total;
	struct units_failed *failed; /* at most UNITS_FAILED_MAX */
	size_t n_failed;
};

/* Counts a unit of this ActiveState. */
void units_list_count(struct units_list *l, const char *active_state);
/* Frees the failed units and empties the list. */
void units_list_clear(struct units_list *l);
/* Adds {"counts": {...}, "total": N, "failed": [...]} to o; false when out
 * of memory. */
bool units_list_json(const struct units_list *l, cJSON *o);

/* A unit that changed state since the last event: the last ActiveState,
 * SubState and job result seen, each NULL when not seen. */
struct units_change {
	char *unit, *active_state, *sub_state, *job_result;
};

struct units_changes {
	struct units_change v[UNITS_CHANGES_MAX];
	size_t n;
	uint64_t more; /* changes of units beyond the list */
};

/* The record of unit, added when new; NULL when the list is full (counted
 * in `more`) or out of memory. */
struct units_change *units_changes_get(struct units_changes *c, const char *unit);
/* Replaces *dst with a copy of v; NULL v (not seen) keeps it. */
void units_change_set(char **dst, const char *v);
void units_changes_clear(struct units_changes *c);
/* Adds "changes" (the list) and "changes_more" to o; false when out of
 * memory. */
bool units_changes_json(const struct units_changes *c, cJSON *o);

struct metrics;

/* The topic's families: sysfeed_units{state} from counts (UNITS_NSTATES + 1
 * entries as in struct units_list), left out when counts is NULL (no
 * answer yet), and sysfeed_units_connected. Returns metrics_error(m). */
int units_metrics_write(const unsigned *counts, bool connected, struct metrics *m);

#endif
