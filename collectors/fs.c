/* The `fs` topic's collector: mountinfo read when it changes, the mounts to
 * show picked, their statfs() answers from the worker pool, as JSON and
 * node_exporter's Prometheus families. */
#include "fs.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_select.h"
#include "json.h"
#include "metrics.h"
#include "procfs.h"

/* mountinfo of a Kubernetes node with thousands of mounts stays below. */
#define FS_MOUNTINFO_MAX      (16u << 20)
#define FS_TIMEOUT_DEFAULT_MS 1000

/* --- the payload --- */

/* a * b, or false on overflow. */
static bool fs_mul(uint64_t a, uint64_t b, uint64_t *ret)
{
	return !__builtin_mul_overflow(a, b, ret);
}

/* ceil(100 * used / (used + avail)) as df computes it; total > 0. */
static unsigned fs_percent(uint64_t used, uint64_t avail)
{
	while (used > UINT64_MAX / 200 || avail > UINT64_MAX / 200) {
		used >>= 1;
		avail >>= 1;
	}
	{
		uint64_t total = used + avail, u100 = used * 100;

		if (total == 0)
			return 0;
		return (unsigned)(u100 / total + (u100 % total != 0));
	}
}

int fs_mount_json(const struct fs_mount *m, const struct fs_usage *u, bool responding, int err,
		  cJSON **ret)
{
	uint64_t size = 0, used = 0, avail = 0;
	bool have_space = false, have_inodes = false, have_pct = false;
	unsigned pct = 0;
	char msg[128];
	cJSON *o;
	int r = -ENOMEM;

	*ret = NULL;
	if (u) {
		uint64_t used_blocks = u->blocks > u->bfree ? u->blocks - u->bfree : 0;

		have_space = fs_mul(u->blocks, u->frsize, &size) &&
			     fs_mul(used_blocks, u->frsize, &used) &&
			     fs_mul(u->bavail, u->frsize, &avail);
		if (have_space && (used > 0 || avail > 0)) {
			have_pct = true;
			pct = fs_percent(used, avail);
		}
		have_inodes = u->files > 0;
	}
	o = cJSON_CreateObject();
	if (!o)
		goto out;
	if (json_str(o, "mount", m->mount_point) < 0 || json_str(o, "device", m->source) < 0 ||
	    json_str(o, "fstype", m->fstype) < 0 ||
	    !cJSON_AddBoolToObject(o, "read_only", m->read_only) ||
	    !cJSON_AddBoolToObject(o, "responding", responding))
		goto out;
	if (json_num_or_null(o, "size", have_space, (double)size) < 0 ||
	    json_num_or_null(o, "used", have_space, (double)used) < 0 ||
	    json_num_or_null(o, "available", have_space, (double)avail) < 0 ||
	    json_num_or_null(o, "used_percent", have_pct, pct) < 0 ||
	    json_num_or_null(o, "inodes_total", have_inodes, u ? (double)u->files : 0) < 0 ||
	    json_num_or_null(o, "inodes_used", have_inodes,
			     u && u->files > u->ffree ? (double)(u->files - u->ffree) : 0) < 0 ||
	    json_num_or_null(o, "inodes_free", have_inodes, u ? (double)u->ffree : 0) < 0)
		goto out;
	if (err) {
		if (!cJSON_AddStringToObject(o, "error", strerror_r(err, msg, sizeof(msg))))
			goto out;
	} else if (!cJSON_AddNullToObject(o, "error")) {
		goto out;
	}
	*ret = o;
	o = NULL;
	r = 0;
out:
	cJSON_Delete(o);
	return r;
}

struct fs_view {
	size_t mount; /* index into mi.v */
	struct fs_slot *slot;
};

struct fs_state {
	const struct fs_settings *set;
	struct collector_watch mounts; /* mountinfo, read again when it changed */
	struct procfs_buf buf;
	struct fs_mountinfo mi;
	size_t *idx;
	struct fs_view *views;
	size_t n_views;
	size_t cap;
	bool reload; /* the last read failed: read again whatever poll() says */
	struct fs_pool *pool;
};

/* Matches the shown mounts with the pool's slots (same mount id and mount
 * point): new ones get a slot, vanished ones lose theirs. */
