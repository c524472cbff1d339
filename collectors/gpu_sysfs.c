/* The `gpu` topic's sysfs side: DRM cards of amdgpu, i915 and xe found
 * under /sys/class/drm, their hwmon, and each tick's reading of busy,
 * memory, clocks, power and temperature (see gpu.h). */
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

#include "array.h"
#include "procfs.h"
#include "temp.h"

/* sysfs attributes are a page at most; ours hold a number or a short list. */
#define GPU_ATTR_MAX 4096

/* --- parsers --- */

int gpu_parse_u64(const char *text, size_t len, uint64_t *ret)
{
	if (len < 2 || text[len - 1] != '\n')
		return -EINVAL;
	return procfs_parse_u64(text, len - 1, ret);
}

/* "N: <digits>Mhz" with an optional " *" */
int gpu_parse_dpm(const char *text, size_t len, uint64_t *ret_cur_mhz, bool *ret_have_cur,
		  uint64_t *ret_max_mhz)
{
	const char *p = text, *end = text + len, *line;
	size_t line_len, n = 0;
	uint64_t max = 0, cur = 0, v;
	bool have_cur = false;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		const char *q = line, *qe = line + line_len, *tok;
		size_t tok_len;

		if (procfs_next_token(&q, qe, &tok, &tok_len) <= 0 || tok_len < 2 ||
		    tok[tok_len - 1] != ':' || procfs_parse_u64(tok, tok_len - 1, &v) < 0)
			return -EINVAL;
		if (procfs_next_token(&q, qe, &tok, &tok_len) <= 0 || tok_len < 4 ||
		    (strncmp(tok + tok_len - 3, "Mhz", 3) != 0 &&
		     strncmp(tok + tok_len - 3, "MHz", 3) != 0))
			return -EINVAL;
		r = procfs_parse_u64(tok, tok_len - 3, &v);
		if (r < 0)
			return r;
		if (procfs_next_token(&q, qe, &tok, &tok_len) > 0) {
			if (!procfs_token_is(tok, tok_len, "*") ||
			    procfs_next_token(&q, qe, &tok, &tok_len) > 0)
				return -EINVAL;
			cur = v;
			have_cur = true;
		}
		if (v > max)
			max = v;
		n++;
	}
	if (r < 0 || n == 0)
		return -EINVAL;
	*ret_cur_mhz = cur;
	*ret_have_cur = have_cur;
	*ret_max_mhz = max;
	return 0;
}

/* --- reading sysfs --- */

/* Reads dir/name (dir relative to the sys root) into buf, NUL-terminated.
 * Returns its length or -errno. */
