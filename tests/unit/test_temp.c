/* Unit tests of collectors/temp.c: the millidegree parser, the scan of
 * hwmon and thermal zones over fixture trees (desktop: hwmon chips; sbc:
 * thermal zones only; vm2: nothing, so the topic is off), payloads
 * compared with <machine>/expected/temp.json, and unreadable sensors. */
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
#include "metrics.h"
#include "procfs.h"
#include "prom_check.h"
#include "temp.h"

TEST(test_parse)
{
	static const struct {
		const char *text;
		int err;
		int64_t v;
	} cases[] = {
	    {"45000\n", 0, 45000},
	    {"-5500\n", 0, -5500},
	    {"0\n", 0, 0},
	    {"9223372036854775807\n", 0, INT64_MAX},
	    {"9223372036854775808\n", -ERANGE, 0},
	    {"99999999999999999999\n", -ERANGE, 0},
	    {"45000", -EINVAL, 0},
	    {"", -EINVAL, 0},
	    {"\n", -EINVAL, 0},
	    {"-\n", -EINVAL, 0},
	    {"--5\n", -EINVAL, 0},
	    {"+5\n", -EINVAL, 0},
	    {"45.5\n", -EINVAL, 0},
	    {" 45\n", -EINVAL, 0},
	    {"45 \n", -EINVAL, 0},
	    {"45\n\n", -EINVAL, 0},
	    {"N/A\n", -EINVAL, 0},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t v = 7;
		int r = temp_parse_millideg(cases[i].text, strlen(cases[i].text), &v);

		assert_case(i, cases[i].text, r, cases[i].err);
		assert_int_equal(v, r == 0 ? cases[i].v : 7);
	}
	assert_int_equal(temp_parse_millideg("4\0005\n", 4, &(int64_t){0}), -EINVAL);
}

TEST(test_scan_desktop)
{
	struct temp_list list = {0};
	int sys = open_dir("desktop", "sys");
	const struct temp_sensor *t;

	assert_int_equal(temp_scan(sys, &list), 0);
	/* acpitz 1, nvme 3, coretemp 5, iwlwifi 1 (unreadable), nct6798 2;
	 * the acpitz thermal zone is not used: hwmon has sensors */
	assert_int_equal(list.n, 12);
	t = &list.v[0];
	assert_string_equal(t->id, "hwmon0/temp1");
	assert_string_equal(t->chip, "acpitz");
	assert_string_equal(t->label, "temp1");
	assert_false(t->has_max);
	assert_true(t->has_crit);
	assert_int_equal(t->crit_mc, 119000);
	t = &list.v[1];
	assert_string_equal(t->chip, "nvme");
	assert_string_equal(t->label, "Composite");
	assert_int_equal(t->max_mc, 84850);
	t = &list.v[4];
	assert_string_equal(t->id, "hwmon2/temp1");
	assert_string_equal(t->label, "Package id 0");
	assert_int_equal(t->crit_mc, 100000);
	t = &list.v[8];
	assert_string_equal(t->label, "Core 3");
	t = &list.v[9];
	assert_string_equal(t->chip, "iwlwifi_1");
	/* hwmon10 after hwmon3: numeric order */
	t = &list.v[11];
	assert_string_equal(t->id, "hwmon10/temp2");
	assert_string_equal(t->label, "temp2");
	assert_true(t->has_max);
	assert_false(t->has_crit);
	/* a second scan replaces the first */
	assert_int_equal(temp_scan(sys, &list), 0);
	assert_int_equal(list.n, 12);
	temp_list_free(&list);
	temp_list_free(&list);
	temp_list_free(NULL);
	close(sys);
}

TEST(test_scan_sbc)
{
	struct temp_list list = {0};
	int sys = open_dir("sbc", "sys");

	assert_int_equal(temp_scan(sys, &list), 0);
	assert_int_equal(list.n, 2);
	assert_string_equal(list.v[0].id, "thermal_zone0");
	assert_string_equal(list.v[0].chip, "cpu-thermal");
	assert_string_equal(list.v[0].label, "cpu-thermal");
	assert_true(list.v[0].has_crit);
	assert_int_equal(list.v[0].crit_mc, 90000); /* the "critical" trip, not "passive" */
	assert_false(list.v[0].has_max);
	assert_false(list.v[1].has_crit);
	temp_list_free(&list);
	close(sys);
}

static void run_machine(const char *machine)
{
	struct collector_env env = {.proc_fd = -1};
	struct run r;
	cJSON *p;

	run_start(&r, &temp_collector, machine);
	run_golden(&r, T1, 1, "temp.json");
	/* the same files, the same payload, every tick */
	p = run_tick(&r, T2, 1);
	cJSON_SetNumberValue(cJSON_GetObjectItem(p, "t"), (double)T1);
	assert_json_file(p, machine, "temp.json");
	cJSON_Delete(p);
	run_metrics(&r, "temp.prom");
	run_end(&r);
	/* vm2 (this VM) has neither hwmon nor thermal zones */
	env.sys_fd = open_dir("vm2", "sys");
	init_check(&temp_collector, &env, -ENODEV,
		   "no temperature sensors (/sys/class/hwmon has no temp*_input, "
		   "/sys/class/thermal no thermal_zone*)");
	close(env.sys_fd);
}

