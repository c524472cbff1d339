#include "file.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "procfs.h"
#include "json.h"
#include "clock.h"

#define FILE_DIR_MASK                                                                              \
	(IN_CREATE | IN_DELETE | IN_MODIFY | IN_MOVED_FROM | IN_MOVED_TO | IN_ATTRIB |             \
	 IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK)
#define FILE_READ_BUF  65536
#define FILE_READS_MAX 64 /* reads of the inotify fd per dispatch before yielding */

static const char *const action_names[FILE_NACTIONS] = {"created", "modified", "deleted", "moved",
							"attrib"};

const char *file_action_name(enum file_action a)
{
	return (unsigned)a < FILE_NACTIONS ? action_names[a] : NULL;
}

int file_mask_action(uint32_t mask)
{
	if (mask & IN_Q_OVERFLOW || mask & IN_IGNORED)
		return -1;
	if (mask & IN_CREATE)
		return FILE_CREATED;
	if (mask & IN_DELETE)
		return FILE_DELETED;
	if (mask & (IN_MOVED_FROM | IN_MOVED_TO))
		return FILE_MOVED;
	if (mask & IN_MODIFY)
		return FILE_MODIFIED;
	if (mask & IN_ATTRIB)
		return FILE_ATTRIB;
	return -1;
}

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

/* A watched directory. `all`: every name in it is reported (a watched tree);
 * otherwise only `names` (the parent of a watched file). */
struct file_watch {
	int wd;
	char *path;
	bool all;
	bool root; /* a directory listed in `watch` */
	char **names;
	size_t n_names;
};

/* Changes on one path waiting out the coalescing window; moves are their
 * own entries, keyed by cookie until their second half arrives. */
struct file_pending {
	char *path;
	char *from, *to; /* moves */
	uint32_t cookie;
	bool move, dir;
	unsigned char order[FILE_NACTIONS];
	unsigned n_order;
	int last;
	uint64_t count;
	int64_t t_ms;
	uint64_t deadline_ns;
	struct file_pending *prev, *next;
};

/* A path not watched: err from inotify_add_watch (or stat, open), or
 * `below`: the path is watched but names under it do not fit in PATH_MAX,
 * so changes there cannot be reported. */
struct file_unwatched {
	char *path;
	int err;
	bool below;
};

enum { TAG_INOTIFY, TAG_TIMER };

struct file_state {
	const struct file_settings *set;
	int ifd, epfd, timer_fd;
	struct file_watch **watches; /* sorted by wd */
	size_t n_watches, cap_watches;
	struct file_pending *head, *tail;
	size_t n_pending;
	struct file_unwatched unwatched[FILE_UNWATCHED];
	size_t n_unwatched;
	size_t unwatched_bytes;  /* of their paths */
	uint64_t unwatched_more; /* beyond the list */
	bool limit_hit;          /* ENOSPC during the current scan */
	size_t limit_failed;
	char *limit_path;
	size_t unw_new; /* other failures newly listed since the last report */
	struct file_unwatched unw_first;
	uint64_t overflows;
	/* the `watch` paths at init (no "!" entries, no duplicates), and the
	 * events emitted under each: `watch` takes effect at the next start */
	char **roots;
	uint64_t *root_events;
	size_t n_roots;
	char *recent[FILE_RECENT]; /* encoded events, ring */
	size_t recent_head, recent_n;
	size_t recent_bytes; /* their JSON bytes */
	cJSON **out;         /* events to publish at the end of the dispatch */
	size_t n_out, cap_out;
	bool dirty;
	int64_t state_t_ms;
	char *buf;
};

/* ---- the watch table ---------------------------------------------------- */

