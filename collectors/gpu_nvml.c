/* NVML through dlopen(): the types and constants below are NVML's public
 * ABI (nvml.h), declared here so that building needs no driver headers. */
#include "gpu_nvml.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef int nvml_ret;         /* nvmlReturn_t: 0 is NVML_SUCCESS */
typedef void *nvml_dev;       /* nvmlDevice_t */
struct nvml_util {            /* nvmlUtilization_t */
	unsigned gpu, memory; /* percent over the driver's last sample period */
};
struct nvml_memory { /* nvmlMemory_t, bytes */
	unsigned long long total, free, used;
};
struct nvml_pci { /* nvmlPciInfo_t (v3), with room to spare */
	char bus_id_legacy[16];
	unsigned domain, bus, device, device_id, subsystem_id;
	char bus_id[32];
	char spare[64];
};

#define NVML_TEMPERATURE_GPU                0
#define NVML_TEMPERATURE_THRESHOLD_SLOWDOWN 1
#define NVML_CLOCK_GRAPHICS                 0

struct gpu_nvml {
	void *dl;
	nvml_ret (*init)(void);
	nvml_ret (*shutdown)(void);
	const char *(*error_string)(nvml_ret);
	nvml_ret (*count)(unsigned *);
	nvml_ret (*handle)(unsigned, nvml_dev *);
	nvml_ret (*name)(nvml_dev, char *, unsigned);
	nvml_ret (*pci)(nvml_dev, struct nvml_pci *);
	nvml_ret (*util)(nvml_dev, struct nvml_util *);
	nvml_ret (*memory)(nvml_dev, struct nvml_memory *);
	nvml_ret (*temp)(nvml_dev, int, unsigned *);
	nvml_ret (*threshold)(nvml_dev, int, unsigned *);
	nvml_ret (*power)(nvml_dev, unsigned *);
	nvml_ret (*clock)(nvml_dev, int, unsigned *);
	nvml_ret (*max_clock)(nvml_dev, int, unsigned *);
	nvml_ret (*energy)(nvml_dev, unsigned long long *);
	bool inited;
};

/* The symbols, at their places in struct gpu_nvml; the optional ones may
 * be missing from old drivers. */
static const struct {
	const char *sym;
	size_t off;
	bool optional;
} gpu_nvml_syms[] = {
    {"nvmlInit_v2", offsetof(struct gpu_nvml, init), false},
    {"nvmlShutdown", offsetof(struct gpu_nvml, shutdown), false},
    {"nvmlErrorString", offsetof(struct gpu_nvml, error_string), false},
    {"nvmlDeviceGetCount_v2", offsetof(struct gpu_nvml, count), false},
    {"nvmlDeviceGetHandleByIndex_v2", offsetof(struct gpu_nvml, handle), false},
    {"nvmlDeviceGetName", offsetof(struct gpu_nvml, name), true},
    {"nvmlDeviceGetPciInfo_v3", offsetof(struct gpu_nvml, pci), true},
    {"nvmlDeviceGetUtilizationRates", offsetof(struct gpu_nvml, util), true},
    {"nvmlDeviceGetMemoryInfo", offsetof(struct gpu_nvml, memory), true},
    {"nvmlDeviceGetTemperature", offsetof(struct gpu_nvml, temp), true},
    {"nvmlDeviceGetTemperatureThreshold", offsetof(struct gpu_nvml, threshold), true},
    {"nvmlDeviceGetPowerUsage", offsetof(struct gpu_nvml, power), true},
    {"nvmlDeviceGetClockInfo", offsetof(struct gpu_nvml, clock), true},
    {"nvmlDeviceGetMaxClockInfo", offsetof(struct gpu_nvml, max_clock), true},
    {"nvmlDeviceGetTotalEnergyConsumption", offsetof(struct gpu_nvml, energy), true},
};

void gpu_nvml_close(struct gpu_nvml *n)
{
	if (!n)
		return;
	if (n->inited)
		n->shutdown();
	if (n->dl)
		dlclose(n->dl);
	free(n);
}

