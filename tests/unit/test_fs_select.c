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

/* A mount point and type, and whether that mount is shown. A table of
 * them ends in {NULL}. */
struct wanted_case {
	const char *mp, *type;
	bool want;
};

/* Every case is shown or not as it says, under cfg's lists (NULL: the
 * built-in choice). */
static void check_wanted(const struct config *cfg, const struct wanted_case *c)
{
	for (; c->mp; c++) {
		if (wanted(cfg, c->mp, c->type) != c->want)
			fail_msg("%s (%s) is %s", c->mp, c->type, c->want ? "hidden" : "shown");
	}
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
	static const char *const real[] = {"ext4", "fuse.sshfs", "zz", "aaa"};
	struct config cfg;

	for (size_t i = 0; i < sizeof(pseudo) / sizeof(pseudo[0]); i++) {
		assert_true(fs_type_is_pseudo(pseudo[i]));
		assert_false(wanted(NULL, "/x", pseudo[i]));
	}
	for (size_t i = 0; i < sizeof(real) / sizeof(real[0]); i++)
		assert_false(fs_type_is_pseudo(real[i]));
	check_wanted(NULL, (const struct wanted_case[]){
			       {"/", "ext4", true},
			       {"/", "overlay", true},
			       {"/home", "nfs4", true},
			       {"/mnt/x", "fuse.sshfs", true},
			       {"/run/media/anna/USB", "exfat", true},
			       /* tmpfs: where files are kept, not runtime state */
			       {"/tmp", "tmpfs", true},
			       {"/var/tmp", "tmpfs", true},
			       {"/devx", "tmpfs", true},
			       {"/dev", "tmpfs", false},
			       {"/dev/shm", "tmpfs", false},
			       {"/run", "tmpfs", false},
			       {"/run/lock", "tmpfs", false},
			       {"/sys/fs/cgroup", "tmpfs", false},
			       {"/proc/acpi", "tmpfs", false},
			       /* runtimes' and users' runtime mounts, any type */
			       {"/var/lib/docker/overlay2/x/merged", "overlay", false},
			       {"/var/lib/kubelet/pods/u/volumes/s", "tmpfs", false},
			       {"/run/user/1000/gvfs", "fuse.gvfsd-fuse", false},
			       {"/var/lib/dockerx", "ext4", true},
			       {NULL},
			   });

	config_defaults(&cfg);
	check_wanted(&cfg, (const struct wanted_case[]){
			       {"/", "ext4", true}, {"/proc", "proc", false}, {NULL}});
	/* fs-types of only exclusions narrows the built-in choice */
	set_key(&cfg, "fs-types", "!nfs*");
	check_wanted(&cfg, (const struct wanted_case[]){{"/home", "nfs4", false},
							{"/", "ext4", true},
							{"/proc", "proc", false},
							{"/run", "tmpfs", false},
							{NULL}});
	config_free(&cfg);
	/* fs-types naming types replaces it */
	config_defaults(&cfg);
	set_key(&cfg, "fs-types", "tmpfs,ext*");
	check_wanted(&cfg, (const struct wanted_case[]){{"/run", "tmpfs", true},
							{"/", "ext4", true},
							{"/srv", "xfs", false},
							{NULL}});
	config_free(&cfg);
	/* mounts naming mount points shows exactly those */
	config_defaults(&cfg);
	set_key(&cfg, "mounts", "/run/user/*,/");
	check_wanted(&cfg, (const struct wanted_case[]){{"/run/user/1000", "tmpfs", true},
							{"/", "ext4", true},
							{"/home", "ext4", false},
							{NULL}});
	config_free(&cfg);
	/* mounts of only exclusions */
	config_defaults(&cfg);
	set_key(&cfg, "mounts", "!/mnt/*");
	check_wanted(&cfg, (const struct wanted_case[]){{"/mnt/old", "nfs", false},
							{"/", "ext4", true},
							{"/dev/shm", "tmpfs", false},
							{NULL}});
	/* both lists apply */
	set_key(&cfg, "fs-types", "!xfs");
	check_wanted(&cfg, (const struct wanted_case[]){
			       {"/srv", "xfs", false}, {"/srv", "ext4", true}, {NULL}});
	config_free(&cfg);
}

/* text parsed into mi, the mounts fs_select shows are want: "mount-point
 * type" of each, in order, joined by commas. */
static void assert_selected(struct fs_mountinfo *mi, const char *text, const char *want)
{
	char got[512] = "";
	size_t idx[16], n;

	assert_int_equal(parse_str(text, mi), 0);
	n = fs_select(mi, NULL, idx);
	for (size_t i = 0; i < n; i++)
		snprintf(got + strlen(got), sizeof(got) - strlen(got), "%s%s %s", i ? "," : "",
			 mi->v[idx[i]].mount_point, mi->v[idx[i]].fstype);
	assert_string_equal(got, want);
}

TEST(test_select)
{
	struct fs_mountinfo mi = {0};

	/* bind mounts (same device and root) once, under the shortest path;
	 * a bind of a subdirectory is another root; a later mount on the
	 * same mount point hides the earlier one */
	assert_selected(&mi,
			"1 0 8:1 / /srv/long/path rw - ext4 /dev/sda1 rw\n"
			"2 0 8:1 / /srv/b rw - ext4 /dev/sda1 rw\n"
			"3 0 8:1 /sub /srv/sub rw - ext4 /dev/sda1 rw\n"
			"4 0 8:1 / /srv/c rw - ext4 /dev/sda1 rw\n"
			"5 0 8:2 / /mnt rw - ext4 /dev/sda2 rw\n"
			"6 5 8:3 / /mnt rw - xfs /dev/sda3 rw\n"
			"7 0 8:4 / /x rw - ext4 /dev/sdb rw\n"
			"8 7 0:9 / /x rw - proc proc rw\n",
			"/srv/b ext4,/srv/sub ext4,/mnt xfs");
	/* ties keep the first */
	assert_selected(&mi,
			"1 0 8:1 / /a rw - ext4 /dev/sda1 rw\n"
			"2 0 8:1 / /b rw - ext4 /dev/sda1 rw\n",
			"/a ext4");
	/* in file order also when a later, shorter bind stands for an earlier
	 * one (found by tests/fuzz/fuzz_mountinfo.c) */
	assert_selected(&mi,
			"1 0 8:1 / /srv/long rw - ext4 /dev/sda1 rw\n"
			"2 0 8:2 / /home rw - ext4 /dev/sda2 rw\n"
			"3 0 8:1 / /s rw - ext4 /dev/sda1 rw\n",
			"/home ext4,/s ext4");
	fs_mountinfo_free(&mi);
}
