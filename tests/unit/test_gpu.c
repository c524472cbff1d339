/* Unit tests of collectors/gpu.c and gpu_nvml.c: the pp_dpm_sclk and
 * one-number parsers, the scan of class/drm over fixture trees
 * (workstation: amdgpu and i915; arc: xe and an nvidia card), two ticks
 * per machine against expected/gpu.1.json, gpu.json and gpu.prom, NVML
 * through a fake libnvidia-ml.so.1 (tests/lib/fake_nvml.c) loaded by the
 * real dlopen() path, and the reasons for being off. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fixture.h"
#include "gpu.h"
#include "metrics.h"

/* The gpu topic's settings with nvml-library set to lib. */
static void set_nvml(const char *lib)
{
	struct gpu_settings *set = fixture_settings(&gpu_collector);

	free(set->nvml_library);
	set->nvml_library = strdup(lib);
	assert_non_null(set->nvml_library);
}

/* build/tests/fake-nvml/libnvidia-ml.so.1, beside this test's binary. */
static void fake_nvml_path(char *buf, size_t size)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);

	assert_true(n > 0);
	exe[n] = '\0';
	snprintf(buf, size, "%s/fake-nvml/libnvidia-ml.so.1", dirname(exe));
	assert_int_equal(access(buf, R_OK), 0);
}

TEST(test_parse_dpm)
{
	static const struct {
		const char *text;
		int err;
		uint64_t cur, max;
		bool have_cur;
	} cases[] = {
	    {"0: 500Mhz \n1: 1254Mhz *\n2: 2430Mhz \n", 0, 1254, 2430, true},
	    {"0: 500Mhz *\n", 0, 500, 500, true},
	    {"0: 96Mhz \n1: 456Mhz \n", 0, 0, 456, false},
	    {"0: 2000MHz *\n1: 1000MHz\n", 0, 2000, 2000, true},
	    {"", -EINVAL, 0, 0, false},
	    {"0: 500Mhz *", -EINVAL, 0, 0, false},
	    {"0: 500 *\n", -EINVAL, 0, 0, false},
	    {"0 500Mhz\n", -EINVAL, 0, 0, false},
	    {"x: 500Mhz\n", -EINVAL, 0, 0, false},
	    {"0: Mhz\n", -EINVAL, 0, 0, false},
	    {"0: 500Mhz * x\n", -EINVAL, 0, 0, false},
	    {"0: 500Mhz +\n", -EINVAL, 0, 0, false},
	    {"0: 99999999999999999999Mhz\n", -ERANGE, 0, 0, false},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t cur = 7, max = 7;
		bool have = false;
		int r = gpu_parse_dpm(cases[i].text, strlen(cases[i].text), &cur, &have, &max);

		assert_case(i, cases[i].text, r, cases[i].err);
		if (r == 0) {
			assert_int_equal(cur, cases[i].cur);
			assert_int_equal(max, cases[i].max);
			assert_int_equal(have, cases[i].have_cur);
		}
	}
}

TEST(test_parse_u64)
{
	static const struct u64_case cases[] = {
	    {"37\n", 0, 37},      {"37", -EINVAL, 0},    {"\n", -EINVAL, 0},
	    {"-1\n", -EINVAL, 0}, {"3 7\n", -EINVAL, 0}, {"18446744073709551616\n", -ERANGE, 0},
	};

	u64_cases(gpu_parse_u64, cases, sizeof(cases) / sizeof(cases[0]));
}

