#include "temp.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "clock.h"
#include "fields.h"
#include "json.h"
#include "metrics.h"
#include "procfs.h"

/* sysfs attributes are one page at most; these hold a number or a name. */
#define TEMP_ATTR_MAX 4096
/* Sensors come and go rarely (a drive hot-plugged, a module loaded): look
 * again this often, and whenever one of them vanished. */
#define TEMP_RESCAN_NS (60 * UINT64_C(1000000000))
/* Trip points of a thermal zone looked at, at most. */
#define TEMP_MAX_TRIPS 32

struct temp_state {
	struct temp_list list;
	uint64_t scanned_ns;
	bool rescan;
};

int temp_parse_millideg(const char *text, size_t len, int64_t *ret)
{
	bool neg = len > 0 && text[0] == '-';
	uint64_t v;
	int r;

	if (len < 2 || text[len - 1] != '\n')
		return -EINVAL;
	r = procfs_parse_u64(text + neg, len - 1 - neg, &v);
	if (r < 0)
		return r;
	if (v > (uint64_t)INT64_MAX)
		return -ERANGE;
	*ret = neg ? -(int64_t)v : (int64_t)v;
	return 0;
}

/* "PREFIX<digits>SUFFIX" exactly; sets the number. */
static bool temp_match(const char *name, const char *prefix, const char *suffix, unsigned *ret)
{
	size_t np = strlen(prefix), ns = strlen(suffix), n = strlen(name);
	uint64_t v;

	if (n <= np + ns || strncmp(name, prefix, np) != 0 || strcmp(name + n - ns, suffix) != 0)
		return false;
	if (procfs_parse_u64(name + np, n - np - ns, &v) < 0 || v > UINT_MAX)
		return false;
	*ret = (unsigned)v;
	return true;
}

/* Reads a one-line text attribute without its trailing newline and
 * spaces. Returns a copy, or NULL when it is missing, empty or unreadable
 * (*ret_nomem tells an allocation failure apart). */
static char *temp_read_text(int dirfd, const char *name, struct procfs_buf *buf, bool *ret_nomem)
{
	char *s;

	if (procfs_read(dirfd, name, buf, TEMP_ATTR_MAX) < 0)
		return NULL;
	while (buf->len > 0 && (buf->data[buf->len - 1] == '\n' || buf->data[buf->len - 1] == ' '))
		buf->data[--buf->len] = '\0';
	if (buf->len == 0 || memchr(buf->data, '\0', buf->len))
		return NULL;
	s = strdup(buf->data);
	if (!s)
		*ret_nomem = true;
	return s;
}

static bool temp_read_value(int dirfd, const char *name, struct procfs_buf *buf, int64_t *ret)
{
	return procfs_read(dirfd, name, buf, TEMP_ATTR_MAX) == 0 &&
	       temp_parse_millideg(buf->data, buf->len, ret) == 0;
}

static void temp_sensor_free(struct temp_sensor *t)
{
	free(t->id);
	free(t->chip);
	free(t->label);
	if (t->fd >= 0)
		close(t->fd);
}

void temp_list_free(struct temp_list *list)
{
	if (!list)
		return;
	for (size_t i = 0; i < list->n; i++)
		temp_sensor_free(&list->v[i]);
	free(list->v);
	memset(list, 0, sizeof(*list));
}

/* A sensor read through dir/name, added to list with its fd and device
 * as *ret_t; *ret_t is NULL when the file cannot be opened, which leaves
 * the sensor out. Returns 0 or -ENOMEM. */
static int temp_list_open(struct temp_list *list, int dir, const char *name, unsigned dev,
			  struct temp_sensor **ret_t)
{
	struct temp_sensor *t;
	int fd;

	*ret_t = NULL;
	fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return 0;
	if (ARRAY_GROW(list->v, list->cap, list->n, 16) < 0) {
		close(fd);
		return -ENOMEM;
	}
	t = &list->v[list->n++];
	memset(t, 0, sizeof(*t));
	t->fd = fd;
	t->dev = dev;
	*ret_t = t;
	return 0;
}

/* Adds one tempN of a hwmon device; attrs is the directory holding the
 * attributes. An input that cannot be opened is left out. */
