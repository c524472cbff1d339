/* The `containers` topic's collector: the container table kept by walks
 * of the cgroup tree (at start, and whenever inotify says a directory was
 * made or removed where containers appear), started and stopped changes
 * published at once, each container's numbers read every tick through
 * held fds (the payload and families: ctr_out.c). */
#include "containers.h"
#include "ctr_state.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "array.h"
#include "clock.h"
#include "cgroup.h"
#include "ctr_find.h"
#include "ctr_meta.h"
#include "json.h"
#include "net.h"
#include "procfs.h"

#define CTR_DENTS_BUF (7u * 8192u)
#define CTR_FD_MAX    (8u * CONTAINERS_MAX)
#define CTR_NET_BUF   (16u << 10)
/* Looks at a member's parent for Podman's conmon (ctr_name_it). */
#define CTR_CONMON_TRIES 2u
/* A busy container's files: its CPU time and I/O bytes every tick, the
 * others at the pace of its memory (CGROUP_STEADY_TICKS), its net/dev at
 * its own likewise (CTR_NET_STEADY_TICKS); cgroup.procs while the network namespace is not found
 * yet. An idle one's CPU time
 * alone (or none, cgroup.h), and at each whole look CTR_SLEEPING and its
 * net/dev (no OOM kill without the CPU time of an allocation). Its freezer
 * state when it is found, goes idle or wakes, and while it was last seen
 * paused or unread, not while busy and running: a frozen cgroup's tasks do
 * not run, so a pause stops its CPU time and the tick after finds it idle. */
#define CTR_BUSY                                                                                   \
	((1u << CGROUP_CPU) | (1u << CGROUP_MEM) | (1u << CGROUP_PIDS) | (1u << CGROUP_IO) |       \
	 (1u << CGROUP_OOM) | (1u << CGROUP_LIMIT))
#define CTR_SLEEPING                                                                               \
	((1u << CGROUP_MEM) | (1u << CGROUP_PIDS) | (1u << CGROUP_IO) | (1u << CGROUP_FREEZE) |    \
	 (1u << CGROUP_LIMIT))

/* What every tick reads of a sleeping container (struct ctr_entry) is in
 * its first 128 bytes: its own fields, then u's up to st.mem. */
_Static_assert(offsetof(struct ctr_entry, u) + offsetof(struct cgroup_unit, st.mem) +
			   sizeof(int64_t) <=
		       128 &&
		   offsetof(struct ctr_entry, sent) < offsetof(struct ctr_entry, u) &&
		   offsetof(struct ctr_entry, rel) < offsetof(struct ctr_entry, u),
	       "the fields every tick reads are in the first 128 bytes");

/* --- the table --- */

static size_t ctr_find(const struct ctr_state *s, const char *rel, bool *found)
{
	return array_find_str(s->v, s->n, sizeof(*s->v), offsetof(struct ctr_entry, rel), rel,
			      found);
}

/* Sets the member e's numbers are found through; conmon is asked again
 * for a new one (ctr_name_it). */
static void ctr_set_pid(struct ctr_entry *e, int64_t pid)
{
	if (pid != e->pid)
		e->conmon_tries = 0;
	e->pid = pid;
}

/* Sets e's freezer state, keeping the count of paused containers. */
static void ctr_set_frozen(struct ctr_state *s, struct ctr_entry *e, int64_t frozen)
{
	s->paused += (size_t)(frozen == 1) - (size_t)(e->frozen == 1);
	e->frozen = frozen;
}

static void ctr_close(struct ctr_state *s, struct ctr_entry *e)
{
	cgroup_files_close(&s->cg.rd, &e->u.files);
	if (e->net_fd >= 0)
		close(e->net_fd);
	e->net_fd = -1;
	ctr_set_pid(e, -1);
	e->net_host = false;
	e->net_next = e->net_step = 0; /* read again at once */
	ctr_set_frozen(s, e, -1);      /* likewise */
	e->u.pace.idle = false;
	e->u.io_known = false;
}

