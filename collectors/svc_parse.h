/* The parsers of the cgroup v2 files the `svc` topic reads for a service:
 * cpu.stat, memory.current and pids.current, io.stat. Pure: bytes in,
 * numbers out. */
#ifndef SYSFEED_SVC_PARSE_H
#define SYSFEED_SVC_PARSE_H

#include <stddef.h>
#include <stdint.h>

/* "usage_usec" of cpu.stat, a flat keyed file of "key value" lines, every
 * value an integer. Returns 0, -ENODATA without usage_usec, -EINVAL or
 * -ERANGE. */
int svc_cpu_stat_parse(const char *text, size_t len, uint64_t *ret_usage_usec);

/* A file holding one integer and '\n' (memory.current, pids.current).
 * Returns 0, -EINVAL or -ERANGE. */
int svc_single_parse(const char *text, size_t len, uint64_t *ret);

/* io.stat: one line per device, "MAJ:MIN key=value ...", with rbytes and
 * wbytes summed over the devices (empty: 0 and 0). Other keys are skipped
 * whatever their value (io.cost adds decimals); rbytes and wbytes must be
 * there and be integers. Returns 0, -EINVAL or -ERANGE. */
int svc_io_stat_parse(const char *text, size_t len, uint64_t *ret_rbytes, uint64_t *ret_wbytes);

#endif