static int fs_sync_slots(struct fs_state *s)
{
	fs_pool_mark(s->pool);
	for (size_t v = 0; v < s->n_views; v++) {
		const struct fs_mount *m = &s->mi.v[s->views[v].mount];

		s->views[v].slot = fs_pool_claim(s->pool, m->mount_id, m->mount_point,
						 fs_type_is_local(m->fstype));
		if (!s->views[v].slot)
			return -ENOMEM;
	}
	fs_pool_sweep(s->pool);
	return 0;
}

/* Parses the mountinfo text in s->buf, picks the mounts to show and
 * matches them with slots. */
static int fs_load(struct fs_state *s, const struct fs_settings *set)
{
	int r;

	s->n_views = 0;
	r = fs_mountinfo_parse(s->buf.data, s->buf.len, &s->mi);
	if (r < 0)
		return r;
	if (s->mi.n > s->cap) {
		size_t *idx = realloc(s->idx, s->mi.n * sizeof(*idx));
		struct fs_view *views;

		if (!idx)
			return -ENOMEM;
		s->idx = idx;
		views = realloc(s->views, s->mi.n * sizeof(*views));
		if (!views)
			return -ENOMEM;
		s->views = views;
		s->cap = s->mi.n;
	}
	s->n_views = fs_select(&s->mi, set, s->idx);
	for (size_t i = 0; i < s->n_views; i++) {
		s->views[i].mount = s->idx[i];
		s->views[i].slot = NULL;
	}
	r = fs_sync_slots(s);
	if (r < 0)
		s->n_views = 0;
	return r;
}

static uint64_t fs_timeout_ns(const struct fs_settings *set)
{
	unsigned ms = set && set->timeout_ms ? set->timeout_ms : FS_TIMEOUT_DEFAULT_MS;

	return (uint64_t)ms * 1000000u;
}

static int fs_build_payload(struct fs_state *s, int64_t t_ms, cJSON **ret_payload)
{
	cJSON *payload, *arr;
	int r = -ENOMEM;

	payload = json_payload_array(t_ms, "filesystems", &arr);
	if (!payload)
		goto out;
	for (size_t i = 0; i < s->n_views; i++) {
		const struct fs_slot *slot = s->views[i].slot;
		cJSON *o;

		if (fs_mount_json(&s->mi.v[s->views[i].mount], slot->have ? &slot->usage : NULL,
				  !slot->hung, slot->err, &o) < 0)
			goto out;
		cJSON_AddItemToArray(arr, o);
	}
	r = 0;
out:
	return json_hand_over(payload, r, ret_payload);
}

int fs_settle(void *state, unsigned timeout_ms)
{
	return fs_pool_settle(((struct fs_state *)state)->pool, timeout_ms);
}

unsigned fs_stuck_workers(void *state)
{
	return fs_pool_stuck(((struct fs_state *)state)->pool);
}

pid_t fs_worker_pid(void *state)
{
	return fs_pool_worker_pid(((struct fs_state *)state)->pool);
}

/* The workers go first (see fs_pool_free). */
static void fs_fini(void *state)
{
	struct fs_state *s = state;

	if (!s)
		return;
	fs_pool_free(s->pool);
	collector_watch_close(&s->mounts);
	procfs_buf_free(&s->buf);
	fs_mountinfo_free(&s->mi);
	free(s->idx);
	free(s->views);
	free(s);
}

/* Reads mountinfo once (a missing or foreign file turns the topic off),
 * starts the first round and waits for it up to fs-timeout-ms, so that the
 * first tick has values. */
static int fs_init(const struct collector_env *env, const void *settings, void **ret_state,
		   char *reason, size_t reason_len)
{
	const struct fs_settings *set = settings;
	struct fs_state *s;
	int r = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (s) {
		s->mounts.id = s->mounts.fd = -1;
		s->set = set;
		s->pool = fs_pool_new(fs_timeout_ns(set));
	}
	if (!s || !s->pool) {
		procfs_reason(reason, reason_len, "self/mountinfo", r, false);
		goto out;
	}
	collector_watch_open(&s->mounts, env, "self/mountinfo");
	r = procfs_read(env->proc_fd, "self/mountinfo", &s->buf, FS_MOUNTINFO_MAX);
	if (r < 0) {
		procfs_reason(reason, reason_len, "self/mountinfo", r, false);
		goto out;
	}
	r = fs_load(s, s->set);
	if (r < 0) {
		procfs_reason(reason, reason_len, "self/mountinfo", r, r != -ENOMEM);
		goto out;
	}
	r = fs_pool_start(s->pool);
	if (r < 0) {
		snprintf(reason, reason_len, "cannot start the statfs process: %s", strerror(-r));
		goto out;
	}
	fs_pool_settle(s->pool, (unsigned)(fs_timeout_ns(set) / 1000000u));
	*ret_state = s;
	s = NULL;
out:
	fs_fini(s);
	return r;
}

