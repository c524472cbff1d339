/* The `psi` topic: pressure stall information from /proc/pressure/{cpu,
 * memory,io,irq} (Linux 4.20+, CONFIG_PSI; irq 6.1+ with
 * CONFIG_IRQ_TIME_ACCOUNTING). Format: Documentation/accounting/psi.rst. */
#ifndef SYSFEED_PSI_H
#define SYSFEED_PSI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"

enum psi_resource {
	PSI_CPU,
	PSI_MEMORY,
	PSI_IO,
	PSI_IRQ, /* optional: only a "full" line */
	PSI_NRES,
};

/* One "some" or "full" line. The averages are in hundredths of a percent,
 * as the kernel prints them ("19.71" -> 1971); total is the stall time
 * since boot in microseconds. */
struct psi_line {
	uint32_t avg10, avg60, avg300;
	uint64_t total_us;
};

struct psi_file {
	bool has_some, has_full;
	struct psi_line some, full;
};

/* Parses one pressure file of resource res: lines
 * "some|full avg10=A avg60=A avg300=A total=N", each kind at most once, in
 * any order. cpu needs "some" ("full" is 5.13+), memory and io need both,
 * irq needs "full". Returns 0, -EINVAL or -ERANGE on a malformed file,
 * -ENODATA when a required line is missing. */
int psi_file_parse(enum psi_resource res, const char *text, size_t len, struct psi_file *ret);

/* Every file at one tick; present[PSI_IRQ] is false on kernels without it. */
struct psi_reading {
	bool present[PSI_NRES];
	struct psi_file res[PSI_NRES];
	uint64_t mono_ns;
};

/* The `psi` payload of cur, taken at t_ms. prev (NULL on the first tick) is
 * the previous reading: each line's stall_pct is the share of wall time
 * stalled between the two, 0-100 in hundredths, null without a rate (first
 * tick, total went backwards, clock did not advance). Lines the kernel does
 * not print are null, and so is a resource without a file. Returns 0 or
 * -ENOMEM. */
int psi_build_payload(const struct psi_reading *prev, const struct psi_reading *cur, int64_t t_ms,
		      cJSON **ret_payload);

/* The one-line reason the topic is off after reading pressure/<name>
 * failed with err: no /proc/pressure at all (have_dir false), PSI disabled
 * at boot (-EOPNOTSUPP), or the file and errno. */
void psi_reason(char *reason, size_t reason_len, const char *path, int err, bool parsing,
		bool have_dir);

extern const struct collector psi_collector;

#endif
