/* Helpers shared by the unit tests that read fixture trees: the fixtures
 * root (SYSFEED_FIXTURES, default tests/fixtures), opening and reading files
 * under it, comparisons with golden files in <machine>/expected/, number
 * lookups in cJSON payloads, setting config keys, counting our children,
 * and capturing what an event-driven collector publishes. Include after
 * cmocka.h. Every function is marked
 * unused so that files using only some of them still build with -Werror. */
#ifndef SYSFEED_TEST_FIXTURE_H
#define SYSFEED_TEST_FIXTURE_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "collector.h"
#include "config.h"
#include "json.h"
#include "procfs.h"

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

/* A check of a parser on cut or garbled input: text of len bytes, at the
 * cut (a prefix) or the garbled byte. */
typedef void (*fixture_check_fn)(const char *text, size_t len, size_t at, void *ctx);

/* Calls check for every prefix of text (n = 0 .. len, at = n), each copied
 * into a buffer of exactly n bytes so that ASan catches a read past it. */
__attribute__((unused)) static void each_prefix(const char *text, size_t len, fixture_check_fn check,
						void *ctx)
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
 * publish = cap_publish, set_state = cap_set_state): each payload as the
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
