/* The `gpu` topic's collector: DRM cards of amdgpu, i915 and xe read
 * through sysfs (gpu_sysfs.c), NVIDIA GPUs through NVML (gpu_nvml.c); one
 * entry per GPU each tick, its payload and its families. */
#include "gpu.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "fields.h"
#include "gpu_nvml.h"
#include "json.h"
#include "metrics.h"
#include "settings.h"
#include "temp.h"

/* Cards come and go rarely (a driver reloaded, an eGPU plugged): look
 * again this often. */
#define GPU_RESCAN_NS (60 * UINT64_C(1000000000))

struct gpu_state {
	const struct gpu_settings *set;
	struct gpu_list drm;
	struct gpu_list nv;
	struct gpu_nvml *nvml;
	uint64_t scanned_ns;
	bool have; /* a tick read them: metrics */
};
/* --- the payload and the families --- */

/* A GPU as the rows see it: its name NULL when the driver gives none. */
struct gpu_row {
	const struct gpu_dev *g;
	const char *id, *driver, *name, *pci;
};

static const struct gpu_dev *gpu_of(const void *p)
{
	return ((const struct gpu_row *)p)->g;
}

/* Each number of the entry, from the struct gpu_dev the row points to. */
#define GPU_GETTER(member)                                                                         \
	static bool gpu_get_##member(const void *cur, const void *prev, uint64_t dt_ns,            \
				     double *ret)                                                  \
	{                                                                                          \
		*ret = gpu_of(cur)->member;                                                        \
		return true;                                                                       \
	}
GPU_GETTER(busy_pct)
GPU_GETTER(mem_used)
GPU_GETTER(mem_total)
GPU_GETTER(temp_c)
GPU_GETTER(temp_slowdown_c)
GPU_GETTER(power_w)
GPU_GETTER(freq_mhz)
GPU_GETTER(freq_max_mhz)
GPU_GETTER(energy_j)

static bool gpu_get_busy_ratio(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	*ret = gpu_of(cur)->busy_pct / 100.0;
	return true;
}

static bool gpu_get_hz(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	*ret = gpu_of(cur)->freq_mhz * 1e6;
	return true;
}

static bool gpu_get_max_hz(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	*ret = gpu_of(cur)->freq_max_mhz * 1e6;
	return true;
}

