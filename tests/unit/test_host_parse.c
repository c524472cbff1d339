/* Unit tests of collectors/host_parse.c: /proc/cpuinfo (x86 on a VM and a
 * laptop, arm64 without topology, two sockets, malformed), os-release(5)
 * quoting, btime, the DMI and cgroup tables. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "host_parse.h"

/* --- cpuinfo --- */

static void cpuinfo_fixture(const char *machine, struct host_cpu *c)
{
	size_t len;
	char *text = slurp(machine, "proc/cpuinfo", &len);

	assert_int_equal(host_cpuinfo_parse(text, len, c), 0);
	free(text);
}

/* What a parse of cpuinfo must give, all of it: src is a fixture
 * machine's proc/cpuinfo or the text itself. */
struct cpu_case {
	const char *src, *model;
	unsigned logical;
	int cores, sockets;
	bool has_flags, hypervisor;
};

/* c is what case k wants (i its index); c is freed. */
static void assert_cpu(size_t i, const struct cpu_case *k, struct host_cpu *c)
{
	if (k->model)
		assert_string_equal(c->model, k->model);
	else
		assert_null(c->model);
	if (c->logical != k->logical || c->cores != k->cores || c->sockets != k->sockets ||
	    c->has_flags != k->has_flags || c->hypervisor != k->hypervisor)
		print_error("case %zu: %u logical, %d cores, %d sockets, flags %d, hypervisor %d\n",
			    i, c->logical, c->cores, c->sockets, c->has_flags, c->hypervisor);
	assert_int_equal(c->logical, k->logical);
	assert_int_equal(c->cores, k->cores);
	assert_int_equal(c->sockets, k->sockets);
	assert_int_equal(c->has_flags, k->has_flags);
	assert_int_equal(c->hypervisor, k->hypervisor);
	host_cpu_free(c);
}

TEST(test_cpuinfo)
{
	static const struct cpu_case cases[] = {
	    /* this VM: 2 vCPUs, one package, two cores, the hypervisor flag */
	    {"vm2", "AMD EPYC", 2, 2, 1, true, true},
	    /* a laptop: 8 threads on 4 cores */
	    {"desktop", "Intel(R) Core(TM) i5-8250U CPU @ 1.60GHz", 8, 4, 1, true, false},
	    {"container", "Intel(R) Xeon(R) Platinum 8259CL CPU @ 2.50GHz", 4, 2, 1, true, true},
	};
	struct host_cpu c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cpuinfo_fixture(cases[i].src, &c);
		assert_cpu(i, &cases[i], &c);
	}
}

static int cpuinfo_str(const char *text, struct host_cpu *c)
{
	return host_cpuinfo_parse(text, strlen(text), c);
}

TEST(test_cpuinfo_shapes)
{
	static const struct cpu_case cases[] = {
	    /* arm64: no model name, no topology, no flags */
	    {"processor\t: 0\nBogoMIPS\t: 108.00\n"
	     "Features\t: fp asimd evtstrm crc32 cpuid\n"
	     "CPU implementer\t: 0x41\nCPU architecture: 8\n"
	     "CPU part\t: 0xd08\n\n"
	     "processor\t: 1\nBogoMIPS\t: 108.00\n\n"
	     "Hardware\t: BCM2835\nModel\t\t: Raspberry Pi 4 Model B\n",
	     NULL, 2, 2, -1, false, false},
	    /* two sockets of 2 cores, SMT, blocks without blank lines between */
	    {"processor : 0\nphysical id : 0\ncore id : 0\n"
	     "processor : 1\nphysical id : 0\ncore id : 1\n"
	     "processor : 2\nphysical id : 1\ncore id : 0\n"
	     "processor : 3\nphysical id : 1\ncore id : 1\n"
	     "processor : 4\nphysical id : 0\ncore id : 0\n"
	     "processor : 5\nphysical id : 1\ncore id : 1\n",
	     NULL, 6, 4, 2, false, false},
	    /* core ids but no physical id: one package assumed, sockets unknown */
	    {"processor : 0\ncore id : 0\n\nprocessor : 1\ncore id : 0\n\n"
	     "processor : 2\ncore id : 1\n",
	     NULL, 3, 2, -1, false, false},
	    /* POWER names the CPU "cpu"; "model name" wins over it when both */
	    {"processor\t: 0\ncpu\t\t: POWER9 (raw), altivec supported\nmodel name\t: \n",
	     "POWER9 (raw), altivec supported", 1, 1, -1, false, false},
	    {"processor : 0\ncpu : X\nmodel name : Y\n", "Y", 1, 1, -1, false, false},
	};
	struct host_cpu c;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(cpuinfo_str(cases[i].src, &c), 0);
		assert_cpu(i, &cases[i], &c);
	}
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

/* A prefix parses or fails as malformed or empty; one that ends inside a
 * line is malformed. */
static void check_cpuinfo_prefix(const char *p, size_t n, size_t at, void *ctx)
{
	const char *text = ctx;
	struct host_cpu c;
	int r = host_cpuinfo_parse(p, n, &c);

	if (r == 0)
		host_cpu_free(&c);
	else
		assert_true(r == -EINVAL || r == -ENODATA);
	if (n > 0 && text[n - 1] != '\n')
		assert_int_equal(r, -EINVAL);
}

TEST(test_cpuinfo_truncated)
{
	size_t len;
	char *text = slurp("vm2", "proc/cpuinfo", &len);

	each_prefix(text, len, check_cpuinfo_prefix, text);
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

TEST(test_os_release)
{
	size_t len;
	char *text = slurp("vm2", "etc/os-release", &len), *v;

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

TEST(test_btime)
{
	static const struct u64_case cases[] = {
	    {"cpu  1 2 3 4\nbtime 1795480737\n", 0, 1795480737},
	    {"cpu  1 2 3 4\n", -ENODATA, 0},
	    {"btime x\n", -EINVAL, 0},
	    {"btime 1", -EINVAL, 0},
	    {"btime 99999999999999999999\n", -ERANGE, 0},
	};

	u64_cases(host_btime_parse, cases, sizeof(cases) / sizeof(cases[0]));
}

/* --- virtualization --- */

TEST(test_dmi)
{
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

TEST(test_cgroup_hints)
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

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *got = host_container_from_cgroup(cases[i].text, strlen(cases[i].text));

		if (cases[i].want)
			assert_string_equal(got, cases[i].want);
		else
			assert_null(got);
	}
}
