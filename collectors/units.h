/* The `units` topic: systemd units through sd-bus on the system bus,
 * asynchronous in the loop: counts per active state, the failed units with
 * their result and since when, and an event when units change state. */
#ifndef SYSFEED_UNITS_H
#define SYSFEED_UNITS_H

#include <stddef.h>

#include "collector.h"

#define UNITS_FAILED_MAX  64 /* failed units listed (with details) */
#define UNITS_CHANGES_MAX 64 /* changed units listed in one event */

/* "org.freedesktop.systemd1.Service" for "x.service": the interface that
 * holds the unit type's Result, or NULL for types without one (target,
 * device, slice). Returns 0 or -ENAMETOOLONG / -EINVAL. */
int units_type_interface(const char *unit, char *out, size_t size);

extern const struct collector units_collector;

#endif
