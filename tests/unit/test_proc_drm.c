/* Unit tests of collectors/proc_drm.c: DRM fdinfo files of the workstation
 * tree (amdgpu with the old and the new memory keys, i915), an xe file
 * with cycles, malformed and cut input, and the busy share of an engine. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "proc_drm.h"

/* xe as xe_drm_client.c prints it (Documentation/gpu/xe/xe-drm-usage-
 * stats.rst): cycles and total cycles per engine class, no drm-engine-. */
static const char xe_text[] = "pos:\t0\nflags:\t0100002\nmnt_id:\t26\nino:\t685\n"
			      "drm-driver:\txe\ndrm-client-id:\t44\ndrm-pdev:\t0000:03:00.0\n"
			      "drm-total-system:\t0\ndrm-shared-system:\t0\n"
			      "drm-active-system:\t0\ndrm-resident-system:\t0\n"
			      "drm-purgeable-system:\t0\ndrm-total-vram0:\t23992 KiB\n"
			      "drm-shared-vram0:\t16 MiB\ndrm-active-vram0:\t0\n"
			      "drm-resident-vram0:\t23992 KiB\ndrm-purgeable-vram0:\t0\n"
			      "drm-cycles-rcs:\t28257900\ndrm-total-cycles-rcs:\t7655183225\n"
			      "drm-cycles-bcs:\t0\ndrm-total-cycles-bcs:\t7655183225\n"
			      "drm-cycles-ccs:\t0\ndrm-total-cycles-ccs:\t7655183225\n"
			      "drm-engine-capacity-ccs:\t4\n";

static int parse(const char *text, size_t len, void *ret)
{
	return proc_drm_parse(text, len, ret);
}

static struct proc_drm_client parse_ok(const char *text, size_t len)
{
	struct proc_drm_client c;

	assert_int_equal(proc_drm_parse(text, len, &c), 0);
	return c;
}

/* workstation/<rel>, which must parse. */
static struct proc_drm_client parse_fixture(const char *rel)
{
	struct proc_drm_client c;

	parse_file("workstation", rel, parse, &c);
	return c;
}

static const struct proc_drm_engine *engine(const struct proc_drm_client *c, const char *name)
{
	for (size_t i = 0; i < c->n_engines; i++) {
		if (strcmp(c->engines[i].name, name) == 0)
			return &c->engines[i];
	}
	fail_msg("no engine %s", name);
	return NULL;
}

TEST(test_fixtures)
{
	struct proc_drm_client c;
	size_t len;
	char *text;

	/* amdgpu, the old keys: drm-memory-<region> only */
	c = parse_fixture("proc/812/fdinfo/9");
	assert_string_equal(c.driver, "amdgpu");
	assert_string_equal(c.pdev, "0000:03:00.0");
	assert_true(c.has_id && c.id == 3);
	assert_true(c.has_mem);
	assert_true(c.mem_bytes == (131072 + 65536) * UINT64_C(1024));
	assert_int_equal(c.n_engines, 3);
	assert_true(engine(&c, "gfx")->busy_ns == UINT64_C(40000000000));
	assert_int_equal(engine(&c, "gfx")->has, PROC_DRM_NS);
	assert_true(engine(&c, "gfx")->capacity == 1);
	/* amdgpu, total, resident and the alias: resident counts, once */
	c = parse_fixture("proc/1500/fdinfo/12");
	assert_true(c.id == 7);
	assert_true(c.mem_bytes == (262144 + 16384) * UINT64_C(1024));
	assert_true(engine(&c, "dec")->busy_ns == UINT64_C(2000000000));
	/* i915: the video engine is a group of two; stolen-system0 is a region */
	c = parse_fixture("proc/2100/fdinfo/30");
	assert_string_equal(c.driver, "i915");
	assert_true(c.mem_bytes == 204800 * UINT64_C(1024));
	assert_int_equal(c.n_engines, 4);
	assert_true(engine(&c, "video")->capacity == 2);
	assert_true(engine(&c, "video-enhance")->busy_ns == 0);
	/* a DRM file without client id parses; the join leaves it out */
	c = parse_fixture("proc/2600/fdinfo/8");
	assert_false(c.has_id);
	assert_false(c.has_mem);
	/* not a DRM file */
	text = slurp("workstation", "proc/1500/fdinfo/3", &len);
	assert_int_equal(proc_drm_parse(text, len, &c), -ENODATA);
	free(text);
}