static void ctr_drop(struct ctr_state *s, size_t i)
{
	ctr_close(s, &s->v[i]);
	cgroup_unit_done(&s->cg.rd, &s->cg.groups, &s->v[i].u);
	free(s->v[i].rel);
	ctr_meta_done(&s->v[i].meta);
	free(s->v[i].head);
	json_buf_free(&s->v[i].row);
	s->order_dirty = s->list_dirty = true;
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

/* Adds the fields that do not change (id, name, image, engine, cgroup)
 * to o. Returns 0 or -ENOMEM. */
static int ctr_static(const struct ctr_entry *e, cJSON *o)
{
	char cg[PATH_MAX];

	snprintf(cg, sizeof(cg), "/%s", e->rel);
	if (json_str(o, "id", e->id) < 0 || json_str(o, "name", ctr_name(e)) < 0 ||
	    json_str(o, "image", e->meta.image) < 0 ||
	    json_str(o, "engine", ctr_engine_name(e->engine)) < 0 || json_str(o, "cgroup", cg) < 0)
		return -ENOMEM;
	return 0;
}

/* A change row: what started or stopped. */
static int ctr_change(struct ctr_state *s, const struct ctr_entry *e, const char *what)
{
	cJSON *row;

	if (!s->changes)
		return 0;
	row = cJSON_CreateObject();
	if (!row || !cJSON_AddItemToArray(s->changes, row)) {
		cJSON_Delete(row);
		return -ENOMEM;
	}
	if (json_str(row, "change", what) < 0 || ctr_static(e, row) < 0)
		return -ENOMEM;
	return 0;
}

/* The row's JSON text up to its first changing field, printed once per
 * name: "{...static fields...,". */
static int ctr_head(struct ctr_entry *e)
{
	cJSON *o = cJSON_CreateObject();
	char *text = NULL;
	size_t len = 0;

	if (o && ctr_static(e, o) == 0)
		text = json_head(o, &len);
	cJSON_Delete(o);
	if (!text)
		return -ENOMEM;
	free(e->head);
	e->head = text;
	e->head_len = len;
	e->row_dirty = true;
	return 0;
}

/* Whether two strings, either NULL, are the same. */
static bool ctr_same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

/* Names a container from its engine's files (a member pid helps Podman);
 * its row's head is written again only when its name or image changed. */
static int ctr_name_it(struct ctr_state *s, struct ctr_entry *e)
{
	struct ctr_ref ref = {.engine = e->engine, .rel = e->rel, .uid = e->uid};
	struct cgroup_values v;
	struct ctr_meta m;
	unsigned step, grid;

	memcpy(ref.id, e->id, sizeof(ref.id));
	if (e->pid < 0 && cgroup_read(&s->cg.rd, &e->u.files, e->rel, 1u << CGROUP_PROCS, &v) == 0)
		ctr_set_pid(e, v.pid);
	/* looked for again within 2 ticks, then 8, 32, ... CTR_NAME_TICKS
	 * (names that appear late are found in a few times the time they
	 * took), on ticks that are multiples of CTR_NAME_GRID alone, each
	 * container at a phase of its own among those: a host's unnamed
	 * containers (found together at start) do not all look in the same
	 * tick, and the ticks between carry no look (each costs a few µs
	 * with its cold code and data: spread over every tick, they made
	 * the median tick about 10 % dearer) */
	step = 2u << 2 * e->meta_tries;
	grid = step < CTR_NAME_GRID ? step : CTR_NAME_GRID;
	e->meta_next = cgroup_pace_next(&s->cg.rd, e->u.pace.phase % step / grid * grid, step);
	if (step < CTR_NAME_TICKS)
		e->meta_tries++;
	/* conmon's -n NAME: its container's first process is its child from
	 * moments after the start (once the OCI runtime that made it exits),
	 * so a member looked at CTR_CONMON_TRIES times is not asked again */
	if (ctr_meta_read(&s->meta, &ref, e->conmon_tries < CTR_CONMON_TRIES ? e->pid : -1, &m) < 0)
		return -ENOMEM;
	if (e->conmon_tries < CTR_CONMON_TRIES)
		e->conmon_tries++;
	if (e->head && ctr_same_str(m.name, e->meta.name) && ctr_same_str(m.image, e->meta.image)) {
		ctr_meta_done(&m);
		return 0;
	}
	ctr_meta_done(&e->meta);
	e->meta = m;
	e->named = e->meta.name != NULL;
	s->order_dirty = true;
	return ctr_head(e);
}

/* The walk's callback: marks a known container, adds a new one. */
static int ctr_found(void *ctx, const struct ctr_ref *ref)
{
	struct ctr_state *s = ctx;
	struct ctr_entry e = {0};
	bool found;
	size_t i = ctr_find(s, ref->rel, &found);
	int r;

	if (found) {
		s->v[i].gen = s->gen;
		return 0;
	}
	if (s->n >= CONTAINERS_MAX)
		return 0;
	if (ARRAY_GROW(s->v, s->cap, s->n, 32) < 0)
		return -ENOMEM;
	e.rel = strdup(ref->rel);
	if (!e.rel)
		return -ENOMEM;
	memcpy(e.id, ref->id, sizeof(e.id));
	snprintf(e.short_id, sizeof(e.short_id), "%.12s", ref->id);
	e.engine = ref->engine;
	e.uid = ref->uid;
	e.gen = s->gen;
	e.net_fd = -1;
	e.pid = -1;
	e.limit = e.rx_s = e.tx_s = e.oom = e.frozen = -1;
	cgroup_unit_init(&e.u, ref->rel);
	e.is_new = true;
	r = ctr_name_it(s, &e);
	if (r == 0)
		r = cgroup_unit_join(&s->cg.groups, &e.u, e.rel);
	if (r < 0) {
		ctr_close(s, &e);
		cgroup_unit_done(&s->cg.rd, &s->cg.groups, &e.u);
		ctr_meta_done(&e.meta);
		free(e.head);
		free(e.rel);
		return r;
	}
	memmove(&s->v[i + 1], &s->v[i], (s->n - i) * sizeof(*s->v));
	s->v[i] = e;
	s->n++;
	s->order_dirty = s->list_dirty = true;
	return 0;
}

/* Walks the tree for containers; with env->publish, what started and
 * stopped since the last walk goes out now as one event, in cgroup order. */
static int ctr_rescan(struct ctr_state *s, const struct collector_env *env, int64_t t_ms)
{
	cJSON *payload = NULL;
	int r;

	s->gen++;
	if (env && env->publish) {
		payload = json_payload(t_ms);
		s->changes = payload ? cJSON_AddArrayToObject(payload, "changes") : NULL;
		if (!s->changes) {
			cJSON_Delete(payload);
			return -ENOMEM;
		}
	}
	r = ctr_walk(cgroup_find_fd(&s->cg.root), s->cg.inotify_fd, s->dents, CTR_DENTS_BUF,
		     ctr_found, s);
	/* in cgroup order, whatever order the directories were listed in */
	for (size_t i = 0; i < s->n && r >= 0;) {
		if (s->v[i].gen == s->gen) {
			if (s->v[i].is_new)
				r = ctr_change(s, &s->v[i], "started");
			s->v[i++].is_new = false;
			continue;
		}
		r = ctr_change(s, &s->v[i], "stopped");
		ctr_drop(s, i);
	}
	if (r >= 0 && payload && cJSON_GetArraySize(s->changes) > 0) {
		env->publish(env, payload, NULL);
		payload = NULL;
		/* the state with them, so that a snapshot never lists a
		 * container whose stop the client will not see */
		r = ctr_state_set(s, env, t_ms);
	}
	cJSON_Delete(payload);
	s->changes = NULL;
	return r < 0 ? r : 0;
}

/* --- reading one container --- */

static bool ctr_same_link(int proc_fd, const char *a, const char *b)
{
	char x[64], y[64];
	ssize_t n = readlinkat(proc_fd, a, x, sizeof(x));
	ssize_t m = readlinkat(proc_fd, b, y, sizeof(y));

	return n > 0 && n == m && memcmp(x, y, (size_t)n) == 0;
}

/* Opens PID/net/dev of a member, unless it shares PID 1's namespace (then
 * the bytes would be the host's: null). */
static void ctr_net_open(struct ctr_state *s, struct ctr_entry *e)
{
	struct cgroup_values v;
	char path[64], ns[64];

	if (cgroup_read(&s->cg.rd, &e->u.files, e->rel, 1u << CGROUP_PROCS, &v) < 0 || v.pid <= 0)
		return;
	ctr_set_pid(e, v.pid);
	snprintf(ns, sizeof(ns), "%lld/ns/net", (long long)v.pid);
	e->net_host = ctr_same_link(s->proc_fd, ns, "1/ns/net");
	if (e->net_host)
		return;
	snprintf(path, sizeof(path), "%lld/net/dev", (long long)v.pid);
	e->net_fd = openat(s->proc_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
}

/* The bytes received and sent on every interface but loopback. */
static void ctr_net(struct ctr_state *s, struct ctr_entry *e, uint64_t mono_ns)
{
	uint64_t rx, tx;
	ssize_t n;

	e->rx_s = e->tx_s = -1;
	if (e->net_fd < 0 && !e->net_host)
		ctr_net_open(s, e);
	if (e->net_fd < 0)
		return;
	n = procfs_pread(e->net_fd, s->net_buf, CTR_NET_BUF);
	s->cg.rd.reads++;
	if (n < 0 || net_dev_totals(s->net_buf, (size_t)n, &rx, &tx) < 0) {
		close(e->net_fd); /* the namespace went away: another member next tick */
		e->net_fd = -1;
		e->rx.valid = e->tx.valid = false;
		return;
	}
	e->rx_s = cgroup_rate(&e->rx, rx, mono_ns, 1000000000u);
	e->tx_s = cgroup_rate(&e->tx, tx, mono_ns, 1000000000u);
}

static void ctr_sample_one(struct ctr_state *s, struct ctr_entry *e, uint64_t mono_ns)
{
	const unsigned freeze = 1u << CGROUP_FREEZE;
	bool was_idle = e->u.pace.idle, idle;
	struct cgroup_values v;
	unsigned read;
	int r;

	if (!e->named && s->cg.rd.ticks >= e->meta_next)
		(void)ctr_name_it(s, e);
	/* (a sleeping one's frozen is not looked at: it would cost a line) */
	r = cgroup_sample(&s->cg.rd, &e->u, e->rel,
			  CTR_BUSY | (was_idle         ? freeze
				      : e->frozen != 0 ? freeze
						       : 0),
			  CTR_SLEEPING, &v, mono_ns);
	e->read_now = e->read_now || !(r & CGROUP_SKIPPED) || r < 0;
	if (r < 0 || (r & CGROUP_SKIPPED))
		return;
	read = e->u.read;
	if (((read & freeze) && v.frozen != e->frozen) ||
	    ((read & (1u << CGROUP_LIMIT)) && v.limit != e->limit) ||
	    ((read & (1u << CGROUP_OOM)) && v.oom_kills != e->oom))
		cgroup_pace_moved(&s->cg.rd, &e->u.pace);
	if (read & (1u << CGROUP_OOM))
		e->oom = v.oom_kills;
	if (read & freeze)
		ctr_set_frozen(s, e, v.frozen);
	if (read & (1u << CGROUP_LIMIT))
		e->limit = v.limit;
	/* a busy one's bytes each tick while they move (or have no rate), then
	 * after 2, 4, up to CTR_NET_STEADY_TICKS ticks while they stand; an
	 * idle one's at its whole look, and when it wakes */
	if (was_idle || s->cg.rd.ticks >= e->net_next) {
		ctr_net(s, e, mono_ns);
		e->net_step = cgroup_pace_step(e->net_step, e->rx_s != 0 || e->tx_s != 0,
					       CTR_NET_STEADY_TICKS);
		e->net_next = cgroup_pace_next(&s->cg.rd, e->u.pace.phase, e->net_step);
	}
	idle = (r & CGROUP_STILL) && e->rx_s <= 0 && e->tx_s <= 0;
	/* a container that stops (docker pause freezes it): its freezer state
	 * now, not at its next whole look (and when it wakes: the whole
	 * reading has it) */
	if (idle && !was_idle && !(read & freeze) &&
	    cgroup_read(&s->cg.rd, &e->u.files, e->rel, freeze, &v) == 0)
		ctr_set_frozen(s, e, v.frozen);
	cgroup_pace_set(&s->cg.rd, &e->u.pace, idle);
}

/* --- the collector --- */

static void ctr_fini(void *state)
{
	struct ctr_state *s = state;

	if (!s)
		return;
	while (s->n > 0)
		ctr_drop(s, s->n - 1);
	cgroup_set_done(&s->cg);
	ctr_meta_fini(&s->meta);
	if (s->epfd >= 0)
		close(s->epfd);
	free(s->v);
	free(s->dents);
	free(s->net_buf);
	free(s->touched);
	free(s->changed);
	free(s->at);
	json_buf_free(&s->rows);
	json_buf_free(&s->list);
	json_buf_free(&s->list_old);
	free(s->order);
	topn_free(&s->top);
	free(s);
}

/* Opens the hierarchies under the sys root; on a new root (a test switching
 * snapshots) the held fds are closed, the containers and counters stay. */
static int ctr_open_root(struct ctr_state *s, int sys_fd, char *reason, size_t reason_len)
{
	struct cgroup_root root;
	int r;

	r = cgroup_root_open(&root, sys_fd, reason, reason_len);
	if (r < 0)
		return r;
	if (cgroup_find_fd(&root) < 0) {
		snprintf(reason, reason_len,
			 "/sys/fs/cgroup: no unified, memory or systemd hierarchy to find "
			 "containers in");
		cgroup_root_close(&root);
		return -ENOENT;
	}
	for (size_t i = 0; i < s->n; i++)
		ctr_close(s, &s->v[i]);
	cgroup_set_root(&s->cg, &root);
	return 0;
}

/* Finds the hierarchies and the containers there now (no events for
 * those), and sets up inotify; without inotify the tree is walked every
 * tick instead. */
static int ctr_init(const struct collector_env *env, const void *settings, void **ret_state,
		    char *reason, size_t reason_len)
{
	struct ctr_state *s;
	char why[256] = "";
	int r = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->set = settings;
	s->epfd = -1;
	s->proc_fd = env->proc_fd;
	s->list_dirty = true; /* the first tick sets the state, with no container too */
	(void)ctr_meta_init(&s->meta, env->proc_fd);
	s->dents = malloc(CTR_DENTS_BUF);
	s->net_buf = malloc(CTR_NET_BUF);
	if (cgroup_set_init(&s->cg, CTR_FD_MAX) < 0 || !s->dents || !s->net_buf)
		goto out;
	r = ctr_open_root(s, env->sys_fd, why, sizeof(why));
	if (r < 0)
		goto out;
	if ((s->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0) {
		r = -errno;
		goto out;
	}
	r = ctr_rescan(s, NULL, 0);
	if (r < 0)
		goto out;
	cgroup_set_watch(&s->cg, env);
	*ret_state = s;
	s = NULL;
out:
	if (r < 0 && reason && reason_len > 0)
		snprintf(reason, reason_len, "%s", why[0] ? why : strerror(-r));
	ctr_fini(s);
	return r;
}

static int ctr_get_fd(void *state)
{
	const struct ctr_state *s = state;

	return s->epfd;
}

/* Drains inotify; a directory made or removed (or a lost event) means a
 * walk now, whose changes go out at once. */
static int ctr_dispatch(void *state, const struct collector_env *env)
{
	struct ctr_state *s = state;

	if (!cgroup_drain(s->cg.inotify_fd))
		return 0;
	return ctr_rescan(s, env, clock_real_ms());
}

/* Starts and stops are walked as they happen only while a stream client
 * or an alert rule waits for them: cgroups come and go all the time on a
 * busy host (every unit, scope and session), and with nobody waiting the
 * tick's look at inotify is soon enough. */
static void ctr_follow(void *state, bool followed)
{
	struct ctr_state *s = state;
	struct epoll_event ev = {.events = EPOLLIN};

	if (s->cg.inotify_fd < 0 || followed == s->followed)
		return;
	if (epoll_ctl(s->epfd, followed ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, s->cg.inotify_fd, &ev) ==
	    0)
		s->followed = followed;
}

/* The i-th container's cgroup unit (cgroup_tick_ahead). */
static struct cgroup_unit *ctr_unit(void *ctx, size_t i, const char **ret_rel)
{
	struct ctr_state *s = ctx;

	*ret_rel = s->v[i].rel;
	return &s->v[i].u;
}

/* Each tick reads every container's files (the walk happens on inotify
 * events, or here when inotify is not there or the root changed). The
 * first tick of a container has no rates. */
static int ctr_sample(void *state, const struct collector_env *env,
		      const struct collector_tick *tick, cJSON **ret_payload)
{
	struct ctr_state *s = state;
	char why[256];
	int r;

	*ret_payload = NULL;
	if (!cgroup_root_same(&s->cg.root, env->sys_fd, env->sys_st)) {
		r = ctr_open_root(s, env->sys_fd, why, sizeof(why));
		if (r < 0)
			return r;
		s->proc_fd = env->proc_fd;
		r = ctr_rescan(s, env, tick->t_ms);
		if (r < 0)
			return r;
	} else if (s->cg.inotify_fd < 0 || (!s->followed && cgroup_set_drain(&s->cg, env))) {
		r = ctr_rescan(s, env, tick->t_ms);
		if (r < 0)
			return r;
	}
	s->proc_fd = env->proc_fd;
	s->meta.proc_fd = env->proc_fd;
	if (s->touched_cap < s->n) {
		struct ctr_entry **t = reallocarray(s->touched, s->cap, sizeof(*t));

		if (!t)
			return -ENOMEM;
		s->touched = t;
		s->touched_cap = s->cap;
	}
	s->n_touched = 0;
	cgroup_tick_ahead(&s->cg.rd, &s->cg.groups, tick->mono_ns, s->n, ctr_unit, s);
	s->meta.tick = s->cg.rd.ticks; /* (a walk between ticks looks afresh) */
	for (size_t i = 0; i < s->n; i++) {
		struct ctr_entry *e = &s->v[i];

		ctr_sample_one(s, e, tick->mono_ns);
		/* those whose row may change or be due: ctr_payload looks at them alone */
		if (e->read_now || e->row_dirty || !e->sent || !e->row.len)
			s->touched[s->n_touched++] = e;
	}
	cgroup_tick_end(&s->cg.rd, &s->cg.groups);
	s->meta.tick = 0;
	return ctr_payload(s, env, tick->t_ms, ret_payload);
}

static const char *const ctr_history[] = {"containers", "running", NULL};

static const struct setting ctr_keys[] = {
    SETTING("top-n", SET_UINT, offsetof(struct containers_settings, top_n), 1, 100, "15"),
    {0},
};

const struct collector containers_collector = {
    .name = "containers",
    .flags = COLLECTOR_DELTA,
    .settings = ctr_keys,
    .settings_size = sizeof(struct containers_settings),
    .history = ctr_history,
    .init = ctr_init,
    .sample = ctr_sample,
    .get_fd = ctr_get_fd,
    .dispatch = ctr_dispatch,
    .follow = ctr_follow,
    .metrics = ctr_metrics,
    .fini = ctr_fini,
};