static const struct field gpu_fields[] = {
    FIELD(.source = "class/drm/cardN; NVML index", .json = "id", .type = FIELD_INFO,
	  .help = "cardN for a DRM card, nvidiaN for NVML's GPU N.",
	  FIELD_STR_AT(struct gpu_row, id)),
    FIELD(.source = "DRIVER= of device/uevent", .json = "driver", .type = FIELD_INFO,
	  .help = "amdgpu, i915, xe or nvidia.", FIELD_STR_AT(struct gpu_row, driver)),
    FIELD(.source = "device/product_name; nvmlDeviceGetName", .json = "name", .type = FIELD_INFO,
	  .help = "The product's name, or null where the driver gives none.",
	  FIELD_STR_AT(struct gpu_row, name)),
    FIELD(.source = "PCI_SLOT_NAME= of device/uevent; nvmlDeviceGetPciInfo", .json = "pci",
	  .type = FIELD_INFO, .help = "The PCI slot, or null.", FIELD_STR_AT(struct gpu_row, pci)),
    FIELD(.source = "device/gpu_busy_percent; RC6 residency; nvmlDeviceGetUtilizationRates",
	  .json = "busy_pct", .type = FIELD_GAUGE, .unit = "%",
	  .help = "Share of the time the GPU was busy.", .has = GPU_HAS_BUSY,
	  FIELD_DERIVE(gpu_get_busy_pct)),
    FIELD(.source = "busy", .prom = "sysfeed_gpu_busy_ratio", .type = FIELD_GAUGE, .unit = "ratio",
	  .help = "Share of the time the GPU was busy (0 to 1).", .has = GPU_HAS_BUSY,
	  FIELD_DERIVE(gpu_get_busy_ratio)),
    FIELD(.source = "device/mem_info_vram_used; nvmlDeviceGetMemoryInfo", .json = "mem_used_bytes",
	  .prom = "sysfeed_gpu_memory_used_bytes", .type = FIELD_GAUGE, .unit = "bytes",
	  .help = "Video memory in use.", .has = GPU_HAS_MEM_USED, FIELD_DERIVE(gpu_get_mem_used)),
    FIELD(.source = "device/mem_info_vram_total; nvmlDeviceGetMemoryInfo",
	  .json = "mem_total_bytes", .prom = "sysfeed_gpu_memory_total_bytes", .type = FIELD_GAUGE,
	  .unit = "bytes", .help = "Video memory in all.", .has = GPU_HAS_MEM_TOTAL,
	  FIELD_DERIVE(gpu_get_mem_total)),
    FIELD(.source = "hwmon tempN_input; nvmlDeviceGetTemperature", .json = "temp_c",
	  .prom = "sysfeed_gpu_temperature_celsius", .type = FIELD_GAUGE, .unit = "celsius",
	  .help = "GPU temperature.", .has = GPU_HAS_TEMP, FIELD_DERIVE(gpu_get_temp_c)),
    FIELD(.source = "hwmon tempN_crit; nvmlDeviceGetTemperatureThreshold (slowdown)",
	  .json = "temp_slowdown_c", .prom = "sysfeed_gpu_temperature_slowdown_celsius",
	  .type = FIELD_GAUGE, .unit = "celsius",
	  .help = "The temperature at which the GPU slows itself down.",
	  .has = GPU_HAS_TEMP_SLOWDOWN, FIELD_DERIVE(gpu_get_temp_slowdown_c)),
    FIELD(.source = "hwmon power1_average, power1_input, energy1_input; "
		    "nvmlDeviceGetPowerUsage",
	  .json = "power_w", .prom = "sysfeed_gpu_power_watts", .type = FIELD_GAUGE,
	  .unit = "watts", .help = "Power drawn by the GPU.", .has = GPU_HAS_POWER,
	  FIELD_DERIVE(gpu_get_power_w)),
    FIELD(.source = "hwmon energy1_input; nvmlDeviceGetTotalEnergyConsumption",
	  .prom = "sysfeed_gpu_energy_joules_total", .type = FIELD_COUNTER, .unit = "joules",
	  .help = "Energy used by the GPU since its driver started.", .has = GPU_HAS_ENERGY,
	  FIELD_DERIVE(gpu_get_energy_j)),
    FIELD(.source = "device/pp_dpm_sclk; act_freq; nvmlDeviceGetClockInfo", .json = "freq_mhz",
	  .type = FIELD_GAUGE, .unit = "MHz", .help = "The graphics clock now.",
	  .has = GPU_HAS_FREQ, FIELD_DERIVE(gpu_get_freq_mhz)),
    FIELD(.source = "freq", .prom = "sysfeed_gpu_frequency_hertz", .type = FIELD_GAUGE,
	  .unit = "hertz", .help = "The graphics clock now.", .has = GPU_HAS_FREQ,
	  FIELD_DERIVE(gpu_get_hz)),
    FIELD(.source = "device/pp_dpm_sclk; max_freq; nvmlDeviceGetMaxClockInfo",
	  .json = "freq_max_mhz", .type = FIELD_GAUGE, .unit = "MHz",
	  .help = "The highest graphics clock allowed.", .has = GPU_HAS_FREQ_MAX,
	  FIELD_DERIVE(gpu_get_freq_max_mhz)),
    FIELD(.source = "freq_max", .prom = "sysfeed_gpu_frequency_max_hertz", .type = FIELD_GAUGE,
	  .unit = "hertz", .help = "The highest graphics clock allowed.", .has = GPU_HAS_FREQ_MAX,
	  FIELD_DERIVE(gpu_get_max_hz)),
};

