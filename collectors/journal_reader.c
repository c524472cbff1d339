/* The `log` topic's reader: sd-journal opened, followed through its active
 * files, reopened after rotations, read forward and, at start, backwards. */
#include "journal_reader.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/mman.h>
#include <unistd.h>

#include "journal.h"
#include "json.h"

/* The start scans back at most this many entries per backlog line, and at
 * least JOURNAL_SCAN_MIN. */
#define JOURNAL_SCAN_FACTOR 50
#define JOURNAL_SCAN_MIN    10000
#define JOURNAL_DATA_MAX    65536 /* sd-journal's default data threshold */
#define JOURNAL_RUNTIME_DIR "/run/log/journal"
#define JOURNAL_PERSIST_DIR "/var/log/journal"

static int journal_reader_epoll_add(struct journal_reader *rd, int fd, uint32_t events,
				    uint32_t tag)
{
	struct epoll_event ev = {.events = events, .data.u32 = tag};

	return epoll_ctl(rd->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

/* Reads the current entry into rd->raw (the cursor only when asked). */
static int journal_read_raw(struct journal_reader *rd)
{
	const void *data;
	size_t len;
	int r;

	journal_raw_reset(&rd->raw);
	r = sd_journal_get_realtime_usec(rd->j, &rd->raw.realtime_us);
	if (r < 0)
		return r;
	sd_journal_restart_data(rd->j);
	while ((r = sd_journal_enumerate_data(rd->j, &data, &len)) > 0) {
		if ((r = journal_raw_add(&rd->raw, data, len)) < 0)
			return r;
	}
	return 0; /* a corrupt item ends the entry early: keep what was read */
}

static int journal_read_cursor(struct journal_reader *rd)
{
	char *c = NULL;
	int r = sd_journal_get_cursor(rd->j, &c);

	if (r < 0)
		return r;
	journal_raw_set_cursor(&rd->raw, c);
	free(c);
	return 0;
}

char *journal_reader_encode(struct journal_reader *rd)
{
	cJSON *e;
	char *json;

	if (journal_read_cursor(rd) < 0)
		rd->raw.cursor[0] = '\0';
	if (!(e = journal_entry_json(&rd->raw, rd->set->max_bytes)))
		return NULL;
	json = json_print(e, NULL); /* cJSON_PrintUnformatted's bytes, at a fraction of its cost */
	cJSON_Delete(e);
	return json;
}

static int journal_open(struct journal_reader *rd, const struct journal_settings *set, char *reason,
			size_t reason_len)
{
	int r;

	if (set->dir) {
		r = sd_journal_open_directory(&rd->j, set->dir, 0);
		if (r < 0)
			snprintf(reason, reason_len, "journal-dir %s: %s", set->dir, strerror(-r));
		return r;
	}
	if (access(JOURNAL_RUNTIME_DIR, F_OK) < 0 && access(JOURNAL_PERSIST_DIR, F_OK) < 0) {
		snprintf(reason, reason_len,
			 "no journal on this host: neither " JOURNAL_RUNTIME_DIR
			 " nor " JOURNAL_PERSIST_DIR " exists");
		return -ENOENT;
	}
	r = sd_journal_open(&rd->j, SD_JOURNAL_LOCAL_ONLY);
	if (r < 0)
		snprintf(reason, reason_len, "cannot open the journal: %s", strerror(-r));
	return r;
}

/* The journal directories: the configured one, or the system's. */
static size_t journal_roots(const struct journal_reader *rd, const char **roots)
{
	if (rd->set->dir) {
		roots[0] = rd->set->dir;
		return 1;
	}
	roots[0] = JOURNAL_RUNTIME_DIR;
	roots[1] = JOURNAL_PERSIST_DIR;
	return 2;
}

/* Active files take new entries: "system.journal", "user-1000.journal";
 * archived ones carry an '@'. */
static bool journal_active_name(const char *name)
{
	size_t n = strlen(name);

	return n > 8 && strcmp(name + n - 8, ".journal") == 0 && !strchr(name, '@') &&
	       name[0] != '.';
}

/* Adds dir's active files to the NULL-terminated list; with `sub`, looks
 * one level down too (machine-id directories, not namespaces "<id>.ns"),
 * and watches what it looks at. */
static int journal_scan_dir(struct journal_reader *rd, const char *dir, bool sub, char ***list,
			    size_t *n)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (rd->dirs_fd >= 0)
		inotify_add_watch(rd->dirs_fd, dir,
				  IN_CREATE | IN_MOVED_TO | IN_ONLYDIR | IN_DONT_FOLLOW);
	if (!(d = opendir(dir)))
		return 0;
	while ((de = readdir(d)) && r == 0) {
		if (de->d_name[0] == '.' ||
		    snprintf(path, sizeof(path), "%s/%s", dir, de->d_name) >= (int)sizeof(path))
			continue;
		if (journal_active_name(de->d_name)) {
			char **l = realloc(*list, (*n + 2) * sizeof(*l));

			if (!l || !(l[*n] = strdup(path))) {
				if (l)
					*list = l;
				r = -ENOMEM;
				break;
			}
			*list = l;
			l[++*n] = NULL;
		} else if (sub && de->d_type == DT_DIR && !strchr(de->d_name, '.')) {
			r = journal_scan_dir(rd, path, false, list, n);
		}
	}
	closedir(d);
	return r;
}

static void journal_free_list(char **list)
{
	for (size_t i = 0; list && list[i]; i++)
		free(list[i]);
	free(list);
}

bool journal_reader_dirs_changed(struct journal_reader *rd)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	ssize_t len;

	while ((len = read(rd->dirs_fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)(void *)p;

			if (ev->mask & IN_Q_OVERFLOW ||
			    (ev->len && (journal_active_name(ev->name) || (ev->mask & IN_ISDIR))))
				changed = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return changed;
}

/* The follower: only the active files, so that the archived ones (dozens
 * on a long-lived host, each costing mapped pages) stay closed. */
static int journal_open_follow(struct journal_reader *rd)
{
	const char *roots[2];
	char **list = NULL;
	size_t n = 0, nroots = journal_roots(rd, roots);
	int r = 0;

	if (!(list = calloc(1, sizeof(*list))))
		return -ENOMEM;
	for (size_t i = 0; i < nroots && r == 0; i++)
		r = journal_scan_dir(rd, roots[i], true, &list, &n);
	if (r == 0)
		r = sd_journal_open_files(&rd->j, (const char **)list, 0);
	journal_free_list(list);
	return r;
}

int journal_reader_reopen(struct journal_reader *rd, bool all)
{
	sd_journal *old = rd->j;
	char reason[256];
	int r, fd, events;

	rd->j = NULL;
	r = all ? journal_open(rd, rd->set, reason, sizeof(reason)) : journal_open_follow(rd);
	if (r < 0)
		goto fail;
	sd_journal_set_data_threshold(rd->j, JOURNAL_DATA_MAX);
	fd = sd_journal_get_fd(rd->j);
	events = sd_journal_get_events(rd->j);
	if (fd < 0 || events < 0) {
		r = fd < 0 ? fd : events;
		goto fail;
	}
	/* nothing read yet: what the active files hold is new; else the
	 * first next() lands on the cursor's entry (skipped, see
	 * journal_reader_next) or, when it is not in these files, on the first
	 * entry after it */
	r = rd->cursor ? sd_journal_seek_cursor(rd->j, rd->cursor) : sd_journal_seek_head(rd->j);
	rd->skip_cursor = rd->cursor != NULL;
	if (r < 0 || (r = journal_reader_epoll_add(rd, fd, (uint32_t)events, rd->tag)) < 0)
		goto fail;
	if (old)
		epoll_ctl(rd->epfd, EPOLL_CTL_DEL, rd->jfd, NULL);
	sd_journal_close(old);
	rd->jfd = fd;
	rd->read_since_open = 0;
	rd->following = !all;
	rd->touched = JOURNAL_RELEASE_ENTRIES;
	return 0;
fail:
	sd_journal_close(rd->j);
	rd->j = old;
	return r;
}

int journal_reader_open(struct journal_reader *rd, const struct journal_settings *set, char *reason,
			size_t reason_len)
{
	int r;

	*rd = (struct journal_reader){.jfd = -1, .epfd = -1, .dirs_fd = -1, .set = set};
	journal_raw_reset(&rd->raw);
	r = journal_open(rd, set, reason, reason_len);
	if (r < 0)
		return r;
	sd_journal_set_data_threshold(rd->j, JOURNAL_DATA_MAX);
	rd->jfd = sd_journal_get_fd(rd->j);
	rd->events = sd_journal_get_events(rd->j);
	if (rd->jfd < 0 || rd->events < 0) {
		r = rd->jfd < 0 ? rd->jfd : rd->events;
		snprintf(reason, reason_len, "cannot follow the journal: %s", strerror(-r));
	}
	return r < 0 ? r : 0;
}

int journal_reader_watch(struct journal_reader *rd, int epfd, uint32_t tag, uint32_t dirs_tag)
{
	int r;

	rd->epfd = epfd;
	rd->tag = tag;
	rd->dirs_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (rd->dirs_fd < 0)
		return -errno;
	r = journal_reader_epoll_add(rd, rd->dirs_fd, EPOLLIN, dirs_tag);
	if (r == 0)
		r = journal_reader_epoll_add(rd, rd->jfd, (uint32_t)rd->events, tag);
	return r;
}

void journal_reader_close(struct journal_reader *rd)
{
	sd_journal_close(rd->j);
	rd->j = NULL;
	if (rd->dirs_fd >= 0)
		close(rd->dirs_fd);
	rd->dirs_fd = -1;
	free(rd->cursor);
	rd->cursor = NULL;
	procfs_buf_free(&rd->maps);
	journal_raw_free(&rd->raw);
}

/* Scans back a bounded number of entries: a filter that matches little
 * must not make the start read the whole journal. */
int journal_reader_tail(struct journal_reader *rd, unsigned cap, char ***ret_found, unsigned *ret_n)
{
	unsigned limit = cap * JOURNAL_SCAN_FACTOR, n = 0;
	char *newest = NULL, **found = NULL;
	size_t bytes = 0;
	int r;

	*ret_found = NULL;
	*ret_n = 0;
	if (limit < JOURNAL_SCAN_MIN)
		limit = JOURNAL_SCAN_MIN;
	r = sd_journal_seek_tail(rd->j);
	if (r < 0)
		goto out;
	if (cap && !(found = calloc(cap, sizeof(*found)))) {
		r = -ENOMEM;
		goto out;
	}
	for (unsigned i = 0; i < limit; i++) {
		r = sd_journal_previous(rd->j);
		if (r < 0)
			goto out;
		if (r == 0)
			break;
		if (i == 0 && (r = sd_journal_get_cursor(rd->j, &newest)) < 0)
			goto out;
		if (n == cap || bytes > rd->set->backlog_bytes)
			break;
		if (journal_read_raw(rd) < 0 || !journal_raw_pass(&rd->raw, rd->set))
			continue;
		if (!(found[n] = journal_reader_encode(rd))) {
			r = -ENOMEM;
			goto out;
		}
		bytes += strlen(found[n++]);
	}
	/* following starts after the newest entry seen (journal_reader_reopen) */
	free(rd->cursor);
	rd->cursor = newest;
	newest = NULL;
	*ret_found = found;
	*ret_n = n;
	found = NULL;
	n = 0;
	r = 0;
out:
	while (n)
		free(found[--n]);
	free(found);
	free(newest);
	return r;
}

int journal_reader_next(struct journal_reader *rd, bool *ret_pass)
{
	int r = sd_journal_next(rd->j);

	*ret_pass = false;
	if (r <= 0)
		return r;
	rd->moved = true;
	rd->touched++;
	rd->read_since_open++;
	if (rd->skip_cursor) {
		char *c = NULL;
		bool seen = sd_journal_get_cursor(rd->j, &c) >= 0 &&
			    journal_cursor_not_after(c, rd->cursor);

		free(c);
		if (seen)
			return 1;
		rd->skip_cursor = false;
	}
	*ret_pass = journal_read_raw(rd) == 0 && journal_raw_pass(&rd->raw, rd->set);
	return 1;
}

/* The old handle may not tell where it was once journald archived its
 * file, so the cursor is taken while it still can. */
void journal_reader_keep_cursor(struct journal_reader *rd)
{
	char *c = NULL;

	if (rd->moved && sd_journal_get_cursor(rd->j, &c) >= 0) {
		free(rd->cursor);
		rd->cursor = c;
	}
	rd->moved = false;
}

/* Whether a line of /proc/self/maps is a journal file mapped shared and
 * read-only, as sd-journal maps them; its range in *ret_a, *ret_b. */
static bool journal_mapping(const char *line, uintptr_t *ret_a, uintptr_t *ret_b)
{
	unsigned long a, b;
	char perms[5];
	int path = 0;
	size_t n;

	if (sscanf(line, "%lx-%lx %4s %*s %*s %*s %n", &a, &b, perms, &path) != 3 || !path ||
	    strcmp(perms, "r--s") != 0)
		return false;
	n = strcspn(line + path, "\n");
	if (!((n > 8 && memcmp(line + path + n - 8, ".journal", 8) == 0) ||
	      (n > 9 && memcmp(line + path + n - 9, ".journal~", 9) == 0)))
		return false;
	*ret_a = a;
	*ret_b = b;
	return true;
}

void journal_reader_release(struct journal_reader *rd)
{
	const char *p, *end, *line;
	size_t len;
	uintptr_t a, b;

	if (!rd->touched ||
	    (rd->touched < JOURNAL_RELEASE_ENTRIES && ++rd->release_ticks < JOURNAL_RELEASE_TICKS))
		return;
	rd->touched = 0;
	rd->release_ticks = 0;
	if (procfs_read(AT_FDCWD, "/proc/self/maps", &rd->maps, 64u << 20) < 0)
		return;
	p = rd->maps.data;
	end = p + rd->maps.len;
	/* only the lines naming a journal file are parsed */
	while (procfs_next_line(&p, end, &line, &len) > 0)
		if (memmem(line, len, ".journal", 8) && journal_mapping(line, &a, &b))
			madvise((void *)a, b - a, MADV_DONTNEED);
}

void journal_reader_process(struct journal_reader *rd)
{
	sd_journal_process(rd->j);
}

uint64_t journal_reader_timeout(struct journal_reader *rd)
{
	uint64_t usec = (uint64_t)-1;

	if (sd_journal_get_timeout(rd->j, &usec) < 0 || usec == (uint64_t)-1)
		return 0;
	return usec == 0 ? 1 : usec;
}
