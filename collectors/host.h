/* The `host` topic: what this machine is (name, OS, kernel, CPU, boot time,
 * machine id, VM or container), published on the first tick and again only
 * when something changed. */
#ifndef SYSFEED_HOST_H
#define SYSFEED_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

extern const struct collector host_collector;

#endif
