/* The stock alert rules (daemon/alert_rule.c) driven by the real
 * collectors: each test writes a proc and sys tree in the kernel's formats
 * (a scratch copy of a fixture machine's files where one has them), lets
 * the collectors sample it tick after tick on an injected clock, feeds
 * their payloads to an engine holding every stock rule, and checks that the
 * rule it drives fires (after its `for`) and no other does. net-down runs
 * on host16's goldens (test_net checks them against that tree: eno2 going
 * down). The health rules run on nas's md arrays and SMART file (a copy,
 * rewritten between ticks as sysfeed-smart does), gpu-slowdown on
 * workstation's amdgpu card and a second card of the same model. The fs
 * rules, oom-kill, journal-crit and unit-failed need a real mount, journal
 * or systemd: tests/integration/test_alerts.py and tests/system. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>

#include "alert_eval.h"
#include "fixture.h"
#include "gpu.h"
#include "health.h"

struct fired {
	char v[32][96]; /* "name instance", in order */
	size_t n;
};

static void on_change(void *ctx, const struct alert_change *c)
{
	struct fired *f = ctx;

	if (c->state == ALERT_FIRING && !c->reminder && f->n < 32)
		snprintf(f->v[f->n++], sizeof(f->v[0]), "%s %s", c->rule->name,
			 c->instance[0] ? c->instance : "-");
}

/* An engine with every stock rule. */
static struct alert_engine *stock_engine(struct fired *f)
{
	struct alert_limits lim = {.window_ms = 3600000};
	struct alert_engine *e = alert_engine_new(&lim, on_change, NULL, f);
	struct alert_rule *rules[32];
	size_t n = 0;
	char err[256];

	assert_non_null(e);
	for (; alert_stock_rules[n]; n++)
		assert_int_equal(
		    alert_rule_parse(alert_stock_rules[n], &rules[n], err, sizeof(err)), 0);
	assert_int_equal(alert_engine_set_rules(e, rules, n, &(struct alert_now){T1, 0}), 0);
	return e;
}

/* Collectors over a scratch tree, fed to the engine. */
struct drive {
	struct scratch s;
	const struct collector *c[4];
	void *st[4];
	size_t n;
	struct collector_env env;
	struct alert_engine *e;
	struct fired f;
};

