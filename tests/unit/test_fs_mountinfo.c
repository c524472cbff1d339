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

TEST(test_parse_vm2)
{
	struct fs_mountinfo mi = {0};

	parse_file("vm2", "proc/self/mountinfo", parse, &mi);
	assert_int_equal(mi.n, 19);
	/* 27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard,... */
	assert_int_equal(mi.v[5].mount_id, 27);
	assert_int_equal(mi.v[5].major, 254);
	assert_int_equal(mi.v[5].minor, 0);
	assert_string_equal(mi.v[5].root, "/");
	assert_string_equal(mi.v[5].mount_point, "/");
	assert_string_equal(mi.v[5].fstype, "ext4");
	assert_string_equal(mi.v[5].source, "/dev/vda");
	assert_false(mi.v[5].read_only);
	/* 41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw */
	assert_int_equal(mi.v[18].mount_id, 41);
	assert_string_equal(mi.v[18].fstype, "cgroup2");
	assert_string_equal(mi.v[18].mount_point, "/sys/fs/cgroup/unified");
	fs_mountinfo_free(&mi);
}

TEST(test_parse_server)
{
	struct fs_mountinfo mi = {0};
	const struct fs_mount *m;

	parse_file("server", "proc/self/mountinfo", parse, &mi);
	assert_int_equal(mi.n, 39);
	/* two optional fields: shared:40 master:12 */
	m = &mi.v[27];
	assert_string_equal(m->mount_point, "/home");
	assert_string_equal(m->fstype, "nfs4");
	assert_string_equal(m->source, "files.example.com:/export/home");
	/* \040 in the mount point and the source; ro per mount */
	m = &mi.v[28];
	assert_string_equal(m->mount_point, "/mnt/old archive");
	assert_string_equal(m->source, "nas.example.com:/volume1/old archive");
	assert_true(m->read_only);
	/* \011 in the root and the mount point */
	m = &mi.v[30];
	assert_string_equal(m->root, "/exports/tab\tdir");
	assert_string_equal(m->mount_point, "/srv/data/tab\tdir");
	/* ro per mount only, rw super block */
	m = &mi.v[32];
	assert_string_equal(m->mount_point, "/mnt/rootbind");
	assert_true(m->read_only);
	/* \134 and \012; "unbindable" as the only optional field */
	m = &mi.v[33];
	assert_string_equal(m->mount_point, "/media/back\\slash\nnewline");
	assert_int_equal(m->major, 8);
	assert_int_equal(m->minor, 17);
	/* no optional field at all */
	m = &mi.v[34];
	assert_string_equal(m->fstype, "cifs");
	assert_string_equal(m->source, "//nas.example.com/team share");
	fs_mountinfo_free(&mi);
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