/* Never blocks: re-reads mountinfo when it changed, lets the pool file
 * what arrived and ask again (see fs_pool_update), and publishes what the
 * slots hold. A failed read or parse is this tick's error, and the next
 * tick reads again. */
static int fs_sample(void *state, const struct collector_env *env,
		     const struct collector_tick *tick, cJSON **ret_payload)
{
	struct fs_state *s = state;
	int r = 0;

	*ret_payload = NULL;
	if (s->reload || collector_watch_changed(&s->mounts, env)) {
		r = procfs_read(env->proc_fd, "self/mountinfo", &s->buf, FS_MOUNTINFO_MAX);
		if (r == 0)
			r = fs_load(s, s->set);
		else
			s->n_views = 0;
		s->reload = r < 0;
	}
	fs_pool_update(s->pool);
	if (r == 0)
		r = fs_build_payload(s, tick->t_ms, ret_payload);
	return r;
}

/* node_exporter's filesystem families, from the last round's readings of
 * the mounts the topic shows. */
static int fs_metrics(void *state, struct metrics *m)
{
	static const struct {
		const char *name, *help;
	} fam[] = {
	    {"node_filesystem_size_bytes", "Filesystem size in bytes."},
	    {"node_filesystem_free_bytes", "Filesystem free space in bytes."},
	    {"node_filesystem_avail_bytes",
	     "Filesystem space available to non-root users in bytes."},
	    {"node_filesystem_files", "Filesystem total file nodes."},
	    {"node_filesystem_files_free", "Filesystem total free file nodes."},
	    {"node_filesystem_readonly", "Filesystem read-only status."},
	    {"node_filesystem_device_error", "Whether the last statfs failed or timed out."},
	};
	struct fs_state *s = state;

	for (size_t f = 0; f < sizeof(fam) / sizeof(fam[0]); f++) {
		metrics_family(m, fam[f].name, "gauge", fam[f].help);
		for (size_t i = 0; i < s->n_views; i++) {
			const struct fs_mount *mt = &s->mi.v[s->views[i].mount];
			const struct fs_slot *slot = s->views[i].slot;
			const struct fs_usage *u = &slot->usage;
			const char *labels[] = {"device",     mt->source,      "fstype", mt->fstype,
						"mountpoint", mt->mount_point, NULL};
			double v;

			if (f < 5 && !slot->have)
				continue;
			switch (f) {
			case 0:
				v = (double)u->blocks * (double)u->frsize;
				break;
			case 1:
				v = (double)u->bfree * (double)u->frsize;
				break;
			case 2:
				v = (double)u->bavail * (double)u->frsize;
				break;
			case 3:
			case 4:
				if (!u->files)
					continue; /* no inode count (btrfs, vfat) */
				v = (double)(f == 3 ? u->files : u->ffree);
				break;
			case 5:
				v = mt->read_only;
				break;
			default:
				v = slot->hung || slot->err;
				break;
			}
			metrics_sample(m, fam[f].name, labels, v);
		}
	}
	return metrics_error(m);
}

/* fs-types, mounts or fs-timeout-ms changed: select and time anew. */
static void fs_reconfigure(void *state)
{
	struct fs_state *s = state;

	fs_pool_set_timeout(s->pool, fs_timeout_ns(s->set));
	s->reload = true;
}

static const struct setting fs_keys[] = {
    SETTING("fs-types", SET_LIST, offsetof(struct fs_settings, fs_types), 0, LIST_MAX, NULL),
    SETTING("mounts", SET_LIST, offsetof(struct fs_settings, mounts), 0, LIST_MAX, NULL),
    SETTING("fs-timeout-ms", SET_UINT, offsetof(struct fs_settings, timeout_ms), 10, 60000, "1000"),
    {0},
};

const struct collector fs_collector = {
    .name = "fs",
    .settings = fs_keys,
    .settings_size = sizeof(struct fs_settings),
    .reconfigure = fs_reconfigure,
    .init = fs_init,
    .sample = fs_sample,
    .metrics = fs_metrics,
    .fini = fs_fini,
};