static int temp_add_hwmon_input(struct temp_list *list, int attrs, unsigned dev, unsigned index,
				const char *chip, struct procfs_buf *buf)
{
	char name[64], id[64];
	struct temp_sensor *t;
	bool nomem = false;
	int r;

	snprintf(name, sizeof(name), "temp%u_input", index);
	r = temp_list_open(list, attrs, name, dev, &t);
	if (r < 0 || !t)
		return r;
	t->index = index;
	snprintf(id, sizeof(id), "hwmon%u/temp%u", dev, index);
	t->id = strdup(id);
	t->chip = strdup(chip);
	snprintf(name, sizeof(name), "temp%u_label", index);
	t->label = temp_read_text(attrs, name, buf, &nomem);
	if (!t->label && !nomem) {
		snprintf(name, sizeof(name), "temp%u", index);
		t->label = strdup(name);
	}
	snprintf(name, sizeof(name), "temp%u_max", index);
	t->has_max = temp_read_value(attrs, name, buf, &t->max_mc);
	snprintf(name, sizeof(name), "temp%u_crit", index);
	t->has_crit = temp_read_value(attrs, name, buf, &t->crit_mc);
	if (!t->id || !t->chip || !t->label)
		return -ENOMEM;
	return 0;
}

/* One hwmonN directory. Its attributes sit in it, or in its device/
 * subdirectory on kernels before 3.x drivers moved them. */
static int temp_scan_hwmon_dev(struct temp_list *list, int hwmon, unsigned dev,
			       struct procfs_buf *buf)
{
	char fallback[32], *chip;
	bool nomem = false;
	int attrs = -1, r = 0;
	struct dirent *e;
	DIR *d = NULL;

	chip = temp_read_text(hwmon, "name", buf, &nomem);
	if (chip || nomem) {
		attrs = dup(hwmon);
	} else {
		attrs = openat(hwmon, "device", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (attrs >= 0)
			chip = temp_read_text(attrs, "name", buf, &nomem);
	}
	if (nomem) {
		r = -ENOMEM;
		goto out;
	}
	if (attrs < 0)
		goto out;
	if (!chip) {
		snprintf(fallback, sizeof(fallback), "hwmon%u", dev);
		chip = strdup(fallback);
		if (!chip) {
			r = -ENOMEM;
			goto out;
		}
	}
	d = fdopendir(attrs);
	if (!d)
		goto out;
	attrs = -1; /* owned by d */
	while ((e = readdir(d))) {
		unsigned index;

		if (!temp_match(e->d_name, "temp", "_input", &index))
			continue;
		r = temp_add_hwmon_input(list, dirfd(d), dev, index, chip, buf);
		if (r < 0)
			goto out;
	}
out:
	if (d)
		closedir(d);
	if (attrs >= 0)
		close(attrs);
	free(chip);
	return r;
}

/* A thermal zone: its type, its temp, and "hot"/"critical" trip points. */
static int temp_add_zone(struct temp_list *list, int zone, unsigned dev, struct procfs_buf *buf)
{
	struct temp_sensor *t;
	bool nomem = false;
	char id[32];
	int r;

	r = temp_list_open(list, zone, "temp", dev, &t);
	if (r < 0 || !t)
		return r;
	snprintf(id, sizeof(id), "thermal_zone%u", dev);
	t->id = strdup(id);
	t->chip = temp_read_text(zone, "type", buf, &nomem);
	if (!t->chip && !nomem)
		t->chip = strdup(id);
	t->label = t->chip ? strdup(t->chip) : NULL;
	for (unsigned i = 0; i < TEMP_MAX_TRIPS; i++) {
		char name[48];
		int64_t v;

		snprintf(name, sizeof(name), "trip_point_%u_type", i);
		if (procfs_read(zone, name, buf, TEMP_ATTR_MAX) < 0)
			break;
		snprintf(name, sizeof(name), "trip_point_%u_temp", i);
		if (strcmp(buf->data, "critical\n") == 0) {
			if (!t->has_crit && temp_read_value(zone, name, buf, &v)) {
				t->has_crit = true;
				t->crit_mc = v;
			}
		} else if (strcmp(buf->data, "hot\n") == 0) {
			if (!t->has_max && temp_read_value(zone, name, buf, &v)) {
				t->has_max = true;
				t->max_mc = v;
			}
		}
	}
	if (!t->id || !t->chip || !t->label)
		return -ENOMEM;
	return 0;
}

/* Calls add() for every PREFIX<N> entry of sys_fd/class_dir. */
static int temp_scan_class(int sys_fd, const char *class_dir, const char *prefix,
			   struct temp_list *list, struct procfs_buf *buf, bool hwmon)
{
	struct dirent *e;
	DIR *d;
	int fd, r = 0;