static size_t file_watch_pos(const struct file_state *s, int wd)
{
	size_t lo = 0, hi = s->n_watches;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (s->watches[mid]->wd < wd)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct file_watch *file_watch_find(const struct file_state *s, int wd)
{
	size_t i = file_watch_pos(s, wd);

	return i < s->n_watches && s->watches[i]->wd == wd ? s->watches[i] : NULL;
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
static struct file_watch *file_watch_get(struct file_state *s, int wd, const char *path)
{
	size_t i = file_watch_pos(s, wd);
	struct file_watch *w;
	char *p;

	if (i < s->n_watches && s->watches[i]->wd == wd) {
		w = s->watches[i];
		if (strcmp(w->path, path) != 0 && (p = strdup(path))) {
			free(w->path);
			w->path = p;
		}
		return w;
	}
	if (s->n_watches == s->cap_watches) {
		size_t cap = s->cap_watches ? s->cap_watches * 2 : 64;
		struct file_watch **ws = realloc(s->watches, cap * sizeof(*ws));

		if (!ws)
			return NULL;
		s->watches = ws;
		s->cap_watches = cap;
	}
	if (!(w = calloc(1, sizeof(*w))) || !(w->path = strdup(path))) {
		free(w);
		return NULL;
	}
	w->wd = wd;
	memmove(&s->watches[i + 1], &s->watches[i], (s->n_watches - i) * sizeof(*s->watches));
	s->watches[i] = w;
	s->n_watches++;
	s->dirty = true;
	return w;
}

static void file_watch_drop(struct file_state *s, int wd)
{
	size_t i = file_watch_pos(s, wd);

	if (i >= s->n_watches || s->watches[i]->wd != wd)
		return;
	file_watch_free(s->watches[i]);
	memmove(&s->watches[i], &s->watches[i + 1], (s->n_watches - i - 1) * sizeof(*s->watches));
	s->n_watches--;
	s->dirty = true;
}

/* Stops watching every directory under dir (moved out of sight). */
static void file_unwatch_tree(struct file_state *s, const char *dir)
{
	for (size_t i = s->n_watches; i-- > 0;) {
		struct file_watch *w = s->watches[i];

		if (w->all && file_under(w->path, dir)) {
			inotify_rm_watch(s->ifd, w->wd);
			file_watch_drop(s, w->wd);
		}
	}
}

/* A directory of the tree moved from `from` to `to`: its watches follow. */
static void file_rename_tree(struct file_state *s, const char *from, const char *to)
{
	size_t n = strlen(from);

	for (size_t i = 0; i < s->n_watches; i++) {
		struct file_watch *w = s->watches[i];
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
static bool file_excluded(const struct file_state *s, const char *path)
{
	const struct list *l = &s->set->watch;

	for (size_t i = 0; i < l->n; i++)
		if (l->v[i][0] == '!' && fnmatch(l->v[i] + 1, path, 0) == 0)
			return true;
	return false;
}

/* Lists path as not watched (see struct file_unwatched). Besides the
 * watch limit (its own event), what is newly listed is counted for one
 * `unwatched` event at the end of the dispatch; repeats are not. */
static void file_note(struct file_state *s, const char *path, int err, bool below)
{
	struct file_unwatched *u;

	s->dirty = true;
	if (err == ENOSPC) {
		if (!s->limit_failed++) {
			free(s->limit_path);
			s->limit_path = strdup(path);
		}
		s->limit_hit = true;
	}
	for (size_t i = 0; i < s->n_unwatched; i++)
		if (strcmp(s->unwatched[i].path, path) == 0) {
			s->unwatched[i].err = err;
			s->unwatched[i].below = below;
			return;
		}
	if (s->n_unwatched == FILE_UNWATCHED ||
	    strlen(path) > FILE_UNWATCHED_BYTES - s->unwatched_bytes) {
		s->unwatched_more++;
		return;
	}
	u = &s->unwatched[s->n_unwatched];
	if (!(u->path = strdup(path))) {
		s->unwatched_more++;
		return;
	}
	u->err = err;
	u->below = below;
	s->n_unwatched++;
	s->unwatched_bytes += strlen(path);
	if (err != ENOSPC && !s->unw_new++) {
		free(s->unw_first.path);
		s->unw_first = *u;
		s->unw_first.path = strdup(path);
	}
}

static void file_note_unwatched(struct file_state *s, const char *path, int err)
{
	file_note(s, path, err, false);
}

/* Names under dir that do not fit in PATH_MAX: dir is watched, but what
 * changes there cannot be named. */
static void file_note_too_deep(struct file_state *s, const char *dir)
{
	file_note(s, dir, ENAMETOOLONG, true);
}

/* Why a path is listed as not watched, in words. */
static const char *file_unwatched_reason(const struct file_unwatched *u)
{
	if (u->below)
		return "paths below it are longer than PATH_MAX (4096 bytes)";
	return u->err == ENOSPC ? "watch limit reached" : strerror(u->err);
}

/* Forgets what the last reports counted. */
static void file_reset_reports(struct file_state *s)
{
	s->limit_hit = false;
	s->limit_failed = 0;
	s->unw_new = 0;
}

/* A directory that vanished (or became something else) before it was
 * watched or read: not a failure, its parent reports the change. */
static bool file_gone(int err)
{
	return err == ENOENT || err == ENOTDIR;
}

static void file_forget_unwatched(struct file_state *s, const char *path)
{
	for (size_t i = 0; i < s->n_unwatched; i++)
		if (strcmp(s->unwatched[i].path, path) == 0) {
			s->unwatched_bytes -= strlen(path);
			free(s->unwatched[i].path);
			s->unwatched[i] = s->unwatched[--s->n_unwatched];
			s->dirty = true;
			return;
		}
}

static int file_add_pending(struct file_state *s, const char *path, int action, bool dir,
			    int64_t t_ms);

/* Watches dir and every directory below it. With `created`, what is found
 * below dir is reported as created: it appeared before its directory was
 * watched. */
static int file_watch_tree(struct file_state *s, const char *dir, bool created, bool root)
{
	char **stack = NULL, path[PATH_MAX];
	size_t n = 0, cap = 0;
	int r = 0;

	if (!(stack = malloc(sizeof(*stack) * 16)) || !(stack[0] = strdup(dir))) {
		free(stack);
		return -ENOMEM;
	}
	cap = 16;
	n = 1;
	while (n) {
		char *d = stack[--n];
		struct file_watch *w;
		struct dirent *de;
		DIR *dh;
		int wd, fd;

		wd = inotify_add_watch(s->ifd, d, FILE_DIR_MASK);
		if (wd < 0) {
			if (!file_gone(errno) || (root && strcmp(d, dir) == 0))
				file_note_unwatched(s, d, errno);
			free(d);
			continue;
		}
		file_forget_unwatched(s, d);
		if (!(w = file_watch_get(s, wd, d))) {
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
				file_note_unwatched(s, d, err);
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
					file_note_too_deep(s, d);
				continue;
			}
			if (file_excluded(s, path))
				continue;
			if (created)
				file_add_pending(s, path, FILE_CREATED, is_dir, clock_real_ms());
			if (!is_dir)
				continue;
			if (n == cap) {
				char **ns = realloc(stack, sizeof(*stack) * cap * 2);

				if (!ns) {
					r = -ENOMEM;
					break;
				}
				stack = ns;
				cap *= 2;
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
static int file_watch_file(struct file_state *s, const char *path)
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
	wd = inotify_add_watch(s->ifd, dir, FILE_DIR_MASK);
	if (wd < 0) {
		file_note_unwatched(s, path, errno);
		return 0;
	}
	if (!(w = file_watch_get(s, wd, dir)))
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
static int file_watch_roots(struct file_state *s, bool created)
{
	const struct list *l = &s->set->watch;
	int ok = 0, r;

	s->limit_hit = false;
	s->limit_failed = 0;
	for (size_t i = 0; i < l->n; i++) {
		const char *p = l->v[i];
		struct stat st;

		if (p[0] == '!')
			continue;
		if (p[0] != '/' || stat(p, &st) < 0) {
			file_note_unwatched(s, p, p[0] != '/' ? EINVAL : errno);
			continue;
		}
		if (S_ISDIR(st.st_mode))
			r = file_watch_tree(s, p, created, true);
		else
			r = file_watch_file(s, p);
		if (r == -ENOMEM)
			return r;
		ok += r == 0;
	}
	return ok;
}

/* ---- events ------------------------------------------------------------- */

static void file_pending_unlink(struct file_state *s, struct file_pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		s->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		s->tail = p->prev;
	s->n_pending--;
}

static void file_pending_free(struct file_pending *p)
{
	if (!p)
		return;
	free(p->path);
	free(p->from);
	free(p->to);
	free(p);
}

static void file_note_action(struct file_pending *p, int action)
{
	bool seen = false;

	for (unsigned i = 0; i < p->n_order; i++)
		seen |= p->order[i] == action;
	if (!seen && p->n_order < FILE_NACTIONS)
		p->order[p->n_order++] = (unsigned char)action;
	p->last = action;
	p->count++;
}

static cJSON *file_pending_json(const struct file_pending *p)
{
	cJSON *o = cJSON_CreateObject(), *acts;
	bool ok;

	if (!o)
		return NULL;
	ok = cJSON_AddNumberToObject(o, "t", (double)p->t_ms) &&
	     json_str(o, "path", p->path) == 0 &&
	     cJSON_AddStringToObject(o, "action", file_action_name(p->last)) &&
	     (acts = cJSON_AddArrayToObject(o, "actions"));
	for (unsigned i = 0; ok && i < p->n_order; i++) {
		cJSON *a = cJSON_CreateString(file_action_name(p->order[i]));

		ok = a != NULL;
		if (a)
			cJSON_AddItemToArray(acts, a);
	}
	ok = ok && cJSON_AddBoolToObject(o, "dir", p->dir) &&
	     cJSON_AddNumberToObject(o, "count", (double)p->count);
	if (ok && p->move)
		ok = json_str(o, "from", p->from) == 0 && json_str(o, "to", p->to) == 0;
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Drops the oldest of the recent events (recent_n > 0). */
static void file_recent_drop(struct file_state *s)
{
	size_t oldest = (s->recent_head + FILE_RECENT - s->recent_n) % FILE_RECENT;

	s->recent_bytes -= strlen(s->recent[oldest]);
	free(s->recent[oldest]);
	s->recent[oldest] = NULL;
	s->recent_n--;
}

/* Queues an event for the end of the dispatch and keeps it for `snapshot`
 * (the last FILE_RECENT, at most FILE_RECENT_BYTES of JSON). */
static void file_queue(struct file_state *s, cJSON *ev)
{
	char *json;

	if (!ev)
		return;
	if (s->n_out == s->cap_out) {
		size_t cap = s->cap_out ? s->cap_out * 2 : 64;
		cJSON **o = realloc(s->out, cap * sizeof(*o));

		if (!o) {
			cJSON_Delete(ev);
			return;
		}
		s->out = o;
		s->cap_out = cap;
	}
	if ((json = cJSON_PrintUnformatted(ev))) {
		if (s->recent_n == FILE_RECENT)
			file_recent_drop(s);
		s->recent[s->recent_head] = json;
		s->recent_head = (s->recent_head + 1) % FILE_RECENT;
		s->recent_n++;
		s->recent_bytes += strlen(json);
		/* host-made names can be long and escape to six bytes a byte */
		while (s->recent_bytes > FILE_RECENT_BYTES)
			file_recent_drop(s);
		s->dirty = true;
		s->state_t_ms = clock_real_ms();
	}
	s->out[s->n_out++] = ev;
}

/* Emits a pending entry; a directory moved out of the tree loses its
 * watches. */
static void file_emit(struct file_state *s, struct file_pending *p)
{
	const char *path = p->path ? p->path : p->to ? p->to : p->from;
	size_t best = SIZE_MAX, best_len = 0;

	for (size_t i = 0; path && i < s->n_roots; i++) {
		const char *w = s->roots[i];

		if (file_under(path, w) && (best == SIZE_MAX || strlen(w) > best_len)) {
			best = i;
			best_len = strlen(w);
		}
	}
	if (best != SIZE_MAX)
		s->root_events[best]++;
	file_pending_unlink(s, p);
	if (p->move && p->dir && !p->to && p->from)
		file_unwatch_tree(s, p->from);
	file_queue(s, file_pending_json(p));
	file_pending_free(p);
}

static struct file_pending *file_pending_new(struct file_state *s, const char *path, bool dir,
					     int64_t t_ms)
{
	struct file_pending *p = calloc(1, sizeof(*p));

	if (!p || !(p->path = strdup(path))) {
		free(p);
		return NULL;
	}
	if (s->n_pending >= FILE_PENDING_MAX)
		file_emit(s, s->head);
	p->dir = dir;
	p->t_ms = t_ms;
	p->deadline_ns = clock_mono_ns() + (uint64_t)s->set->coalesce_ms * 1000000u;
	p->prev = s->tail;
	if (s->tail)
		s->tail->next = p;
	else
		s->head = p;
	s->tail = p;
	s->n_pending++;
	return p;
}

static int file_add_pending(struct file_state *s, const char *path, int action, bool dir,
			    int64_t t_ms)
{
	struct file_pending *p;

	for (p = s->tail; p; p = p->prev)
		if (!p->move && strcmp(p->path, path) == 0)
			break;
	if (!p && !(p = file_pending_new(s, path, dir, t_ms)))
		return -ENOMEM;
	p->dir |= dir;
	file_note_action(p, action);
	return 0;
}

/* MOVED_FROM opens a move; MOVED_TO closes the one with its cookie, or is
 * a move from outside the tree. */
static int file_add_move(struct file_state *s, const char *path, uint32_t mask, uint32_t cookie,
			 int64_t t_ms)
{
	bool dir = mask & IN_ISDIR;
	struct file_pending *p = NULL;
	char *to;

	if (mask & IN_MOVED_TO) {
		for (p = s->tail; p; p = p->prev)
			if (p->move && p->cookie == cookie && cookie && !p->to)
				break;
	}
	if (p) {
		if (!(to = strdup(path)) || !(p->to = strdup(path))) {
			free(to);
			return -ENOMEM;
		}
		free(p->path);
		p->path = to;
		if (dir)
			file_rename_tree(s, p->from, path);
		return 0;
	}
	if (!(p = file_pending_new(s, path, dir, t_ms)))
		return -ENOMEM;
	p->move = true;
	p->cookie = cookie;
	if (!((mask & IN_MOVED_FROM) ? (p->from = strdup(path)) : (p->to = strdup(path))))
		return -ENOMEM;
	file_note_action(p, FILE_MOVED);
	if ((mask & IN_MOVED_TO) && dir)
		return file_watch_tree(s, path, false, false);
	return 0;
}

static cJSON *file_special(const char *action, const char *path, uint64_t count,
			   const char *message)
{
	cJSON *o = cJSON_CreateObject(), *acts;

	if (!o || !cJSON_AddNumberToObject(o, "t", (double)clock_real_ms()) ||
	    json_str(o, "path", path) < 0 || !cJSON_AddStringToObject(o, "action", action) ||
	    !(acts = cJSON_AddArrayToObject(o, "actions")) ||
	    !cJSON_AddBoolToObject(o, "dir", false) ||
	    !cJSON_AddNumberToObject(o, "count", (double)count) ||
	    json_str(o, "message", message) < 0) {
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddItemToArray(acts, cJSON_CreateString(action));
	return o;
}

/* After a dispatch that hit the watch limit, or listed other paths as
 * not watched: one event for each, naming the first path and the count. */
static void file_report_unwatched(struct file_state *s)
{
	const struct file_unwatched *u = &s->unw_first;
	char msg[PATH_MAX + 160];

	if (s->limit_hit) {
		snprintf(msg, sizeof(msg),
			 "fs.inotify.max_user_watches reached: %s%s not watched (%zu directories)",
			 s->limit_path ? s->limit_path : "?",
			 s->limit_failed > 1 ? " and others" : "", s->limit_failed);
		file_queue(s, file_special("watch_limit", s->limit_path, s->limit_failed, msg));
	}
	if (s->unw_new) {
		snprintf(msg, sizeof(msg), "%s%s: %s: changes there are not reported",
			 u->path ? u->path : "?", s->unw_new > 1 ? " and others" : "",
			 file_unwatched_reason(u));
		file_queue(s, file_special("unwatched", u->path, s->unw_new, msg));
	}
	file_reset_reports(s);
}

static int file_handle(struct file_state *s, const struct inotify_event *ev, int64_t t_ms)
{
	char path[PATH_MAX];
	struct file_watch *w;
	int action;

	if (ev->mask & IN_Q_OVERFLOW) {
		s->overflows++;
		s->dirty = true;
		file_queue(s, file_special("overflow", NULL, 1,
					   "inotify queue overflow (fs.inotify.max_queued_events): "
					   "changes were lost"));
		/* directories created meanwhile are unknown: watch them now */
		return file_watch_roots(s, false) < 0 ? -ENOMEM : 0;
	}
	if (!(w = file_watch_find(s, ev->wd)))
		return 0;
	if (ev->mask & IN_IGNORED) {
		file_watch_drop(s, ev->wd);
		return 0;
	}
	if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
		/* children are reported by their parent; a root has none */
		if (!w->root)
			return 0;
		if (ev->mask & IN_MOVE_SELF) {
			char *root = strdup(w->path);

			if (!root)
				return -ENOMEM;
			file_unwatch_tree(s, root);
			file_note_unwatched(s, root, ENOENT);
			action = file_add_move(s, root, IN_MOVED_FROM | IN_ISDIR, 0, t_ms);
			free(root);
			return action;
		}
		return file_add_pending(s, w->path, FILE_DELETED, true, t_ms);
	}
	if (!ev->len)
		return 0;
	if (!w->all) {
		bool listed = false;

		for (size_t i = 0; i < w->n_names; i++)
			listed |= strcmp(w->names[i], ev->name) == 0;
		if (!listed)
			return 0;
	}
	if (file_join(path, sizeof(path), w->path, ev->name) < 0) {
		file_note_too_deep(s, w->path);
		return 0;
	}
	if (file_excluded(s, path))
		return 0;
	if ((action = file_mask_action(ev->mask)) < 0)
		return 0;
	if (action == FILE_MOVED)
		return file_add_move(s, path, ev->mask, ev->cookie, t_ms);
	if (file_add_pending(s, path, action, ev->mask & IN_ISDIR, t_ms) < 0)
		return -ENOMEM;
	if (action == FILE_CREATED && (ev->mask & IN_ISDIR) && w->all)
		return file_watch_tree(s, path, true, false);
	return 0;
}

/* Emits what is due and arms the timer for the next deadline. */
static void file_flush(struct file_state *s, bool all)
{
	uint64_t now = clock_mono_ns();
	struct itimerspec its = {{0, 0}, {0, 0}};

	while (s->head && (all || s->head->deadline_ns <= now))
		file_emit(s, s->head);
	if (s->head) {
		its.it_value.tv_sec = (time_t)(s->head->deadline_ns / 1000000000u);
		its.it_value.tv_nsec = (long)(s->head->deadline_ns % 1000000000u);
	}
	timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static cJSON *file_build_state(const struct file_state *s)
{
	cJSON *st = cJSON_CreateObject(), *roots, *unw, *evs;
	const struct list *l = &s->set->watch;

	if (!st || !cJSON_AddNumberToObject(st, "t", (double)s->state_t_ms) ||
	    !(roots = cJSON_AddArrayToObject(st, "paths")) ||
	    !cJSON_AddNumberToObject(st, "watched", (double)s->n_watches) ||
	    !(unw = cJSON_AddArrayToObject(st, "unwatched")) ||
	    !cJSON_AddNumberToObject(st, "unwatched_count",
				     (double)(s->n_unwatched + s->unwatched_more)) ||
	    !cJSON_AddNumberToObject(st, "overflows", (double)s->overflows) ||
	    !(evs = cJSON_AddArrayToObject(st, "events")))
		goto fail;
	for (size_t i = 0; i < l->n; i++)
		if (json_array_str(roots, l->v[i]) < 0)
			goto fail;
	for (size_t i = 0; i < s->n_unwatched; i++) {
		cJSON *u = cJSON_CreateObject();

		if (!u)
			goto fail;
		cJSON_AddItemToArray(unw, u);
		if (json_str(u, "path", s->unwatched[i].path) < 0 ||
		    json_str(u, "error", file_unwatched_reason(&s->unwatched[i])) < 0)
			goto fail;
	}
	for (size_t i = 0; i < s->recent_n; i++) {
		const char *e =
		    s->recent[(s->recent_head + FILE_RECENT - s->recent_n + i) % FILE_RECENT];
		cJSON *raw = cJSON_CreateRaw(e);

		if (!raw)
			goto fail;
		cJSON_AddItemToArray(evs, raw);
	}
	return st;
fail:
	cJSON_Delete(st);
	return NULL;
}

static void file_send(struct file_state *s, const struct collector_env *env)
{
	cJSON *st;

	if (s->dirty && (st = file_build_state(s))) {
		env->set_state(env, st);
		s->dirty = false;
	}
	for (size_t i = 0; i < s->n_out; i++)
		env->publish(env, s->out[i], NULL);
	s->n_out = 0;
}

static int file_dispatch(void *state, const struct collector_env *env)
{
	struct file_state *s = state;
	struct epoll_event evs[2];
	uint64_t v;
	int n, r = 0;

	n = epoll_wait(s->epfd, evs, 2, 0);
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u32 == TAG_TIMER) {
			if (read(s->timer_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
				r = -errno;
			continue;
		}
		for (int k = 0; k < FILE_READS_MAX; k++) {
			ssize_t len = read(s->ifd, s->buf, FILE_READ_BUF);
			int64_t t_ms = clock_real_ms();

			if (len <= 0) {
				if (len < 0 && errno != EAGAIN)
					r = -errno;
				break;
			}
			for (char *p = s->buf; p < s->buf + len;) {
				struct inotify_event *ev = (struct inotify_event *)(void *)p;

				if (file_handle(s, ev, t_ms) < 0)
					r = -ENOMEM;
				p += sizeof(*ev) + ev->len;
			}
		}
	}
	file_report_unwatched(s);
	file_flush(s, s->set->coalesce_ms == 0);
	file_send(s, env);
	return r;
}

/* The state is first set from the first tick: the hub does not exist while
 * collectors start. */
static int file_sample(void *state, const struct collector_env *env,
		       const struct collector_tick *tick, cJSON **ret_payload)
{
	struct file_state *s = state;

	*ret_payload = NULL;
	file_send(s, env);
	return 0;
}

static int file_get_fd(void *state)
{
	return ((struct file_state *)state)->epfd;
}

/* Events per `watch` root (each path once, "!" entries left out), the
 * overflows, and the watch counts as the state shows them. */
static int file_metrics(void *state, struct metrics *m)
{
	const struct file_state *s = state;

	metrics_family(m, "sysfeed_file_events_total", "counter",
		       "File change events emitted, per configured watch path.");
	for (size_t i = 0; i < s->n_roots; i++)
		metrics_sample(m, "sysfeed_file_events_total",
			       (const char *const[]){"root", s->roots[i], NULL},
			       (double)s->root_events[i]);
	metrics_family(m, "sysfeed_file_overflows_total", "counter",
		       "Inotify queue overflows (events lost).");
	metrics_sample(m, "sysfeed_file_overflows_total", NULL, (double)s->overflows);
	metrics_family(m, "sysfeed_file_watches", "gauge", "Inotify watches held.");
	metrics_sample(m, "sysfeed_file_watches", NULL, (double)s->n_watches);
	metrics_family(m, "sysfeed_file_unwatched", "gauge", "Paths that could not be watched.");
	metrics_sample(m, "sysfeed_file_unwatched", NULL,
		       (double)(s->n_unwatched + s->unwatched_more));
	return metrics_error(m);
}

/* Keeps the `watch` paths of now for sysfeed_file_events_total. Returns 0
 * or -ENOMEM. */
static int file_copy_roots(struct file_state *s)
{
	const struct list *l = &s->set->watch;

	s->roots = calloc(l->n + 1, sizeof(*s->roots));
	s->root_events = calloc(l->n + 1, sizeof(*s->root_events));
	if (!s->roots || !s->root_events)
		return -ENOMEM;
	for (size_t i = 0; i < l->n; i++) {
		bool dup = l->v[i][0] == '!';

		for (size_t k = 0; !dup && k < s->n_roots; k++)
			dup = strcmp(s->roots[k], l->v[i]) == 0;
		if (dup)
			continue;
		if (!(s->roots[s->n_roots] = strdup(l->v[i])))
			return -ENOMEM;
		s->n_roots++;
	}
	return 0;
}

static void file_fini(void *state)
{
	struct file_state *s = state;

	if (!s)
		return;
	while (s->head) {
		struct file_pending *p = s->head;

		file_pending_unlink(s, p);
		file_pending_free(p);
	}
	for (size_t i = 0; i < s->n_watches; i++)
		file_watch_free(s->watches[i]);
	free(s->watches);
	for (size_t i = 0; i < s->n_unwatched; i++)
		free(s->unwatched[i].path);
	for (size_t i = 0; i < FILE_RECENT; i++)
		free(s->recent[i]);
	for (size_t i = 0; i < s->n_out; i++)
		cJSON_Delete(s->out[i]);
	free(s->out);
	for (size_t i = 0; i < s->n_roots; i++)
		free(s->roots[i]);
	free(s->roots);
	free(s->root_events);
	free(s->limit_path);
	free(s->unw_first.path);
	free(s->buf);
	if (s->ifd >= 0)
		close(s->ifd);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->timer_fd >= 0)
		close(s->timer_fd);
	free(s);
}

static int file_init(const struct collector_env *env, const void *settings, void **ret_state,
		     char *reason, size_t reason_len)
{
	struct file_state *s = calloc(1, sizeof(*s));
	struct epoll_event ev = {.events = EPOLLIN};
	int r;

	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	s->set = settings;
	s->epfd = s->timer_fd = -1;
	s->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (s->ifd < 0) {
		r = -errno;
		snprintf(reason, reason_len, "inotify: %s%s", strerror(-r),
			 r == -EMFILE ? " (fs.inotify.max_user_instances)" : "");
		goto out;
	}
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->buf = malloc(FILE_READ_BUF);
	if (s->epfd < 0 || s->timer_fd < 0 || !s->buf) {
		r = s->buf ? -errno : -ENOMEM;
		snprintf(reason, reason_len, "cannot set up the file watches: %s", strerror(-r));
		goto out;
	}
	ev.data.u32 = TAG_INOTIFY;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->ifd, &ev) < 0) {
		r = -errno;
		snprintf(reason, reason_len, "cannot set up the file watches: %s", strerror(-r));
		goto out;
	}
	ev.data.u32 = TAG_TIMER;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timer_fd, &ev) < 0) {
		r = -errno;
		snprintf(reason, reason_len, "cannot set up the file watches: %s", strerror(-r));
		goto out;
	}
	r = file_copy_roots(s);
	if (r == 0)
		r = file_watch_roots(s, false);
	if (r < 0) {
		snprintf(reason, reason_len, "out of memory");
		goto out;
	}
	if (s->n_watches == 0) {
		r = -ENOENT;
		snprintf(reason, reason_len, "nothing to watch: %s%s%s",
			 s->n_unwatched ? s->unwatched[0].path : "no path in `watch`",
			 s->n_unwatched ? ": " : "",
			 s->n_unwatched ? strerror(s->unwatched[0].err) : "");
		goto out;
	}
	file_reset_reports(s); /* listed in the state; no hub to publish to yet */
	s->state_t_ms = clock_real_ms();
	s->dirty = true;
	r = 0;
	*ret_state = s;
	s = NULL;
out:
	file_fini(s);
	return r;
}

static const struct setting file_keys[] = {
    SETTING("watch", SET_LIST, offsetof(struct file_settings, watch), 0, LIST_MAX, "/etc",
	    .restart = true),
    SETTING("file-coalesce-ms", SET_UINT, offsetof(struct file_settings, coalesce_ms), 0, 10000,
	    "100"),
    {0},
};

const struct collector file_collector = {
    .name = "file",
    .settings = file_keys,
    .settings_size = sizeof(struct file_settings),
    .init = file_init,
    .sample = file_sample,
    .get_fd = file_get_fd,
    .dispatch = file_dispatch,
    .metrics = file_metrics,
    .fini = file_fini,
};
