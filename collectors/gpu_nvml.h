/* NVIDIA GPUs through NVML, loaded at run time with dlopen() (no build
 * dependency on the driver): the handful of calls nvidia-smi's basic view
 * makes. The library name comes from the `nvml-library` key, so that tests
 * load a fake one through the same path. */
#ifndef SYSFEED_GPU_NVML_H
#define SYSFEED_GPU_NVML_H

#include <stddef.h>

#include "gpu.h"

struct gpu_nvml;

/* dlopen()s lib and initialises NVML. Returns 0, or -ENOENT (the library
 * cannot be loaded or lacks a call), -EIO (nvmlInit failed) with a
 * one-line reason. */
int gpu_nvml_open(const char *lib, struct gpu_nvml **ret, char *reason, size_t reason_len);

/* The GPUs NVML counts (0 on a failure). */
unsigned gpu_nvml_count(struct gpu_nvml *n);

/* Sets up g as NVML's GPU i: id "nvidiaN", name, PCI slot. */
void gpu_nvml_describe(struct gpu_nvml *n, unsigned i, struct gpu_dev *g);

/* Reads this tick's values of g; a call that fails leaves its value out. */
void gpu_nvml_read(struct gpu_nvml *n, struct gpu_dev *g);

/* Shuts NVML down and unloads it; accepts NULL. */
void gpu_nvml_close(struct gpu_nvml *n);

#endif
