/* The `health` topic's collector: each tick /proc/mdstat, the mounts with
 * their error counters, and the SMART file when it changed; a missing
 * mdstat or SMART file is looked for every HEALTH_LOOK_TICKS ticks. */
#include "health.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fields.h"
#include "fs_mountinfo.h"
#include "health_md.h"
#include "health_smart.h"
#include "json.h"
#include "metrics.h"
#include "procfs.h"
#include "settings.h"

/* mdstat is ~200 bytes an array; mountinfo ~150 a mount. */
#define HEALTH_MDSTAT_MAX   (1u << 20)
#define HEALTH_MOUNTS_MAX   (16u << 20)
#define HEALTH_MOUNTS_TICKS 16
/* A missing /proc/mdstat (no md driver loaded) or SMART file (no helper
 * installed, or it has not run yet) is looked for again this many ticks
 * after: on most hosts one of them is missing for good, and each look
 * was a failed path walk a tick (openat, stat). */
#define HEALTH_LOOK_TICKS 16

/* A filesystem on a block device, once per device (bind mounts and btrfs
 * subvolumes share it): its first mount. */
struct health_fs {
	const struct fs_mount *m; /* into the state's mountinfo */
	char device[64];          /* the block device's kernel name: sda1, dm-0, md0 */
	bool has_errors;
	uint64_t errors;
	int64_t last_error_s; /* ext4: 0 for none */
	/* ext4: errors_count and last_error_time, kept open (the count read
	 * at each tick, the time when the count moved) until the mounts are
	 * read again, and their paths under /sys */
	struct procfs_file files[2];
	char paths[2][96];
};

struct health_state {
	const struct health_settings *set;
	struct procfs_buf buf;
	struct md_stat md;
	struct procfs_file md_file; /* /proc/mdstat, kept open */
	unsigned md_wait;           /* ticks until a missing mdstat is looked for */
	struct fs_mountinfo mi;
	struct collector_watch mounts; /* mountinfo: polled for changes */
	bool mounts_ok;                /* mi and fs hold the mount table as it is */
	unsigned mounts_age;           /* ticks since mountinfo was read */
	uint64_t errors_sign;          /* the error counters at the last tick, summed up */
	struct health_fs *fs;
	size_t n_fs, cap_fs;
	struct smart_file smart;
	int smart_err; /* 0, or why the file could not be read or parsed */
	bool smart_parsing;
	struct stat smart_st; /* the file read last */
	unsigned smart_wait;  /* ticks until a missing file is looked for */
	char smart_why[256];  /* smart.error: why there is no data, or "" */
	bool have;
};

/* --- btrfs error_stats --- */

int health_btrfs_errors(const char *text, size_t len, uint64_t *ret_sum)
{
	const char *p = text, *end = text + len, *line, *tok;
	size_t ll, tl;
	uint64_t sum = 0, v;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &ll)) > 0) {
		const char *q = line, *qe = line + ll;

		if (procfs_next_token(&q, qe, &tok, &tl) <= 0 || tl < 6 ||
		    memcmp(tok + tl - 5, "_errs", 5) != 0)
			return -EINVAL;
		if (procfs_next_token(&q, qe, &tok, &tl) <= 0)
			return -EINVAL;
		r = procfs_parse_u64(tok, tl, &v);
		if (r < 0)
			return r;
		if (procfs_next_token(&q, qe, &tok, &tl) > 0)
			return -EINVAL;
		if (v > UINT64_MAX - sum)
			return -ERANGE;
		sum += v;
	}
	if (r < 0)
		return r;
	*ret_sum = sum;
	return 0;
}

/* --- filesystems --- */

static bool health_fstype(const char *t)
{
	return strcmp(t, "ext4") == 0 || strcmp(t, "ext3") == 0 || strcmp(t, "ext2") == 0 ||
	       strcmp(t, "btrfs") == 0 || strcmp(t, "xfs") == 0;
}

