/* Unit tests of collectors/svc_parse.c: the cgroup v2 and v1 file parsers
 * against the constructed host16 tree and inline malformed input. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "svc_parse.h"

#define SVC_DIR "sys/fs/cgroup/system.slice/"

/* --- parsers --- */

/* The parsers as fixture_parse_fn (parse_file, parse_cases). */
static int cpu_stat(const char *text, size_t len, void *ret)
{
	return svc_cpu_stat_parse(text, len, ret);
}

static int single(const char *text, size_t len, void *ret)
{
	return svc_single_parse(text, len, ret);
}

/* io.stat's bytes read and written. */
struct io {
	uint64_t r, w;
};

static int io_stat(const char *text, size_t len, void *ret)
{
	struct io *io = ret;

	return svc_io_stat_parse(text, len, &io->r, &io->w);
}

/* v1's blkio.throttle.io_service_bytes: bytes read and written. */
static int blkio(const char *text, size_t len, void *ret)
{
	struct io *io = ret;

	return svc_blkio_parse(text, len, &io->r, &io->w);
}

TEST(test_cpu_stat)
{
	static const struct parse_case bad[] = {
	    {"", -ENODATA},
	    {"user_usec 1\nsystem_usec 2\n", -ENODATA},
	    {"usage_usec 1", -EINVAL},
	    {"usage_usec\n", -EINVAL},
	    {"usage_usec 1 2\n", -EINVAL},
	    {"usage_usec x\n", -EINVAL},
	    {"usage_usec -1\n", -EINVAL},
	    {"usage_usec 1.5\n", -EINVAL},
	    {"usage_usec 1\nusage_usec 2\n", -EINVAL},
	    {"usage_usec 1\nnr_periods\n", -EINVAL},
	    {"usage_usec 18446744073709551616\n", -ERANGE},
	    {"usage_usec 1\n\n", -EINVAL},
	};
	uint64_t v;

	parse_file("host16", SVC_DIR "ssh.service/cpu.stat", cpu_stat, &v);
	assert_int_equal(v, 1234567);
	parse_file("host16", SVC_DIR "cron.service/cpu.stat", cpu_stat,
		   &v); /* no controller keys */
	assert_int_equal(v, 456789);
	/* 6.x adds keys; they are read past */
	{
		static const char more[] = "usage_usec 5\ncore_sched.force_idle_usec 0\n";

		assert_int_equal(svc_cpu_stat_parse(more, sizeof(more) - 1, &v), 0);
	}
	assert_int_equal(v, 5);
	parse_cases(bad, sizeof(bad) / sizeof(bad[0]), cpu_stat, &v, NULL);
}

TEST(test_single)
{
	static const struct parse_case bad[] = {
	    {"", -EINVAL},      {"\n", -EINVAL},     {"12", -EINVAL},
	    {"12 \n", -EINVAL}, {" 12\n", -EINVAL},  {"max\n", -EINVAL},
	    {"-1\n", -EINVAL},  {"1\n2\n", -EINVAL}, {"99999999999999999999\n", -ERANGE},
	};
	uint64_t v;

	parse_file("host16", SVC_DIR "ssh.service/memory.current", single, &v);
	assert_int_equal(v, 5242880);
	assert_int_equal(svc_single_parse("0\n", 2, &v), 0);
	assert_int_equal(v, 0);
	parse_cases(bad, sizeof(bad) / sizeof(bad[0]), single, &v, NULL);
}

TEST(test_io_stat)
{
	static const struct parse_case bad[] = {
	    {"8:0 rbytes=1 wbytes=2", -EINVAL}, /* no '\n' */
	    {"8:0 rbytes=1\n", -EINVAL},        /* no wbytes */
	    {"8:0 wbytes=1 rios=2\n", -EINVAL}, /* no rbytes */
	    {"rbytes=1 wbytes=2\n", -EINVAL},   /* no device */
	    {"8 rbytes=1 wbytes=2\n", -EINVAL},
	    {"8:x rbytes=1 wbytes=2\n", -EINVAL},
	    {"8:0 rbytes=1 wbytes=2 rios\n", -EINVAL}, /* not key=value */
	    {"8:0 rbytes=1 wbytes=2 rios=\n", -EINVAL},
	    {"8:0 rbytes=1 wbytes=2 =3\n", -EINVAL},
	    {"8:0 rbytes=x wbytes=2\n", -EINVAL},
	    {"8:0 rbytes=1.5 wbytes=2\n", -EINVAL},
	    {"8:0 rbytes=1 rbytes=1 wbytes=2\n", -EINVAL},
	    {"8:0 rbytes=1 wbytes=2\n\n", -EINVAL},
	    {"8:0 rbytes=18446744073709551616 wbytes=2\n", -ERANGE},
	    {"8:0 rbytes=18446744073709551615 wbytes=2\n8:16 rbytes=1 wbytes=2\n", -ERANGE},
	};
	struct io io;
	uint64_t r, w;

	/* two disks, with io.cost's decimal keys */
	parse_file("host16", SVC_DIR "nginx.service/io.stat", io_stat, &io);
	assert_int_equal(io.r, 734003200 + 1048576);
	assert_int_equal(io.w, 52428800 + 4096);
	assert_int_equal(svc_io_stat_parse("", 0, &r, &w), 0);
	assert_int_equal(r, 0);
	assert_int_equal(w, 0);
	/* the documented example (cgroup-v2.rst, io.stat) */
	{
		static const char doc[] =
		    "8:16 rbytes=1459200 wbytes=314773504 rios=192 wios=353 dbytes=0 dios=0\n"
		    "8:0 rbytes=90430464 wbytes=299008000 rios=8950 wios=1252 dbytes=50331648 "
		    "dios=3021\n";

		assert_int_equal(svc_io_stat_parse(doc, sizeof(doc) - 1, &r, &w), 0);
	}
	assert_int_equal(r, 1459200 + 90430464);
	assert_int_equal(w, 314773504 + 299008000);
	parse_cases(bad, sizeof(bad) / sizeof(bad[0]), io_stat, &io, NULL);
}

