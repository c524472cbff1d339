/* Unit tests of collectors/fs_select.c: which mounts are shown (pseudo
 * filesystems, tmpfs, container internals, bind mounts, hidden mounts, the
 * `fs-types` and `mounts` lists). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <string.h>

#include "config.h"
#include "fixture.h"
#include "fs.h"
#include "fs_select.h"

static int parse_str(const char *text, struct fs_mountinfo *mi)
{
	return fs_mountinfo_parse(text, strlen(text), mi);
}

/* --- which mounts are shown --- */

static struct fs_mount mount_of(const char *mp, const char *type)
{
	return (struct fs_mount){.mount_point = mp, .fstype = type, .root = "/", .source = "x"};
}

static bool wanted(const struct config *cfg, const char *mp, const char *type)
{
	struct fs_mount m = mount_of(mp, type);

	return fs_mount_wanted(cfg ? COLSET(cfg, fs) : NULL, &m);
}

TEST(test_wanted)
{
	static const char *const pseudo[] = {
	    "proc",        "sysfs",    "cgroup",    "cgroup2",    "devtmpfs",    "devpts",
	    "mqueue",      "debugfs",  "tracefs",   "securityfs", "pstore",      "bpf",
	    "configfs",    "fusectl",  "hugetlbfs", "autofs",     "binfmt_misc", "nsfs",
	    "rpc_pipefs",  "efivarfs", "squashfs",  "ramfs",      "rootfs",      "fuse.lxcfs",
	    "fuse.portal", "nfsd",     "selinuxfs",
	};
	struct config cfg;

	for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++) {
		assert_true(fs_type_is_pseudo(pseudo[i]));
		assert_false(wanted(NULL, "/x", pseudo[i]));
	}
	assert_false(fs_type_is_pseudo("ext4"));
	assert_false(fs_type_is_pseudo("fuse.sshfs"));
	assert_false(fs_type_is_pseudo("zz"));
	assert_false(fs_type_is_pseudo("aaa"));
	assert_true(wanted(NULL, "/", "ext4"));
	assert_true(wanted(NULL, "/", "overlay"));
	assert_true(wanted(NULL, "/home", "nfs4"));
	assert_true(wanted(NULL, "/mnt/x", "fuse.sshfs"));
	assert_true(wanted(NULL, "/run/media/anna/USB", "exfat"));
	/* tmpfs: where files are kept, not runtime state */
	assert_true(wanted(NULL, "/tmp", "tmpfs"));
	assert_true(wanted(NULL, "/var/tmp", "tmpfs"));
	assert_true(wanted(NULL, "/devx", "tmpfs"));
	assert_false(wanted(NULL, "/dev", "tmpfs"));
	assert_false(wanted(NULL, "/dev/shm", "tmpfs"));
	assert_false(wanted(NULL, "/run", "tmpfs"));
	assert_false(wanted(NULL, "/run/lock", "tmpfs"));
	assert_false(wanted(NULL, "/sys/fs/cgroup", "tmpfs"));
	assert_false(wanted(NULL, "/proc/acpi", "tmpfs"));
	/* runtimes' and users' runtime mounts, any type */
	assert_false(wanted(NULL, "/var/lib/docker/overlay2/x/merged", "overlay"));
	assert_false(wanted(NULL, "/var/lib/kubelet/pods/u/volumes/s", "tmpfs"));
	assert_false(wanted(NULL, "/run/user/1000/gvfs", "fuse.gvfsd-fuse"));
	assert_true(wanted(NULL, "/var/lib/dockerx", "ext4"));

	config_defaults(&cfg);
	assert_true(wanted(&cfg, "/", "ext4"));
	assert_false(wanted(&cfg, "/proc", "proc"));
	/* fs-types of only exclusions narrows the built-in choice */
	set_key(&cfg, "fs-types", "!nfs*");
	assert_false(wanted(&cfg, "/home", "nfs4"));
	assert_true(wanted(&cfg, "/", "ext4"));
	assert_false(wanted(&cfg, "/proc", "proc"));
	assert_false(wanted(&cfg, "/run", "tmpfs"));
	config_free(&cfg);
	/* fs-types naming types replaces it */
	config_defaults(&cfg);
	set_key(&cfg, "fs-types", "tmpfs,ext*");
	assert_true(wanted(&cfg, "/run", "tmpfs"));
	assert_true(wanted(&cfg, "/", "ext4"));
	assert_false(wanted(&cfg, "/srv", "xfs"));
	config_free(&cfg);
	/* mounts naming mount points shows exactly those */
	config_defaults(&cfg);
	set_key(&cfg, "mounts", "/run/user/*,/");
	assert_true(wanted(&cfg, "/run/user/1000", "tmpfs"));
	assert_true(wanted(&cfg, "/", "ext4"));
	assert_false(wanted(&cfg, "/home", "ext4"));
	config_free(&cfg);
	/* mounts of only exclusions */
	config_defaults(&cfg);
	set_key(&cfg, "mounts", "!/mnt/*");
	assert_false(wanted(&cfg, "/mnt/old", "nfs"));
	assert_true(wanted(&cfg, "/", "ext4"));
	assert_false(wanted(&cfg, "/dev/shm", "tmpfs"));
	/* both lists apply */
	set_key(&cfg, "fs-types", "!xfs");
	assert_false(wanted(&cfg, "/srv", "xfs"));
	assert_true(wanted(&cfg, "/srv", "ext4"));
	config_free(&cfg);
}