static void drive_start(struct drive *d, const char *tag, const char *const *topics)
{
	memset(d, 0, sizeof(*d));
	scratch_make(&d->s, tag);
	mkdirat(d->s.fd, "proc", 0700);
	mkdirat(d->s.fd, "sys", 0700);
	d->env.proc_fd = openat(d->s.fd, "proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	d->env.sys_fd = openat(d->s.fd, "sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	for (; topics[d->n]; d->n++)
		d->c[d->n] = collector_registry[collector_topic(topics[d->n])];
	d->e = stock_engine(&d->f);
}

/* Starts the collectors, once the tree holds their files. */
static void drive_init(struct drive *d)
{
	for (size_t i = 0; i < d->n; i++)
		d->st[i] = init_check(d->c[i], &d->env, 0, "");
}

/* Tick number sec (1 s apart): every collector samples, the engine sees
 * each payload, then its tick. */
static void drive_tick(struct drive *d, int64_t sec)
{
	struct collector_tick tick = {.t_ms = T1 + sec * 1000,
				      .mono_ns = (uint64_t)(sec + 1) * SEC};
	struct alert_now now = {T1 + sec * 1000, sec * 1000};

	for (size_t i = 0; i < d->n; i++) {
		cJSON *p = NULL;

		assert_int_equal(d->c[i]->sample(d->st[i], &d->env, &tick, &p), 0);
		if (p)
			alert_engine_feed(d->e, (unsigned)collector_topic(d->c[i]->name), p, &now);
		cJSON_Delete(p);
	}
	alert_engine_tick(d->e, &now);
}

/* What fired so far is exactly want (NULL-terminated). */
static void drive_expect(struct drive *d, const char *const *want)
{
	size_t n = 0;

	for (; want[n]; n++) {
		if (n >= d->f.n)
			fail_msg("'%s' did not fire", want[n]);
		assert_string_equal(d->f.v[n], want[n]);
	}
	if (d->f.n != n)
		fail_msg("'%s' fired too", d->f.v[n]);
}

/* What a test writes into the tree before the tick of second sec. */
typedef void (*drive_write_fn)(struct drive *d, int64_t sec);

/* Ticks every second from first to last, each after write (when not
 * NULL) has written its files; the collectors start at second 0, once
 * the tree holds them. Nothing has fired by second quiet (-1: not
 * looked at), and at the end exactly want has. */
static void drive_run(struct drive *d, int64_t first, int64_t last, drive_write_fn write,
		      int64_t quiet, const char *const *want)
{
	for (int64_t sec = first; sec <= last; sec++) {
		if (write)
			write(d, sec);
		if (sec == 0)
			drive_init(d);
		drive_tick(d, sec);
		if (sec == quiet)
			drive_expect(d, (const char *[]){NULL});
	}
	drive_expect(d, want);
}

static void drive_end(struct drive *d)
{
	for (size_t i = 0; i < d->n; i++)
		d->c[i]->fini(d->st[i]);
	close(d->env.proc_fd);
	close(d->env.sys_fd);
	scratch_remove(&d->s);
	alert_engine_free(d->e);
}

/* Writes rel as machine has it. */
static void copy_rel(struct drive *d, const char *machine, const char *rel)
{
	char *text = slurp(machine, rel, NULL);

	scratch_write(&d->s, rel, text);
	free(text);
}

/* Writes rel as machine has it but for the numbers of the "KEY value"
 * lines of keys (meminfo's "Key:   N kB", vmstat's "key N"), NULL-ended. */
static void write_values(struct drive *d, const char *machine, const char *rel,
			 const char *const *keys, const uint64_t *v)
{
	char *text = slurp(machine, rel, NULL), *line, *out;

	out = calloc(1, strlen(text) + 256);
	assert_non_null(out);
	for (char *s = text; (line = strsep(&s, "\n"));) {
		size_t k = 0, klen = 0;

		if (!*line && !s)
			break;
		for (; keys[k]; k++)
			if (strncmp(line, keys[k], klen = strlen(keys[k])) == 0 &&
			    (line[klen] == ' ' || line[klen] == ':'))
				break;
		if (keys[k])
			sprintf(out + strlen(out), "%s%s %" PRIu64 "%s\n", keys[k],
				line[klen] == ':' ? ":" : "", v[k],
				strstr(line, " kB") ? " kB" : "");
		else
			sprintf(out + strlen(out), "%s\n", line);
	}
	scratch_write(&d->s, rel, out);
	free(out);
	free(text);
}

/* MemAvailable at 4 % of MemTotal: below 5 %, at once. */
TEST(test_mem_available_low)
{
	struct drive d;
	char *mi = slurp("vm2", "proc/meminfo", NULL);
	unsigned long long total;

	drive_start(&d, "stock-mem", (const char *[]){"mem", NULL});
	assert_int_equal(sscanf(strstr(mi, "MemTotal:"), "MemTotal: %llu", &total), 1);
	free(mi);
	write_values(&d, "vm2", "proc/meminfo", (const char *[]){"MemAvailable", NULL},
		     (uint64_t[]){total * 4 / 100});
	copy_rel(&d, "host16", "proc/vmstat");
	drive_run(&d, 0, 0, NULL, -1, (const char *[]){"mem-available-low -", NULL});
	drive_end(&d);
}

/* 2,000 pages swapped in and 1,000 out every second: swap-storm after a
 * minute of it (the first sample has no rate). */
static void write_swapping(struct drive *d, int64_t sec)
{
	write_values(d, "host16", "proc/vmstat", (const char *[]){"pswpin", "pswpout", NULL},
		     (uint64_t[]){45678 + (uint64_t)sec * 2000, 234567 + (uint64_t)sec * 1000});
}

TEST(test_swap_storm)
{
	struct drive d;

	drive_start(&d, "stock-swap", (const char *[]){"mem", NULL});
	copy_rel(&d, "host16", "proc/meminfo");
	drive_run(&d, 0, 61, write_swapping, 60, (const char *[]){"swap-storm -", NULL});
	drive_end(&d);
}

/* Memory PSI some avg60 at 25 %. */
TEST(test_mem_pressure)
{
	struct drive d;
	static const char *const kinds[] = {"cpu", "io", "irq"};

	drive_start(&d, "stock-psi", (const char *[]){"psi", NULL});
	for (size_t i = 0; i < 3; i++) {
		char rel[64];

		snprintf(rel, sizeof(rel), "proc/pressure/%s", kinds[i]);
		copy_rel(&d, "host16", rel);
	}
	scratch_write(&d.s, "proc/pressure/memory",
		      "some avg10=31.20 avg60=25.00 avg300=9.10 total=12345678\n"
		      "full avg10=8.00 avg60=6.50 avg300=2.00 total=5432109\n");
	drive_run(&d, 0, 0, NULL, -1, (const char *[]){"mem-pressure -", NULL});
	drive_end(&d);
}

/* /proc/stat of two CPUs, each second user += u, steal += st, idle the
 * rest of 100 jiffies; the lines after the CPUs as vm2 has them. */
static void write_stat(struct drive *d, int64_t sec, unsigned u, unsigned st)
{
	char *vm2 = slurp("vm2", "proc/stat", NULL), text[4096];
	const char *rest = strstr(vm2, "intr ");
	uint64_t user = 1000 + (uint64_t)sec * u, steal = 10 + (uint64_t)sec * st;
	uint64_t idle = 40000 + (uint64_t)sec * (100 - u - st);

	assert_non_null(rest);
	snprintf(text, sizeof(text),
		 "cpu  %" PRIu64 " 0 500 %" PRIu64 " 100 0 10 %" PRIu64 " 0 0\n"
		 "cpu0 %" PRIu64 " 0 250 %" PRIu64 " 50 0 5 %" PRIu64 " 0 0\n"
		 "cpu1 %" PRIu64 " 0 250 %" PRIu64 " 50 0 5 %" PRIu64 " 0 0\n%s",
		 2 * user, 2 * idle, 2 * steal, user, idle, steal, user, idle, steal, rest);
	scratch_write(&d->s, "proc/stat", text);
	free(vm2);
}

static void write_steal(struct drive *d, int64_t sec)
{
	write_stat(d, sec, 20, 30);
}

/* 30 % steal for five minutes. */
TEST(test_cpu_steal)
{
	struct drive d;

	drive_start(&d, "stock-steal", (const char *[]){"cpu", NULL});
	drive_run(&d, 0, 302, write_steal, 290, (const char *[]){"cpu-steal -", NULL});
	drive_end(&d);
}

static void write_busy(struct drive *d, int64_t sec)
{
	char up[64];

	snprintf(up, sizeof(up), "%" PRId64 ".00 100.00\n", 1000 + sec);
	scratch_write(&d->s, "proc/uptime", up);
	write_stat(d, sec, 90, 0);
}

/* A load of 5 on two CPUs (2.5 a core) for ten minutes. */
TEST(test_load_per_core)
{
	struct drive d;

	drive_start(&d, "stock-load", (const char *[]){"cpu", "load", NULL});
	scratch_write(&d.s, "proc/loadavg", "5.00 4.10 3.20 6/180 4242\n");
	drive_run(&d, 0, 602, write_busy, 590, (const char *[]){"load-per-core -", NULL});
	drive_end(&d);
}

/* An hwmon sensor at 101 C with its crit at 100 C; the other below. */
TEST(test_temp_critical)
{
	struct drive d;

	drive_start(&d, "stock-temp", (const char *[]){"temp", NULL});
	scratch_write(&d.s, "sys/class/hwmon/hwmon0/name", "coretemp\n");
	scratch_write(&d.s, "sys/class/hwmon/hwmon0/temp1_input", "101000\n");
	scratch_write(&d.s, "sys/class/hwmon/hwmon0/temp1_crit", "100000\n");
	scratch_write(&d.s, "sys/class/hwmon/hwmon0/temp2_input", "60000\n");
	scratch_write(&d.s, "sys/class/hwmon/hwmon0/temp2_crit", "100000\n");
	drive_run(&d, 0, 0, NULL, -1, (const char *[]){"temp-critical hwmon0/temp1", NULL});
	drive_end(&d);
}

static void write_diskstats(struct drive *d, int64_t sec)
{
	char text[512];
	uint64_t io = 5000 + (uint64_t)sec * 990, n = 1000 + (uint64_t)sec * 50;

	snprintf(text, sizeof(text),
		 "   8       0 sda %" PRIu64 " 0 %" PRIu64 " 300 %" PRIu64 " 0 %" PRIu64
		 " 400 1 %" PRIu64 " 900 0 0 0 0 0 0\n"
		 "   8      16 sdb 100 0 800 30 100 0 800 40 0 70 70 0 0 0 0 0 0\n",
		 n, 8 * n, n, 8 * n, io);
	scratch_write(&d->s, "proc/diskstats", text);
}

/* sda busy 990 ms of every second (99 %) for five minutes; sdb idle. */
TEST(test_disk_busy)
{
	struct drive d;

	drive_start(&d, "stock-disk", (const char *[]){"disk", NULL});
	scratch_write(&d.s, "sys/block/sda/stat", "0\n");
	scratch_write(&d.s, "sys/block/sdb/stat", "0\n");
	drive_run(&d, 0, 302, write_diskstats, 290, (const char *[]){"disk-busy sda", NULL});
	drive_end(&d);
}

/* host16's interfaces: eno2 up in one sample, down in the next. virbr0,
 * down from the start, was never up: no alert. */
TEST(test_net_down)
{
	struct fired f = {0};
	struct alert_engine *e = stock_engine(&f);
	static const char *const files[] = {"expected/net.json", "expected/net.1.json"};

	for (int64_t i = 0; i < 2; i++) {
		char *text = slurp("host16", files[i], NULL);
		cJSON *p = cJSON_Parse(text);
		struct alert_now now = {T1 + i * 1000, i * 1000};

		assert_non_null(p);
		alert_engine_feed(e, (unsigned)collector_topic("net"), p, &now);
		alert_engine_tick(e, &now);
		cJSON_Delete(p);
		free(text);
	}
	assert_int_equal(f.n, 1);
	assert_string_equal(f.v[0], "net-down eno2");
	alert_engine_free(e);
}

/* Copies the fixture directory machine/from (files and directories) to
 * to in the scratch tree. */
static void copy_tree(struct drive *d, const char *machine, const char *from, const char *to)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/%s/%s", fixtures(), machine, from);
	assert_non_null(dir = opendir(path));
	while ((de = readdir(dir))) {
		char sub_from[PATH_MAX], sub_to[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		snprintf(sub_from, sizeof(sub_from), "%s/%s", from, de->d_name);
		snprintf(sub_to, sizeof(sub_to), "%s/%s", to, de->d_name);
		if (de->d_type == DT_DIR) {
			copy_tree(d, machine, sub_from, sub_to);
		} else {
			char *text = slurp(machine, sub_from, NULL);

			scratch_write(&d->s, sub_to, text);
			free(text);
		}
	}
	closedir(dir);
}

/* The health topic over a scratch tree with nas's mounts and mdstat (or
 * none), its SMART file smart.json there (written by write_smart). */
static void health_start(struct drive *d, const char *tag, bool md)
{
	struct health_settings *set = fixture_settings(&health_collector);
	char path[PATH_MAX];

	drive_start(d, tag, (const char *[]){"health", NULL});
	copy_rel(d, "nas", "proc/self/mountinfo");
	if (md)
		copy_rel(d, "nas", "proc/mdstat");
	else
		scratch_write(&d->s, "proc/mdstat", "Personalities : \nunused devices: <none>\n");
	snprintf(path, sizeof(path), "%s/smart.json", d->s.dir);
	free(set->smart_file);
	assert_non_null(set->smart_file = strdup(path));
}

static void set_num(cJSON *o, const char *key, double v)
{
	cJSON *x = cJSON_GetObjectItemCaseSensitive(o, key);

	assert_true(cJSON_IsNumber(x));
	cJSON_SetNumberValue(x, v);
}

/* nas's SMART file with sdb's reallocated sectors (attribute 5 raw) and
 * nvme0's media errors and critical warning set, renamed into place as
 * sysfeed-smart does. */
static void write_smart(struct drive *d, double sdb_realloc, double nvme_media, double nvme_crit)
{
	char *text = slurp("nas", "smart/smart.json", NULL), *out;
	cJSON *root = cJSON_Parse(text), *dev, *attr;

	assert_non_null(root);
	cJSON_ArrayForEach(dev, cJSON_GetObjectItemCaseSensitive(root, "devices"))
	{
		const char *name = cJSON_GetObjectItemCaseSensitive(
				       cJSON_GetObjectItemCaseSensitive(dev, "device"), "name")
				       ->valuestring;
		cJSON *nv =
		    cJSON_GetObjectItemCaseSensitive(dev, "nvme_smart_health_information_log");

		if (strcmp(name, "/dev/nvme0") == 0) {
			set_num(nv, "media_errors", nvme_media);
			set_num(nv, "critical_warning", nvme_crit);
		}
		if (strcmp(name, "/dev/sdb") != 0)
			continue;
		cJSON_ArrayForEach(
		    attr,
		    cJSON_GetObjectItemCaseSensitive(
			cJSON_GetObjectItemCaseSensitive(dev, "ata_smart_attributes"), "table"))
		{
			if (cJSON_GetObjectItemCaseSensitive(attr, "id")->valuedouble == 5)
				set_num(cJSON_GetObjectItemCaseSensitive(attr, "raw"), "value",
					sdb_realloc);
		}
	}
	assert_non_null(out = cJSON_PrintUnformatted(root));
	scratch_write(&d->s, "smart.json.tmp", out);
	assert_int_equal(renameat(d->s.fd, "smart.json.tmp", d->s.fd, "smart.json"), 0);
	free(out);
	cJSON_Delete(root);
	free(text);
}

/* nas's arrays: md1 lost a member (recovering); md0 clean, md2 and md5
 * resyncing, md4 raid0 and md3 inactive (no redundancy to lose) do not
 * fire. */
TEST(test_md_degraded)
{
	struct drive d;

	health_start(&d, "stock-md", true);
	drive_run(&d, 0, 1, NULL, -1, (const char *[]){"md-degraded md1", NULL});
	drive_end(&d);
}

/* nas's drives: sdb failing its self-assessment fires at once, sdc that
 * smartctl could not open does not (its verdict is unknown). Then
 * sysfeed-smart's next run finds sdb with 8 more reallocated sectors
 * (sda's 8 steady), then nvme0 with media errors and a critical warning. */
TEST(test_smart)
{
	struct drive d;

	health_start(&d, "stock-smart", false);
	write_smart(&d, 1872, 0, 0); /* as the fixture has them */
	drive_run(&d, 0, 1, NULL, -1, (const char *[]){"smart-failed sdb", NULL});
	write_smart(&d, 1880, 0, 0);
	drive_run(&d, 2, 3, NULL, -1,
		  (const char *[]){"smart-failed sdb", "smart-reallocated sdb", NULL});
	write_smart(&d, 1880, 2, 4);
	drive_run(&d, 4, 5, NULL, -1,
		  (const char *[]){"smart-failed sdb", "smart-reallocated sdb",
				   "smart-media-errors nvme0", "nvme-critical-warning nvme0",
				   NULL});
	drive_end(&d);
}

static void write_smart_steady(struct drive *d, int64_t sec)
{
	write_smart(d, 1872, 0, 0);
}

/* The same numbers run after run rise nothing: no alert for sda's 8 or
 * sdb's 1872 reallocated sectors or sdb's 412 reported uncorrectable
 * however often the file is written. */
TEST(test_smart_steady)
{
	struct drive d;

	health_start(&d, "stock-steady", false);
	drive_run(&d, 0, 3, write_smart_steady, -1, (const char *[]){"smart-failed sdb", NULL});
	drive_end(&d);
}

/* card0's edge temperature at second sec, in C: 52, 100, 97, 94, 100. */
static void write_gpu_temp(struct drive *d, int64_t sec)
{
	static const int temp[] = {52, 100, 97, 94, 100};
	char text[32];

	snprintf(text, sizeof(text), "%d000\n", temp[sec]);
	scratch_write(&d->s, "sys/class/drm/card0/device/hwmon/hwmon4/temp1_input", text);
}

/* workstation's amdgpu card (edge sensor, crit 100 C) twice, card0 and
 * card2 of one model: card0 at 100 C fires, stays firing at 97 (clear is
 * 95), resolves at 94 and fires again at 100; card2, cool, never. */
TEST(test_gpu_slowdown)
{
	struct gpu_settings *set = fixture_settings(&gpu_collector);
	struct drive d;

	free(set->nvml_library);
	assert_non_null(set->nvml_library = strdup("/nonexistent/libnvidia-ml.so.1"));
	drive_start(&d, "stock-gpu", (const char *[]){"gpu", NULL});
	copy_tree(&d, "workstation", "sys/class/drm/card0", "sys/class/drm/card0");
	copy_tree(&d, "workstation", "sys/class/drm/card0", "sys/class/drm/card2");
	drive_run(&d, 0, 4, write_gpu_temp, -1,
		  (const char *[]){"gpu-slowdown card0", "gpu-slowdown card0", NULL});
	drive_end(&d);
}