static const struct field_table gpu_table = {
    .path = "gpus[]",
    .file = "/sys/class/drm/cardN",
    .labels = "gpu, driver",
    .passes = {FIELDS_INFO, FIELDS_GAUGES},
    FIELD_ROWS(gpu_fields),
};

static struct gpu_row gpu_row_of(const struct gpu_dev *g)
{
	return (struct gpu_row){g, g->id, g->driver, g->name[0] ? g->name : NULL,
				g->pci[0] ? g->pci : NULL};
}

static int gpu_append(cJSON *arr, const struct gpu_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		struct gpu_row row = gpu_row_of(&list->v[i]);
		int r = fields_json_append(
		    arr, &gpu_table, &(struct field_inst){&row, list->v[i].has, NULL}, NULL, 0);

		if (r < 0)
			return r;
	}
	return 0;
}

int gpu_build_payload(const struct gpu_list *list, int64_t t_ms, cJSON **ret_payload)
{
	cJSON *payload, *arr;
	int r = -ENOMEM;

	payload = json_payload_array(t_ms, "gpus", &arr);
	if (!payload)
		goto out;
	r = gpu_append(arr, list);
out:
	return json_hand_over(payload, r, ret_payload);
}

/* --- the collector --- */

static void gpu_fini(void *state)
{
	struct gpu_state *s = state;

	if (!s)
		return;
	gpu_list_free(&s->drm);
	gpu_list_free(&s->nv);
	gpu_nvml_close(s->nvml);
	free(s);
}

/* NVML's GPUs into s->nv; returns how many. */
static int gpu_nvml_list(struct gpu_state *s)
{
	unsigned n = gpu_nvml_count(s->nvml);

	s->nv.n = 0;
	for (unsigned i = 0; i < n; i++) {
		struct gpu_dev *g = gpu_list_add(&s->nv);

		if (!g)
			return -ENOMEM;
		gpu_nvml_describe(s->nvml, i, g);
	}
	return 0;
}

/* Off when neither sysfs nor NVML shows a GPU; the reason says what was
 * looked at, and why NVML could not be asked. */
static int gpu_init(const struct collector_env *env, const void *settings, void **ret_state,
		    char *reason, size_t reason_len)
{
	const struct gpu_settings *set = settings;
	const char *lib = set && set->nvml_library ? set->nvml_library : "libnvidia-ml.so.1";
	char why[256] = "";
	struct gpu_state *s;
	unsigned nvidia = 0;
	int r = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(reason, reason_len, "%s", strerror(ENOMEM));
		goto out;
	}
	s->set = set;
	r = gpu_scan_drm(env->sys_fd, &s->drm, &nvidia);
	if (r < 0) {
		snprintf(reason, reason_len, "scanning /sys/class/drm: %s", strerror(-r));
		goto out;
	}
	if (gpu_nvml_open(lib, &s->nvml, why, sizeof(why)) == 0) {
		r = gpu_nvml_list(s);
		if (r < 0) {
			snprintf(reason, reason_len, "%s", strerror(-r));
			goto out;
		}
	}
	if (s->drm.n == 0 && s->nv.n == 0) {
		r = -ENODEV;
		if (nvidia > 0)
			snprintf(reason, reason_len, "NVIDIA GPU without NVML (%s)", why);
		else if (s->nvml)
			snprintf(reason, reason_len,
				 "no GPU (/sys/class/drm has no amdgpu, i915 or xe card; NVML "
				 "counts none)");
		else
			snprintf(reason, reason_len,
				 "no GPU (/sys/class/drm has no amdgpu, i915 or xe card; %s)", why);
		goto out;
	}
	s->scanned_ns = clock_mono_ns();
	*ret_state = s;
	s = NULL;
	r = 0;
out:
	gpu_fini(s);
	return r;
}

