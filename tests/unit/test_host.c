/* Unit tests of collectors/host.c: /proc/cpuinfo (x86 on a VM and a
 * laptop, arm64 without topology, two sockets, malformed), os-release(5)
 * quoting, btime, the DMI and cgroup tables, and the collector over
 * fixture trees (vm2 captured; desktop and container constructed)
 * compared with <machine>/expected/host.json, published once and again
 * only on a change. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fixture.h"
#include "host.h"
#include "procfs.h"

#define T1 INT64_C(1700000000000)
#define T2 INT64_C(1700000001000)

/* --- cpuinfo --- */

static void cpuinfo_fixture(const char *machine, struct host_cpu *c)
{
	size_t len;
	char *text = slurp(machine, "proc/cpuinfo", &len);

	assert_int_equal(host_cpuinfo_parse(text, len, c), 0);
	free(text);
}

static void test_cpuinfo(void **state)
{
	struct host_cpu c;

	(void)state;
	/* this VM: 2 vCPUs, one package, two cores, the hypervisor flag */
	cpuinfo_fixture("vm2", &c);
	assert_string_equal(c.model, "AMD EPYC");
	assert_int_equal(c.logical, 2);
	assert_int_equal(c.cores, 2);
	assert_int_equal(c.sockets, 1);
	assert_true(c.has_flags);
	assert_true(c.hypervisor);
	host_cpu_free(&c);
	/* a laptop: 8 threads on 4 cores */
	cpuinfo_fixture("desktop", &c);
	assert_string_equal(c.model, "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz");
	assert_int_equal(c.logical, 8);
	assert_int_equal(c.cores, 4);
	assert_int_equal(c.sockets, 1);
	assert_false(c.hypervisor);
	host_cpu_free(&c);
	cpuinfo_fixture("container", &c);
	assert_int_equal(c.logical, 4);
	assert_int_equal(c.cores, 2);
	assert_true(c.hypervisor);
	host_cpu_free(&c);
}

static int cpuinfo_str(const char *text, struct host_cpu *c)
{
	return host_cpuinfo_parse(text, strlen(text), c);
}

static void test_cpuinfo_shapes(void **state)
{
	struct host_cpu c;

	(void)state;
	/* arm64: no model name, no topology, no flags */
	assert_int_equal(cpuinfo_str("processor\t: 0\nBogoMIPS\t: 108.00\n"
				     "Features\t: fp asimd evtstrm crc32 cpuid\n"
				     "CPU implementer\t: 0x41\nCPU architecture: 8\n"
				     "CPU part\t: 0xd08\n\n"
				     "processor\t: 1\nBogoMIPS\t: 108.00\n\n"
				     "Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B\n",
				     &c),
			 0);
	assert_null(c.model);
	assert_int_equal(c.logical, 2);
	assert_int_equal(c.cores, 2);
	assert_int_equal(c.sockets, -1);
	assert_false(c.has_flags);
	host_cpu_free(&c);
	/* two sockets of 2 cores, SMT, blocks without blank lines between */
	assert_int_equal(cpuinfo_str("processor : 0\nphysical id : 0\ncore id : 0\n"
				     "processor : 1\nphysical id : 0\ncore id : 1\n"
				     "processor : 2\nphysical id : 1\ncore id : 0\n"
				     "processor : 3\nphysical id : 1\ncore id : 1\n"
				     "processor : 4\nphysical id : 0\ncore id : 0\n"
				     "processor : 5\nphysical id : 1\ncore id : 1\n",
				     &c),
			 0);
	assert_int_equal(c.logical, 6);
	assert_int_equal(c.cores, 4);
	assert_int_equal(c.sockets, 2);
	host_cpu_free(&c);
	/* core ids but no physical id: one package assumed, sockets unknown */
	assert_int_equal(cpuinfo_str("processor : 0\ncore id : 0\n\nprocessor : 1\ncore id : 0\n\n"
				     "processor : 2\ncore id : 1\n",
				     &c),
			 0);
	assert_int_equal(c.cores, 2);
	assert_int_equal(c.sockets, -1);
	host_cpu_free(&c);
	/* POWER names the CPU "cpu"; "model name" wins over it when both */
	assert_int_equal(cpuinfo_str("processor\t: 0\ncpu\t\t: POWER9 (raw), altivec supported\n"
				     "model name\t: \n",
				     &c),
			 0);
	assert_string_equal(c.model, "POWER9 (raw), altivec supported");
	host_cpu_free(&c);
	assert_int_equal(cpuinfo_str("processor : 0\ncpu : X\nmodel name : Y\n", &c), 0);
	assert_string_equal(c.model, "Y");
	host_cpu_free(&c);

	assert_int_equal(cpuinfo_str("", &c), -ENODATA);
	assert_int_equal(cpuinfo_str("model name : x\n", &c), -ENODATA);
	assert_int_equal(cpuinfo_str("processor : 0\ngarbage\n", &c), -EINVAL);
	assert_int_equal(cpuinfo_str("processor : 0\ncore id : x\n", &c), -EINVAL);
	assert_int_equal(cpuinfo_str("processor : 0\nphysical id : -1\n", &c), -EINVAL);
	assert_int_equal(cpuinfo_str("processor : 0\nphysical id : 99999999999\n", &c), -ERANGE);
	assert_int_equal(cpuinfo_str("processor : 0", &c), -EINVAL);
	assert_int_equal(host_cpuinfo_parse("processor : 0\0\n", 15, &c), -EINVAL);
	host_cpu_free(NULL);
}

