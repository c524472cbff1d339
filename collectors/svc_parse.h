/* The parsers of the cgroup files the `svc` and `containers` topics read
 * (collectors/cgroup.c): v2's cpu.stat, memory.current, pids.current,
 * io.stat, memory.max, memory.events and cgroup.events, v1's cpuacct.usage,
 * memory.usage_in_bytes, memory.limit_in_bytes, memory.oom_control,
 * blkio.throttle.io_service_bytes and freezer.state. Pure: bytes in,
 * numbers out. */
#ifndef SYSFEED_SVC_PARSE_H
#define SYSFEED_SVC_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The value of key in a flat keyed file of "key value" lines, every value
 * an integer (cpu.stat, memory.events, memory.oom_control, cgroup.events).
 * Returns 0, -ENODATA without the key, -EINVAL or -ERANGE. */
int svc_keyed_parse(const char *text, size_t len, const char *key, uint64_t *ret);

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

/* memory.max ("max" or a number; UINT64_MAX for "max") or v1's
 * memory.limit_in_bytes (a number). Returns 0, -EINVAL or -ERANGE. */
int svc_limit_parse(const char *text, size_t len, uint64_t *ret);

/* v1's blkio.throttle.io_service_bytes: "MAJ:MIN Op bytes" lines (Read,
 * Write, Sync, Async, Discard, Total) ending with "Total bytes"; Read and
 * Write summed over the devices. Returns 0, -EINVAL or -ERANGE. */
int svc_blkio_parse(const char *text, size_t len, uint64_t *ret_rbytes, uint64_t *ret_wbytes);

/* v1's freezer.state: THAWED, FREEZING or FROZEN (the last two: frozen).
 * Returns 0 or -EINVAL. */
int svc_freezer_parse(const char *text, size_t len, bool *ret_frozen);

#endif
