/* Helpers shared by the unit tests that read fixture trees: the fixtures
 * root (SYSFEED_FIXTURES, default tests/fixtures), opening and reading files
 * under it, comparisons with golden files in <machine>/expected/, number
 * and list lookups in cJSON payloads, setting config keys, counting our
 * children, scratch trees under /tmp, parser checks (a fixture file that
 * must parse, what a parse holds against a wanted struct or counters of an
 * array against a table, a table of bad inputs, of a table parser's bad
 * inputs that leave it empty, of a number parser's inputs, every cut and
 * garbled byte of a file), running a collector over a fixture machine with
 * its golden payloads and metrics or over the live host, and capturing what an
 * event-driven collector publishes. Include after cmocka.h. Every function
 * is marked unused so that files using only some of them still build with
 * -Werror. */
#ifndef SYSFEED_TEST_FIXTURE_H
#define SYSFEED_TEST_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <ftw.h>
#include <limits.h>
#include <stddef.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "collector.h"
#include "config.h"
#include "json.h"
#include "metrics.h"
#include "procfs.h"
#include "prom_check.h"
#include "unit.h"

/* The clocks of a test's ticks: two wall times a second apart (a payload's
 * "t"), and a second of the monotonic clock. */
#define T1  INT64_C(1700000000000)
#define T2  INT64_C(1700000001000)
#define SEC UINT64_C(1000000000)

/* The fixtures root: $SYSFEED_FIXTURES, or tests/fixtures. */
__attribute__((unused)) static const char *fixtures(void)
{
	const char *dir = getenv("SYSFEED_FIXTURES");

	return dir && *dir ? dir : "tests/fixtures";
}

/* Opens the directory <fixtures>/<machine>/<sub>; fails the test if absent. */
__attribute__((unused)) static int open_dir(const char *machine, const char *sub)
{
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s/%s", fixtures(), machine, sub);
	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fail_msg("cannot open %s: %s (set SYSFEED_FIXTURES)", path, strerror(errno));
	return fd;
}

/* Reads <fixtures>/<machine>/<rel> whole, NUL-terminated. */
__attribute__((unused)) static char *slurp(const char *machine, const char *rel, size_t *ret_len)
{
	struct procfs_buf buf = {0};
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/%s", fixtures(), machine, rel);
	if (procfs_read(AT_FDCWD, path, &buf, 16 << 20) < 0)
		fail_msg("cannot read %s", path);
	if (ret_len)
		*ret_len = buf.len;
	return buf.data;
}

/* Compares a payload with a golden JSON file, both printed by cJSON so that
 * number formatting and key order are compared exactly; the daemon's own
 * writer (json_print) must print the payload to the same bytes. */
__attribute__((unused)) static void assert_json_file(const cJSON *actual, const char *machine,
						     const char *name)
{
	char rel[128], *text, *want, *got;
	cJSON *expected;

	snprintf(rel, sizeof(rel), "expected/%s", name);
	text = slurp(machine, rel, NULL);
	expected = cJSON_Parse(text);
	assert_non_null(expected);
	want = cJSON_PrintUnformatted(expected);
	got = cJSON_PrintUnformatted(actual);
	if (strcmp(want, got) != 0)
		print_error("%s/%s\nexpected: %s\nactual:   %s\n", machine, rel, want, got);
	assert_string_equal(got, want);
	free(want);
	want = json_print(actual, NULL);
	assert_non_null(want);
	assert_string_equal(want, got);
	free(text);
	free(want);
	free(got);
	cJSON_Delete(expected);
}

/* Compares metrics text with a golden file exactly. */
__attribute__((unused)) static void assert_text_file(const char *actual, const char *machine,
						     const char *name)
{
	char rel[128], *want;

	snprintf(rel, sizeof(rel), "expected/%s", name);
	want = slurp(machine, rel, NULL);
	if (strcmp(want, actual) != 0)
		print_error("%s/%s\nexpected:\n%s\nactual:\n%s\n", machine, rel, want, actual);
	assert_string_equal(actual, want);
	free(want);
}

