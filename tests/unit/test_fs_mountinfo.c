/* Unit tests of collectors/fs_mountinfo.c: the mountinfo parser against the
 * captured and constructed trees, escapes, optional fields, malformed and
 * truncated files. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "fs_mountinfo.h"

static int parse_str(const char *text, struct fs_mountinfo *mi)
{
	return fs_mountinfo_parse(text, strlen(text), mi);
}

static int parse(const char *text, size_t len, void *ret)
{
	return fs_mountinfo_parse(text, len, ret);
}

/* --- the parser --- */

/* A mount of a parse at index i: every field. */
struct want_mount {
	size_t i;
	unsigned mount_id, major, minor;
	const char *root, *mount_point, *fstype, *source;
	bool read_only;
};

/* machine's mountinfo parses into n mounts, those of the table (which
 * ends in {.i = SIZE_MAX}) as it says. */
static void check_mounts(const char *machine, size_t n, const struct want_mount *w)
{
	struct fs_mountinfo mi = {0};

	parse_file(machine, "proc/self/mountinfo", parse, &mi);
	assert_int_equal(mi.n, n);
	for (; w->i != SIZE_MAX; w++) {
		const struct fs_mount *m = &mi.v[w->i];

		if (m->mount_id != w->mount_id || strcmp(m->mount_point, w->mount_point) != 0)
			print_error("%s: mount %zu is %u at %s\n", machine, w->i, m->mount_id,
				    m->mount_point);
		assert_int_equal(m->mount_id, w->mount_id);
		assert_int_equal(m->major, w->major);
		assert_int_equal(m->minor, w->minor);
		assert_string_equal(m->root, w->root);
		assert_string_equal(m->mount_point, w->mount_point);
		assert_string_equal(m->fstype, w->fstype);
		assert_string_equal(m->source, w->source);
		assert_int_equal(m->read_only, w->read_only);
	}
	fs_mountinfo_free(&mi);
}

TEST(test_parse_vm2)
{
	check_mounts(
	    "vm2", 19,
	    (const struct want_mount[]){
		/* 27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,... */
		{5, 27, 254, 0, "/", "/", "ext4", "/dev/vda", false},
		/* 41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw */
		{18, 41, 0, 38, "/", "/sys/fs/cgroup/unified", "cgroup2", "cgroup2", false},
		{.i = SIZE_MAX}});
}

TEST(test_parse_server)
{
	check_mounts(
	    "server", 39,
	    (const struct want_mount[]){
		/* two optional fields: shared:40 master:12 */
		{27, 80, 0, 40, "/", "/home", "nfs4", "files.example.com:/export/home", false},
		/* \040 in the mount point and the source; ro per mount */
		{28, 82, 0, 41, "/", "/mnt/old archive", "nfs",
		 "nas.example.com:/volume1/old archive", true},
		/* \011 in the root and the mount point */
		{30, 86, 253, 1, "/exports/tab\tdir", "/srv/data/tab\tdir", "xfs",
		 "/dev/mapper/vg0-data", false},
		/* ro per mount only, rw super block */
		{32, 90, 253, 0, "/", "/mnt/rootbind", "ext4", "/dev/mapper/vg0-root", true},
		/* \134 and \012; "unbindable" as the only optional field */
		{33, 92, 8, 17, "/", "/media/back\\slash\nnewline", "ext4", "/dev/sdb1", false},
		/* no optional field at all */
		{34, 94, 0, 45, "/", "/mnt/team", "cifs", "//nas.example.com/team share", false},
		{.i = SIZE_MAX}});
}

TEST(test_parse_shapes)
{
	struct fs_mountinfo mi = {0};

	/* an empty source (mount -t tmpfs "" /x) and a subtype */
	assert_int_equal(parse_str("1 0 0:1 / /x rw - tmpfs  rw\n"
				   "2 1 0:2 / /y ro shared:1 master:2 propagate_from:3 unbindable "
				   "- fuse.sshfs u@h:/ rw\n",
				   &mi),
			 0);
	assert_int_equal(mi.n, 2);
	assert_string_equal(mi.v[0].source, "");
	assert_string_equal(mi.v[1].fstype, "fuse.sshfs");
	assert_true(mi.v[1].read_only);
	/* ro in the super block options only */
	assert_int_equal(
	    parse_str("1 0 8:1 / / rw,relatime - ext4 /dev/sda1 ro,errors=panic\n", &mi), 0);
	assert_true(mi.v[0].read_only);
	/* "ro" must be a whole option */
	assert_int_equal(
	    parse_str("1 0 8:1 / / rw,rootcontext=x - ext4 /dev/sda1 rw,errors=ro\n", &mi), 0);
	assert_false(mi.v[0].read_only);
	/* empty file: no mounts */
	assert_int_equal(parse_str("", &mi), 0);
	assert_int_equal(mi.n, 0);
	/* a large mount id and device numbers */
	assert_int_equal(parse_str("4294967295 1 4095:1048575 / /big rw - xfs /dev/x rw\n", &mi),
			 0);
	assert_int_equal(mi.v[0].mount_id, 4294967295u);
	assert_int_equal(mi.v[0].minor, 1048575);
	fs_mountinfo_free(&mi);
}

