/* Helpers shared by the unit tests that read fixture trees: the fixtures
 * root (SYSFEED_FIXTURES, default tests/fixtures), opening and reading files
 * under it, comparisons with golden files in <machine>/expected/, number
 * lookups in cJSON payloads, setting config keys, counting our children,
 * scratch trees under /tmp, running a collector over a fixture machine
 * with its golden payloads and metrics, and capturing what an
 * event-driven collector publishes. Include after
 * cmocka.h. Every function is marked
 * unused so that files using only some of them still build with -Werror. */
#ifndef SYSFEED_TEST_FIXTURE_H
#define SYSFEED_TEST_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "collector.h"
#include "config.h"
#include "json.h"
#include "metrics.h"
#include "procfs.h"
#include "prom_check.h"

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

__attribute__((unused)) static void run_end(struct run *r)
{
	metrics_free(&r->m);
	r->c->fini(r->st);
	for (size_t i = 0; i < 4; i++) {
		if (r->fd[i] >= 0)
			close(r->fd[i]);
	}
}

/* A test run once per fixture machine: the table entry names both, and the
 * test gets the machine as its state (`*state`). */
#define MACHINE_TEST(f, machine)                                                                   \
	{                                                                                          \
#f "(" machine ")", f, NULL, NULL, (void *)(machine)                               \
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
