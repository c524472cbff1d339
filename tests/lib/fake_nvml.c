/* A stand-in for NVIDIA's libnvidia-ml.so.1, built by the tests
 * (build/tests/fake-nvml/libnvidia-ml.so.1) and loaded by the gpu
 * collector through its real dlopen() path: the calls gpu_nvml.c makes,
 * with NVML's signatures (nvml.h), answering fixed values.
 *
 * FAKE_NVML_GPUS (default 2) sets how many GPUs it has;
 * FAKE_NVML_INIT=fail makes nvmlInit_v2 fail as without a driver
 * (NVML_ERROR_DRIVER_NOT_LOADED). GPU 1 has no temperature sensor
 * (NVML_ERROR_NOT_SUPPORTED). Values move with the number of calls to
 * nvmlDeviceGetUtilizationRates, so that two ticks differ. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NVML_SUCCESS                 0
#define NVML_ERROR_INVALID_ARGUMENT  2
#define NVML_ERROR_NOT_SUPPORTED     3
#define NVML_ERROR_UNINITIALIZED     1
#define NVML_ERROR_DRIVER_NOT_LOADED 9

typedef int nvmlReturn_t;
typedef struct fake_dev *nvmlDevice_t;
typedef struct {
	unsigned gpu, memory;
} nvmlUtilization_t;
typedef struct {
	unsigned long long total, free, used;
} nvmlMemory_t;
typedef struct {
	char busIdLegacy[16];
	unsigned domain, bus, device, pciDeviceId, pciSubSystemId;
	char busId[32];
} nvmlPciInfo_t;

struct fake_dev {
	unsigned index;
};

static struct fake_dev devs[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {7}};
static int inited;
static unsigned calls;

/* Exported with NVML's names: the prototypes are here only. */
nvmlReturn_t nvmlInit_v2(void);
nvmlReturn_t nvmlShutdown(void);
const char *nvmlErrorString(nvmlReturn_t r);
nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *count);
nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t *dev);
nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t dev, char *name, unsigned len);
nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t dev, nvmlPciInfo_t *pci);
nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev, nvmlUtilization_t *u);
nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *m);
nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t dev, int sensor, unsigned *t);
nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDevice_t dev, int type, unsigned *t);
nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned *mw);
nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t dev, int type, unsigned *mhz);
nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t dev, int type, unsigned *mhz);
nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t dev, unsigned long long *mj);

static unsigned fake_count(void)
{
	const char *s = getenv("FAKE_NVML_GPUS");
	unsigned n = s ? (unsigned)atoi(s) : 2;

	return n > 8 ? 8 : n;
}

nvmlReturn_t nvmlInit_v2(void)
{
	const char *s = getenv("FAKE_NVML_INIT");

	if (s && strcmp(s, "fail") == 0)
		return NVML_ERROR_DRIVER_NOT_LOADED;
	inited++;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlShutdown(void)
{
	if (!inited)
		return NVML_ERROR_UNINITIALIZED;
	inited--;
	return NVML_SUCCESS;
}

const char *nvmlErrorString(nvmlReturn_t r)
{
	switch (r) {
	case NVML_SUCCESS:
		return "Success";
	case NVML_ERROR_DRIVER_NOT_LOADED:
		return "Driver Not Loaded";
	case NVML_ERROR_NOT_SUPPORTED:
		return "Not Supported";
	default:
		return "Unknown Error";
	}
}

nvmlReturn_t nvmlDeviceGetCount_v2(unsigned *count)
{
	if (!inited)
		return NVML_ERROR_UNINITIALIZED;
	*count = fake_count();
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetHandleByIndex_v2(unsigned i, nvmlDevice_t *dev)
{
	if (!inited)
		return NVML_ERROR_UNINITIALIZED;
	if (i >= fake_count())
		return NVML_ERROR_INVALID_ARGUMENT;
	*dev = &devs[i];
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetName(nvmlDevice_t dev, char *name, unsigned len)
{
	snprintf(name, len, dev->index == 0 ? "NVIDIA GeForce RTX 4090" : "NVIDIA A100-SXM4-80GB");
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPciInfo_v3(nvmlDevice_t dev, nvmlPciInfo_t *pci)
{
	memset(pci, 0, sizeof(*pci));
	pci->bus = 1 + dev->index;
	snprintf(pci->busIdLegacy, sizeof(pci->busIdLegacy), "0000:%02X:00.0", pci->bus);
	snprintf(pci->busId, sizeof(pci->busId), "00000000:%02X:00.0", pci->bus);
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetUtilizationRates(nvmlDevice_t dev, nvmlUtilization_t *u)
{
	calls++;
	u->gpu = (dev->index * 40 + calls * 10) % 101;
	u->memory = 5;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMemoryInfo(nvmlDevice_t dev, nvmlMemory_t *m)
{
	m->total = dev->index == 0 ? 25757220864ULL : 85899345920ULL;
	m->used = 1073741824ULL * (1 + dev->index);
	m->free = m->total - m->used;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperature(nvmlDevice_t dev, int sensor, unsigned *t)
{
	if (dev->index == 1 || sensor != 0)
		return NVML_ERROR_NOT_SUPPORTED;
	*t = 64;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTemperatureThreshold(nvmlDevice_t dev, int type, unsigned *t)
{
	if (type != 1) /* NVML_TEMPERATURE_THRESHOLD_SLOWDOWN */
		return NVML_ERROR_NOT_SUPPORTED;
	*t = dev->index == 0 ? 87 : 92;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetPowerUsage(nvmlDevice_t dev, unsigned *mw)
{
	*mw = dev->index == 0 ? 312456 : 61000;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetClockInfo(nvmlDevice_t dev, int type, unsigned *mhz)
{
	*mhz = type == 0 ? 2520 : 10501;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetMaxClockInfo(nvmlDevice_t dev, int type, unsigned *mhz)
{
	*mhz = type == 0 ? 3105 : 10501;
	return NVML_SUCCESS;
}

nvmlReturn_t nvmlDeviceGetTotalEnergyConsumption(nvmlDevice_t dev, unsigned long long *mj)
{
	*mj = 123456789ULL + 1000ULL * calls;
	return NVML_SUCCESS;
}