/* The member key of o; fails the test when there is none. */
__attribute__((unused)) static const cJSON *get(const cJSON *o, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!item)
		fail_msg("no \"%s\"", key);
	return item;
}

/* The number at key of o; fails the test when it is missing or not a number. */
__attribute__((unused)) static double num(const cJSON *o, const char *key)
{
	const cJSON *item = get(o, key);

	assert_true(cJSON_IsNumber(item));
	return item->valuedouble;
}

/* Whether key of o is present and null. */
__attribute__((unused)) static bool is_null(const cJSON *o, const char *key)
{
	return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, key));
}

/* The item of the array key of o whose "name" is name, or NULL. */
__attribute__((unused)) static const cJSON *list_item(const cJSON *o, const char *key,
						      const char *name)
{
	const cJSON *e;

	cJSON_ArrayForEach(e, get(o, key))
	{
		if (strcmp(get(e, "name")->valuestring, name) == 0)
			return e;
	}
	return NULL;
}

/* The "name"s of the items of the array key of o, in order, are want
 * ("a,b,c"). */
__attribute__((unused)) static void assert_list_names(const cJSON *o, const char *key,
						      const char *want)
{
	char got[1024] = "";
	const cJSON *e;

	cJSON_ArrayForEach(e, get(o, key))
	{
		if (got[0])
			strcat(got, ",");
		strcat(got, get(e, "name")->valuestring);
	}
	assert_string_equal(got, want);
}

/* The machines with a proc tree for every /proc file topic: vm2 (captured),
 * host16 and linux-2.6.18 (constructed). */
__attribute__((unused)) static const char *const proc_machines[] = {"vm2", "host16",
								    "linux-2.6.18"};

/* promtool has nothing to say about expected/<name> of proc_machines; the
 * test is skipped where promtool is not installed. */
__attribute__((unused)) static void promtool_goldens(const char *name)
{
	char rel[128];

	snprintf(rel, sizeof(rel), "expected/%s", name);
	for (size_t i = 0; i < 3; i++) {
		char *text = slurp(proc_machines[i], rel, NULL);
		bool ran = prom_check_promtool(text);

		free(text);
		if (!ran)
			skip();
	}
}

/* The text cJSON prints of o, which must not be NULL; o is deleted. Free
 * the text. */
__attribute__((unused)) static char *json_text(cJSON *o)
{
	char *s;

	assert_non_null(o);
	s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return s;
}

/* A collector's settings inside a whole configuration (config_defaults,
 * then config_set as the file would): COLSET(&cfg, disk) is the struct
 * disk_settings of disk_collector. */
#define COLSET(cfg, c) ((struct c##_settings *)(cfg)->col[collector_topic(c##_collector.name)])

/* A collector's default settings, for tests that set none. */
static inline void *fixture_settings(const struct collector *c)
{
	static struct config cfg;
	static bool made;

	if (!made) {
		assert_int_equal(config_defaults(&cfg), 0);
		made = true;
	}
	return cfg.col[collector_topic(c->name)];
}

/* The directory <fixtures>/<machine>/<sub>, or -1 when the machine has none. */
__attribute__((unused)) static int open_dir_opt(const char *machine, const char *sub)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s/%s", fixtures(), machine, sub);
	return open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* A collector run over a fixture machine as the daemon runs it: env on the
 * machine's proc/ and sys/ (-1 where it has none), ticks at times the test
 * gives, goldens from <machine>/expected/. */
struct run {
	const struct collector *c;
	const char *machine;
	int fd[4]; /* proc, proc.2, sys, sys.2: -1 where the machine has none */
	struct collector_env env;
	struct metrics m;
	void *st;
};

/* Opens the trees and inits c with its default settings, which must
 * succeed without a reason; no families before the first sample. */
