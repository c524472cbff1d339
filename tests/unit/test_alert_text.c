/* Unit tests of daemon/alert_text.c against the real journald: the unit's
 * last journal lines come from journal-dir when it is set (a copy of the
 * system journal's files taken between two entries holds the first only),
 * from the system journal otherwise. Skipped when no journald answers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "alert_text.h"
#include "clock.h"
#include "unit.h"

/* Whether an entry of identifier id with message msg can be read from the
 * system journal, waiting up to 10 s for journald to write it. */
static bool wait_entry(const char *id, const char *msg)
{
	uint64_t deadline = clock_mono_ms() + 10000;
	char match[128];

	snprintf(match, sizeof(match), "SYSLOG_IDENTIFIER=%s", id);
	while (clock_mono_ms() < deadline) {
		sd_journal *j;
		const void *data;
		size_t len;
		bool found = false;

		if (sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY) < 0)
			return false;
		sd_journal_add_match(j, match, 0);
		sd_journal_seek_tail(j);
		while (!found && sd_journal_previous(j) > 0)
			found = sd_journal_get_data(j, "MESSAGE", &data, &len) >= 0 &&
				len == 8 + strlen(msg) &&
				memcmp((const char *)data + 8, msg, len - 8) == 0;
		sd_journal_close(j);
		if (found)
			return true;
		nanosleep(&(struct timespec){0, 50000000}, NULL);
	}
	return false;
}

static void copy_file(const char *from, const char *to)
{
	int in = open(from, O_RDONLY | O_CLOEXEC), out;
	char buf[65536];
	ssize_t n;

	assert_true(in >= 0);
	out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(out >= 0);
	while ((n = read(in, buf, sizeof(buf))) > 0)
		assert_int_equal(write(out, buf, (size_t)n), n);
	close(in);
	close(out);
}

/* Copies the *.journal files of the system journal's directories. */
static size_t copy_journal(const char *dst)
{
	static const char *const roots[] = {"/run/log/journal", "/var/log/journal"};
	size_t n = 0;

	for (size_t r = 0; r < 2; r++) {
		DIR *top = opendir(roots[r]);
		struct dirent *m, *f;

		while (top && (m = readdir(top))) {
			char sub[PATH_MAX];
			DIR *d;

			if (m->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", roots[r], m->d_name);
			if (!(d = opendir(sub)))
				continue;
			while ((f = readdir(d))) {
				char from[PATH_MAX * 2], to[PATH_MAX * 2];
				size_t len = strlen(f->d_name);

				if (len < 8 || strcmp(f->d_name + len - 8, ".journal") != 0)
					continue;
				snprintf(from, sizeof(from), "%s/%s", sub, f->d_name);
				snprintf(to, sizeof(to), "%s/%zu-%s", dst, n, f->d_name);
				copy_file(from, to);
				n++;
			}
			closedir(d);
		}
		if (top)
			closedir(top);
	}
	return n;
}

/* context.journal of an alert of unit id, read from dir (or the system). */
static cJSON *lines_of(const char *id, const char *dir)
{
	cJSON *a = cJSON_CreateObject();
	cJSON *lines;

	cJSON_AddStringToObject(a, "unit", id);
	cJSON_AddItemToObject(a, "context", cJSON_CreateObject());
	alert_text_add_journal(a, dir);
	lines = cJSON_DetachItemFromObject(cJSON_GetObjectItem(a, "context"), "journal");
	cJSON_Delete(a);
	assert_non_null(lines);
	return lines;
}

static bool has_line(const cJSON *lines, const char *text)
{
	const cJSON *l;

	cJSON_ArrayForEach(l, lines)
	{
		if (cJSON_IsString(l) && strcmp(l->valuestring, text) == 0)
			return true;
	}
	return false;
}

TEST(test_journal_dir_honoured)
{
	char dir[] = "/tmp/sysfeed-alert-text-XXXXXX", id[64], first[96], second[96];
	cJSON *lines;

	snprintf(id, sizeof(id), "alerttext%d", (int)getpid());
	snprintf(first, sizeof(first), "first line of %s", id);
	snprintf(second, sizeof(second), "second line of %s", id);
	if (sd_journal_send("MESSAGE=%s", first, "SYSLOG_IDENTIFIER=%s", id, NULL) < 0 ||
	    !wait_entry(id, first))
		skip(); /* no journald here */
	assert_non_null(mkdtemp(dir));
	if (copy_journal(dir) == 0)
		skip(); /* the journal's files are not readable here */
	assert_int_equal(sd_journal_send("MESSAGE=%s", second, "SYSLOG_IDENTIFIER=%s", id, NULL),
			 0);
	assert_true(wait_entry(id, second));

	lines = lines_of(id, dir);
	assert_true(has_line(lines, first));
	assert_false(has_line(lines, second));
	cJSON_Delete(lines);
	lines = lines_of(id, NULL);
	assert_true(has_line(lines, first));
	assert_true(has_line(lines, second));
	cJSON_Delete(lines);

	{
		DIR *d = opendir(dir);
		struct dirent *f;

		while (d && (f = readdir(d))) {
			char p[PATH_MAX + 300];

			snprintf(p, sizeof(p), "%s/%s", dir, f->d_name);
			if (f->d_name[0] != '.')
				unlink(p);
		}
		if (d)
			closedir(d);
		rmdir(dir);
	}
}
