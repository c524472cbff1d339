/* The `units` topic: systemd units through sd-bus on the system bus,
 * asynchronous in the loop: counts per active state, the failed units with
 * their result and since when, and an event when units change state. */
#ifndef SYSFEED_UNITS_H
#define SYSFEED_UNITS_H

#include <stdbool.h>
#include <stddef.h>

#include "collector.h"

extern const struct collector units_collector;

#endif
