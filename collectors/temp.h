/* The `temp` topic: temperatures from hwmon (tempN_input of every
 * /sys/class/hwmon/hwmonN, Documentation/hwmon/sysfs-interface.rst), or
 * from the thermal zones (/sys/class/thermal/thermal_zoneN) when hwmon
 * has none. */
#ifndef SYSFEED_TEMP_H
#define SYSFEED_TEMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

/* One sensor found by a scan. Its input stays open and is re-read with
 * pread() every tick. */
struct temp_sensor {
	char *id;    /* "hwmon2/temp1" or "thermal_zone0": unique on this boot */
	char *chip;  /* hwmon "name", or the thermal zone's "type" */
	char *label; /* tempN_label, else "tempN"; the zone's type for zones */
	int fd;      /* tempN_input or the zone's "temp" */
	bool has_max;
	bool has_crit;
	int64_t max_mc;  /* tempN_max, or a "hot" trip point: millidegrees C */
	int64_t crit_mc; /* tempN_crit, or a "critical" trip point */
	unsigned dev;    /* N of hwmonN / thermal_zoneN, for the order */
	unsigned index;  /* N of tempN */
	bool has_last;   /* the last tick read it: last_mc, for metrics */
	int64_t last_mc;
};

struct temp_list {
	struct temp_sensor *v;
	size_t n;
	size_t cap;
};

/* Parses an attribute in millidegrees Celsius: an optionally negative
 * decimal integer followed by one '\n'. Returns 0, -EINVAL or -ERANGE. */
int temp_parse_millideg(const char *text, size_t len, int64_t *ret);

/* Finds every hwmon temperature input under sys_fd (class/hwmon), or
 * every thermal zone (class/thermal) when there is none, in the order of
 * the device and input numbers. A missing class directory is no sensor,
 * not an error. Replaces what *list held. Returns 0 or -ENOMEM. */
int temp_scan(int sys_fd, struct temp_list *list);
void temp_list_free(struct temp_list *list);

extern const struct collector temp_collector;

#endif