int gpu_nvml_open(const char *lib, struct gpu_nvml **ret, char *reason, size_t reason_len)
{
	struct gpu_nvml *n;
	const char *err;
	nvml_ret e;
	int r = -ENOMEM;

	*ret = NULL;
	n = calloc(1, sizeof(*n));
	if (!n) {
		snprintf(reason, reason_len, "%s", strerror(ENOMEM));
		goto out;
	}
	n->dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
	if (!n->dl) {
		r = -ENOENT;
		err = dlerror();
		snprintf(reason, reason_len, "%s", err ? err : lib);
		goto out;
	}
	for (size_t i = 0; i < sizeof(gpu_nvml_syms) / sizeof(gpu_nvml_syms[0]); i++) {
		void *fn = dlsym(n->dl, gpu_nvml_syms[i].sym);

		if (!fn && !gpu_nvml_syms[i].optional) {
			r = -ENOENT;
			snprintf(reason, reason_len, "%s: no %s", lib, gpu_nvml_syms[i].sym);
			goto out;
		}
		/* POSIX guarantees a function pointer survives this copy */
		memcpy((char *)n + gpu_nvml_syms[i].off, &fn, sizeof(fn));
	}
	e = n->init();
	if (e != 0) {
		r = -EIO;
		snprintf(reason, reason_len, "nvmlInit: %s", n->error_string(e));
		goto out;
	}
	n->inited = true;
	*ret = n;
	n = NULL;
	r = 0;
out:
	gpu_nvml_close(n);
	return r;
}

unsigned gpu_nvml_count(struct gpu_nvml *n)
{
	unsigned c = 0;

	if (n->count(&c) != 0)
		return 0;
	return c;
}

/* Text from NVML made a C string that fits, without control bytes. */
static void gpu_nvml_text(char *dst, size_t size, const char *src, size_t src_size)
{
	size_t i;

	for (i = 0; i + 1 < size && i < src_size && src[i]; i++)
		dst[i] = (unsigned char)src[i] < 0x20 ? ' ' : src[i];
	dst[i] = '\0';
}

void gpu_nvml_describe(struct gpu_nvml *n, unsigned i, struct gpu_dev *g)
{
	char name[96] = "";
	struct nvml_pci pci;
	nvml_dev h;

	memset(g, 0, sizeof(*g));
	g->kind = GPU_NVIDIA;
	g->nvml_index = i;
	snprintf(g->id, sizeof(g->id), "nvidia%u", i);
	snprintf(g->driver, sizeof(g->driver), "nvidia");
	if (n->handle(i, &h) != 0)
		return;
	if (n->name && n->name(h, name, sizeof(name)) == 0)
		gpu_nvml_text(g->name, sizeof(g->name), name, sizeof(name));
	memset(&pci, 0, sizeof(pci));
	if (n->pci && n->pci(h, &pci) == 0)
		gpu_nvml_text(g->pci, sizeof(g->pci), pci.bus_id, sizeof(pci.bus_id));
}

void gpu_nvml_read(struct gpu_nvml *n, struct gpu_dev *g)
{
	struct nvml_util u;
	struct nvml_memory mem;
	unsigned v;
	unsigned long long mj;
	nvml_dev h;

	g->has = 0;
	if (n->handle(g->nvml_index, &h) != 0)
		return;
	if (n->util && n->util(h, &u) == 0 && u.gpu <= 100) {
		g->busy_pct = u.gpu;
		g->has |= GPU_HAS_BUSY;
	}
	if (n->memory && n->memory(h, &mem) == 0) {
		g->mem_used = (double)mem.used;
		g->mem_total = (double)mem.total;
		g->has |= GPU_HAS_MEM_USED | GPU_HAS_MEM_TOTAL;
	}
	if (n->temp && n->temp(h, NVML_TEMPERATURE_GPU, &v) == 0) {
		g->temp_c = v;
		g->has |= GPU_HAS_TEMP;
	}
	if (n->threshold && n->threshold(h, NVML_TEMPERATURE_THRESHOLD_SLOWDOWN, &v) == 0) {
		g->temp_slowdown_c = v;
		g->has |= GPU_HAS_TEMP_SLOWDOWN;
	}
	if (n->power && n->power(h, &v) == 0) { /* mW */
		g->power_w = v / 1000.0;
		g->has |= GPU_HAS_POWER;
	}
	if (n->clock && n->clock(h, NVML_CLOCK_GRAPHICS, &v) == 0) {
		g->freq_mhz = v;
		g->has |= GPU_HAS_FREQ;
	}
	if (n->max_clock && n->max_clock(h, NVML_CLOCK_GRAPHICS, &v) == 0) {
		g->freq_max_mhz = v;
		g->has |= GPU_HAS_FREQ_MAX;
	}
	if (n->energy && n->energy(h, &mj) == 0) { /* mJ since the driver loaded */
		g->energy_j = (double)mj / 1000.0;
		g->has |= GPU_HAS_ENERGY;
	}
}