TEST(test_select)
{
	struct fs_mountinfo mi = {0};
	size_t idx[16], n;

	/* bind mounts (same device and root) once, under the shortest path;
	 * a bind of a subdirectory is another root; a later mount on the
	 * same mount point hides the earlier one */
	assert_int_equal(parse_str("1 0 8:1 / /srv/long/path rw - ext4 /dev/sda1 rw\n"
				   "2 0 8:1 / /srv/b rw - ext4 /dev/sda1 rw\n"
				   "3 0 8:1 /sub /srv/sub rw - ext4 /dev/sda1 rw\n"
				   "4 0 8:1 / /srv/c rw - ext4 /dev/sda1 rw\n"
				   "5 0 8:2 / /mnt rw - ext4 /dev/sda2 rw\n"
				   "6 5 8:3 / /mnt rw - xfs /dev/sda3 rw\n"
				   "7 0 8:4 / /x rw - ext4 /dev/sdb rw\n"
				   "8 7 0:9 / /x rw - proc proc rw\n",
				   &mi),
			 0);
	n = fs_select(&mi, NULL, idx);
	assert_int_equal(n, 3);
	assert_string_equal(mi.v[idx[0]].mount_point, "/srv/b");
	assert_string_equal(mi.v[idx[1]].mount_point, "/srv/sub");
	assert_string_equal(mi.v[idx[2]].mount_point, "/mnt");
	assert_string_equal(mi.v[idx[2]].fstype, "xfs");
	/* ties keep the first */
	assert_int_equal(parse_str("1 0 8:1 / /a rw - ext4 /dev/sda1 rw\n"
				   "2 0 8:1 / /b rw - ext4 /dev/sda1 rw\n",
				   &mi),
			 0);
	n = fs_select(&mi, NULL, idx);
	assert_int_equal(n, 1);
	assert_string_equal(mi.v[idx[0]].mount_point, "/a");
	/* in file order also when a later, shorter bind stands for an earlier
	 * one (found by tests/fuzz/fuzz_mountinfo.c) */
	assert_int_equal(parse_str("1 0 8:1 / /srv/long rw - ext4 /dev/sda1 rw\n"
				   "2 0 8:2 / /home rw - ext4 /dev/sda2 rw\n"
				   "3 0 8:1 / /s rw - ext4 /dev/sda1 rw\n",
				   &mi),
			 0);
	n = fs_select(&mi, NULL, idx);
	assert_int_equal(n, 2);
	assert_string_equal(mi.v[idx[0]].mount_point, "/home");
	assert_string_equal(mi.v[idx[1]].mount_point, "/s");
	fs_mountinfo_free(&mi);
}
