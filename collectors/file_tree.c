/* The `file` topic's inotify watch tree: watched directories by wd, what
 * could not be watched and why. */
#include "file_tree.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"

#define FILE_DIR_MASK                                                                              \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |             \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)

int file_join(char *out, size_t size, const char *dir, const char *name)
{
	int n;

	if (strcmp(dir, "/") == 0)
		n = snprintf(out, size, "/%s", name);
	else
		n = snprintf(out, size, "%s/%s", dir, name);
	return n < 0 || (size_t)n >= size ? -ENAMETOOLONG : 0;
}

bool file_under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	if (strcmp(dir, "/") == 0)
		return path[0] == '/';
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

static size_t file_watch_pos(const struct file_tree *t, int wd)
{
	size_t lo = 0, hi = t->n_watches;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (t->watches[mid]->wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct file_watch *file_tree_find(const struct file_tree *t, int wd)
{
	size_t i = file_watch_pos(t, wd);

	return i < t->n_watches && t->watches[i]->wd == wd ? t->watches[i] : NULL;
}

static void file_watch_free(struct file_watch *w)
{
	if (!w)
		return;
	for (size_t i = 0; i < w->n_names; i++)
		free(w->names[i]);
	free(w->names);
	free(w->path);
	free(w);
}

/* The record of wd, created when new; its path follows the newest name. */
static struct file_watch *file_watch_get(struct file_tree *t, int wd, const char *path)
{
	size_t i = file_watch_pos(t, wd);
	struct file_watch *w;
	char *p;

	if (i < t->n_watches && t->watches[i]->wd == wd) {
		w = t->watches[i];
		if (strcmp(w->path, path) != 0 && (p = strdup(path))) {
			free(w->path);
			w->path = p;
		}
		return w;
	}
	if (ARRAY_GROW(t->watches, t->cap_watches, t->n_watches, 64) < 0)
		return NULL;
	if (!(w = calloc(1, sizeof(*w))) || !(w->path = strdup(path))) {
		free(w);
		return NULL;
	}
	w->wd = wd;
	memmove(&t->watches[i + 1], &t->watches[i], (t->n_watches - i) * sizeof(*t->watches));
	t->watches[i] = w;
	t->n_watches++;
	t->dirty = true;
	return w;
}

void file_tree_drop(struct file_tree *t, int wd)
{
	size_t i = file_watch_pos(t, wd);

	if (i >= t->n_watches || t->watches[i]->wd != wd)
		return;
	file_watch_free(t->watches[i]);
	memmove(&t->watches[i], &t->watches[i + 1], (t->n_watches - i - 1) * sizeof(*t->watches));
	t->n_watches--;
	t->dirty = true;
}

/* Stops watching every directory under dir (moved out of sight). */
void file_tree_unwatch(struct file_tree *t, const char *dir)
{
	for (size_t i = t->n_watches; i-- > 0;) {
		struct file_watch *w = t->watches[i];

		if (w->all && file_under(w->path, dir)) {
			inotify_rm_watch(t->ifd, w->wd);
			file_tree_drop(t, w->wd);
		}
	}
}

/* A directory of the tree moved from `from` to `to`: its watches follow. */
void file_tree_rename(struct file_tree *t, const char *from, const char *to)
{
	size_t n = strlen(from);

	for (size_t i = 0; i < t->n_watches; i++) {
		struct file_watch *w = t->watches[i];
		char *p;

		if (!w->all || !file_under(w->path, from))
			continue;
		if (asprintf(&p, "%s%s", to, w->path + n) < 0)
			continue;
		free(w->path);
		w->path = p;
	}
}

/* ---- what is watched ---------------------------------------------------- */

/* Whether a `!pattern` of the watch list excludes path. */
bool file_tree_excluded(const struct file_tree *t, const char *path)
{
	const struct list *l = t->watch;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i][0] == '!' && fnmatch(l->v[i] + 1, path, 0) == 0)
			return true;
	return false;
}

/* Lists path as not watched (see struct file_unwatched). Besides the
 * watch limit (its own event), what is newly listed is counted for one
 * `unwatched` event at the end of the dispatch; repeats are not. */