__attribute__((unused)) static void run_start(struct run *r, const struct collector *c,
					      const char *machine)
{
	static const char *const subs[] = {"proc", "proc.2", "sys", "sys.2"};
	char reason[256] = "";

	*r = (struct run){.c = c, .machine = machine};
	for (size_t i = 0; i < 4; i++)
		r->fd[i] = open_dir_opt(machine, subs[i]);
	r->env = (struct collector_env){.proc_fd = r->fd[0], .sys_fd = r->fd[2]};
	assert_int_equal(c->init(&r->env, fixture_settings(c), &r->st, reason, sizeof(reason)), 0);
	assert_non_null(r->st);
	assert_string_equal(reason, "");
	if (c->metrics) {
		assert_int_equal(c->metrics(r->st, &r->m), 0);
		assert_int_equal(r->m.len, 0);
	}
}

/* c's init with its default settings over env, which must return want
 * (0 or -errno) with a state only on success and, unless want_reason is
 * NULL, that reason. Returns the state. */
__attribute__((unused)) static void *init_check(const struct collector *c,
						const struct collector_env *env, int want,
						const char *want_reason)
{
	char reason[256] = "";
	void *st = NULL;

	assert_int_equal(c->init(env, fixture_settings(c), &st, reason, sizeof(reason)), want);
	if (want < 0)
		assert_null(st);
	else
		assert_non_null(st);
	if (want_reason)
		assert_string_equal(reason, want_reason);
	return st;
}

/* Points env at the first proc tree (proc/) or the second (proc.2/). */
__attribute__((unused)) static void run_trees(struct run *r, int second)
{
	r->env.proc_fd = r->fd[second ? 1 : 0];
	assert_true(r->env.proc_fd >= 0);
}

/* One tick at t_ms and mono_ns, which must succeed: its payload or NULL. */
__attribute__((unused)) static cJSON *run_tick(struct run *r, int64_t t_ms, uint64_t mono_ns)
{
	struct collector_tick tick = {.t_ms = t_ms, .mono_ns = mono_ns};
	cJSON *p = (cJSON *)r; /* sample must set it */

	assert_int_equal(r->c->sample(r->st, &r->env, &tick, &p), 0);
	return p;
}

/* One tick whose payload is expected/<name>. */
__attribute__((unused)) static void run_golden(struct run *r, int64_t t_ms, uint64_t mono_ns,
					       const char *name)
{
	cJSON *p = run_tick(r, t_ms, mono_ns);

	assert_non_null(p);
	assert_json_file(p, r->machine, name);
	cJSON_Delete(p);
}

/* The families now are expected/<name> (SYSFEED_PROM_UPDATE=1 rewrites
 * it), and promtool, when installed, has nothing to say about them. */
__attribute__((unused)) static void run_metrics(struct run *r, const char *name)
{
	char path[PATH_MAX];

	metrics_reset(&r->m);
	assert_int_equal(r->c->metrics(r->st, &r->m), 0);
	snprintf(path, sizeof(path), "%s/%s/expected/%s", fixtures(), r->machine, name);
	prom_check_file(r->m.buf, path);
}

/* The two ticks a /proc file topic's goldens come from: proc/ at T1 and
 * mono_ns, proc.2/ a second later, each payload a golden (first, second);
 * then the families, expected/<prom>. */
__attribute__((unused)) static void run_goldens(struct run *r, uint64_t mono_ns, const char *first,
						const char *second, const char *prom)
{
	run_golden(r, T1, mono_ns, first);
	run_trees(r, 1);
	run_golden(r, T2, mono_ns + SEC, second);
	run_metrics(r, prom);
}

__attribute__((unused)) static void run_end(struct run *r)
{
	metrics_free(&r->m);
	r->c->fini(r->st);
	for (size_t i = 0; i < 4; i++) {
		if (r->fd[i] >= 0)
			close(r->fd[i]);
	}
}

/* c over this machine's /proc and, with sys, /sys (-1 without), started
 * as init_check(c, env, 0, NULL) starts it; or, with may_be_off, false
 * when init turns the topic off (its reason printed, nothing left open). */