static ssize_t gpu_read(int sys_fd, const char *dir, const char *name, char *buf, size_t size)
{
	char path[2 * GPU_PATH_MAX];
	ssize_t n;
	int fd;

	if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = openat(sys_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	n = procfs_pread(fd, buf, size);
	close(fd);
	return n;
}

static bool gpu_read_u64(int sys_fd, const char *dir, const char *name, uint64_t *ret)
{
	char buf[64];
	ssize_t n = gpu_read(sys_fd, dir, name, buf, sizeof(buf));

	return n > 0 && gpu_parse_u64(buf, (size_t)n, ret) == 0;
}

static bool gpu_read_millideg(int sys_fd, const char *dir, const char *name, double *ret)
{
	char buf[64];
	ssize_t n = gpu_read(sys_fd, dir, name, buf, sizeof(buf));
	int64_t mc;

	if (n <= 0 || temp_parse_millideg(buf, (size_t)n, &mc) < 0)
		return false;
	*ret = (double)mc / 1000.0;
	return true;
}

static bool gpu_exists(int sys_fd, const char *dir, const char *name)
{
	char path[2 * GPU_PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	return faccessat(sys_fd, path, F_OK, 0) == 0;
}

/* The value of KEY= in a uevent file, cut to fit; false when absent. */
static bool gpu_uevent(const char *text, const char *key, char *dst, size_t size)
{
	size_t k = strlen(key);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		if (strncmp(p, key, k) == 0 && p[k] == '=') {
			size_t n = strcspn(p + k + 1, "\n");

			if (n >= size)
				n = size - 1;
			memcpy(dst, p + k + 1, n);
			dst[n] = '\0';
			return true;
		}
	}
	return false;
}

/* A one-line text attribute without its newline, control bytes as spaces. */
static void gpu_read_text(int sys_fd, const char *dir, const char *name, char *dst, size_t size)
{
	char buf[256];
	ssize_t n = gpu_read(sys_fd, dir, name, buf, sizeof(buf));
	size_t i, len;

	dst[0] = '\0';
	if (n <= 0)
		return;
	len = strcspn(buf, "\n");
	for (i = 0; i < len && i + 1 < size; i++)
		dst[i] = (unsigned char)buf[i] < 0x20 ? ' ' : buf[i];
	while (i > 0 && dst[i - 1] == ' ')
		i--;
	dst[i] = '\0';
}

/* "PREFIX<digits>" exactly. */
static bool gpu_numbered(const char *name, const char *prefix, unsigned *ret)
{
	size_t np = strlen(prefix);
	uint64_t v;

	if (strncmp(name, prefix, np) != 0 || !name[np] ||
	    procfs_parse_u64(name + np, strlen(name + np), &v) < 0 || v > UINT_MAX)
		return false;
	*ret = (unsigned)v;
	return true;
}

/* The lowest hwmonN under the card's device/hwmon, into g->hwmon. */
static void gpu_find_hwmon(int sys_fd, struct gpu_dev *g)
{
	char path[2 * GPU_PATH_MAX];
	unsigned best = UINT_MAX, n;
	struct dirent *e;
	DIR *d;
	int fd;

	g->hwmon[0] = '\0';
	snprintf(path, sizeof(path), "%s/device/hwmon", g->card);
	fd = openat(sys_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return;
	}
	while ((e = readdir(d))) {
		if (gpu_numbered(e->d_name, "hwmon", &n) && n < best)
			best = n;
	}
	closedir(d);
	if (best != UINT_MAX && snprintf(g->hwmon, sizeof(g->hwmon), "%s/device/hwmon/hwmon%u",
					 g->card, best) >= (int)sizeof(g->hwmon))
		g->hwmon[0] = '\0';
}

/* The first of the candidates (relative to the card) that exists, as a
 * path relative to the sys root, into dst ("" when none). */
static void gpu_pick(int sys_fd, const struct gpu_dev *g, const char *const *cands, char *dst)
{
	dst[0] = '\0';
	for (size_t i = 0; cands[i]; i++) {
		if (gpu_exists(sys_fd, g->card, cands[i])) {
			if (snprintf(dst, GPU_PATH_MAX, "%s/%s", g->card, cands[i]) >= GPU_PATH_MAX)
				dst[0] = '\0';
			return;
		}
	}
}

/* Where Intel keeps the GT's idle residency and frequencies: i915 under
 * gt/gt0 (5.14+) or the card itself, xe under device/tile0/gt0. */
static void gpu_intel_paths(int sys_fd, struct gpu_dev *g)
{
	static const char *const i915_idle[] = {"gt/gt0/rc6_residency_ms", "power/rc6_residency_ms",
						NULL};
	static const char *const i915_freq[] = {"gt/gt0/rps_act_freq_mhz", "gt_act_freq_mhz", NULL};
	static const char *const i915_max[] = {"gt/gt0/rps_max_freq_mhz", "gt_max_freq_mhz", NULL};
	static const char *const xe_idle[] = {"device/tile0/gt0/gtidle/idle_residency_ms", NULL};
	static const char *const xe_freq[] = {"device/tile0/gt0/freq0/act_freq", NULL};
	static const char *const xe_max[] = {"device/tile0/gt0/freq0/max_freq", NULL};
	bool xe = g->kind == GPU_XE;

	gpu_pick(sys_fd, g, xe ? xe_idle : i915_idle, g->idle);
	gpu_pick(sys_fd, g, xe ? xe_freq : i915_freq, g->freq);
	gpu_pick(sys_fd, g, xe ? xe_max : i915_max, g->fmax);
}

struct gpu_dev *gpu_list_add(struct gpu_list *list)
{
	if (ARRAY_GROW(list->v, list->cap, list->n, 4) < 0)
		return NULL;
	memset(&list->v[list->n], 0, sizeof(list->v[0]));
	return &list->v[list->n++];
}

void gpu_list_free(struct gpu_list *list)
{
	if (!list)
		return;
	free(list->v);
	memset(list, 0, sizeof(*list));
}

static int gpu_cmp(const void *a, const void *b)
{
	const struct gpu_dev *x = a, *y = b;

	return x->nvml_index < y->nvml_index ? -1 : x->nvml_index > y->nvml_index;
}

/* One class/drm/cardN: its driver from device/uevent. */
static int gpu_scan_card(int sys_fd, unsigned n, struct gpu_list *list, unsigned *ret_nvidia)
{
	char card[GPU_PATH_MAX], uevent[1024], driver[16];
	struct gpu_dev *g;
	enum gpu_kind kind;
	ssize_t len;

	snprintf(card, sizeof(card), "class/drm/card%u", n);
	len = gpu_read(sys_fd, card, "device/uevent", uevent, sizeof(uevent));
	if (len <= 0 || !gpu_uevent(uevent, "DRIVER", driver, sizeof(driver)))
		return 0;
	if (strcmp(driver, "amdgpu") == 0)
		kind = GPU_AMDGPU;
	else if (strcmp(driver, "i915") == 0)
		kind = GPU_I915;
	else if (strcmp(driver, "xe") == 0)
		kind = GPU_XE;
	else {
		if (strcmp(driver, "nvidia") == 0)
			(*ret_nvidia)++;
		return 0;
	}
	g = gpu_list_add(list);
	if (!g)
		return -ENOMEM;
	g->kind = kind;
	g->nvml_index = n; /* the card number, for the order */
	snprintf(g->id, sizeof(g->id), "card%u", n);
	snprintf(g->driver, sizeof(g->driver), "%s", driver);
	snprintf(g->card, sizeof(g->card), "%s", card);
	gpu_uevent(uevent, "PCI_SLOT_NAME", g->pci, sizeof(g->pci));
	if (kind == GPU_AMDGPU)
		gpu_read_text(sys_fd, card, "device/product_name", g->name, sizeof(g->name));
	else
		gpu_intel_paths(sys_fd, g);
	gpu_find_hwmon(sys_fd, g);
	return 0;
}

int gpu_scan_drm(int sys_fd, struct gpu_list *list, unsigned *ret_nvidia)
{
	struct dirent *e;
	DIR *d;
	int fd, r = 0;

	list->n = 0;
	*ret_nvidia = 0;
	fd = openat(sys_fd, "class/drm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return errno == ENOMEM ? -ENOMEM : 0;
	}
	while ((e = readdir(d))) {
		unsigned n;

		if (!gpu_numbered(e->d_name, "card", &n))
			continue;
		r = gpu_scan_card(sys_fd, n, list, ret_nvidia);
		if (r < 0)
			break;
	}
	closedir(d);
	if (r < 0)
		list->n = 0;
	else if (list->n > 1)
		qsort(list->v, list->n, sizeof(list->v[0]), gpu_cmp);
	return r;
}

bool gpu_drm_present(int sys_fd)
{
	struct dirent *e;
	bool found = false;
	unsigned n;
	DIR *d;
	int fd;

	fd = openat(sys_fd, "class/drm", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return false;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return false;
	}
	while (!found && (e = readdir(d)))
		found =
		    gpu_numbered(e->d_name, "card", &n) || gpu_numbered(e->d_name, "renderD", &n);
	closedir(d);
	return found;
}

/* Hundredths, half up. */
static double gpu_round(double v)
{
	return floor(v * 100.0 + 0.5) / 100.0;
}

/* The hwmon device's temperature (the first of temp1..temp3: amdgpu's
 * edge, xe's package) and power: an average or instant reading in uW, or
 * the rate of the energy counter in uJ. */
static void gpu_read_hwmon(int sys_fd, struct gpu_dev *g, uint64_t mono_ns)
{
	char in[16], crit[16];
	uint64_t v;
	double per_s;

	if (!g->hwmon[0])
		return;
	for (unsigned i = 1; i <= 3; i++) {
		snprintf(in, sizeof(in), "temp%u_input", i);
		if (!gpu_read_millideg(sys_fd, g->hwmon, in, &g->temp_c))
			continue;
		g->has |= GPU_HAS_TEMP;
		snprintf(crit, sizeof(crit), "temp%u_crit", i);
		if (gpu_read_millideg(sys_fd, g->hwmon, crit, &g->temp_slowdown_c))
			g->has |= GPU_HAS_TEMP_SLOWDOWN;
		break;
	}
	if (gpu_read_u64(sys_fd, g->hwmon, "power1_average", &v) ||
	    gpu_read_u64(sys_fd, g->hwmon, "power1_input", &v)) {
		g->power_w = gpu_round((double)v / 1e6);
		g->has |= GPU_HAS_POWER;
	}
	if (gpu_read_u64(sys_fd, g->hwmon, "energy1_input", &v)) {
		g->energy_j = (double)v / 1e6;
		g->has |= GPU_HAS_ENERGY;
		if (procfs_counter_rate(&g->energy_uj, v, mono_ns, &per_s) > 0 &&
		    !(g->has & GPU_HAS_POWER)) {
			g->power_w = gpu_round(per_s / 1e6);
			g->has |= GPU_HAS_POWER;
		}
	}
}

static void gpu_read_amdgpu(int sys_fd, struct gpu_dev *g)
{
	char buf[GPU_ATTR_MAX], dev[GPU_PATH_MAX + 8];
	uint64_t v, cur, max;
	bool have_cur;
	ssize_t n;

	snprintf(dev, sizeof(dev), "%s/device", g->card);
	if (gpu_read_u64(sys_fd, dev, "gpu_busy_percent", &v) && v <= 100) {
		g->busy_pct = (double)v;
		g->has |= GPU_HAS_BUSY;
	}
	if (gpu_read_u64(sys_fd, dev, "mem_info_vram_used", &v)) {
		g->mem_used = (double)v;
		g->has |= GPU_HAS_MEM_USED;
	}
	if (gpu_read_u64(sys_fd, dev, "mem_info_vram_total", &v)) {
		g->mem_total = (double)v;
		g->has |= GPU_HAS_MEM_TOTAL;
	}
	n = gpu_read(sys_fd, dev, "pp_dpm_sclk", buf, sizeof(buf));
	if (n > 0 && gpu_parse_dpm(buf, (size_t)n, &cur, &have_cur, &max) == 0) {
		if (have_cur) {
			g->freq_mhz = (double)cur;
			g->has |= GPU_HAS_FREQ;
		}
		g->freq_max_mhz = (double)max;
		g->has |= GPU_HAS_FREQ_MAX;
	}
	if (!(g->has & GPU_HAS_FREQ) && g->hwmon[0] &&
	    gpu_read_u64(sys_fd, g->hwmon, "freq1_input", &v)) { /* Hz */
		g->freq_mhz = gpu_round((double)v / 1e6);
		g->has |= GPU_HAS_FREQ;
	}
}

/* Busy is the share of the interval the GT was not in RC6 (its idle
 * residency in ms grows by the idle time). */
static void gpu_read_intel(int sys_fd, struct gpu_dev *g, uint64_t mono_ns)
{
	uint64_t v;
	double idle_per_s;

	if (g->idle[0] && gpu_read_u64(sys_fd, ".", g->idle, &v) &&
	    procfs_counter_rate(&g->idle_ms, v, mono_ns, &idle_per_s) > 0) {
		double busy = 100.0 - idle_per_s / 10.0;

		g->busy_pct = gpu_round(busy < 0 ? 0 : busy > 100 ? 100 : busy);
		g->has |= GPU_HAS_BUSY;
	}
	if (g->freq[0] && gpu_read_u64(sys_fd, ".", g->freq, &v)) {
		g->freq_mhz = (double)v;
		g->has |= GPU_HAS_FREQ;
	}
	if (g->fmax[0] && gpu_read_u64(sys_fd, ".", g->fmax, &v)) {
		g->freq_max_mhz = (double)v;
		g->has |= GPU_HAS_FREQ_MAX;
	}
}

void gpu_read_sysfs(int sys_fd, struct gpu_dev *g, uint64_t mono_ns)
{
	g->has = 0;
	if (g->kind == GPU_AMDGPU)
		gpu_read_amdgpu(sys_fd, g);
	else
		gpu_read_intel(sys_fd, g, mono_ns);
	gpu_read_hwmon(sys_fd, g, mono_ns);
}
