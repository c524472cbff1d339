/* The `host` topic's collector: what this machine is, read from the proc
 * and sys roots, published when it changes. */
#include "host.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "fs_mountinfo.h"
#include "host_parse.h"
#include "procfs.h"
#include "json.h"
#include "clock.h"

#define HOST_SMALL_MAX   4096
#define HOST_CPUINFO_MAX (16u << 20) /* thousands of CPUs */
#define HOST_STAT_MAX    (8u << 20)
/* Everything but the host name is looked at again this often. */
#define HOST_REFRESH_NS (60 * UINT64_C(1000000000))

/* One reading of everything the payload holds; NULL strings and -1
 * numbers are null in JSON. */
struct host_info {
	char *hostname;
	char *os;
	char *kernel;
	char *kernel_version;
	char *arch;
	char *cpu_model;
	int logical;
	int cores;
	int sockets;
	int64_t boot_ms; /* -1: unknown */
	char *machine_id;
	const char *vm; /* static */
	char *container;
};

struct host_state {
	struct procfs_buf buf;
	struct procfs_file hostname_file; /* kept open for the ticks */
	struct collector_watch hostname;  /* read when it changed */
	struct host_info cur;
	bool published;
	uint64_t refreshed_ns;
};

/* --- reading --- */

/* The first line of what buf holds, its trailing blanks cut, as a new
 * string; NULL when empty. */
static char *host_first_line(struct procfs_buf *buf)
{
	char *nl = memchr(buf->data, '\n', buf->len);

	if (nl)
		*nl = '\0';
	buf->len = strlen(buf->data);
	while (buf->len > 0 && (buf->data[buf->len - 1] == ' ' || buf->data[buf->len - 1] == '\t'))
		buf->data[--buf->len] = '\0';
	return buf->len ? strdup(buf->data) : NULL;
}

/* A one-line file (its newline and trailing blanks cut) as a new string,
 * or NULL when missing, empty or unreadable. */
static char *host_read_line(int dirfd, const char *path, struct procfs_buf *buf)
{
	if (dirfd < 0 || procfs_read(dirfd, path, buf, HOST_SMALL_MAX) < 0)
		return NULL;
	return host_first_line(buf);
}

static bool host_exists(int dirfd, const char *path)
{
	return faccessat(dirfd, path, F_OK, 0) == 0;
}

static char *host_read_os(int proc_fd, struct procfs_buf *buf)
{
	static const char *const files[] = {"../etc/os-release", "../usr/lib/os-release"};
	char *v = NULL;

	for (size_t i = 0; i < 2; i++) {
		int r = procfs_read(proc_fd, files[i], buf, 1 << 16);

		if (r == -ENOENT)
			continue;
		if (r < 0)
			return NULL;
		if (host_os_release_value(buf->data, buf->len, "PRETTY_NAME", &v) == 0 ||
		    host_os_release_value(buf->data, buf->len, "NAME", &v) == 0)
			return v;
		return host_os_release_value(buf->data, buf->len, "ID", &v) == -EINVAL
			   ? NULL
			   : strdup("Linux"); /* os-release(5): the default */
	}
	return NULL;
}

static char *host_read_machine_id(int proc_fd, struct procfs_buf *buf)
{
	if (procfs_read(proc_fd, "../etc/machine-id", buf, HOST_SMALL_MAX) < 0 || buf->len != 33 ||
	    buf->data[32] != '\n')
		return NULL;
	for (size_t i = 0; i < 32; i++) {
		if (!isxdigit((unsigned char)buf->data[i]) || isupper((unsigned char)buf->data[i]))
			return NULL;
	}
	return strndup(buf->data, 32);
}