/* A fixture file of each parser, cut or garbled. */
struct cut {
	const char *text; /* the whole file */
	size_t len;
	unsigned k; /* 0 io.stat, 1 cpu.stat, 2 a single number */
};

/* Only whole files parse; io.stat whole lines too, and cpu.stat from its
 * first line on (usage_usec comes first). */
/* v1's blkio.throttle.io_service_bytes, memory limits, flat keyed files
 * (memory.oom_control, memory.events), freezer.state. */
TEST(test_v1_files)
{
	static const struct parse_case bad_blkio[] = {
	    {"", -EINVAL},
	    {"8:0 Read 1\n", -EINVAL},                      /* no Total line */
	    {"8:0 Read 1\nTotal 1\n8:0 Read 1\n", -EINVAL}, /* after Total */
	    {"8:0 Read x\nTotal 1\n", -EINVAL},
	    {"8:0 Read 1 2\nTotal 1\n", -EINVAL},
	    {"sda Read 1\nTotal 1\n", -EINVAL},
	    {"Total\n", -EINVAL},
	};
	struct io io;
	uint64_t r, w;
	bool frozen;

	assert_int_equal(svc_blkio_parse("Total 0\n", 8, &r, &w), 0);
	assert_true(r == 0 && w == 0);
	{
		const char *t = "8:0 Read 10\n8:0 Write 20\n8:0 Sync 1\n8:0 Async 29\n8:0 "
				"Discard 0\n8:0 Total 30\n259:0 Read 5\n259:0 Write 1\nTotal 36\n";

		assert_int_equal(svc_blkio_parse(t, strlen(t), &r, &w), 0);
		assert_true(r == 15 && w == 21);
	}
	parse_cases(bad_blkio, sizeof(bad_blkio) / sizeof(bad_blkio[0]), blkio, &io, NULL);
	assert_int_equal(svc_limit_parse("max\n", 4, &r), 0);
	assert_true(r == UINT64_MAX);
	assert_int_equal(svc_limit_parse("9223372036854771712\n", 20, &r), 0);
	assert_true(r == UINT64_C(9223372036854771712));
	assert_int_equal(svc_limit_parse("max", 3, &r), -EINVAL);
	{
		const char *t = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";

		assert_int_equal(svc_keyed_parse(t, strlen(t), "oom_kill", &r), 0);
		assert_true(r == 3);
		t = "oom_kill_disable 0\nunder_oom 0\n"; /* before 4.13 */
		assert_int_equal(svc_keyed_parse(t, strlen(t), "oom_kill", &r), -ENODATA);
		t = "low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\noom_group_kill 0\n";
		assert_int_equal(svc_keyed_parse(t, strlen(t), "oom_kill", &r), 0);
		assert_true(r == 1);
		t = "oom_kill 1\noom_kill 2\n";
		assert_int_equal(svc_keyed_parse(t, strlen(t), "oom_kill", &r), -EINVAL);
	}
	assert_int_equal(svc_freezer_parse("THAWED\n", 7, &frozen), 0);
	assert_false(frozen);
	assert_int_equal(svc_freezer_parse("FROZEN\n", 7, &frozen), 0);
	assert_true(frozen);
	assert_int_equal(svc_freezer_parse("FREEZING\n", 9, &frozen), 0);
	assert_true(frozen);
	assert_int_equal(svc_freezer_parse("THAWED", 6, &frozen), -EINVAL);
}

static void check_prefix(const char *p, size_t n, size_t at, void *ctx)
{
	const struct cut *c = ctx;
	uint64_t a, b;
	int r;

	if (c->k == 0)
		r = svc_io_stat_parse(p, n, &a, &b);
	else if (c->k == 1)
		r = svc_cpu_stat_parse(p, n, &a);
	else
		r = svc_single_parse(p, n, &a);
	if (n == c->len || (c->k == 0 && (n == 0 || c->text[n - 1] == '\n')))
		assert_int_equal(r, 0);
	else if (c->k == 1 && n > 0 && c->text[n - 1] == '\n')
		assert_true(r == 0);
	else
		assert_true(r < 0);
}

/* Garbage, to every parser: an error or a parse, never a crash. */
static void check_garbled(const char *p, size_t n, size_t at, void *ctx)
{
	uint64_t a, b;

	assert_true(svc_io_stat_parse(p, n, &a, &b) <= 0);
	assert_true(svc_cpu_stat_parse(p, n, &a) <= 0);
	assert_true(svc_single_parse(p, n, &a) <= 0);
}

/* Every prefix of the fixture files in exactly-sized buffers (for ASan);
 * every byte replaced. */
TEST(test_truncated)
{
	static const char *const rels[] = {SVC_DIR "nginx.service/io.stat",
					   SVC_DIR "ssh.service/cpu.stat",
					   SVC_DIR "ssh.service/pids.current"};

	for (unsigned k = 0; k < sizeof(rels) / sizeof(rels[0]); k++) {
		struct cut c = {.k = k};
		char *text = slurp("host16", rels[k], &c.len);

		c.text = text;
		each_prefix(text, c.len, check_prefix, &c);
		each_garbled(text, c.len, 'x', '\n', check_garbled, &c);
		free(text);
	}
}