static void file_note(struct file_tree *t, const char *path, int err, bool below)
{
	struct file_unwatched *u;

	t->dirty = true;
	if (err == ENOSPC) {
		if (!t->limit_failed++) {
			free(t->limit_path);
			t->limit_path = strdup(path);
		}
		t->limit_hit = true;
	}
	for (size_t i = 0; i < t->n_unwatched; i++)
		if (strcmp(t->unwatched[i].path, path) == 0) {
			t->unwatched[i].err = err;
			t->unwatched[i].below = below;
			return;
		}
	if (t->n_unwatched == FILE_UNWATCHED ||
	    strlen(path) > FILE_UNWATCHED_BYTES - t->unwatched_bytes) {
		t->unwatched_more++;
		return;
	}
	u = &t->unwatched[t->n_unwatched];
	if (!(u->path = strdup(path))) {
		t->unwatched_more++;
		return;
	}
	u->err = err;
	u->below = below;
	t->n_unwatched++;
	t->unwatched_bytes += strlen(path);
	if (err != ENOSPC && !t->unw_new++) {
		free(t->unw_first.path);
		t->unw_first = *u;
		t->unw_first.path = strdup(path);
	}
}

void file_tree_note_unwatched(struct file_tree *t, const char *path, int err)
{
	file_note(t, path, err, false);
}

/* Names under dir that do not fit in PATH_MAX: dir is watched, but what
 * changes there cannot be named. */
void file_tree_note_too_deep(struct file_tree *t, const char *dir)
{
	file_note(t, dir, ENAMETOOLONG, true);
}

/* Why a path is listed as not watched, in words. */
const char *file_tree_unwatched_reason(const struct file_unwatched *u)
{
	if (u->below)
		return "paths below it are longer than PATH_MAX (4096 bytes)";
	return u->err == ENOSPC ? "watch limit reached" : strerror(u->err);
}

/* Forgets what the last reports counted. */
void file_tree_reset_reports(struct file_tree *t)
{
	t->limit_hit = false;
	t->limit_failed = 0;
	t->unw_new = 0;
}

/* A directory that vanished (or became something else) before it was
 * watched or read: not a failure, its parent reports the change. */
static bool file_gone(int err)
{
	return err == ENOENT || err == ENOTDIR;
}

static void file_forget_unwatched(struct file_tree *t, const char *path)
{
	for (size_t i = 0; i < t->n_unwatched; i++)
		if (strcmp(t->unwatched[i].path, path) == 0) {
			t->unwatched_bytes -= strlen(path);
			free(t->unwatched[i].path);
			t->unwatched[i] = t->unwatched[--t->n_unwatched];
			t->dirty = true;
			return;
		}
}

/* Watches dir and every directory below it. With `created`, what is found
 * below dir is reported as created: it appeared before its directory was
 * watched. */