__attribute__((unused)) static bool run_live(struct run *r, const struct collector *c, bool sys,
					     bool may_be_off)
{
	char reason[256] = "";

	*r = (struct run){.c = c, .fd = {-1, -1, -1, -1}};
	r->fd[0] = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(r->fd[0] >= 0);
	if (sys)
		r->fd[2] = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	r->env = (struct collector_env){.proc_fd = r->fd[0], .sys_fd = r->fd[2]};
	if (!may_be_off) {
		r->st = init_check(c, &r->env, 0, NULL);
		return true;
	}
	if (c->init(&r->env, fixture_settings(c), &r->st, reason, sizeof(reason)) == 0)
		return true;
	print_message("live host: %s is off: %s\n", c->name, reason);
	run_end(r);
	return false;
}

/* The payload of c's first tick on this machine's /proc (and, with sys,
 * /sys), started as run_live starts it: not NULL. Delete it. */
__attribute__((unused)) static cJSON *live_payload(const struct collector *c, bool sys)
{
	struct run r;
	cJSON *p;

	run_live(&r, c, sys, false);
	p = run_tick(&r, T1, 1);
	assert_non_null(p);
	run_end(&r);
	return p;
}

/* n ticks a second apart on what r reads, each payload dropped; prints
 * the CPU time of one (sample and payload). Durations are not asserted:
 * the figure is for the report. */