static void test_cpuinfo_truncated(void **state)
{
	struct host_cpu c;
	size_t len;
	char *text = slurp("vm2", "proc/cpuinfo", &len);

	(void)state;
	for (size_t n = 0; n <= len; n++) {
		char *copy = malloc(n ? n : 1);
		int r;

		assert_non_null(copy);
		memcpy(copy, text, n);
		r = host_cpuinfo_parse(copy, n, &c);
		if (r == 0)
			host_cpu_free(&c);
		else
			assert_true(r == -EINVAL || r == -ENODATA);
		if (n > 0 && text[n - 1] != '\n')
			assert_int_equal(r, -EINVAL);
		free(copy);
	}
	free(text);
}

/* --- os-release, btime --- */

static void check_os(const char *text, const char *key, int err, const char *want)
{
	char *v = NULL;
	int r = host_os_release_value(text, strlen(text), key, &v);

	if (r != err)
		print_error("\"%s\": %d\n", text, r);
	assert_int_equal(r, err);
	if (r == 0) {
		assert_string_equal(v, want);
		free(v);
	}
}

static void test_os_release(void **state)
{
	size_t len;
	char *text = slurp("vm2", "etc/os-release", &len), *v;

	(void)state;
	assert_int_equal(host_os_release_value(text, len, "PRETTY_NAME", &v), 0);
	assert_string_equal(v, "Debian GNU/Linux 12 (bookworm)");
	free(v);
	assert_int_equal(host_os_release_value(text, len, "VERSION_CODENAME", &v), 0);
	assert_string_equal(v, "bookworm");
	free(v);
	free(text);

	check_os("A=1\n", "A", 0, "1");
	check_os("A=\"x y\"\n", "A", 0, "x y");
	check_os("A='x \"y\" \\z'\n", "A", 0, "x \"y\" \\z");
	check_os("A=\"a\\\"b\\\\c\\$d\\`e\\nf\"\n", "A", 0, "a\"b\\c$d`e\\nf");
	check_os("# c\n\n  \nA=1\nA=2\n", "A", 0, "2"); /* the last one wins */
	check_os("A=\"\"\n", "A", 0, "");
	check_os("AB=1\n", "A", -ENOENT, NULL);
	check_os("B=1\n", "A", -ENOENT, NULL);
	check_os("", "A", -ENOENT, NULL);
	check_os("A=1", "A", -EINVAL, NULL);     /* no '\n' */
	check_os("A=\"x\n", "A", -EINVAL, NULL); /* unterminated */
	check_os("A='x\n", "A", -EINVAL, NULL);
	check_os("A=\"x\" y\n", "A", -EINVAL, NULL); /* text after the quote */
	check_os("A=x y\n", "A", -EINVAL, NULL);     /* would need quotes */
	check_os("A=$x\n", "A", -EINVAL, NULL);
	check_os("garbage\n", "A", -EINVAL, NULL);
	check_os("=1\n", "A", -EINVAL, NULL);
	check_os("A-B=1\n", "A", -EINVAL, NULL);
}

