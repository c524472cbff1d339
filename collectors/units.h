/* The `units` topic: systemd units through sd-bus on the system bus,
 * asynchronous in the loop: counts per active state, the failed units with
 * their result and since when, and an event when units change state. */
#ifndef SYSFEED_UNITS_H
#define SYSFEED_UNITS_H

#include <stdbool.h>
#include <stddef.h>

#include "collector.h"

#define UNITS_FAILED_MAX  64 /* failed units listed (with details) */
#define UNITS_CHANGES_MAX 64 /* changed units listed in one event */

/* "org.freedesktop.systemd1.Service" for "x.service": the interface that
 * holds the unit type's Result, or NULL for types without one (target,
 * device, slice). Returns 0 or -ENAMETOOLONG / -EINVAL. */
int units_type_interface(const char *unit, char *out, size_t size);

struct metrics;

/* The topic's families: sysfeed_units{state} from counts (8 entries in
 * units.c's order: active, reloading, inactive, failed, activating,
 * deactivating, maintenance, other), left out when counts is NULL (no
 * answer yet), and sysfeed_units_connected. Returns metrics_error(m). */
int units_metrics_write(const unsigned *counts, bool connected, struct metrics *m);

extern const struct collector units_collector;

#endif