TEST(test_collector_fixtures)
{
	struct collector_env env = {.proc_fd = -1};
	void *st = NULL;

	run_machine("desktop");
	run_machine("sbc");

	/* the cost of a tick with the desktop's 12 inputs: one pread each */
	{
		struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
		struct timespec a, b;
		cJSON *p = NULL;
		const int n = 5000;

		env.sys_fd = open_dir("desktop", "sys");
		st = init_check(&temp_collector, &env, 0, NULL);
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
		for (int i = 0; i < n; i++) {
			assert_int_equal(temp_collector.sample(st, &env, &tick, &p), 0);
			cJSON_Delete(p);
		}
		clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
		print_message(
		    "temp: %.2f us of CPU per tick (12 sensors, payload built)\n",
		    ((double)(b.tv_sec - a.tv_sec) * 1e6 + (double)(b.tv_nsec - a.tv_nsec) / 1e3) /
			n);
		temp_collector.fini(st);
		st = NULL;
		close(env.sys_fd);
	}

	/* vm2 (this VM) has neither hwmon nor thermal zones */
	env.sys_fd = open_dir("vm2", "sys");
	init_check(&temp_collector, &env, -ENODEV,
		   "no temperature sensors (/sys/class/hwmon has no temp*_input, "
		   "/sys/class/thermal no thermal_zone*)");
	close(env.sys_fd);
}

/* A sensor whose value is garbage is left out of the tick, and back when
 * it reads again; a label that is empty falls back to tempN. */
TEST(test_collector_unreadable)
{
	struct scratch sys;
	struct collector_env env = {.proc_fd = -1};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	void *st = NULL;
	cJSON *p = NULL;

	scratch_make(&sys, "temp");
	env.sys_fd = sys.fd;
	scratch_write(&sys, "class/hwmon/hwmon0/name", "k10temp\n");
	scratch_write(&sys, "class/hwmon/hwmon0/temp1_input", "41250\n");
	scratch_write(&sys, "class/hwmon/hwmon0/temp1_label", "\n");
	scratch_write(&sys, "class/hwmon/hwmon0/temp2_input", "N/A\n");
	scratch_write(&sys, "class/hwmon/hwmon0/temp2_max", "garbage\n");
	scratch_write(&sys, "class/hwmon/hwmon0/tempx_input", "1\n");
	scratch_write(&sys, "class/hwmon/hwmon0/temp3_inputs", "1\n");
	/* a chip directory without a name */
	assert_int_equal(mkdirat(sys.fd, "class/hwmon/hwmonX", 0700), 0);
	st = init_check(&temp_collector, &env, 0, NULL);
	assert_int_equal(temp_collector.sample(st, &env, &tick, &p), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "sensors")), 1);
	{
		char *text = cJSON_PrintUnformatted(p);

		assert_string_equal(text,
				    "{\"t\":1700000000000,\"sensors\":[{\"id\":\"hwmon0/temp1\","
				    "\"chip\":\"k10temp\",\"label\":\"temp1\",\"temp_c\":41.25,"
				    "\"max_c\":null,\"crit_c\":null}]}");
		free(text);
	}
	cJSON_Delete(p);
	scratch_write(&sys, "class/hwmon/hwmon0/temp2_input", "38000\n");
	assert_int_equal(temp_collector.sample(st, &env, &tick, &p), 0);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(p, "sensors")), 2);
	cJSON_Delete(p);
	temp_collector.fini(st);
	temp_collector.fini(NULL);
	scratch_remove(&sys);
}

/* This VM has no sensor: the topic is off with the reason. A machine with
 * sensors gives a payload with at least one. */
TEST(test_collector_live)
{
	struct collector_env env = {.proc_fd = -1};
	struct collector_tick tick = {.t_ms = T1, .mono_ns = 1};
	char reason[256] = "";
	void *st = NULL;
	cJSON *p = NULL;
	int r;

	env.sys_fd = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(env.sys_fd >= 0);
	r = temp_collector.init(&env, fixture_settings(&temp_collector), &st, reason,
				sizeof(reason));
	if (r == -ENODEV) {
		print_message("temp: off here: %s\n", reason);
	} else {
		assert_int_equal(r, 0);
		assert_int_equal(temp_collector.sample(st, &env, &tick, &p), 0);
		assert_non_null(p);
		cJSON_Delete(p);
		temp_collector.fini(st);
	}
	close(env.sys_fd);
}
