/* The `fs` topic's choice of mounts: built-in rules, configured lists,
 * hidden mounts and bind mounts. */
#include "fs_select.h"

#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "settings.h"

/* Filesystems without space of their own: kernel interfaces, control and
 * automount points, read-only images that are always full (squashfs:
 * snaps) and FUSE interfaces that mirror /proc (lxcfs) or portals. Sorted
 * for bsearch. */
static const char *const fs_pseudo_types[] = {
    "anon_inodefs", "autofs",  "binder",    "binfmt_misc", "bpf",        "cgroup",     "cgroup2",
    "configfs",     "cpuset",  "debugfs",   "devpts",      "devtmpfs",   "efivarfs",   "fuse.lxcfs",
    "fuse.portal",  "fusectl", "hugetlbfs", "mqueue",      "nfsd",       "nsfs",       "pipefs",
    "proc",         "pstore",  "ramfs",     "rootfs",      "rpc_pipefs", "securityfs", "selinuxfs",
    "smackfs",      "sockfs",  "squashfs",  "sysfs",       "tracefs",    "usbfs",
};

static int fs_cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

bool fs_type_is_pseudo(const char *fstype)
{
	return bsearch(&fstype, fs_pseudo_types,
		       sizeof(fs_pseudo_types) / sizeof(fs_pseudo_types[0]),
		       sizeof(fs_pseudo_types[0]), fs_cmp_str) != NULL;
}

/* Disk and memory filesystems whose statfs() answers from counters kept in
 * memory, without I/O or a lock held across I/O: the loop thread asks them
 * itself (a worker process woken once a tick for them cost this host about
 * as much CPU as the rest of the topic). Network and FUSE filesystems, and
 * any type not named here, go through the workers. Sorted for bsearch. */
static const char *const fs_local_types[] = {
    "btrfs", "exfat", "ext2", "ext3", "ext4", "f2fs", "tmpfs", "vfat", "xfs",
};

bool fs_type_is_local(const char *fstype)
{
	return bsearch(&fstype, fs_local_types, sizeof(fs_local_types) / sizeof(fs_local_types[0]),
		       sizeof(fs_local_types[0]), fs_cmp_str) != NULL;
}

/* Whether path is dir or below it. */
static bool fs_path_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* The built-in choice: no pseudo filesystem, nothing under /proc or /sys,
 * no container runtime's internal mounts (each container's overlay, its
 * secrets, its network namespace), nothing in users' runtime directories
 * (/run/user/UID: gvfs, portals), and tmpfs only where people keep files:
 * not the runtime state under /dev and /run. */
static bool fs_builtin_wanted(const struct fs_mount *m)
{
	static const char *const hidden[] = {
	    "/proc",
	    "/sys",
	    "/var/lib/docker",
	    "/var/lib/containers/storage",
	    "/var/lib/kubelet/pods",
	    "/run/containerd",
	    "/run/docker",
	    "/run/netns",
	    "/run/user",
	};
	const char *mp = m->mount_point;

	if (fs_type_is_pseudo(m->fstype))
		return false;
	for (size_t i = 0; i < sizeof(hidden) / sizeof(hidden[0]); i++) {
		if (fs_path_under(mp, hidden[i]))
			return false;
	}
	if (strcmp(m->fstype, "tmpfs") == 0 &&
	    (fs_path_under(mp, "/dev") || fs_path_under(mp, "/run")))
		return false;
	return true;
}

static bool fs_list_includes(const struct list *list)
{
	for (size_t i = 0; i < list->n; i++) {
		if (list->v[i][0] != '!')
			return true;
	}
	return false;
}

/* `mounts` first: a list that names mount points shows exactly those,
 * whatever the built-in rules say; exclusions remove. Then `fs-types`: a
 * list that names types replaces the built-in choice; a list of only
 * exclusions ("!nfs*") narrows it. */
bool fs_mount_wanted(const struct fs_settings *set, const struct fs_mount *m)
{
	bool named_mount = false;

	if (set && set->mounts.n > 0) {
		if (!list_match(&set->mounts, m->mount_point, true))
			return false;
		named_mount = fs_list_includes(&set->mounts);
	}
	if (set && fs_list_includes(&set->fs_types))
		return list_match(&set->fs_types, m->fstype, false);
	if (set && set->fs_types.n > 0 && !list_match(&set->fs_types, m->fstype, true))
		return false;
	return named_mount || fs_builtin_wanted(m);
}

/* A later mount on the same mount point hides this one: statvfs() of the
 * path reaches the later one. */
static bool fs_hidden(const struct fs_mountinfo *mi, size_t i)
{
	for (size_t j = i + 1; j < mi->n; j++) {
		if (strcmp(mi->v[j].mount_point, mi->v[i].mount_point) == 0)
			return true;
	}
	return false;
}

static int fs_cmp_idx(const void *a, const void *b)
{
	size_t x = *(const size_t *)a, y = *(const size_t *)b;

	return x < y ? -1 : x > y;
}

size_t fs_select(const struct fs_mountinfo *mi, const struct fs_settings *set, size_t *ret_idx)
{
	size_t n = 0;

	for (size_t i = 0; i < mi->n; i++) {
		const struct fs_mount *m = &mi->v[i];
		bool dup = false;

		if (!fs_mount_wanted(set, m) || fs_hidden(mi, i))
			continue;
		for (size_t k = 0; k < n; k++) {
			const struct fs_mount *o = &mi->v[ret_idx[k]];

			if (o->major != m->major || o->minor != m->minor ||
			    strcmp(o->root, m->root) != 0)
				continue;
			dup = true;
			if (strlen(m->mount_point) < strlen(o->mount_point))
				ret_idx[k] = i; /* the same filesystem, a shorter path */
			break;
		}
		if (!dup)
			ret_idx[n++] = i;
	}
	/* a shorter bind took the place of an earlier one: back to file order */
	qsort(ret_idx, n, sizeof(*ret_idx), fs_cmp_idx);
	return n;
}