	fd = openat(sys_fd, class_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0; /* no such class: no sensors */
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return errno == ENOMEM ? -ENOMEM : 0;
	}
	while ((e = readdir(d))) {
		unsigned dev;
		int sub;

		if (!temp_match(e->d_name, prefix, "", &dev))
			continue;
		sub = openat(dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (sub < 0)
			continue;
		r = hwmon ? temp_scan_hwmon_dev(list, sub, dev, buf)
			  : temp_add_zone(list, sub, dev, buf);
		close(sub);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

static int temp_cmp(const void *a, const void *b)
{
	const struct temp_sensor *x = a, *y = b;

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->index != y->index)
		return x->index < y->index ? -1 : 1;
	return 0;
}

int temp_scan(int sys_fd, struct temp_list *list)
{
	struct procfs_buf buf = {0};
	int r;

	temp_list_free(list);
	r = temp_scan_class(sys_fd, "class/hwmon", "hwmon", list, &buf, true);
	if (r == 0 && list->n == 0)
		r = temp_scan_class(sys_fd, "class/thermal", "thermal_zone", list, &buf, false);
	procfs_buf_free(&buf);
	if (r < 0) {
		temp_list_free(list);
		return r;
	}
	if (list->n > 1)
		qsort(list->v, list->n, sizeof(list->v[0]), temp_cmp);
	return 0;
}

/* What a sensor has, for the rows' has bits. */
enum {
	TEMP_HAS_MAX = 1u << 0,
	TEMP_HAS_CRIT = 1u << 1,
	TEMP_HWMON = 1u << 2,
	TEMP_ZONE = 1u << 3,
};

/* A sensor's fields (hwmon attributes, or a thermal zone's) and
 * node_exporter's families: node_hwmon_temp_* for hwmon sensors (chip: the
 * hwmon name, sensor: tempN), node_thermal_zone_temp for zones. */
static const struct field temp_fields[] = {
    FIELD(.source = "hwmonN/tempM or thermal_zoneN", .json = "id", .type = FIELD_INFO,
	  .help = "The sensor, unique while the machine runs (the numbers may change at the next "
		  "boot).",
	  FIELD_STR_AT(struct temp_sensor, id)),
    FIELD(.source = "name", .json = "chip", .type = FIELD_INFO,
	  .help = "The driver's chip name, or the zone's type.",
	  FIELD_STR_AT(struct temp_sensor, chip)),
    FIELD(.source = "tempM_label", .json = "label", .type = FIELD_INFO,
	  .help = "What the sensor measures, or tempM when the driver gives no label; the zone's "
		  "type for zones.",
	  FIELD_STR_AT(struct temp_sensor, label)),
    FIELD(.source = "tempM_input", .json = "temp_c", .prom = "node_hwmon_temp_celsius",
	  .type = FIELD_GAUGE, .unit = "celsius",
	  .help = "Hardware monitor for temperature (input).",
	  FIELD_AT(struct temp_sensor, last_mc), .prom_has = TEMP_HWMON, .div = 1000),
    FIELD(.source = "tempM_max", .json = "max_c", .prom = "node_hwmon_temp_max_celsius",
	  .type = FIELD_GAUGE, .unit = "celsius", .help = "Hardware monitor for temperature (max).",
	  FIELD_AT(struct temp_sensor, max_mc), .has = TEMP_HAS_MAX, .prom_has = TEMP_HWMON,
	  .div = 1000),
    FIELD(.source = "tempM_crit", .json = "crit_c", .prom = "node_hwmon_temp_crit_celsius",
	  .type = FIELD_GAUGE, .unit = "celsius",
	  .help = "Hardware monitor for temperature (crit).", FIELD_AT(struct temp_sensor, crit_mc),
	  .has = TEMP_HAS_CRIT, .prom_has = TEMP_HWMON, .div = 1000),
    FIELD(.source = "temp", .file = "/sys/class/thermal/thermal_zoneN",
	  .prom = "node_thermal_zone_temp", .type = FIELD_GAUGE, .unit = "celsius",
	  .help = "Zone temperature in Celsius", .labels = "zone, type",
	  FIELD_AT(struct temp_sensor, last_mc), .has = TEMP_ZONE, .div = 1000),
};

static const struct field_table temp_table = {
    .path = "sensors[]",
    .file = "/sys/class/hwmon/hwmonN",
    .labels = "chip, sensor",
    .passes = {FIELDS_VALUES},
    FIELD_ROWS(temp_fields),
};

static unsigned temp_has(const struct temp_sensor *t)
{
	return (t->has_max ? TEMP_HAS_MAX : 0) | (t->has_crit ? TEMP_HAS_CRIT : 0) |
	       (strchr(t->id, '/') ? TEMP_HWMON : TEMP_ZONE);
}

/* Reads every sensor once. One that fails (EIO and ENODATA are what a
 * sleeping device answers) or holds no number is left out of this tick;
 * one whose device is gone also asks for a rescan. */
static int temp_build_payload(struct temp_state *s, int64_t t_ms, cJSON **ret_payload)
{
	cJSON *payload, *arr;
	int r = -ENOMEM;

	payload = json_payload_array(t_ms, "sensors", &arr);
	if (!payload)
		goto out;
	for (size_t i = 0; i < s->list.n; i++) {
		struct temp_sensor *t = &s->list.v[i];
		char text[32];
		ssize_t n;
		int64_t mc;

		t->has_last = false;
		n = pread(t->fd, text, sizeof(text), 0);
		if (n < 0) {
			if (errno == ENODEV || errno == ENXIO || errno == ENOENT)
				s->rescan = true;
			continue;
		}
		if (temp_parse_millideg(text, (size_t)n, &mc) < 0)
			continue;
		t->has_last = true;
		t->last_mc = mc;
		if (fields_json_append(arr, &temp_table, &(struct field_inst){t, temp_has(t), NULL},
				       NULL, 0) < 0)
			goto out;
	}
	r = 0;
out:
	return json_hand_over(payload, r, ret_payload);
}

static void temp_fini(void *state)
{
	struct temp_state *s = state;

	if (!s)
		return;
	temp_list_free(&s->list);
	free(s);
}

/* Off when the machine has no sensor at all (most VMs). */
static int temp_init(const struct collector_env *env, const void *settings, void **ret_state,
		     char *reason, size_t reason_len)
{
	struct temp_state *s;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		snprintf(reason, reason_len, "%s", strerror(-r));
		goto out;
	}
	r = temp_scan(env->sys_fd, &s->list);
	if (r < 0) {
		snprintf(reason, reason_len, "scanning sensors: %s", strerror(-r));
		goto out;
	}
	if (s->list.n == 0) {
		r = -ENODEV;
		snprintf(reason, reason_len,
			 "no temperature sensors (/sys/class/hwmon has no temp*_input, "
			 "/sys/class/thermal no thermal_zone*)");
		goto out;
	}
	s->scanned_ns = clock_mono_ns();
	*ret_state = s;
	s = NULL;
out:
	temp_fini(s);
	return r;
}

/* A rescan that fails or finds nothing keeps the topic on: sensors may
 * come back (a module reloaded); the payload is then an empty list. */
static int temp_sample(void *state, const struct collector_env *env,
		       const struct collector_tick *tick, cJSON **ret_payload)
{
	struct temp_state *s = state;
	uint64_t now = clock_mono_ns();
	int r;

	*ret_payload = NULL;
	if (s->rescan || now - s->scanned_ns >= TEMP_RESCAN_NS) {
		r = temp_scan(env->sys_fd, &s->list);
		if (r < 0)
			return r;
		s->scanned_ns = now;
		s->rescan = false;
	}
	return temp_build_payload(s, tick->t_ms, ret_payload);
}

/* The readings of the last tick; sensors that failed that tick are left
 * out. */
static int temp_metrics(void *state, struct metrics *m)
{
	const struct temp_state *s = state;
	struct field_insts x = {0};
	int r;

	r = fields_insts_init(&x, s->list.n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->list.n; i++) {
		const struct temp_sensor *t = &s->list.v[i];
		const char *slash = strchr(t->id, '/');

		if (!t->has_last)
			continue;
		if (slash)
			fields_insts_add(&x, t, temp_has(t), "chip", t->chip, "sensor", slash + 1);
		else /* the N of thermal_zoneN */
			fields_insts_add(&x, t, temp_has(t), "zone", t->id + strlen("thermal_zone"),
					 "type", t->chip);
	}
	fields_prom(m, &temp_table, x.v, x.n);
	fields_insts_free(&x);
	return metrics_error(m);
}

static const struct field_table *const temp_tables[] = {&temp_table, NULL};

const struct collector temp_collector = {
    .name = "temp",
    .fields = temp_tables,
    .init = temp_init,
    .sample = temp_sample,
    .metrics = temp_metrics,
    .fini = temp_fini,
};