/* The kernel's name of the block device: the last part of the link
 * /sys/dev/block/M:m, else of the mount's source. */
static void health_devname(int sys_fd, const struct fs_mount *m, char *dst, size_t size)
{
	char path[64], link[PATH_MAX];
	const char *slash;
	ssize_t n;

	snprintf(path, sizeof(path), "dev/block/%u:%u", m->major, m->minor);
	n = m->major ? readlinkat(sys_fd, path, link, sizeof(link) - 1) : -1;
	if (n > 0) {
		link[n] = '\0';
		slash = strrchr(link, '/');
		if (snprintf(dst, size, "%s", slash ? slash + 1 : link) < (int)size)
			return;
	}
	slash = strrchr(m->source, '/');
	if (snprintf(dst, size, "%s", slash ? slash + 1 : m->source) >= (int)size)
		dst[0] = '\0';
}

static bool health_read_u64(struct procfs_file *f, int dirfd, const struct stat *dir,
			    const char *path, struct procfs_buf *buf, uint64_t *ret)
{
	return procfs_read_file_at(f, dirfd, dir, path, buf, 64) == 0 && buf->len > 1 &&
	       buf->data[buf->len - 1] == '\n' &&
	       procfs_parse_u64(buf->data, buf->len - 1, ret) == 0;
}

/* errors_count, and last_error_time when the count is new (the kernel
 * sets both at each error): at an idle tick one read, not two. had, was
 * and last are what the last tick read. */
static void health_ext4(const struct collector_env *env, struct health_fs *f,
			struct procfs_buf *buf, bool had, uint64_t was, int64_t last)
{
	uint64_t v;

	if (!f->paths[0][0])
		snprintf(f->paths[0], sizeof(f->paths[0]), "fs/ext4/%s/errors_count", f->device);
	if (!health_read_u64(&f->files[0], env->sys_fd, env->sys_st, f->paths[0], buf, &f->errors))
		return;
	f->has_errors = true;
	if (had && f->errors == was) {
		f->last_error_s = last;
		return;
	}
	if (!f->paths[1][0])
		snprintf(f->paths[1], sizeof(f->paths[1]), "fs/ext4/%s/last_error_time", f->device);
	if (health_read_u64(&f->files[1], env->sys_fd, env->sys_st, f->paths[1], buf, &v) &&
	    v <= INT64_MAX / 1000)
		f->last_error_s = (int64_t)v;
}

/* The btrfs filesystem whose devices/ holds the device: the sum of every
 * device's error_stats (5.14+). */
