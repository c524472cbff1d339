/* The parsers of the `host` topic: /proc/cpuinfo, os-release(5), btime of
 * /proc/stat, and the hypervisor or container manager that DMI strings
 * and /proc/1/cgroup name. Pure: bytes in, struct out. */
#ifndef SYSFEED_HOST_PARSE_H
#define SYSFEED_HOST_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What /proc/cpuinfo says. cores and sockets are -1 when it does not say
 * (no "core id": arm64 and others). */
struct host_cpu {
	char *model;      /* "model name" (x86), else "Processor", "cpu model", "cpu"; or NULL */
	unsigned logical; /* "processor" entries */
	int cores;        /* distinct (physical id, core id) pairs */
	int sockets;      /* distinct physical ids */
	bool has_flags;   /* a "flags" line (x86) */
	bool hypervisor;  /* "hypervisor" among the flags */
};

/* Parses /proc/cpuinfo: "key<tabs/spaces>: value" lines, processors
 * separated by blank lines. Without "core id", every logical CPU counts as
 * a core; "physical id" missing makes sockets unknown (-1) and puts every
 * core in one package. Returns 0, -EINVAL on a line without ':', -ENODATA
 * without any "processor", -ENOMEM. *ret is freed with host_cpu_free(). */
int host_cpuinfo_parse(const char *text, size_t len, struct host_cpu *ret);
void host_cpu_free(struct host_cpu *cpu);

/* The value of KEY in an os-release(5) file: KEY=value, "value" with
 * backslash escapes or 'value'; comments and blank lines skipped; the last
 * assignment wins. Returns 0 with a malloc'd *ret, -ENOENT when the key is
 * absent, -EINVAL on a malformed line, -ENOMEM. */
int host_os_release_value(const char *text, size_t len, const char *key, char **ret);

/* btime of /proc/stat, seconds since the epoch. Returns 0, -ENODATA when
 * missing, -EINVAL/-ERANGE when malformed. */
int host_btime_parse(const char *text, size_t len, uint64_t *ret);

/* The hypervisor named by DMI strings (any may be NULL), as
 * systemd-detect-virt names it ("kvm", "qemu", "vmware", "microsoft",
 * "amazon", "google", "xen", "oracle", ...), or NULL. */
const char *host_vm_from_dmi(const char *sys_vendor, const char *product_name,
			     const char *bios_vendor);

/* A container manager named in /proc/1/cgroup paths ("docker", "podman",
 * "lxc", "kubernetes"), or NULL. */
const char *host_container_from_cgroup(const char *text, size_t len);

#endif