TEST(test_xe_cycles)
{
	struct proc_drm_client a, b;
	struct proc_drm_engine rcs;
	char later[sizeof(xe_text) + 64], *p;
	double share;

	a = parse_ok(xe_text, strlen(xe_text));
	assert_true(a.id == 44);
	assert_true(a.mem_bytes == 23992 * UINT64_C(1024)); /* system 0 + vram0 */
	assert_int_equal(engine(&a, "rcs")->has, PROC_DRM_CYCLES | PROC_DRM_TOTAL_CYCLES);
	assert_true(engine(&a, "ccs")->capacity == 4);
	/* 25 % of the rcs cycles, whatever the CPU time between readings */
	memcpy(later, xe_text, sizeof(xe_text));
	p = strstr(later, "drm-cycles-rcs:\t28257900\ndrm-total-cycles-rcs:\t7655183225\n");
	assert_non_null(p);
	memcpy(p, "drm-cycles-rcs:\t53257900\ndrm-total-cycles-rcs:\t7755183225\n", 58);
	b = parse_ok(later, strlen(later));
	rcs = *engine(&a, "rcs");
	assert_true(proc_drm_busy(&rcs, engine(&b, "rcs"), 7 * SEC, &share));
	assert_true(share == 0.25);
	/* total cycles that did not move: no share */
	assert_false(proc_drm_busy(&rcs, engine(&a, "rcs"), SEC, &share));
}

TEST(test_busy_ns)
{
	struct proc_drm_engine prev = {.busy_ns = 1000, .capacity = 1, .has = PROC_DRM_NS};
	struct proc_drm_engine cur = prev;
	double share;

	cur.busy_ns = 1000 + SEC / 4;
	assert_true(proc_drm_busy(&prev, &cur, SEC, &share));
	assert_true(share == 0.25);
	/* a group of two: half of it */
	cur.capacity = 2;
	assert_true(proc_drm_busy(&prev, &cur, SEC, &share));
	assert_true(share == 0.125);
	/* no time: no share; no ns key in one of them: none either */
	assert_false(proc_drm_busy(&prev, &cur, 0, &share));
	cur.has = PROC_DRM_CYCLES;
	assert_false(proc_drm_busy(&prev, &cur, SEC, &share));
	/* backwards: no progress, and the stored value stays the larger */
	cur = prev;
	cur.busy_ns = 500;
	assert_true(proc_drm_busy(&prev, &cur, SEC, &share));
	assert_true(share == 0);
	proc_drm_fold(&prev, &cur);
	assert_true(prev.busy_ns == 1000);
	cur.busy_ns = 1500;
	proc_drm_fold(&prev, &cur);
	assert_true(prev.busy_ns == 1500);
}

