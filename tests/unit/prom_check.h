/* Helpers shared by the collectors' metrics tests: exact comparison with a
 * golden .prom file, and `promtool check metrics` (Debian's prometheus
 * package) when installed. Include after cmocka.h. */
#ifndef SYSFEED_TEST_PROM_CHECK_H
#define SYSFEED_TEST_PROM_CHECK_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Any promtool output fails the test. Returns false when promtool is not
 * installed (the integration test lints then). */
__attribute__((unused)) static bool prom_check_promtool(const char *text)
{
	char path[] = "/tmp/sysfeed-prom-XXXXXX", cmd[128], line[512];
	bool clean = true;
	FILE *out;
	int fd, status;

	if (system("command -v promtool >/dev/null 2>&1") != 0)
		return false;
	fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	snprintf(cmd, sizeof(cmd), "promtool check metrics < %s 2>&1", path);
	out = popen(cmd, "r");
	assert_non_null(out);
	while (fgets(line, sizeof(line), out)) {
		print_error("promtool: %s", line);
		clean = false;
	}
	status = pclose(out);
	unlink(path);
	assert_true(clean);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	return true;
}

/* text equals want (both printed when not), and promtool has nothing to
 * say about it. */
__attribute__((unused)) static void prom_check_text(const char *text, const char *want)
{
	assert_non_null(text);
	if (strcmp(text, want) != 0)
		print_error("expected:\n%s\nactual:\n%s\n", want, text);
	assert_string_equal(text, want);
	prom_check_promtool(text);
}

/* text equals the file at path (SYSFEED_PROM_UPDATE=1 rewrites the file
 * instead), and promtool has nothing to say about it. */
__attribute__((unused)) static void prom_check_file(const char *text, const char *path)
{
	FILE *f;
	char *want = NULL;
	size_t cap = 0, len = 0;
	ssize_t n;

	if (getenv("SYSFEED_PROM_UPDATE")) {
		f = fopen(path, "w");
		assert_non_null(f);
		fputs(text, f);
		fclose(f);
	}
	f = fopen(path, "r");
	if (!f)
		fail_msg("cannot open %s", path);
	want = malloc(1);
	assert_non_null(want);
	want[0] = '\0';
	for (;;) {
		char chunk[4096];

		n = (ssize_t)fread(chunk, 1, sizeof(chunk), f);
		if (n <= 0)
			break;
		if (len + (size_t)n + 1 > cap) {
			cap = (len + (size_t)n + 1) * 2;
			want = realloc(want, cap);
			assert_non_null(want);
		}
		memcpy(want + len, chunk, (size_t)n);
		len += (size_t)n;
		want[len] = '\0';
	}
	fclose(f);
	if (strcmp(want, text) != 0)
		print_error("%s\nexpected:\n%s\nactual:\n%s\n", path, want, text);
	assert_string_equal(text, want);
	free(want);
	if (!prom_check_promtool(text))
		print_message("promtool not installed: %s not linted\n", path);
}

#endif