int file_tree_watch_dir(struct file_tree *t, const char *dir, bool created, bool root)
{
	char **stack = NULL, path[PATH_MAX];
	size_t n = 0, cap = 0;
	int r = 0;

	if (ARRAY_GROW(stack, cap, n, 16) < 0 || !(stack[0] = strdup(dir))) {
		free(stack);
		return -ENOMEM;
	}
	n = 1;
	while (n) {
		char *d = stack[--n];
		struct file_watch *w;
		struct dirent *de;
		DIR *dh;
		int wd, fd;

		wd = inotify_add_watch(t->ifd, d, FILE_DIR_MASK);
		if (wd < 0) {
			if (!file_gone(errno) || (root && strcmp(d, dir) == 0))
				file_tree_note_unwatched(t, d, errno);
			free(d);
			continue;
		}
		file_forget_unwatched(t, d);
		if (!(w = file_watch_get(t, wd, d))) {
			free(d);
			r = -ENOMEM;
			break;
		}
		w->all = true;
		if (root && strcmp(d, dir) == 0)
			w->root = true;
		fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || !(dh = fdopendir(fd))) {
			int err = errno;

			if (fd >= 0)
				close(fd);
			if (!file_gone(err))
				file_tree_note_unwatched(t, d, err);
			free(d);
			continue;
		}
		while ((de = readdir(dh))) {
			bool is_dir = de->d_type == DT_DIR;
			struct stat st;

			if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
				continue;
			if (de->d_type == DT_UNKNOWN &&
			    fstatat(dirfd(dh), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
				is_dir = S_ISDIR(st.st_mode);
			if (file_join(path, sizeof(path), d, de->d_name) < 0) {
				/* a directory not watched, or a creation not seen */
				if (is_dir || created)
					file_tree_note_too_deep(t, d);
				continue;
			}
			if (file_tree_excluded(t, path))
				continue;
			if (created)
				t->created(t->ctx, path, is_dir);
			if (!is_dir)
				continue;
			if (ARRAY_GROW(stack, cap, n, 16) < 0) {
				r = -ENOMEM;
				break;
			}
			if (!(stack[n] = strdup(path))) {
				r = -ENOMEM;
				break;
			}
			n++;
		}
		closedir(dh);
		free(d);
		if (r < 0)
			break;
	}
	while (n)
		free(stack[--n]);
	free(stack);
	return r;
}

/* A file listed in `watch`: its directory is watched for that name, so that
 * a file replaced by rename (as editors save) stays watched. */
static int file_watch_file(struct file_tree *t, const char *path)
{
	char dir[PATH_MAX], *slash, **names, *name;
	struct file_watch *w;
	int wd;

	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (!slash || !slash[1])
		return -EINVAL;
	name = (char *)path + (slash - dir) + 1;
	if (slash == dir)
		slash[1] = '\0'; /* a file in / */
	else
		*slash = '\0';
	wd = inotify_add_watch(t->ifd, dir, FILE_DIR_MASK);
	if (wd < 0) {
		file_tree_note_unwatched(t, path, errno);
		return 0;
	}
	if (!(w = file_watch_get(t, wd, dir)))
		return -ENOMEM;
	for (size_t i = 0; i < w->n_names; i++)
		if (strcmp(w->names[i], name) == 0)
			return 0;
	if (!(names = realloc(w->names, (w->n_names + 1) * sizeof(*names))))
		return -ENOMEM;
	w->names = names;
	if (!(w->names[w->n_names] = strdup(name)))
		return -ENOMEM;
	w->n_names++;
	return 0;
}

/* Every path of the `watch` list. Returns how many roots could be
 * watched, or -ENOMEM. */
int file_tree_watch_roots(struct file_tree *t, bool created)
{
	const struct list *l = t->watch;
	int ok = 0, r;

	t->limit_hit = false;
	t->limit_failed = 0;
	for (size_t i = 0; i < l->n; i++) {
		const char *p = l->v[i];
		struct stat st;

		if (p[0] == '!')
			continue;
		if (p[0] != '/' || stat(p, &st) < 0) {
			file_tree_note_unwatched(t, p, p[0] != '/' ? EINVAL : errno);
			continue;
		}
		if (S_ISDIR(st.st_mode))
			r = file_tree_watch_dir(t, p, created, true);
		else
			r = file_watch_file(t, p);
		if (r == -ENOMEM)
			return r;
		ok += r == 0;
	}
	return ok;
}

int file_tree_init(struct file_tree *t, const struct list *watch,
		   void (*created)(void *ctx, const char *path, bool dir), void *ctx)
{
	*t = (struct file_tree){.watch = watch, .created = created, .ctx = ctx};
	t->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return t->ifd < 0 ? -errno : 0;
}

void file_tree_done(struct file_tree *t)
{
	for (size_t i = 0; i < t->n_watches; i++)
		file_watch_free(t->watches[i]);
	free(t->watches);
	for (size_t i = 0; i < t->n_unwatched; i++)
		free(t->unwatched[i].path);
	free(t->limit_path);
	free(t->unw_first.path);
	if (t->ifd >= 0)
		close(t->ifd);
	*t = (struct file_tree){.ifd = -1};
}
