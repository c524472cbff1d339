/* The `gpu` topic: one entry per GPU. AMD (amdgpu) and Intel (i915, xe)
 * through sysfs and their hwmon devices (Documentation/gpu/amdgpu/
 * thermal.rst, driver-core.rst; Documentation/ABI/testing/sysfs-driver-
 * intel-i915-hwmon, sysfs-driver-intel-xe-hwmon), NVIDIA through NVML
 * loaded at run time (gpu_nvml.h). Off with a reason where there is none. */
#ifndef SYSFEED_GPU_H
#define SYSFEED_GPU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "procfs.h"

/* The keys of the `gpu` topic (gpu_collector.settings). */
struct gpu_settings {
	char *nvml_library; /* what dlopen() is given: a name or a path */
};

/* What a GPU entry holds, as bits of struct gpu_dev.has. */
enum gpu_has {
	GPU_HAS_BUSY = 1u << 0,
	GPU_HAS_MEM_USED = 1u << 1,
	GPU_HAS_MEM_TOTAL = 1u << 2,
	GPU_HAS_TEMP = 1u << 3,
	GPU_HAS_TEMP_SLOWDOWN = 1u << 4,
	GPU_HAS_POWER = 1u << 5,
	GPU_HAS_FREQ = 1u << 6,
	GPU_HAS_FREQ_MAX = 1u << 7,
	GPU_HAS_ENERGY = 1u << 8,
};

enum gpu_kind {
	GPU_AMDGPU,
	GPU_I915,
	GPU_XE,
	GPU_NVIDIA,
};

#define GPU_PATH_MAX 96

/* One GPU. Sysfs attributes are named by paths relative to the sys root,
 * opened at each read (a handful per GPU and tick). */
struct gpu_dev {
	char id[24];     /* "card0" (the DRM card), "nvidia0" (the NVML index) */
	char driver[16]; /* amdgpu, i915, xe, nvidia */
	char pci[32];    /* "0000:03:00.0", or "" */
	char name[96];   /* the product's name where the driver gives one, or "" */
	enum gpu_kind kind;
	char card[GPU_PATH_MAX];  /* class/drm/cardN */
	char hwmon[GPU_PATH_MAX]; /* class/drm/cardN/device/hwmon/hwmonM, or "" */
	char idle[GPU_PATH_MAX];  /* Intel: a residency in ms of the GPU idle (RC6), or "" */
	char freq[GPU_PATH_MAX];  /* Intel: the actual frequency in MHz, or "" */
	char fmax[GPU_PATH_MAX];  /* Intel: the maximum frequency in MHz, or "" */
	unsigned nvml_index;
	/* this tick's values: bits of enum gpu_has say which hold */
	unsigned has;
	double busy_pct, mem_used, mem_total, temp_c, temp_slowdown_c, power_w, freq_mhz,
	    freq_max_mhz, energy_j;
	struct procfs_counter idle_ms; /* for busy_pct on Intel */
	struct procfs_counter energy_uj;
};

struct gpu_list {
	struct gpu_dev *v;
	size_t n, cap;
};

/* Parses amdgpu's pp_dpm_sclk (or _mclk): lines "N: <freq>Mhz", the
 * current level marked " *" (amdgpu_pm.c). Sets the current and highest
 * frequency in MHz; *ret_have_cur is false when no line is marked.
 * Returns 0, -EINVAL on any other shape or no line, -ERANGE. */
int gpu_parse_dpm(const char *text, size_t len, uint64_t *ret_cur_mhz, bool *ret_have_cur,
		  uint64_t *ret_max_mhz);

/* Parses a one-number sysfs attribute: decimal digits then '\n'. Returns
 * 0, -EINVAL or -ERANGE. */
int gpu_parse_u64(const char *text, size_t len, uint64_t *ret);

/* Finds the DRM cards of the amdgpu, i915 and xe drivers under sys_fd
 * (class/drm/cardN, connectors such as card0-DP-1 aside), in card order;
 * *ret_nvidia counts cards of the nvidia driver (NVML's). Replaces what
 * list held. Returns 0 or -ENOMEM; no class/drm is no GPU. */
int gpu_scan_drm(int sys_fd, struct gpu_list *list, unsigned *ret_nvidia);
/* A new zeroed entry at the end of list (NULL: out of memory). */
struct gpu_dev *gpu_list_add(struct gpu_list *list);
void gpu_list_free(struct gpu_list *list);

/* Reads one sysfs GPU's values of this tick into g (g->has says which). */
void gpu_read_sysfs(int sys_fd, struct gpu_dev *g, uint64_t mono_ns);

/* The `gpu` payload of the GPUs at t_ms. Returns 0 or -ENOMEM. */
int gpu_build_payload(const struct gpu_list *list, int64_t t_ms, cJSON **ret_payload);

/* Whether the sys root has a DRM device a process could hold (a card or a
 * render node under class/drm): the proc topic looks into fds only then. */
bool gpu_drm_present(int sys_fd);

extern const struct collector gpu_collector;

#endif