TEST(test_parse_malformed)
{
	static const struct parse_case cases[] = {
	    {"1 0 8:1 / / rw - ext4 /dev/sda1 rw", -EINVAL}, /* no '\n' */
	    {"\n", -EINVAL},
	    {"1 0 8:1 / / rw ext4 /dev/sda1 rw\n", -EINVAL},         /* no separator */
	    {"1 0 8:1 / / rw -\n", -EINVAL},                         /* nothing after it */
	    {"1 0 8:1 / / rw - ext4\n", -EINVAL},                    /* no source */
	    {"1 0 8:1 / / rw - ext4 /dev/sda1\n", -EINVAL},          /* no super options */
	    {"1 0 8:1 / / rw - ext4 /dev/sda1 rw extra\n", -EINVAL}, /* one field too many */
	    {"1 0 8:1 / / rw - ext4 /dev/sda1 \n", -EINVAL},         /* empty super options */
	    {"1 0 8:1 / / rw -  /dev/sda1 rw\n", -EINVAL},           /* empty type */
	    {"1 0 8:1 / /  rw - ext4 /dev/sda1 rw\n", -EINVAL},      /* two spaces */
	    {" 1 0 8:1 / / rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"1 0 8:1 / / rw  - ext4 /dev/sda1 rw\n", -EINVAL}, /* empty optional field */
	    {"x 0 8:1 / / rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"1 0 81 / / rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"1 0 8: / / rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"1 0 :1 / / rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"1 0 8:1:2 / / rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"1 0 -8:1 / / rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"4294967296 0 8:1 / / rw - ext4 /dev/sda1 rw\n", -ERANGE},
	    {"1 0 8:99999999999 / / rw - ext4 /dev/sda1 rw\n", -ERANGE},
	    {"1 0 8:1 / /a\\04 rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"1 0 8:1 / /a\\ rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"1 0 8:1 / /a\\x20 rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"1 0 8:1 / /a\\400 rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"1 0 8:1 / /a\\080 rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"1 0 8:1 / /a\\000 rw - ext4 /dev/sda1 rw\n", -EINVAL}, /* a NUL */
	    {"1 0 8:1 /\\n / rw - ext4 /dev/sda1 rw\n", -EINVAL},
	    {"1 0 8:1 / / rw - ext4 /dev/sd\\a1 rw\n", -EINVAL},
	    {"1 0 8:1 / / - ext4 /dev/sda1 rw\n", -EINVAL}, /* no mount options */
	    {"1 0 8:1 / /\n", -EINVAL},
	};
	struct fs_mountinfo mi = {0};

	/* the escape the cases below break */
	assert_int_equal(parse_str("1 0 8:1 / /a\\040 rw - ext4 /dev/sda1 rw\n", &mi), 0);
	parse_cases_empty(cases, sizeof(cases) / sizeof(cases[0]), parse, &mi,
			  offsetof(struct fs_mountinfo, n));
	/* an embedded NUL */
	assert_int_equal(fs_mountinfo_parse("1 0 8:1 / /\0 rw - ext4 /dev/sda1 rw\n", 36, &mi),
			 -EINVAL);
	/* reusable after errors */
	assert_int_equal(parse_str("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n", &mi), 0);
	assert_int_equal(mi.n, 1);
	fs_mountinfo_free(&mi);
	fs_mountinfo_free(&mi);
	fs_mountinfo_free(NULL);
}

/* What a cut or garbled mountinfo is checked against. */
struct cut {
	const char *text; /* the whole file */
	struct fs_mountinfo mi;
};

/* Whole lines parse, cut ones fail. */
static void check_prefix(const char *p, size_t n, size_t at, void *ctx)
{
	struct cut *c = ctx;
	int r = fs_mountinfo_parse(p, n, &c->mi);

	if (n == 0 || c->text[n - 1] == '\n')
		assert_int_equal(r, 0);
	else
		assert_int_equal(r, -EINVAL);
}

/* Garbage: an error or a parse, never a crash. */
static void check_garbled(const char *p, size_t n, size_t at, void *ctx)
{
	struct cut *c = ctx;

	assert_true(fs_mountinfo_parse(p, n, &c->mi) <= 0);
}

/* Every prefix in an exactly sized buffer; every byte garbled (a stray
 * backslash or 'x', a space). */
static void check_prefixes(const char *machine, const char *rel)
{
	size_t len;
	char *text = slurp(machine, rel, &len);
	struct cut c = {.text = text};

	each_prefix(text, len, check_prefix, &c);
	each_garbled(text, len, 'x', '\\', check_garbled, &c);
	each_garbled(text, len, ' ', ' ', check_garbled, &c);
	fs_mountinfo_free(&c.mi);
	free(text);
}

TEST(test_parse_truncated)
{
	check_prefixes("vm2", "proc/self/mountinfo");
	check_prefixes("server", "proc/self/mountinfo");
	check_prefixes("container", "proc/self/mountinfo");
	check_prefixes("desktop", "proc/self/mountinfo");
}