TEST(test_scan)
{
	struct gpu_list list = {0};
	unsigned nvidia = 9;
	int sys = open_dir("workstation", "sys");

	assert_int_equal(gpu_scan_drm(sys, &list, &nvidia), 0);
	assert_int_equal(nvidia, 0);
	assert_int_equal(list.n, 2); /* card0-DP-1 and renderD128 are no cards */
	assert_string_equal(list.v[0].id, "card0");
	assert_int_equal(list.v[0].kind, GPU_AMDGPU);
	assert_string_equal(list.v[0].hwmon, "class/drm/card0/device/hwmon/hwmon4");
	assert_string_equal(list.v[1].driver, "i915");
	assert_string_equal(list.v[1].idle, "class/drm/card1/gt/gt0/rc6_residency_ms");
	assert_string_equal(list.v[1].freq, "class/drm/card1/gt/gt0/rps_act_freq_mhz");
	assert_string_equal(list.v[1].hwmon, "");
	assert_true(gpu_drm_present(sys));
	close(sys);

	sys = open_dir("arc", "sys");
	assert_int_equal(gpu_scan_drm(sys, &list, &nvidia), 0);
	assert_int_equal(nvidia, 1);
	assert_int_equal(list.n, 1);
	assert_int_equal(list.v[0].kind, GPU_XE);
	assert_string_equal(list.v[0].idle,
			    "class/drm/card0/device/tile0/gt0/gtidle/idle_residency_ms");
	assert_string_equal(list.v[0].fmax, "class/drm/card0/device/tile0/gt0/freq0/max_freq");
	close(sys);

	sys = open_dir("vm2", "sys");
	assert_int_equal(gpu_scan_drm(sys, &list, &nvidia), 0);
	assert_int_equal(list.n, 0);
	assert_false(gpu_drm_present(sys));
	close(sys);
	gpu_list_free(&list);
}

/* The gpus[] entry with this id in a payload. */
static const cJSON *gpu_entry(const cJSON *p, const char *id)
{
	const cJSON *g;

	cJSON_ArrayForEach(g, get(p, "gpus"))
	{
		if (strcmp(get(g, "id")->valuestring, id) == 0)
			return g;
	}
	fail_msg("no gpu %s", id);
	return NULL;
}

/* Two ticks: the first over sys/, the second over sys.2/ a second later
 * (Intel's busy and xe's power need two). */
static void test_fixtures(void **state)
{
	const char *machine = *state;
	struct run r;
	cJSON *p;

	set_nvml("/nonexistent/libnvidia-ml.so.1");
	run_start(&r, &gpu_collector, machine);
	run_golden(&r, T1, SEC, "gpu.1.json");
	r.env.sys_fd = r.fd[3];
	p = run_tick(&r, T2, 2 * SEC);
	assert_json_file(p, machine, "gpu.json");
	if (strcmp(machine, "workstation") == 0) {
		assert_true(num(gpu_entry(p, "card1"), "busy_pct") == 40);
		assert_true(num(gpu_entry(p, "card0"), "power_w") == 212);
	} else {
		assert_true(num(gpu_entry(p, "card0"), "busy_pct") == 75);
		assert_true(num(gpu_entry(p, "card0"), "power_w") == 95.5);
	}
	cJSON_Delete(p);
	run_metrics(&r, "gpu.prom");
	run_end(&r);
}

MACHINE_TEST(test_fixtures, "workstation");
MACHINE_TEST(test_fixtures, "arc");