/* Counters survive a rescan for the cards still there. */
static int gpu_rescan(struct gpu_state *s, int sys_fd)
{
	struct gpu_list old = s->drm;
	unsigned nvidia;
	int r;

	memset(&s->drm, 0, sizeof(s->drm));
	r = gpu_scan_drm(sys_fd, &s->drm, &nvidia);
	if (r < 0) {
		gpu_list_free(&s->drm);
		s->drm = old;
		return r;
	}
	for (size_t i = 0; i < s->drm.n; i++) {
		for (size_t k = 0; k < old.n; k++) {
			if (strcmp(old.v[k].card, s->drm.v[i].card) == 0 &&
			    strcmp(old.v[k].pci, s->drm.v[i].pci) == 0) {
				s->drm.v[i].idle_ms = old.v[k].idle_ms;
				s->drm.v[i].energy_uj = old.v[k].energy_uj;
			}
		}
	}
	gpu_list_free(&old);
	return 0;
}

static int gpu_sample(void *state, const struct collector_env *env,
		      const struct collector_tick *tick, cJSON **ret_payload)
{
	struct gpu_state *s = state;
	uint64_t now = clock_mono_ns();
	cJSON *payload, *arr;
	int r = -ENOMEM;

	*ret_payload = NULL;
	if (now - s->scanned_ns >= GPU_RESCAN_NS) {
		s->scanned_ns = now;
		r = gpu_rescan(s, env->sys_fd);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < s->drm.n; i++)
		gpu_read_sysfs(env->sys_fd, &s->drm.v[i], tick->mono_ns);
	for (size_t i = 0; i < s->nv.n; i++)
		gpu_nvml_read(s->nvml, &s->nv.v[i]);
	s->have = true;
	payload = json_payload_array(tick->t_ms, "gpus", &arr);
	if (!payload)
		goto out;
	r = gpu_append(arr, &s->drm);
	if (r == 0)
		r = gpu_append(arr, &s->nv);
out:
	return json_hand_over(payload, r, ret_payload);
}

static void gpu_insts(struct field_insts *x, struct gpu_row *rows, size_t *k,
		      const struct gpu_list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		rows[*k] = gpu_row_of(&list->v[i]);
		fields_insts_add(x, &rows[*k], list->v[i].has, "gpu", list->v[i].id, "driver",
				 list->v[i].driver);
		(*k)++;
	}
}

static int gpu_metrics(void *state, struct metrics *m)
{
	const struct gpu_state *s = state;
	size_t n = s->drm.n + s->nv.n, k = 0;
	struct field_insts x = {0};
	struct gpu_row *rows;
	int r;

	if (!s->have)
		return 0;
	rows = calloc(n ? n : 1, sizeof(*rows));
	if (!rows)
		return -ENOMEM;
	r = fields_insts_init(&x, n);
	if (r < 0)
		goto out;
	gpu_insts(&x, rows, &k, &s->drm);
	gpu_insts(&x, rows, &k, &s->nv);
	fields_prom(m, &gpu_table, x.v, x.n);
	r = metrics_error(m);
out:
	fields_insts_free(&x);
	free(rows);
	return r;
}

static const struct field_table *const gpu_tables[] = {&gpu_table, NULL};

/* The page's chart of each GPU's load (see daemon/history.h). */
static const char *const gpu_history[] = {"gpus[].id", "gpus[].busy_pct", "gpus[].mem_used_bytes",
					  NULL};

static const struct setting gpu_keys[] = {
    SETTING("nvml-library", SET_STR, offsetof(struct gpu_settings, nvml_library), 0, 0,
	    "libnvidia-ml.so.1", .restart = true),
    {0},
};

const struct collector gpu_collector = {
    .name = "gpu",
    .settings = gpu_keys,
    .settings_size = sizeof(struct gpu_settings),
    .history = gpu_history,
    .fields = gpu_tables,
    .init = gpu_init,
    .sample = gpu_sample,
    .metrics = gpu_metrics,
    .fini = gpu_fini,
};