static void test_btime(void **state)
{
	uint64_t v = 0;

	(void)state;
	assert_int_equal(host_btime_parse("cpu  1 2 3 4\nbtime 1795480737\n", 31, &v), 0);
	assert_int_equal(v, 1795480737);
	assert_int_equal(host_btime_parse("cpu  1 2 3 4\n", 13, &v), -ENODATA);
	assert_int_equal(host_btime_parse("btime x\n", 8, &v), -EINVAL);
	assert_int_equal(host_btime_parse("btime 1", 7, &v), -EINVAL);
	assert_int_equal(host_btime_parse("btime 99999999999999999999\n", 27, &v), -ERANGE);
}

/* --- virtualization --- */

static void test_dmi(void **state)
{
	(void)state;
	assert_string_equal(host_vm_from_dmi("QEMU", "Standard PC (Q35 + ICH9, 2009)", "SeaBIOS"),
			    "qemu");
	assert_string_equal(host_vm_from_dmi("Red Hat", "KVM", "SeaBIOS"), "kvm");
	assert_string_equal(host_vm_from_dmi("VMware, Inc.", "VMware Virtual Platform", NULL),
			    "vmware");
	assert_string_equal(host_vm_from_dmi("Microsoft Corporation", "Virtual Machine", NULL),
			    "microsoft");
	assert_null(host_vm_from_dmi("Microsoft Corporation", "Surface Pro 9", "Microsoft"));
	assert_string_equal(host_vm_from_dmi("Amazon EC2", "m5.xlarge", "Amazon EC2"), "amazon");
	assert_string_equal(host_vm_from_dmi("Google", "Google Compute Engine", "Google"),
			    "google");
	assert_string_equal(host_vm_from_dmi("Xen", "HVM domU", "Xen"), "xen");
	assert_string_equal(host_vm_from_dmi("innotek GmbH", "VirtualBox", NULL), "oracle");
	assert_null(host_vm_from_dmi("LENOVO", "20L5CTO1WW", "LENOVO"));
	assert_null(host_vm_from_dmi(NULL, NULL, NULL));
}

static void test_cgroup_hints(void **state)
{
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
	    {"12:pids:/docker/1a2b3c\n", "docker"},
	    {"0::/system.slice/docker-1a2b.scope\n", "docker"},
	    {"0::/machine.slice/libpod-1a2b.scope/container\n", "podman"},
	    {"0::/lxc.payload.web\n", "lxc"},
	    {"0::/kubepods.slice/kubepods-burstable.slice/x\n", "kubernetes"},
	    {"0::/\n", NULL},
	    {"0::/init.scope\n", NULL},
	    {"9:name=systemd:/\n1:cpu:/\n0::/\n", NULL},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = host_container_from_cgroup(cases[i].text, strlen(cases[i].text));

		if (cases[i].want)
			assert_string_equal(got, cases[i].want);
		else
			assert_null(got);
	}
}

/* --- the collector --- */

static void run_machine(const char *machine)
{
	struct collector_env env;
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	char reason[256] = "";
	void *st = NULL;
	cJSON *p = NULL;

	env = (struct collector_env){.proc_fd = open_dir(machine, "proc"),
				     .sys_fd = open_dir(machine, "sys")};
	assert_int_equal(host_collector.init(&env, fixture_settings(&host_collector), &st, reason,
					     sizeof(reason)),
			 0);
	assert_string_equal(reason, "");
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	assert_json_file(p, machine, "host.json");
	cJSON_Delete(p);
	/* nothing changed: nothing to send */
	tick.t_ms = T2;
	p = (cJSON *)&env;
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_null(p);
	host_collector.fini(st);
	close(env.proc_fd);
	close(env.sys_fd);
}

static void test_collector_fixtures(void **state)
{
	(void)state;
	run_machine("vm2");
	run_machine("desktop");
	run_machine("container");
}

static void put(int dirfd, const char *name, const char *text)
{
	int f = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	assert_true(f >= 0);
	assert_int_equal(write(f, text, strlen(text)), (ssize_t)strlen(text));
	close(f);
}

/* A new host name is published at the next tick; the topic is off
 * without the two files every Linux has. */