__attribute__((unused)) static void run_cost(struct run *r, int n)
{
	struct timespec a, b;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
	for (int i = 0; i < n; i++)
		cJSON_Delete(run_tick(r, T1, (uint64_t)(i + 1) * SEC));
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
	print_message("%s: %.1f us of CPU per tick (sample + payload)\n", r->c->name,
		      ((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n /
			  1e3);
}

/* A collector's CPU time per tick on the live host, printed for the
 * report: LIVE_COST(&disk_collector, sys, may_be_off); at file scope runs
 * live_cost over it (run_live, then run_cost of 2,000 ticks); skipped
 * when the topic is off here and may be. */
struct live_cost {
	const struct collector *c;
	bool sys, may_be_off;
};

__attribute__((unused)) static void live_cost(void **state)
{
	const struct live_cost *lc = *state;
	struct run r;

	if (!run_live(&r, lc->c, lc->sys, lc->may_be_off))
		skip();
	run_cost(&r, 2000);
	run_end(&r);
}

#define LIVE_COST(c, sys, may_be_off)                                                              \
	static const struct live_cost UNIT_CAT(live_cost_, __LINE__) = {(c), (sys), (may_be_off)}; \
	UNIT_ENTRY("test_cost", live_cost, NULL, NULL, &UNIT_CAT(live_cost_, __LINE__))

/* A tick of c that must fail with want and leave no payload. */
__attribute__((unused)) static void tick_fails(const struct collector *c, void *st,
					       const struct collector_env *env,
					       const struct collector_tick *tick, int want)
{
	cJSON *p = (cJSON *)env; /* sample must clear it */

	assert_int_equal(c->sample(st, env, tick, &p), want);
	assert_null(p);
}

/* A test run once per fixture machine: MACHINE_TEST(f, "vm2"); at file
 * scope after f registers it as "f(vm2)", with the machine as its state
 * (`*state`). */
#define MACHINE_TEST(f, machine) UNIT_ENTRY(#f "(" machine ")", f, NULL, NULL, machine)

/* A count of /proc/<what>/io ("self" or a pid): field is "rchar",
 * "syscr", ... */
__attribute__((unused)) static uint64_t proc_io(const char *what, const char *field)
{
	char path[64], buf[512], *p;
	size_t n, fl = strlen(field);
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/io", what);
	f = fopen(path, "r");
	assert_non_null(f);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (p = buf; (p = strstr(p, field)) && (p != buf && p[-1] != '\n');)
		p += fl;
	assert_non_null(p);
	assert_true(p[fl] == ':');
	return strtoull(p + fl + 1, NULL, 10);
}

/* A scratch tree under /tmp that a test writes and rewrites: dir is its
 * path, fd a directory fd on it (a test may point fd at a subdirectory;
 * scratch_remove closes whichever it holds). */
struct scratch {
	char dir[64];
	int fd;
};

/* Makes /tmp/sysfeed-<tag>-XXXXXX; fails the test if it cannot. */
__attribute__((unused)) static void scratch_make(struct scratch *s, const char *tag)
{
	snprintf(s->dir, sizeof(s->dir), "/tmp/sysfeed-%s-XXXXXX", tag);
	assert_non_null(mkdtemp(s->dir));
	s->fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(s->fd >= 0);
}

/* Writes rel (relative to s->fd, making its directories) with text,
 * truncating what was there: the inode stays, so held fds see the text. */
__attribute__((unused)) static void scratch_write(struct scratch *s, const char *rel,
						  const char *text)
{
	char dir[PATH_MAX];
	int f;

	for (const char *p = strchr(rel, '/'); p; p = strchr(p + 1, '/')) {
		snprintf(dir, sizeof(dir), "%.*s", (int)(p - rel), rel);
		mkdirat(s->fd, dir, 0700);
	}
	f = openat(s->fd, rel, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(f >= 0);
	assert_int_equal(write(f, text, strlen(text)), (ssize_t)strlen(text));
	close(f);
}

__attribute__((unused)) static int scratch_rm_entry(const char *path, const struct stat *st,
						    int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Removes s->dir/rel and all below it ("" for the whole tree), if it is
 * there. */
__attribute__((unused)) static void scratch_rm(struct scratch *s, const char *rel)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s/%s", s->dir, rel);
	if (nftw(path, scratch_rm_entry, 8, FTW_DEPTH | FTW_PHYS) != 0)
		assert_int_equal(errno, ENOENT);
}

__attribute__((unused)) static void scratch_remove(struct scratch *s)
{
	close(s->fd);
	scratch_rm(s, "");
}

/* A check of a parser on cut or garbled input: text of len bytes, at the
 * cut (a prefix) or the garbled byte. */
typedef void (*fixture_check_fn)(const char *text, size_t len, size_t at, void *ctx);

/* Calls check for every prefix of text (n = 0 .. len, at = n), each copied
 * into a buffer of exactly n bytes so that ASan catches a read past it. */
__attribute__((unused)) static void each_prefix(const char *text, size_t len,
						fixture_check_fn check, void *ctx)
{
	for (size_t n = 0; n <= len; n++) {
		char *copy = malloc(n ? n : 1);

		assert_non_null(copy);
		memcpy(copy, text, n);
		check(copy, n, n, ctx);
		free(copy);
	}
}

/* Calls check for every byte i of text (at = i) on a copy where that byte
 * became `with`, or `alt` where it was `with` already. */
__attribute__((unused)) static void each_garbled(const char *text, size_t len, char with, char alt,
						 fixture_check_fn check, void *ctx)
{
	for (size_t i = 0; i < len; i++) {
		char *copy = malloc(len);

		assert_non_null(copy);
		memcpy(copy, text, len);
		copy[i] = copy[i] == with ? alt : with;
		check(copy, len, i, ctx);
		free(copy);
	}
}

/* A parser of a whole file into ret: a test's adapter around the typed
 * parser of its module. Returns 0 or -errno. */
typedef int (*fixture_parse_fn)(const char *text, size_t len, void *ret);

/* Parses <fixtures>/<machine>/<rel> with parse into ret; it must succeed. */
__attribute__((unused)) static void parse_file(const char *machine, const char *rel,
					       fixture_parse_fn parse, void *ret)
{
	size_t len;
	char *text = slurp(machine, rel, &len);

	assert_int_equal(parse(text, len, ret), 0);
	free(text);
}

/* A field of a parsed struct for assert_fields: its name (for the
 * message), where it is, how wide, and whether it is a double (else an
 * unsigned integer). A table of them ends in {NULL}. */
struct want_field {
	const char *name;
	size_t off, size;
	bool is_double;
};

#define WANT_FIELD(type, field)                                                                    \
	{                                                                                          \
#field, offsetof(type, field), sizeof(((type *)0)->field),                         \
		    _Generic(((type *)0)->field, double                                            \
			     : true, default                                                       \
			     : false)                                                              \
	}

/* Every field the table names is the same in got as in want (doubles
 * compared exactly: they come from the same decimal text), so that a
 * case states a whole parse at once; what names the case. */
__attribute__((unused)) static void assert_fields(const char *what, const void *got,
						  const void *want, const struct want_field *f)
{
	for (; f->name; f++) {
		const char *g = (const char *)got + f->off, *w = (const char *)want + f->off;
		uint64_t gu = 0, wu = 0;
		uint32_t g32, w32;
		double gd = 0, wd = 0;

		assert_true(f->is_double ? f->size == sizeof(double)
					 : f->size == 4 || f->size == 8);
		if (f->is_double) {
			memcpy(&gd, g, sizeof(gd));
			memcpy(&wd, w, sizeof(wd));
		} else if (f->size == 8) {
			memcpy(&gu, g, sizeof(gu));
			memcpy(&wu, w, sizeof(wu));
		} else {
			memcpy(&g32, g, sizeof(g32));
			memcpy(&w32, w, sizeof(w32));
			gu = g32;
			wu = w32;
		}
		if (gu != wu || gd != wd)
			print_error("%s: %s is %" PRIu64 " / %.17g, want %" PRIu64 " / %.17g\n",
				    what, f->name, gu, gd, wu, wd);
		assert_true(gu == wu && gd == wd);
	}
}

/* A counter of an array for assert_counts: its index and the value it
 * must have. A table of them ends in {-1, 0}. */
struct want_count {
	int i;
	uint64_t v;
};

/* got[i] is v for each {i, v} of the table, so that the counters a case
 * checks in one array are one table; what names the array. */
__attribute__((unused)) static void assert_counts(const char *what, const uint64_t *got,
						  const struct want_count *w)
{
	for (; w->i >= 0; w++) {
		if (got[w->i] != w->v)
			print_error("%s[%d] is %" PRIu64 ", want %" PRIu64 "\n", what, w->i,
				    got[w->i], w->v);
		assert_true(got[w->i] == w->v);
	}
}

/* A collector's env on a fresh scratch tree s (scratch_make with tag)
 * as its sys root when sys, else as its proc root; the other root is -1. */
__attribute__((unused)) static void scratch_env(struct scratch *s, const char *tag, bool sys,
						struct collector_env *env)
{
	scratch_make(s, tag);
	*env = (struct collector_env){.proc_fd = sys ? -1 : s->fd, .sys_fd = sys ? s->fd : -1};
}

/* A step of a collector's init over a scratch tree: rel written with text
 * first (nothing written when rel is NULL), then init must fail with err
 * and, unless NULL, reason. A table of them ends in {NULL}. */
struct init_fail {
	const char *rel, *text;
	int err;
	const char *reason;
};

/* c's init over env, on the scratch tree s, fails at each step as the
 * step says (init_check). */
__attribute__((unused)) static void init_fails(const struct collector *c, struct scratch *s,
					       const struct collector_env *env,
					       const struct init_fail *f)
{
	for (; f->err; f++) {
		if (f->rel)
			scratch_write(s, f->rel, f->text);
		init_check(c, env, f->err, f->reason);
	}
}

/* A bad input and the error its parser must give. */
struct parse_case {
	const char *text;
	int err;
};

/* Case i of a table, text, gave r, which must be the case's err. */
__attribute__((unused)) static void assert_case(size_t i, const char *text, int r, int err)
{
	if (r != err)
		print_error("case %zu: \"%s\" gave %d\n", i, text, r);
	assert_int_equal(r, err);
}

/* An input of a parser of one number, the error it must give and, when
 * that is 0, the number. */
struct u64_case {
	const char *text;
	int err;
	uint64_t v;
};

/* Each case's text (to its strlen) through parse, as the case says. */
__attribute__((unused)) static void u64_cases(int (*parse)(const char *, size_t, uint64_t *),
					      const struct u64_case *cases, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		uint64_t v = 0;

		assert_case(i, cases[i].text, parse(cases[i].text, strlen(cases[i].text), &v),
			    cases[i].err);
		if (cases[i].err == 0)
			assert_int_equal(v, cases[i].v);
	}
}

/* Each case's text (to its strlen) parsed into ret must give the case's
 * error; then after (when not NULL) checks what ret holds. */
__attribute__((unused)) static void parse_cases(const struct parse_case *cases, size_t n,
						fixture_parse_fn parse, void *ret,
						void (*after)(const void *ret))
{
	for (size_t i = 0; i < n; i++) {
		assert_case(i, cases[i].text, parse(cases[i].text, strlen(cases[i].text), ret),
			    cases[i].err);
		if (after)
			after(ret);
	}
}

/* parse_cases for the parser of a table: after each case the table is
 * empty, its count (the size_t at count_off in ret) 0. */
__attribute__((unused)) static void parse_cases_empty(const struct parse_case *cases, size_t n,
						      fixture_parse_fn parse, void *ret,
						      size_t count_off)
{
	for (size_t i = 0; i < n; i++) {
		size_t count;

		assert_case(i, cases[i].text, parse(cases[i].text, strlen(cases[i].text), ret),
			    cases[i].err);
		memcpy(&count, (const char *)ret + count_off, sizeof(count));
		assert_int_equal(count, 0);
	}
}

/* The check of what parse gave (r) for the first n of the len bytes of a
 * file's text. */
typedef void (*fixture_cut_fn)(int r, const char *text, size_t n, size_t len);

/* The usual check: a prefix of whole lines parses, a cut line is -EINVAL. */
__attribute__((unused)) static void cut_at_lines(int r, const char *text, size_t n, size_t len)
{
	if (n == 0 || text[n - 1] == '\n')
		assert_int_equal(r, 0);
	else
		assert_int_equal(r, -EINVAL);
}

struct cuts {
	const char *text;
	size_t len;
	fixture_parse_fn parse;
	void *ret;
	fixture_cut_fn cut;
};

__attribute__((unused)) static void cuts_prefix(const char *p, size_t n, size_t at, void *ctx)
{
	struct cuts *c = ctx;

	c->cut(c->parse(p, n, c->ret), c->text, n, c->len);
}

__attribute__((unused)) static void cuts_garbled(const char *p, size_t n, size_t at, void *ctx)
{
	struct cuts *c = ctx;

	assert_true(c->parse(p, n, c->ret) <= 0);
}

/* <fixtures>/<machine>/<rel> cut and garbled: every prefix parsed into
 * ret (each_prefix) and checked by cut; then, unless garble is '\0',
 * every byte made garble ('\n' where it was garble already, each_garbled):
 * an error or a parse, never a crash. */
__attribute__((unused)) static void check_cuts(const char *machine, const char *rel,
					       fixture_parse_fn parse, void *ret,
					       fixture_cut_fn cut, char garble)
{
	struct cuts c = {.parse = parse, .ret = ret, .cut = cut};
	char *text = slurp(machine, rel, &c.len);

	c.text = text;
	each_prefix(text, c.len, cuts_prefix, &c);
	if (garble)
		each_garbled(text, c.len, garble, '\n', cuts_garbled, &c);
	free(text);
}

/* check_cuts on the same file of each of proc_machines. */
__attribute__((unused)) static void check_cuts_proc(const char *rel, fixture_parse_fn parse,
						    void *ret, fixture_cut_fn cut, char garble)
{
	for (size_t i = 0; i < 3; i++)
		check_cuts(proc_machines[i], rel, parse, ret, cut, garble);
}

/* Children of this process but those in skip (n_skip pids) as /proc lists
 * them: how many, how many are zombies (Z), how many wait uninterruptibly
 * (D); the returns may be NULL. */
__attribute__((unused)) static unsigned children_of_us(const pid_t *skip, size_t n_skip,
						       unsigned *ret_zombies, unsigned *ret_d)
{
	DIR *d = opendir("/proc");
	struct dirent *e;
	unsigned n = 0, z = 0, dz = 0;

	assert_non_null(d);
	while ((e = readdir(d))) {
		char path[300], buf[512], *p;
		int ppid, fd, pid;
		bool skipped = false;
		ssize_t len;
		char state;

		if (e->d_name[0] < '1' || e->d_name[0] > '9')
			continue;
		pid = atoi(e->d_name);
		for (size_t i = 0; i < n_skip; i++)
			skipped = skipped || pid == skip[i];
		if (skipped)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		len = read(fd, buf, sizeof(buf) - 1);
		close(fd);
		if (len <= 0)
			continue;
		buf[len] = '\0';
		/* field 2 (comm) may hold anything: 3 state and 4 ppid follow
		 * its last ')' */
		p = strrchr(buf, ')');
		if (!p || sscanf(p + 1, " %c %d", &state, &ppid) != 2 || ppid != getpid())
			continue;
		n++;
		z += state == 'Z';
		dz += state == 'D';
	}
	closedir(d);
	if (ret_zombies)
		*ret_zombies = z;
	if (ret_d)
		*ret_d = dz;
	return n;
}

/* What a collector published through a test's env (ctx = the capture,
 * publish = cap_publish, set_state = cap_set_state, set_state_json =
 * cap_set_state_json): each payload as the
 * hub sees it (printed, raw items included, then parsed back), the filter
 * level (-1: none) and key it came with, and the last state. Large:
 * calloc it; release with cap_free(). */
#define CAP_MAX 8192
struct capture {
	cJSON *events[CAP_MAX];
	int levels[CAP_MAX];
	char *keys[CAP_MAX];
	size_t n;
	cJSON *state;
};

/* Printed and parsed back, as the hub would send it; takes payload. */
__attribute__((unused)) static cJSON *reparse(cJSON *payload)
{
	char *text = cJSON_PrintUnformatted(payload);
	cJSON *back;

	assert_non_null(text);
	back = cJSON_Parse(text);
	assert_non_null(back);
	free(text);
	cJSON_Delete(payload);
	return back;
}

/* Past CAP_MAX events, the rest are dropped. */
__attribute__((unused)) static void cap_publish(const struct collector_env *env, cJSON *payload,
						const struct collector_event *ev)
{
	struct capture *cap = env->ctx;

	if (cap->n == CAP_MAX) {
		cJSON_Delete(payload);
		return;
	}
	cap->levels[cap->n] = ev ? ev->level : -1;
	cap->keys[cap->n] = ev && ev->key ? strdup(ev->key) : NULL;
	cap->events[cap->n++] = reparse(payload);
}

__attribute__((unused)) static void cap_set_state(const struct collector_env *env, cJSON *state)
{
	struct capture *cap = env->ctx;

	cJSON_Delete(cap->state);
	cap->state = reparse(state);
}

__attribute__((unused)) static void cap_set_state_json(const struct collector_env *env,
						       const char *json, size_t len)
{
	struct capture *cap = env->ctx;

	cJSON_Delete(cap->state);
	cap->state = cJSON_ParseWithLength(json, len);
	assert_non_null(cap->state);
}

__attribute__((unused)) static void cap_free(struct capture *cap)
{
	for (size_t i = 0; i < cap->n; i++) {
		cJSON_Delete(cap->events[i]);
		free(cap->keys[i]);
	}
	cJSON_Delete(cap->state);
	free(cap);
}

/* Sets a key of cfg as the config file would; the test fails unless the
 * value is accepted. */
__attribute__((unused)) static void set_key(struct config *cfg, const char *key, const char *value)
{
	char err[256];

	assert_int_equal(config_set(cfg, key, value, err, sizeof(err)), 0);
}

#endif
