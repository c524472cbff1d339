/* The `file` topic's collector: inotify events read from the watch tree,
 * coalesced, published, and kept for `snapshot` with the list of what
 * could not be watched. */
#include "file.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/inotify.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "clock.h"
#include "file_pending.h"
#include "file_tree.h"
#include "json.h"
#include "metrics.h"

#define FILE_READ_BUF  65536
#define FILE_READS_MAX 64 /* reads of the inotify fd per dispatch before yielding */

enum { TAG_INOTIFY, TAG_TIMER };

struct file_state {
	const struct file_settings *set;
	struct file_tree tree;
	int epfd, timer_fd;
	struct file_pending_list pending;
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
	if (ARRAY_GROW(s->out, s->cap_out, s->n_out, 64) < 0) {
		cJSON_Delete(ev);
		return;
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

/* Emits a pending entry (unlinked: due, or evicted when too many wait)
 * and frees it; a directory moved out of the tree loses its watches. */
static void file_emit(void *ctx, struct file_pending *p)
{
	struct file_state *s = ctx;
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
	if (p->move && p->dir && !p->to && p->from)
		file_tree_unwatch(&s->tree, p->from);
	file_queue(s, file_pending_json(p));
	file_pending_free(p);
}

static int file_add_pending(struct file_state *s, const char *path, int action, bool dir,
			    int64_t t_ms)
{
	return file_pending_add(&s->pending, path, action, dir, t_ms, s->set->coalesce_ms);
}

/* What a scan finds below a new directory. */
static void file_created(void *ctx, const char *path, bool dir)
{
	file_add_pending(ctx, path, FILE_CREATED, dir, clock_real_ms());
}

/* A move closed (a directory's watches follow it) or opened (a directory
 * moved in from outside is watched). */
static int file_add_move(struct file_state *s, const char *path, uint32_t mask, uint32_t cookie,
			 int64_t t_ms)
{
	const char *from;
	int r =
	    file_pending_move(&s->pending, path, mask, cookie, t_ms, s->set->coalesce_ms, &from);

	if (r < 0)
		return r;
	if (r == 1 && (mask & IN_ISDIR))
		file_tree_rename(&s->tree, from, path);
	else if (r == 0 && (mask & IN_MOVED_TO) && (mask & IN_ISDIR))
		return file_tree_watch_dir(&s->tree, path, false, false);
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
	const struct file_tree *t = &s->tree;
	const struct file_unwatched *u = &t->unw_first;
	char msg[PATH_MAX + 160];

	if (t->limit_hit) {
		snprintf(msg, sizeof(msg),
			 "fs.inotify.max_user_watches reached: %s%s not watched (%zu directories)",
			 t->limit_path ? t->limit_path : "?",
			 t->limit_failed > 1 ? " and others" : "", t->limit_failed);
		file_queue(s, file_special("watch_limit", t->limit_path, t->limit_failed, msg));
	}
	if (t->unw_new) {
		snprintf(msg, sizeof(msg), "%s%s: %s: changes there are not reported",
			 u->path ? u->path : "?", t->unw_new > 1 ? " and others" : "",
			 file_tree_unwatched_reason(u));
		file_queue(s, file_special("unwatched", u->path, t->unw_new, msg));
	}
	file_tree_reset_reports(&s->tree);
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
		return file_tree_watch_roots(&s->tree, false) < 0 ? -ENOMEM : 0;
	}
	if (!(w = file_tree_find(&s->tree, ev->wd)))
		return 0;
	if (ev->mask & IN_IGNORED) {
		file_tree_drop(&s->tree, ev->wd);
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
			file_tree_unwatch(&s->tree, root);
			file_tree_note_unwatched(&s->tree, root, ENOENT);
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
		file_tree_note_too_deep(&s->tree, w->path);
		return 0;
	}
	if (file_tree_excluded(&s->tree, path))
		return 0;
	if ((action = file_mask_action(ev->mask)) < 0)
		return 0;
	if (action == FILE_MOVED)
		return file_add_move(s, path, ev->mask, ev->cookie, t_ms);
	if (file_add_pending(s, path, action, ev->mask & IN_ISDIR, t_ms) < 0)
		return -ENOMEM;
	if (action == FILE_CREATED && (ev->mask & IN_ISDIR) && w->all)
		return file_tree_watch_dir(&s->tree, path, true, false);
	return 0;
}

/* Emits what is due and arms the timer for the next deadline. */
static void file_flush(struct file_state *s, bool all)
{
	uint64_t now = clock_mono_ns();
	struct itimerspec its = {{0, 0}, {0, 0}};

	struct file_pending *p;
	uint64_t deadline;

	while ((p = file_pending_next_due(&s->pending, now, all)))
		file_emit(s, p);
	deadline = file_pending_deadline(&s->pending);
	if (deadline) {
		its.it_value.tv_sec = (time_t)(deadline / 1000000000u);
		its.it_value.tv_nsec = (long)(deadline % 1000000000u);
	}
	timerfd_settime(s->timer_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static cJSON *file_build_state(const struct file_state *s)
{
	cJSON *st = cJSON_CreateObject(), *roots, *unw, *evs;
	const struct list *l = &s->set->watch;

	if (!st || !cJSON_AddNumberToObject(st, "t", (double)s->state_t_ms) ||
	    !(roots = cJSON_AddArrayToObject(st, "paths")) ||
	    !cJSON_AddNumberToObject(st, "watched", (double)s->tree.n_watches) ||
	    !(unw = cJSON_AddArrayToObject(st, "unwatched")) ||
	    !cJSON_AddNumberToObject(st, "unwatched_count",
				     (double)(s->tree.n_unwatched + s->tree.unwatched_more)) ||
	    !cJSON_AddNumberToObject(st, "overflows", (double)s->overflows) ||
	    !(evs = cJSON_AddArrayToObject(st, "events")))
		goto fail;
	for (size_t i = 0; i < l->n; i++)
		if (json_array_str(roots, l->v[i]) < 0)
			goto fail;
	for (size_t i = 0; i < s->tree.n_unwatched; i++) {
		cJSON *u = cJSON_CreateObject();

		if (!u)
			goto fail;
		cJSON_AddItemToArray(unw, u);
		if (json_str(u, "path", s->tree.unwatched[i].path) < 0 ||
		    json_str(u, "error", file_tree_unwatched_reason(&s->tree.unwatched[i])) < 0)
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

	if ((s->dirty || s->tree.dirty) && (st = file_build_state(s))) {
		env->set_state(env, st);
		s->dirty = s->tree.dirty = false;
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
			ssize_t len = read(s->tree.ifd, s->buf, FILE_READ_BUF);
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
	metrics_sample(m, "sysfeed_file_watches", NULL, (double)s->tree.n_watches);
	metrics_family(m, "sysfeed_file_unwatched", "gauge", "Paths that could not be watched.");
	metrics_sample(m, "sysfeed_file_unwatched", NULL,
		       (double)(s->tree.n_unwatched + s->tree.unwatched_more));
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
	file_pending_clear(&s->pending);
	file_tree_done(&s->tree);
	for (size_t i = 0; i < FILE_RECENT; i++)
		free(s->recent[i]);
	for (size_t i = 0; i < s->n_out; i++)
		cJSON_Delete(s->out[i]);
	free(s->out);
	for (size_t i = 0; i < s->n_roots; i++)
		free(s->roots[i]);
	free(s->roots);
	free(s->root_events);
	free(s->buf);
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
	s->pending = (struct file_pending_list){.evict = file_emit, .ctx = s};
	r = file_tree_init(&s->tree, &s->set->watch, file_created, s);
	if (r < 0) {
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
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->tree.ifd, &ev) < 0) {
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
		r = file_tree_watch_roots(&s->tree, false);
	if (r < 0) {
		snprintf(reason, reason_len, "out of memory");
		goto out;
	}
	if (s->tree.n_watches == 0) {
		const struct file_tree *t = &s->tree;

		r = -ENOENT;
		snprintf(reason, reason_len, "nothing to watch: %s%s%s",
			 t->n_unwatched ? t->unwatched[0].path : "no path in `watch`",
			 t->n_unwatched ? ": " : "",
			 t->n_unwatched ? strerror(t->unwatched[0].err) : "");
		goto out;
	}
	file_tree_reset_reports(&s->tree); /* listed in the state; no hub to publish to yet */
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