static void health_btrfs(int sys_fd, struct health_fs *f, struct procfs_buf *buf)
{
	struct dirent *e, *de;
	DIR *d, *dd;
	int fd;

	fd = openat(sys_fd, "fs/btrfs", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((e = readdir(d))) {
		char path[NAME_MAX + 96];
		int devinfo;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/devices/%s", e->d_name, f->device);
		if (faccessat(dirfd(d), path, F_OK, AT_SYMLINK_NOFOLLOW) != 0)
			continue;
		snprintf(path, sizeof(path), "%s/devinfo", e->d_name);
		devinfo = openat(dirfd(d), path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (devinfo < 0 || !(dd = fdopendir(devinfo))) {
			if (devinfo >= 0)
				close(devinfo);
			break;
		}
		f->errors = 0;
		while ((de = readdir(dd))) {
			uint64_t sum;

			if (de->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/error_stats", de->d_name);
			if (procfs_read(dirfd(dd), path, buf, 4096) == 0 &&
			    health_btrfs_errors(buf->data, buf->len, &sum) == 0) {
				f->errors += sum;
				f->has_errors = true;
			}
		}
		closedir(dd);
		break;
	}
	closedir(d);
}

/* Closes the files kept for the filesystems and forgets them. */
static void health_fs_close(struct health_state *s)
{
	for (size_t i = 0; i < s->n_fs; i++) {
		procfs_file_close(&s->fs[i].files[0]);
		procfs_file_close(&s->fs[i].files[1]);
	}
	s->n_fs = 0;
}

/* What the last tick read of f's device, when it was mounted then: a
 * mount table read again (a container started) does not make ext4's
 * last_error_time read again (see health_ext4). */
static void health_carry(struct health_fs *f, const struct health_fs *old, size_t n_old)
{
	for (size_t k = 0; k < n_old; k++) {
		if (old[k].has_errors && strcmp(old[k].device, f->device) == 0) {
			f->has_errors = true;
			f->errors = old[k].errors;
			f->last_error_s = old[k].last_error_s;
			return;
		}
	}
}

/* The filesystems on block devices, from mountinfo (rendering, parsing
 * it and the /sys lookups were a tenth of an idle tick): read again when
 * the kernel says the mount table changed, when `force`, and at least
 * every HEALTH_MOUNTS_TICKS ticks, for what it does not signal: a
 * superblock an error made read-only. */
static int health_read_mounts(struct health_state *s, const struct collector_env *env, bool force)
{
	struct health_fs *old = NULL;
	size_t n_old = 0;
	int r;

	if (s->mounts_ok && !force && ++s->mounts_age < HEALTH_MOUNTS_TICKS &&
	    !collector_watch_changed(&s->mounts, env))
		return 0;
	s->mounts_ok = false;
	s->mounts_age = 0;
	/* the last readings, for the devices still mounted (see
	 * health_carry); without memory they are read afresh */
	if (s->n_fs && (old = malloc(s->n_fs * sizeof(*old)))) {
		memcpy(old, s->fs, s->n_fs * sizeof(*old));
		n_old = s->n_fs;
	}
	health_fs_close(s);
	r = procfs_read(env->proc_fd, "self/mountinfo", &s->buf, HEALTH_MOUNTS_MAX);
	if (r < 0)
		goto out;
	r = fs_mountinfo_parse(s->buf.data, s->buf.len, &s->mi);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < s->mi.n; i++) {
		const struct fs_mount *m = &s->mi.v[i];
		struct health_fs *f;
		bool seen = false;

		if (!health_fstype(m->fstype))
			continue;
		for (size_t k = 0; k < s->n_fs && !seen; k++)
			seen = s->fs[k].m->major == m->major && s->fs[k].m->minor == m->minor;
		if (seen)
			continue;
		if (s->n_fs == s->cap_fs) {
			size_t cap = s->cap_fs ? 2 * s->cap_fs : 16;
			struct health_fs *v = reallocarray(s->fs, cap, sizeof(*v));

			if (!v) {
				r = -ENOMEM;
				goto out;
			}
			s->fs = v;
			s->cap_fs = cap;
		}
		f = &s->fs[s->n_fs++];
		memset(f, 0, sizeof(*f));
		f->files[0].fd = f->files[1].fd = -1;
		f->m = m;
		health_devname(env->sys_fd, m, f->device, sizeof(f->device));
		health_carry(f, old, n_old);
	}
	s->mounts_ok = true;
	r = 0;
out:
	free(old);
	return r;
}

/* Each filesystem's error counters, at each tick; when they moved (an
 * error may have made a superblock read-only) the mounts are read again
 * at once. */
static int health_read_fs(struct health_state *s, const struct collector_env *env)
{
	bool again = false;
	int r;

	do {
		uint64_t sign = 0;

		r = health_read_mounts(s, env, again);
		if (r < 0)
			return r;
		for (size_t i = 0; i < s->n_fs; i++) {
			struct health_fs *f = &s->fs[i];
			const bool had = f->has_errors;
			const uint64_t was = f->errors;
			const int64_t last = f->last_error_s;

			f->has_errors = false;
			f->errors = 0;
			f->last_error_s = 0;
			if (strncmp(f->m->fstype, "ext", 3) == 0)
				health_ext4(env, f, &s->buf, had, was, last);
			else if (strcmp(f->m->fstype, "btrfs") == 0)
				health_btrfs(env->sys_fd, f, &s->buf);
			sign = sign * 31 + f->errors * 7 + (uint64_t)f->last_error_s;
		}
		again = !again && s->mounts_age > 0 && sign != s->errors_sign;
		s->errors_sign = sign;
	} while (again);
	return 0;
}

/* --- SMART --- */

/* smart.error from the state: made when the state changes, not at each
 * tick (strerror looks up a translation). */
static void health_smart_why(struct health_state *s)
{
	if (s->smart_err < 0)
		snprintf(s->smart_why, sizeof(s->smart_why), "%s: %s",
			 s->set && s->set->smart_file ? s->set->smart_file : "",
			 s->smart_parsing ? "not a sysfeed-smart file" : strerror(-s->smart_err));
	else
		snprintf(s->smart_why, sizeof(s->smart_why), "%s", s->smart.error);
}

/* Reads the file again when it changed (inode, size, mtime); one that
 * cannot be stat'ed is looked for again HEALTH_LOOK_TICKS ticks later. */
static void health_read_smart(struct health_state *s)
{
	const char *path = s->set && s->set->smart_file ? s->set->smart_file : "";
	struct stat st;
	int r;

	if (s->smart_wait > 0) {
		s->smart_wait--;
		return;
	}
	if (stat(path, &st) < 0) {
		s->smart_err = -errno;
		s->smart_parsing = false;
		s->smart_wait = HEALTH_LOOK_TICKS - 1;
		memset(&s->smart_st, 0, sizeof(s->smart_st));
		smart_file_free(&s->smart);
		health_smart_why(s);
		return;
	}
	if (s->smart_err == 0 && s->smart.time_s != 0 && st.st_ino == s->smart_st.st_ino &&
	    st.st_dev == s->smart_st.st_dev && st.st_size == s->smart_st.st_size &&
	    st.st_mtim.tv_sec == s->smart_st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == s->smart_st.st_mtim.tv_nsec)
		return;
	s->smart_st = st;
	s->smart_parsing = false;
	r = procfs_read(AT_FDCWD, path, &s->buf, SMART_FILE_MAX);
	if (r == 0) {
		s->smart_parsing = true;
		r = smart_parse(s->buf.data, s->buf.len, &s->smart);
	}
	s->smart_err = r;
	if (r < 0)
		smart_file_free(&s->smart);
	health_smart_why(s);
}

/* --- md --- */

/* /proc/mdstat through a kept fd; without it (no md driver loaded: no
 * arrays) it is looked for again HEALTH_LOOK_TICKS ticks later. */
static void health_read_md(struct health_state *s, const struct collector_env *env)
{
	int r;

	if (s->md_wait > 0) {
		s->md_wait--;
		return;
	}
	r = procfs_read_file_at(&s->md_file, env->proc_fd, env->proc_st, "mdstat", &s->buf,
				HEALTH_MDSTAT_MAX);
	if (r == 0)
		r = md_stat_parse(s->buf.data, s->buf.len, &s->md);
	else if (r == -ENOENT)
		s->md_wait = HEALTH_LOOK_TICKS - 1;
	if (r < 0)
		s->md.n = 0;
}

/* --- the payload --- */

static bool health_smart_ratio(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	*ret = ((const struct smart_dev *)cur)->wear_pct / 100.0;
	return true;
}

static const struct field smart_fields[] = {
    FIELD(.source = "device.name", .json = "device", .type = FIELD_INFO,
	  .help = "The drive without /dev/: sda, nvme0.", FIELD_CHARS_AT(struct smart_dev, device)),
    FIELD(.source = "device.protocol", .json = "protocol", .type = FIELD_INFO,
	  .help = "ATA, NVMe or SCSI.", FIELD_CHARS_AT(struct smart_dev, protocol)),
    FIELD(.source = "model_name", .json = "model", .type = FIELD_INFO, .help = "The model.",
	  FIELD_CHARS_AT(struct smart_dev, model)),
    FIELD(.source = "serial_number", .json = "serial", .type = FIELD_INFO,
	  .help = "The serial number.", FIELD_CHARS_AT(struct smart_dev, serial)),
    FIELD(.source = "smartctl.messages", .json = "error", .type = FIELD_INFO,
	  .help = "What smartctl said when it could not read the drive, or empty.",
	  FIELD_CHARS_AT(struct smart_dev, error)),
    FIELD(.source = "smart_status.passed", .json = "passed", .prom = "sysfeed_smart_passed",
	  .type = FIELD_GAUGE, .help = "1 when the drive's overall self-assessment passed.",
	  FIELD_AT(struct smart_dev, passed), .has = SMART_HAS_PASSED),
    FIELD(.source = "temperature.current", .json = "temp_c",
	  .prom = "sysfeed_smart_temperature_celsius", .type = FIELD_GAUGE, .unit = "celsius",
	  .help = "The drive's temperature when the helper ran.",
	  FIELD_AT(struct smart_dev, temp_c), .has = SMART_HAS_TEMP),
    FIELD(.source = "percentage_used; endurance_used.current_percent", .json = "wear_pct",
	  .type = FIELD_GAUGE, .unit = "%",
	  .help = "Share of the rated endurance used (may pass 100).",
	  FIELD_AT(struct smart_dev, wear_pct), .has = SMART_HAS_WEAR),
    FIELD(.source = "wear", .prom = "sysfeed_smart_wear_ratio", .type = FIELD_GAUGE,
	  .unit = "ratio", .help = "Share of the rated endurance used (1 is all of it).",
	  .has = SMART_HAS_WEAR, FIELD_DERIVE(health_smart_ratio)),
    FIELD(.source = "media_errors; attribute 187 raw", .json = "media_errors",
	  .prom = "sysfeed_smart_media_errors_total", .type = FIELD_COUNTER, .unit = "errors",
	  .help = "Unrecovered data integrity errors the drive reported.",
	  FIELD_AT(struct smart_dev, media_errors), .has = SMART_HAS_MEDIA),
    FIELD(.source = "attribute 5 raw", .json = "reallocated",
	  .prom = "sysfeed_smart_reallocated_sectors", .type = FIELD_GAUGE, .unit = "sectors",
	  .help = "Sectors the drive reallocated (ATA attribute 5).",
	  FIELD_AT(struct smart_dev, reallocated), .has = SMART_HAS_REALLOC),
    FIELD(.source = "attribute 197 raw", .json = "pending", .prom = "sysfeed_smart_pending_sectors",
	  .type = FIELD_GAUGE, .unit = "sectors",
	  .help = "Sectors waiting to be reallocated (ATA attribute 197).",
	  FIELD_AT(struct smart_dev, pending), .has = SMART_HAS_PENDING),
    FIELD(.source = "critical_warning", .json = "critical_warning",
	  .prom = "sysfeed_smart_nvme_critical_warning", .type = FIELD_GAUGE,
	  .help = "The NVMe critical warning bits (0 is none).",
	  FIELD_AT(struct smart_dev, critical_warning), .has = SMART_HAS_CRIT),
    FIELD(.source = "available_spare", .json = "spare_pct", .type = FIELD_GAUGE, .unit = "%",
	  .help = "NVMe spare capacity left.", FIELD_AT(struct smart_dev, spare_pct),
	  .has = SMART_HAS_SPARE),
    FIELD(.source = "power_on_time.hours", .json = "power_on_hours", .type = FIELD_GAUGE,
	  .unit = "hours", .help = "Hours the drive was powered on.",
	  FIELD_AT(struct smart_dev, power_on_hours), .has = SMART_HAS_HOURS),
};

static const struct field_table smart_table = {
    .path = "smart.devices[]",
    .file = "the sysfeed-smart file (smartctl --json)",
    .labels = "device",
    .passes = {FIELDS_INFO, FIELDS_GAUGES, FIELDS_COUNTERS},
    FIELD_ROWS(smart_fields),
};

static int health_json_md(cJSON *payload, const struct md_stat *md)
{
	cJSON *arr = cJSON_AddArrayToObject(payload, "md");

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < md->n; i++) {
		const struct md_array *a = &md->v[i];
		bool run = a->sync_running;
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return -ENOMEM;
		}
		if (json_str(o, "name", a->name) < 0 ||
		    json_str(o, "state", a->active ? "active" : "inactive") < 0 ||
		    !cJSON_AddBoolToObject(o, "read_only", a->read_only) ||
		    json_str(o, "level", a->level[0] ? a->level : NULL) < 0 ||
		    json_num_or_null(o, "disks", a->has_disks, a->disks) < 0 ||
		    json_num_or_null(o, "disks_up", a->has_disks, a->disks_up) < 0 ||
		    json_num_or_null(o, "degraded", a->has_disks,
				     a->disks > a->disks_up ? a->disks - a->disks_up : 0) < 0 ||
		    json_num(o, "failed", a->failed) < 0 || json_num(o, "spares", a->spares) < 0 ||
		    json_str(o, "sync_action", a->sync_action[0] ? a->sync_action : NULL) < 0 ||
		    json_num_or_null(o, "sync_pct", run, a->sync_permille / 10.0) < 0 ||
		    json_num_or_null(o, "sync_finish_s", run, (double)a->finish_ds * 6) < 0 ||
		    json_num_or_null(o, "sync_speed_bytes_per_s", run,
				     (double)a->speed_kbs * 1024) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int health_json_fs(cJSON *payload, const struct health_state *s)
{
	cJSON *arr = cJSON_AddArrayToObject(payload, "filesystems");

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < s->n_fs; i++) {
		const struct health_fs *f = &s->fs[i];
		cJSON *o = cJSON_CreateObject();

		if (!o || !cJSON_AddItemToArray(arr, o)) {
			cJSON_Delete(o);
			return -ENOMEM;
		}
		if (json_str(o, "mount", f->m->mount_point) < 0 ||
		    json_str(o, "device", f->device) < 0 ||
		    json_str(o, "fstype", f->m->fstype) < 0 ||
		    !cJSON_AddBoolToObject(o, "read_only", f->m->read_only) ||
		    !cJSON_AddBoolToObject(o, "remounted_ro", f->m->super_ro && !f->m->mount_ro) ||
		    json_num_or_null(o, "errors", f->has_errors, (double)f->errors) < 0 ||
		    json_num_or_null(o, "last_error_ms", f->last_error_s > 0,
				     (double)f->last_error_s * 1000) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int health_json_smart(cJSON *payload, const struct health_state *s)
{
	cJSON *o = cJSON_AddObjectToObject(payload, "smart"), *arr;

	if (!o)
		return -ENOMEM;
	if (json_num_or_null(o, "updated_ms", s->smart_err == 0, (double)s->smart.time_s * 1000) <
		0 ||
	    json_str(o, "error", s->smart_why[0] ? s->smart_why : NULL) < 0)
		return -ENOMEM;
	arr = cJSON_AddArrayToObject(o, "devices");
	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < s->smart.n; i++) {
		int r = fields_json_append(
		    arr, &smart_table,
		    &(struct field_inst){&s->smart.v[i], s->smart.v[i].has, NULL}, NULL, 0);

		if (r < 0)
			return r;
	}
	return 0;
}

/* --- the collector --- */

static void health_fini(void *state)
{
	struct health_state *s = state;

	if (!s)
		return;
	collector_watch_close(&s->mounts);
	procfs_file_close(&s->md_file);
	procfs_buf_free(&s->buf);
	md_stat_free(&s->md);
	fs_mountinfo_free(&s->mi);
	health_fs_close(s);
	free(s->fs);
	smart_file_free(&s->smart);
	free(s);
}

/* A reload changed smart-file: the new path is looked at on the next
 * tick, not HEALTH_LOOK_TICKS after the old one was missing. */
static void health_reconfigure(void *state)
{
	struct health_state *s = state;

	s->smart_wait = 0;
}

/* Off only when the mounts cannot be read; md arrays and the SMART file
 * are optional (most hosts have no md, the helper may not be installed). */
static int health_init(const struct collector_env *env, const void *settings, void **ret_state,
		       char *reason, size_t reason_len)
{
	struct health_state *s;
	int r = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(reason, reason_len, "%s", strerror(ENOMEM));
		goto out;
	}
	s->set = settings;
	s->md_file.fd = -1;
	collector_watch_open(&s->mounts, env, "self/mountinfo");
	r = health_read_fs(s, env);
	if (r < 0) {
		procfs_reason(reason, reason_len, "self/mountinfo", r,
			      r == -EINVAL || r == -ERANGE);
		goto out;
	}
	*ret_state = s;
	s = NULL;
out:
	health_fini(s);
	return r;
}

static int health_sample(void *state, const struct collector_env *env,
			 const struct collector_tick *tick, cJSON **ret_payload)
{
	struct health_state *s = state;
	cJSON *payload;
	int r;

	*ret_payload = NULL;
	health_read_md(s, env);
	r = health_read_fs(s, env);
	if (r < 0)
		return r;
	health_read_smart(s);
	s->have = true;
	r = -ENOMEM;
	payload = json_payload(tick->t_ms);
	if (!payload)
		goto out;
	if ((r = health_json_md(payload, &s->md)) < 0 || (r = health_json_fs(payload, s)) < 0 ||
	    (r = health_json_smart(payload, s)) < 0)
		goto out;
out:
	return json_hand_over(payload, r, ret_payload);
}

/* node_exporter's mdadm families, and sysfeed's own for what it lacks. */
static void health_metrics_md(struct metrics *m, const struct md_stat *md)
{
	static const char *const states[] = {"active", "inactive", "recovering", "resync", "check"};

	metrics_family(m, "node_md_disks_required", "gauge", "Total number of disks of device.");
	for (size_t i = 0; i < md->n; i++) {
		const char *l[] = {"device", md->v[i].name, NULL};

		if (md->v[i].has_disks)
			metrics_sample(m, "node_md_disks_required", l, md->v[i].disks);
	}
	metrics_family(m, "node_md_disks", "gauge",
		       "Number of active/failed/spare disks of device.");
	for (size_t i = 0; i < md->n; i++) {
		const struct md_array *a = &md->v[i];
		const char *act[] = {"device", a->name, "state", "active", NULL};
		const char *fail[] = {"device", a->name, "state", "failed", NULL};
		const char *spare[] = {"device", a->name, "state", "spare", NULL};

		metrics_sample(m, "node_md_disks", act,
			       a->has_disks ? a->disks_up : a->members - a->failed - a->spares);
		metrics_sample(m, "node_md_disks", fail, a->failed);
		metrics_sample(m, "node_md_disks", spare, a->spares);
	}
	metrics_family(m, "node_md_state", "gauge", "Indicates the state of md-device.");
	for (size_t i = 0; i < md->n; i++) {
		const struct md_array *a = &md->v[i];
		const char *now = !a->active                                ? "inactive"
				  : !a->sync_running                        ? "active"
				  : strcmp(a->sync_action, "recovery") == 0 ? "recovering"
				  : strcmp(a->sync_action, "resync") == 0   ? "resync"
				  : strcmp(a->sync_action, "check") == 0    ? "check"
									    : "active";

		for (size_t k = 0; k < sizeof(states) / sizeof(states[0]); k++) {
			const char *l[] = {"device", a->name, "state", states[k], NULL};

			metrics_sample(m, "node_md_state", l, strcmp(now, states[k]) == 0);
		}
	}
	metrics_family(m, "sysfeed_md_degraded", "gauge",
		       "Devices an md array misses ([n/m]: n - m); 0 when whole.");
	for (size_t i = 0; i < md->n; i++) {
		const char *l[] = {"device", md->v[i].name, NULL};

		if (md->v[i].has_disks)
			metrics_sample(m, "sysfeed_md_degraded", l,
				       md->v[i].disks > md->v[i].disks_up
					   ? md->v[i].disks - md->v[i].disks_up
					   : 0);
	}
	metrics_family(m, "sysfeed_md_sync_ratio", "gauge",
		       "Progress of the running resync, recovery, reshape or check (0 to 1).");
	for (size_t i = 0; i < md->n; i++) {
		const char *l[] = {"device", md->v[i].name, "action", md->v[i].sync_action, NULL};

		if (md->v[i].sync_running)
			metrics_sample(m, "sysfeed_md_sync_ratio", l,
				       md->v[i].sync_permille / 1000.0);
	}
}

static void health_metrics_fs(struct metrics *m, const struct health_state *s)
{
	metrics_family(m, "sysfeed_filesystem_errors_total", "counter",
		       "Errors the filesystem counted (ext4 errors_count, btrfs error_stats).");
	for (size_t i = 0; i < s->n_fs; i++) {
		const struct health_fs *f = &s->fs[i];
		const char *l[] = {"device",     f->device,         "fstype", f->m->fstype,
				   "mountpoint", f->m->mount_point, NULL};

		if (f->has_errors)
			metrics_sample(m, "sysfeed_filesystem_errors_total", l, (double)f->errors);
	}
	metrics_family(
	    m, "sysfeed_filesystem_remounted_readonly", "gauge",
	    "1 when the kernel made the filesystem read-only (superblock ro, mount rw).");
	for (size_t i = 0; i < s->n_fs; i++) {
		const struct health_fs *f = &s->fs[i];
		const char *l[] = {"device",     f->device,         "fstype", f->m->fstype,
				   "mountpoint", f->m->mount_point, NULL};

		metrics_sample(m, "sysfeed_filesystem_remounted_readonly", l,
			       f->m->super_ro && !f->m->mount_ro);
	}
}

static int health_metrics(void *state, struct metrics *m)
{
	const struct health_state *s = state;
	struct field_insts x = {0};
	int r;

	if (!s->have)
		return 0;
	if (s->md.n > 0)
		health_metrics_md(m, &s->md);
	if (s->n_fs > 0)
		health_metrics_fs(m, s);
	if (s->smart_err == 0) {
		metrics_family(m, "sysfeed_smart_updated_timestamp_seconds", "gauge",
			       "When the sysfeed-smart helper last read the drives.");
		metrics_sample(m, "sysfeed_smart_updated_timestamp_seconds", NULL,
			       (double)s->smart.time_s);
	}
	r = fields_insts_init(&x, s->smart.n);
	if (r < 0)
		return r;
	for (size_t i = 0; i < s->smart.n; i++)
		fields_insts_add(&x, &s->smart.v[i], s->smart.v[i].has, "device",
				 s->smart.v[i].device, NULL, NULL);
	fields_prom(m, &smart_table, x.v, x.n);
	fields_insts_free(&x);
	return metrics_error(m);
}

static const struct field_table *const health_tables[] = {&smart_table, NULL};

static const struct setting health_keys[] = {
    SETTING("smart-file", SET_STR, offsetof(struct health_settings, smart_file), 0, 0,
	    "/var/lib/sysfeed-smart/smart.json"),
    {0},
};

const struct collector health_collector = {
    .name = "health",
    .settings = health_keys,
    .settings_size = sizeof(struct health_settings),
    .fields = health_tables,
    .init = health_init,
    .sample = health_sample,
    .metrics = health_metrics,
    .reconfigure = health_reconfigure,
    .fini = health_fini,
};