/* "container=NAME" in PID 1's environment (readable by root only). */
static char *host_container_env(int proc_fd, struct procfs_buf *buf)
{
	const char *p, *end;

	if (procfs_read(proc_fd, "1/environ", buf, 1 << 20) < 0)
		return NULL;
	p = buf->data;
	end = buf->data + buf->len;
	while (p < end) {
		size_t n = strnlen(p, (size_t)(end - p));

		if (n > 10 && memcmp(p, "container=", 10) == 0)
			return strndup(p + 10, n - 10);
		p += n + 1;
	}
	return NULL;
}

/* Whether the root mount is a union filesystem, as in an image-based
 * container. */
static bool host_root_is_overlay(int proc_fd, struct procfs_buf *buf)
{
	struct fs_mountinfo mi = {0};
	bool overlay = false;

	if (procfs_read(proc_fd, "self/mountinfo", buf, 16u << 20) == 0 &&
	    fs_mountinfo_parse(buf->data, buf->len, &mi) == 0) {
		for (size_t i = 0; i < mi.n; i++) {
			if (strcmp(mi.v[i].mount_point, "/") == 0)
				overlay = strcmp(mi.v[i].fstype, "overlay") == 0 ||
					  strcmp(mi.v[i].fstype, "aufs") == 0 ||
					  strcmp(mi.v[i].fstype, "fuse-overlayfs") == 0 ||
					  strcmp(mi.v[i].fstype, "fuse.fuse-overlayfs") == 0;
		}
	}
	fs_mountinfo_free(&mi);
	return overlay;
}

/* In systemd's order: what a container manager says (systemd's file, PID
 * 1's environment), WSL's kernel, podman's file, cgroup paths; /.dockerenv
 * last and only with a union root, since an image built by Docker carries
 * the file into VMs booted from it (this development VM has one). */
static char *host_detect_container(int proc_fd, const char *kernel, struct procfs_buf *buf)
{
	const char *hint;
	char *name;

	if ((name = host_read_line(proc_fd, "../run/systemd/container", buf)))
		return name;
	if ((name = host_container_env(proc_fd, buf)))
		return name;
	if (kernel &&
	    (strstr(kernel, "Microsoft") || strstr(kernel, "microsoft") || strstr(kernel, "WSL")))
		return strdup("wsl");
	if (host_exists(proc_fd, "../run/.containerenv"))
		return strdup("podman");
	if (procfs_read(proc_fd, "1/cgroup", buf, 1 << 20) == 0 &&
	    (hint = host_container_from_cgroup(buf->data, buf->len)))
		return strdup(hint);
	if (host_exists(proc_fd, "../.dockerenv") && host_root_is_overlay(proc_fd, buf))
		return strdup("docker");
	return NULL;
}

/* A hypervisor named by DMI; without DMI (Firecracker, some clouds) the
 * CPU's hypervisor flag says "unknown"; an x86 CPU without the flag is
 * bare metal whatever DMI says (EC2 metal instances say "Amazon EC2"). */
static const char *host_detect_vm(int sys_fd, const struct host_cpu *cpu, struct procfs_buf *buf)
{
	char *vendor = host_read_line(sys_fd, "class/dmi/id/sys_vendor", buf);
	char *product = host_read_line(sys_fd, "class/dmi/id/product_name", buf);
	char *bios = host_read_line(sys_fd, "class/dmi/id/bios_vendor", buf);
	char *xen = host_read_line(sys_fd, "hypervisor/type", buf);
	const char *vm = NULL;

	if (!cpu->has_flags || cpu->hypervisor) {
		vm = host_vm_from_dmi(vendor, product, bios);
		if (!vm && xen && strcmp(xen, "xen") == 0)
			vm = "xen";
		if (!vm && cpu->hypervisor)
			vm = "unknown";
	}
	free(vendor);
	free(product);
	free(bios);
	free(xen);
	return vm;
}

static void host_info_free(struct host_info *hi)
{
	free(hi->hostname);
	free(hi->os);
	free(hi->kernel);
	free(hi->kernel_version);
	free(hi->arch);
	free(hi->cpu_model);
	free(hi->machine_id);
	free(hi->container);
	memset(hi, 0, sizeof(*hi));
}