TEST(test_nvml)
{
	struct collector_tick tick = {.t_ms = T1, .mono_ns = SEC};
	struct collector_env env = {.proc_fd = -1};
	char lib[PATH_MAX];
	struct metrics m = {0};
	struct scratch s;
	const cJSON *g;
	cJSON *p = NULL;
	void *st;

	fake_nvml_path(lib, sizeof(lib));
	set_nvml(lib);
	scratch_make(&s, "gpu");
	env.sys_fd = s.fd;
	st = init_check(&gpu_collector, &env, 0, "");
	assert_int_equal(gpu_collector.sample(st, &env, &tick, &p), 0);
	assert_int_equal(cJSON_GetArraySize(get(p, "gpus")), 2);
	g = gpu_entry(p, "nvidia0");
	assert_string_equal(get(g, "driver")->valuestring, "nvidia");
	assert_string_equal(get(g, "name")->valuestring, "NVIDIA GeForce RTX 4090");
	assert_string_equal(get(g, "pci")->valuestring, "00000000:01:00.0");
	assert_true(num(g, "temp_c") == 64);
	assert_true(num(g, "temp_slowdown_c") == 87);
	assert_true(num(g, "power_w") == 312.456);
	assert_true(num(g, "mem_total_bytes") == 25757220864.0);
	assert_true(num(g, "freq_max_mhz") == 3105);
	g = gpu_entry(p, "nvidia1");
	assert_true(is_null(g, "temp_c")); /* NVML_ERROR_NOT_SUPPORTED */
	assert_true(num(g, "mem_used_bytes") == 2147483648.0);
	cJSON_Delete(p);
	assert_int_equal(gpu_collector.metrics(st, &m), 0);
	assert_non_null(strstr(m.buf, "sysfeed_gpu_temperature_slowdown_celsius{gpu=\"nvidia0\","
				      "driver=\"nvidia\"} 87\n"));
	assert_non_null(strstr(m.buf, "# TYPE sysfeed_gpu_energy_joules_total counter\n"));
	assert_null(strstr(m.buf, "sysfeed_gpu_temperature_celsius{gpu=\"nvidia1\""));
	metrics_free(&m);
	gpu_collector.fini(st);

	/* a driver that is not loaded: nvmlInit fails, and nothing else is there */
	setenv("FAKE_NVML_INIT", "fail", 1);
	init_check(&gpu_collector, &env, -ENODEV,
		   "no GPU (/sys/class/drm has no amdgpu, i915 or xe card; nvmlInit: Driver Not "
		   "Loaded)");
	unsetenv("FAKE_NVML_INIT");
	/* NVML with no GPU */
	setenv("FAKE_NVML_GPUS", "0", 1);
	init_check(&gpu_collector, &env, -ENODEV,
		   "no GPU (/sys/class/drm has no amdgpu, i915 or xe card; NVML counts none)");
	unsetenv("FAKE_NVML_GPUS");
	scratch_remove(&s);
}

TEST(test_off)
{
	struct collector_env env = {.proc_fd = -1};
	char reason[512] = "";
	struct scratch s;
	void *st = NULL;

	set_nvml("/nonexistent/libnvidia-ml.so.1");
	scratch_make(&s, "gpu");
	env.sys_fd = s.fd;
	assert_int_equal(
	    gpu_collector.init(&env, fixture_settings(&gpu_collector), &st, reason, sizeof(reason)),
	    -ENODEV);
	assert_null(st);
	assert_non_null(strstr(reason, "no GPU (/sys/class/drm has no amdgpu, i915 or xe card; "
				       "/nonexistent/libnvidia-ml.so.1: "));
	scratch_write(&s, "class/drm/card0/device/uevent",
		      "DRIVER=nvidia\nPCI_SLOT_NAME=0000:07:00.0\n");
	reason[0] = '\0';
	assert_int_equal(
	    gpu_collector.init(&env, fixture_settings(&gpu_collector), &st, reason, sizeof(reason)),
	    -ENODEV);
	assert_non_null(
	    strstr(reason, "NVIDIA GPU without NVML (/nonexistent/libnvidia-ml.so.1: "));
	/* a card that vanished: no GPU entry, no error */
	scratch_write(&s, "class/drm/card0/device/uevent", "DRIVER=amdgpu\n");
	st = init_check(&gpu_collector, &env, 0, "");
	scratch_rm(&s, "class/drm/card0/device");
	{
		struct collector_tick tick = {.t_ms = T1, .mono_ns = SEC};
		cJSON *p = NULL;

		assert_int_equal(gpu_collector.sample(st, &env, &tick, &p), 0);
		assert_int_equal(cJSON_GetArraySize(get(p, "gpus")), 1);
		assert_true(is_null(cJSON_GetArrayItem(get(p, "gpus"), 0), "busy_pct"));
		cJSON_Delete(p);
	}
	gpu_collector.fini(st);
	scratch_remove(&s);
}