static void test_collector_change(void **state)
{
	char dir[] = "/tmp/sysfeed-host-XXXXXX", reason[256];
	struct collector_env env = {.sys_fd = -1};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	void *st = NULL;
	cJSON *p = NULL;
	char *text;
	int proc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	{
		char path[64];

		snprintf(path, sizeof(path), "%s/proc", dir);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/proc/sys", dir);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/proc/sys/kernel", dir);
		assert_int_equal(mkdir(path, 0700), 0);
		snprintf(path, sizeof(path), "%s/proc", dir);
		proc = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	env.proc_fd = proc;
	assert_int_equal(host_collector.init(&env, fixture_settings(&host_collector), &st, reason,
					     sizeof(reason)),
			 -ENOENT);
	assert_string_equal(reason, "/proc/sys/kernel/hostname: No such file or directory");
	put(proc, "sys/kernel/hostname", "alpha\n");
	assert_int_equal(host_collector.init(&env, fixture_settings(&host_collector), &st, reason,
					     sizeof(reason)),
			 -ENOENT);
	assert_string_equal(reason, "/proc/sys/kernel/osrelease: No such file or directory");
	put(proc, "sys/kernel/osrelease", "6.1.0\n");
	put(proc, "sys/kernel/arch", "riscv64\n");
	assert_int_equal(host_collector.init(&env, fixture_settings(&host_collector), &st, reason,
					     sizeof(reason)),
			 0);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	text = cJSON_PrintUnformatted(p);
	/* nothing else to read: nulls */
	assert_string_equal(text, "{\"t\":1700000000000,\"hostname\":\"alpha\",\"os\":null,"
				  "\"kernel\":\"6.1.0\",\"kernel_version\":null,"
				  "\"arch\":\"riscv64\",\"cpu\":{\"model\":null,\"logical\":null,"
				  "\"cores\":null,\"sockets\":null},\"boot_time_ms\":null,"
				  "\"machine_id\":null,\"virtualization\":{\"vm\":null,"
				  "\"container\":null}}");
	free(text);
	cJSON_Delete(p);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_null(p);
	put(proc, "sys/kernel/hostname", "beta\n");
	tick.t_ms = T2;
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	assert_string_equal(cJSON_GetObjectItem(p, "hostname")->valuestring, "beta");
	assert_true(cJSON_GetObjectItem(p, "t")->valuedouble == (double)T2);
	cJSON_Delete(p);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_null(p);
	host_collector.fini(st);
	host_collector.fini(NULL);
	unlinkat(proc, "sys/kernel/hostname", 0);
	unlinkat(proc, "sys/kernel/osrelease", 0);
	unlinkat(proc, "sys/kernel/arch", 0);
	unlinkat(proc, "sys/kernel", AT_REMOVEDIR);
	unlinkat(proc, "sys", AT_REMOVEDIR);
	close(proc);
	{
		char path[64];

		snprintf(path, sizeof(path), "%s/proc", dir);
		rmdir(path);
	}
	rmdir(dir);
}

static void test_collector_live(void **state)
{
	struct collector_env env;
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	char reason[256], host[256] = "";
	void *st = NULL;
	cJSON *p = NULL;
	struct timespec a, b;
	const int n = 10000;

	(void)state;
	env = (struct collector_env){.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
				     .sys_fd = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
	assert_int_equal(host_collector.init(&env, fixture_settings(&host_collector), &st, reason,
					     sizeof(reason)),
			 0);
	assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
	assert_non_null(p);
	gethostname(host, sizeof(host) - 1);
	assert_string_equal(cJSON_GetObjectItem(p, "hostname")->valuestring, host);
	assert_true(cJSON_GetObjectItem(cJSON_GetObjectItem(p, "cpu"), "logical")->valuedouble >=
		    1);
	cJSON_Delete(p);
	/* the cost of the ticks in between: the host name only */
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	for (int i = 0; i < n; i++) {
		assert_int_equal(host_collector.sample(st, &env, &tick, &p), 0);
		assert_null(p);
	}
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	print_message(
	    "host: %.2f us of CPU per tick\n",
	    ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) / n);
	host_collector.fini(st);
	close(env.proc_fd);
	close(env.sys_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_cpuinfo),
	    cmocka_unit_test(test_cpuinfo_shapes),
	    cmocka_unit_test(test_cpuinfo_truncated),
	    cmocka_unit_test(test_os_release),
	    cmocka_unit_test(test_btime),
	    cmocka_unit_test(test_dmi),
	    cmocka_unit_test(test_cgroup_hints),
	    cmocka_unit_test(test_collector_fixtures),
	    cmocka_unit_test(test_collector_change),
	    cmocka_unit_test(test_collector_live),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