/* Reads everything. Only the host name and the kernel release are
 * required (they exist on every Linux); the rest is null when missing. */
static int host_read_all(struct host_state *s, const struct collector_env *env,
			 struct host_info *hi, const char **ret_path)
{
	struct host_cpu cpu = {.cores = -1, .sockets = -1};
	struct procfs_buf *buf = &s->buf;
	uint64_t btime;
	int r;

	memset(hi, 0, sizeof(*hi));
	hi->logical = hi->cores = hi->sockets = -1;
	hi->boot_ms = -1;
	*ret_path = "sys/kernel/hostname";
	r = procfs_read(env->proc_fd, *ret_path, buf, HOST_SMALL_MAX);
	if (r < 0)
		return r;
	hi->hostname = host_read_line(env->proc_fd, "sys/kernel/hostname", buf);
	*ret_path = "sys/kernel/osrelease";
	r = procfs_read(env->proc_fd, *ret_path, buf, HOST_SMALL_MAX);
	if (r < 0)
		return r;
	hi->kernel = host_read_line(env->proc_fd, "sys/kernel/osrelease", buf);
	hi->kernel_version = host_read_line(env->proc_fd, "sys/kernel/version", buf);
	hi->arch = host_read_line(env->proc_fd, "sys/kernel/arch", buf);
	if (!hi->arch) {
		struct utsname u;

		if (uname(&u) == 0)
			hi->arch = strdup(u.machine);
	}
	hi->os = host_read_os(env->proc_fd, buf);
	if (procfs_read(env->proc_fd, "cpuinfo", buf, HOST_CPUINFO_MAX) == 0 &&
	    host_cpuinfo_parse(buf->data, buf->len, &cpu) == 0) {
		hi->cpu_model = cpu.model;
		cpu.model = NULL;
		hi->logical = (int)cpu.logical;
		hi->cores = cpu.cores;
		hi->sockets = cpu.sockets;
	}
	if (procfs_read(env->proc_fd, "stat", buf, HOST_STAT_MAX) == 0 &&
	    host_btime_parse(buf->data, buf->len, &btime) == 0 && btime < INT64_MAX / 1000)
		hi->boot_ms = (int64_t)btime * 1000;
	hi->machine_id = host_read_machine_id(env->proc_fd, buf);
	hi->vm = host_detect_vm(env->sys_fd, &cpu, buf);
	hi->container = host_detect_container(env->proc_fd, hi->kernel, buf);
	host_cpu_free(&cpu);
	return 0;
}

static bool host_str_eq(const char *a, const char *b)
{
	return (!a && !b) || (a && b && strcmp(a, b) == 0);
}

static bool host_info_equal(const struct host_info *a, const struct host_info *b)
{
	return host_str_eq(a->hostname, b->hostname) && host_str_eq(a->os, b->os) &&
	       host_str_eq(a->kernel, b->kernel) &&
	       host_str_eq(a->kernel_version, b->kernel_version) && host_str_eq(a->arch, b->arch) &&
	       host_str_eq(a->cpu_model, b->cpu_model) && a->logical == b->logical &&
	       a->cores == b->cores && a->sockets == b->sockets && a->boot_ms == b->boot_ms &&
	       host_str_eq(a->machine_id, b->machine_id) && host_str_eq(a->vm, b->vm) &&
	       host_str_eq(a->container, b->container);
}

static int host_add_num(cJSON *o, const char *key, int64_t v)
{
	if (v >= 0)
		return cJSON_AddNumberToObject(o, key, (double)v) ? 0 : -ENOMEM;
	return cJSON_AddNullToObject(o, key) ? 0 : -ENOMEM;
}