TEST(test_malformed)
{
	static const struct parse_case cases[] = {
	    {"", -ENODATA},
	    {"pos:\t0\nflags:\t02\n", -ENODATA},
	    {"drm-driver:\ti915\n", 0},
	    {"drm-driver:\ti915", -EINVAL},                               /* no final '\n' */
	    {"drm-driver:\t\n", -EINVAL},                                 /* empty */
	    {"drm-driver\ti915\n", -EINVAL},                              /* no colon */
	    {"drm-dri ver:\ti915\n", -EINVAL},                            /* a space in the key */
	    {"drm-driver:\tabcdefghijabcdefghijabcdefghijab\n", -EINVAL}, /* too long */
	    {"drm-driver:\ti915\ndrm-client-id:\t-1\n", -EINVAL},
	    {"drm-driver:\ti915\ndrm-client-id:\t18446744073709551616\n", -ERANGE},
	    {"drm-driver:\ti915\ndrm-client-id:\t3 x\n", -EINVAL},
	    {"drm-driver:\ti915\ndrm-engine-render:\t5\n", -EINVAL}, /* no ns */
	    {"drm-driver:\ti915\ndrm-engine-render:\t5 us\n", -EINVAL},
	    {"drm-driver:\ti915\ndrm-engine-render:\t5 ns x\n", -EINVAL},
	    {"drm-driver:\ti915\ndrm-engine-render:\t5\tns\n", -EINVAL},
	    {"drm-driver:\ti915\ndrm-engine-:\t5 ns\n", -EINVAL}, /* no name */
	    {"drm-driver:\ti915\ndrm-engine-render:\t5  ns\n", 0},
	    {"drm-driver:\ti915\ndrm-engine-capacity-video:\t0\n", -EINVAL},
	    {"drm-driver:\ti915\ndrm-engine-capacity-video:\t2 ns\n", -EINVAL},
	    {"drm-driver:\ti915\ndrm-cycles-rcs:\t5 ns\n", -EINVAL},
	    {"drm-driver:\ti915\ndrm-total-vram:\t5 GiB\n", -EINVAL},
	    {"drm-driver:\ti915\ndrm-total-vram:\t5 kB\n", -EINVAL},
	    {"drm-driver:\ti915\ndrm-total-vram:\t18014398509481984 KiB\n", -ERANGE},
	    {"drm-driver:\ti915\ndrm-resident-a:\t18446744073709551615\n"
	     "drm-resident-b:\t1\n",
	     -ERANGE},
	    {"drm-driver:\ti915\ndrm-client-name:\tmy game, version 2\n", 0}, /* unused */
	    {"drm-driver:\ti915\ndrm-maxfreq-rcs:\t1 GHz\n", 0},              /* unused */
	    {"drm-driver:\ti915\namd-evicted-vram:\tmany\n", 0},              /* not drm- */
	};

	struct proc_drm_client c;

	parse_cases(cases, sizeof(cases) / sizeof(cases[0]), parse, &c, NULL);
}

/* More engines and regions than kept: the rest are skipped, the file
 * still parses. */
TEST(test_many)
{
	char text[8192];
	size_t len = (size_t)snprintf(text, sizeof(text), "drm-driver:\tx\ndrm-client-id:\t1\n");
	struct proc_drm_client c;

	for (unsigned i = 0; i < PROC_DRM_ENGINES + 5; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "drm-engine-e%u:\t%u ns\n",
					i, i);
	for (unsigned i = 0; i < PROC_DRM_REGIONS + 5; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"drm-resident-r%u:\t1 KiB\n", i);
	c = parse_ok(text, len);
	assert_int_equal(c.n_engines, PROC_DRM_ENGINES);
	assert_true(c.mem_bytes == PROC_DRM_REGIONS * 1024);
}

static void check_prefix(const char *text, size_t len, size_t at, void *ctx)
{
	struct proc_drm_client c;
	int r = proc_drm_parse(text, len, &c);

	(void)at;
	(void)ctx;
	/* a cut file parses only when it ends at a line break */
	if (len > 0 && text[len - 1] != '\n')
		assert_int_equal(r, -EINVAL);
	else
		assert_true(r == 0 || r == -ENODATA || r == -EINVAL);
}

static void check_garbled(const char *text, size_t len, size_t at, void *ctx)
{
	struct proc_drm_client c;
	int r = proc_drm_parse(text, len, &c);

	(void)at;
	(void)ctx;
	assert_true(r == 0 || r == -ENODATA || r == -EINVAL || r == -ERANGE);
	if (r == 0)
		assert_true(c.n_engines <= PROC_DRM_ENGINES);
}

TEST(test_cut_and_garbled)
{
	static const char *const files[] = {"proc/812/fdinfo/9", "proc/1500/fdinfo/12",
					    "proc/2100/fdinfo/30"};

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		size_t len;
		char *text = slurp("workstation", files[i], &len);

		each_prefix(text, len, check_prefix, NULL);
		each_garbled(text, len, ' ', ':', check_garbled, NULL);
		each_garbled(text, len, '\n', '9', check_garbled, NULL);
		free(text);
	}
	each_prefix(xe_text, strlen(xe_text), check_prefix, NULL);
}