static int host_build_payload(const struct host_info *hi, int64_t t_ms, cJSON **ret_payload)
{
	cJSON *payload, *cpu, *virt;
	int r = -ENOMEM;

	payload = json_payload(t_ms);
	if (!payload)
		goto out;
	if (json_str(payload, "hostname", hi->hostname) < 0 ||
	    json_str(payload, "os", hi->os) < 0 || json_str(payload, "kernel", hi->kernel) < 0 ||
	    json_str(payload, "kernel_version", hi->kernel_version) < 0 ||
	    json_str(payload, "arch", hi->arch) < 0)
		goto out;
	cpu = cJSON_AddObjectToObject(payload, "cpu");
	if (!cpu || json_str(cpu, "model", hi->cpu_model) < 0 ||
	    host_add_num(cpu, "logical", hi->logical) < 0 ||
	    host_add_num(cpu, "cores", hi->cores) < 0 ||
	    host_add_num(cpu, "sockets", hi->sockets) < 0)
		goto out;
	if (host_add_num(payload, "boot_time_ms", hi->boot_ms) < 0 ||
	    json_str(payload, "machine_id", hi->machine_id) < 0)
		goto out;
	virt = cJSON_AddObjectToObject(payload, "virtualization");
	if (!virt || json_str(virt, "vm", hi->vm) < 0 ||
	    json_str(virt, "container", hi->container) < 0)
		goto out;
	r = 0;
out:
	return json_hand_over(payload, r, ret_payload);
}

static void host_fini(void *state)
{
	struct host_state *s = state;

	if (!s)
		return;
	host_info_free(&s->cur);
	procfs_buf_free(&s->buf);
	procfs_file_close(&s->hostname_file);
	collector_watch_close(&s->hostname);
	free(s);
}

static int host_init(const struct collector_env *env, const void *settings, void **ret_state,
		     char *reason, size_t reason_len)
{
	struct host_state *s;
	const char *path = "sys/kernel/hostname";
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		procfs_reason(reason, reason_len, path, r, false);
		goto out;
	}
	collector_watch_open(&s->hostname, env, path);
	r = host_read_all(s, env, &s->cur, &path);
	if (r < 0) {
		procfs_reason(reason, reason_len, path, r, false);
		goto out;
	}
	s->refreshed_ns = clock_mono_ns();
	*ret_state = s;
	s = NULL;
out:
	host_fini(s);
	return r;
}

/* Publishes on the first tick and when anything changed: the host name is
 * read when its file says it changed (poll: on proc, one poll a tick for
 * it and the mount table; on other roots every tick), the rest every
 * minute. */
static int host_sample(void *state, const struct collector_env *env,
		       const struct collector_tick *tick, cJSON **ret_payload)
{
	struct host_state *s = state;
	uint64_t now = clock_mono_ns();
	bool changed = !s->published;
	const char *path;
	int r;

	*ret_payload = NULL;
	if (now - s->refreshed_ns >= HOST_REFRESH_NS) {
		struct host_info hi;

		r = host_read_all(s, env, &hi, &path);
		if (r < 0) {
			host_info_free(&hi);
			return r;
		}
		s->refreshed_ns = now;
		if (!host_info_equal(&hi, &s->cur)) {
			host_info_free(&s->cur);
			s->cur = hi;
			changed = true;
		} else {
			host_info_free(&hi);
		}
	} else if (collector_watch_changed(&s->hostname, env)) {
		char *name = NULL;

		if (procfs_read_file_at(&s->hostname_file, env->proc_fd, env->proc_st,
					"sys/kernel/hostname", &s->buf, HOST_SMALL_MAX) == 0)
			name = host_first_line(&s->buf);
		if (name && !host_str_eq(name, s->cur.hostname)) {
			free(s->cur.hostname);
			s->cur.hostname = name;
			name = NULL;
			changed = true;
		}
		free(name);
	}
	if (!changed)
		return 0;
	r = host_build_payload(&s->cur, tick->t_ms, ret_payload);
	if (r == 0)
		s->published = true;
	return r;
}

const struct collector host_collector = {
    .name = "host",
    .flags = COLLECTOR_HOSTINFO,
    .init = host_init,
    .sample = host_sample,
    .fini = host_fini,
};
