/* The topic runtime: see topics.h. */
#include "topics.h"

#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "clock.h"
#include "collector.h"
#include "config.h"
#include "heap.h"
#include "history.h"
#include "hub.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "procfs.h"
#include "self_metrics.h"
#include "store.h"

#define MAX_TOPICS       HUB_MAX_TOPICS
#define REASON_LEN       256
#define HISTORY_MAX_ROWS 3600
#define PENDING_MAX      256 /* an event collector's frames before they go out */
#define WATCH_MAX        8   /* proc files and fds collectors watch (env->watch) */
#define SHARED_MAX       2   /* proc files several collectors read (env->read_shared) */
#define SHARED_BYTES     4096

/* A proc file read once a tick for every collector that reads it. */
struct shared_file {
	const char *path; /* a collector's string literal (compared by text) */
	struct procfs_file f;
	struct procfs_buf buf;
	uint64_t gen; /* read_gen when it was read */
	int r;        /* what that read gave */
};

struct topics {
	struct hub *hub;
	const struct config *cfg;
	uint64_t instance;
	int64_t start_ms;
	size_t n;
	const struct collector *cols[MAX_TOPICS];
	struct collector_env env[MAX_TOPICS]; /* each collector's handle */
	struct stat proc_st, sys_st;          /* what env's roots are, for life */
	/* The files collectors watch (env->watch) and their own fds
	 * (env->watch_fd: path NULL; fd -1 when given back), polled at each
	 * tick's start in one call, and how many ticks saw each change. */
	const char *watch_path[WATCH_MAX];
	struct pollfd watch_pfd[WATCH_MAX];
	uint32_t watch_gen[WATCH_MAX];
	size_t n_watch;
	struct shared_file shared[SHARED_MAX];
	size_t n_shared;
	uint64_t read_gen; /* moves at each tick: the shared files are read again */
	void *state[MAX_TOPICS];
	bool active[MAX_TOPICS];
	bool failing[MAX_TOPICS]; /* warned once until the next success */
	bool followed[MAX_TOPICS];
	char reason[MAX_TOPICS][REASON_LEN];
	size_t history_rows;
	struct metrics mbuf; /* each topic's families in turn, handed to the hub */
	cJSON *hostinfo;     /* the last payload of a COLLECTOR_HOSTINFO topic */
	/* What event collectors published during one dispatch: their frames
	 * and their new state go to the hub in one step, so that a snapshot
	 * never holds a state without its frames or the other way round. */
	struct hub_msg pend[PENDING_MAX];
	size_t n_pend;
	char *pend_state[MAX_TOPICS];
	size_t pend_state_len[MAX_TOPICS];
	struct topics_hook hook;
	uint64_t ticks;
	double tick_cpu_s, tick_last_cpu_s, tick_last_wall_s;
	uint64_t metrics_writes; /* topics_metrics calls */
	struct store *store;     /* history on disk */
	struct store_rec *rec;   /* what goes to it from this tick */
	unsigned store_gen;      /* its status when `hello` was made */
	bool keep;               /* whether it has a directory to write to */
};

const char *const *topics_names(void)
{
	static const char *names[MAX_TOPICS + 1];

	for (size_t i = 0; collector_registry[i] && i < MAX_TOPICS - 1; i++)
		names[i] = collector_registry[i]->name;
	names[topics_alert_topic()] = "alert";
	return names;
}

unsigned topics_alert_topic(void)
{
	return (unsigned)collector_count();
}

void topics_set_hook(struct topics *t, const struct topics_hook *hook)
{
	t->hook = *hook;
}

/* The `hello` event: who this is and which topics are on or off. */
static int topics_hello(struct topics *t)
{
	cJSON *o = cJSON_CreateObject(), *on, *off;
	char host[256] = "", inst[17];
	struct utsname uts;
	char *json;
	int r;

	if (!o)
		return -ENOMEM;
	gethostname(host, sizeof(host) - 1);
	uname(&uts);
	snprintf(inst, sizeof(inst), "%016" PRIx64, t->instance);
	cJSON_AddNumberToObject(o, "t", (double)clock_real_ms());
	json_str(o, "host", host); /* host text: made valid UTF-8 */
	json_str(o, "kernel", uts.release);
	cJSON_AddStringToObject(o, "version", SYSFEED_VERSION);
	cJSON_AddStringToObject(o, "instance", inst);
	cJSON_AddNumberToObject(o, "interval_ms", t->cfg->interval_ms);
	if (t->hostinfo)
		cJSON_AddItemToObject(o, "hostinfo", cJSON_Duplicate(t->hostinfo, true));
	on = cJSON_AddArrayToObject(o, "topics");
	off = cJSON_AddObjectToObject(o, "off");
	for (size_t i = 0; i < t->n; i++) {
		if (t->active[i])
			cJSON_AddItemToArray(on, cJSON_CreateString(t->cols[i]->name));
		else
			json_str(off, t->cols[i]->name, t->reason[i]);
	}
	cJSON_AddItemToArray(on, cJSON_CreateString("alert")); /* the daemon's own, always on */
	if (t->hook.hello)
		t->hook.hello(t->hook.ctx, o);
	if (t->store) {
		char reason[STORE_REASON_LEN];
		bool hist_on;

		t->store_gen = store_status(t->store, &hist_on, reason, sizeof(reason));
		if (!hist_on)
			json_str(off, "history", reason);
	}
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!json)
		return -ENOMEM;
	r = hub_set_hello(t->hub, json, 2000);
	free(json);
	return r;
}

/* Publishes what event collectors gave since the last flush as one batch:
 * their frames in order, each topic's new state with its last frame. */
static void flush_pending(struct topics *t)
{
	struct hub_msg extra[MAX_TOPICS];
	size_t n_extra = 0;

	for (size_t i = t->n_pend; i-- > 0;) {
		struct hub_msg *m = &t->pend[i];

		if (t->pend_state[m->topic] && !m->state_json) {
			m->state_json = t->pend_state[m->topic];
			m->state_len = t->pend_state_len[m->topic];
			t->pend_state[m->topic] = NULL; /* moved */
		}
	}
	for (size_t i = 0; i < t->n; i++)
		if (t->pend_state[i])
			extra[n_extra++] = (struct hub_msg){.topic = (unsigned)i,
							    .level = -1,
							    .state_json = t->pend_state[i],
							    .state_len = t->pend_state_len[i]};
	if (t->n_pend && hub_publish(t->hub, t->pend, t->n_pend, 0) == -E2BIG)
		log_warnx("a frame larger than half of ring-bytes was dropped");
	if (n_extra)
		hub_publish(t->hub, extra, n_extra, 0);
	for (size_t i = 0; i < t->n_pend; i++) {
		free((char *)t->pend[i].json);
		free((char *)t->pend[i].state_json);
		free((char *)t->pend[i].key);
	}
	for (size_t i = 0; i < t->n; i++) {
		free(t->pend_state[i]);
		t->pend_state[i] = NULL;
	}
	t->n_pend = 0;
}

static bool env_wants_dropped(const struct collector_env *env, int level)
{
	struct topics *t = env->ctx;

	return t->hook.wants_dropped && t->hook.wants_dropped(t->hook.ctx, env->topic, level);
}

/* Read but not published: the hook's rules see it, nobody else does. */
static void env_hand_dropped(const struct collector_env *env, const cJSON *payload)
{
	struct topics *t = env->ctx;

	if (t->hook.payload)
		t->hook.payload(t->hook.ctx, env->topic, payload);
}

/* An event collector's event: it goes out with the rest of its dispatch. */
static void env_publish(const struct collector_env *env, cJSON *payload,
			const struct collector_event *ev)
{
	struct topics *t = env->ctx;
	char *json, *key = NULL;
	size_t len;

	if (t->hook.payload)
		t->hook.payload(t->hook.ctx, env->topic, payload);
	if (t->keep && (t->rec || (t->rec = store_rec_for(t->store))))
		store_rec_event(t->rec, t->cols[env->topic]->name, payload);
	json = json_print(payload, &len);
	cJSON_Delete(payload);
	if (!json || (ev && ev->key && !(key = strdup(ev->key)))) {
		free(json);
		return;
	}
	if (t->n_pend == PENDING_MAX)
		flush_pending(t);
	t->pend[t->n_pend++] = (struct hub_msg){.topic = env->topic,
						.json = json,
						.len = len,
						.level = ev ? ev->level : -1,
						.key = key};
}

/* Keeps json (malloc'd, len bytes) as the topic's state to publish. */
static void pend_state(struct topics *t, unsigned topic, char *json, size_t len)
{
	if (!json)
		return;
	free(t->pend_state[topic]);
	t->pend_state[topic] = json;
	t->pend_state_len[topic] = len;
}

/* Paths are string literals of the collectors (compared by text). */
static int env_watch(const struct collector_env *env, const char *path)
{
	struct topics *t = env->ctx;
	int fd;

	for (size_t i = 0; i < t->n_watch; i++)
		if (t->watch_path[i] && strcmp(t->watch_path[i], path) == 0)
			return (int)i;
	if (t->n_watch == WATCH_MAX)
		return -1;
	fd = procfs_watch_open(env->proc_fd, path);
	if (fd < 0)
		return -1;
	t->watch_path[t->n_watch] = path;
	t->watch_pfd[t->n_watch] = (struct pollfd){.fd = fd, .events = POLLPRI};
	return (int)t->n_watch++;
}

/* A collector's fd, in a slot given back or a new one. */
static int env_watch_fd(const struct collector_env *env, int fd)
{
	struct topics *t = env->ctx;
	size_t i = 0;

	while (i < t->n_watch && (t->watch_path[i] || t->watch_pfd[i].fd >= 0))
		i++;
	if (i == WATCH_MAX)
		return -1;
	if (i == t->n_watch)
		t->n_watch++;
	t->watch_pfd[i] = (struct pollfd){.fd = fd, .events = POLLIN};
	return (int)i;
}

static void env_unwatch_fd(const struct collector_env *env, int id)
{
	struct topics *t = env->ctx;

	if (id >= 0 && (size_t)id < t->n_watch && !t->watch_path[id])
		t->watch_pfd[id] = (struct pollfd){.fd = -1};
}

/* One poll() for every watched file and fd: a change, or an fd found
 * readable, counts for each (a negative fd is left out by poll). Each fd
 * looked at this way is a syscall less in its collector's sample (a
 * recv, read or epoll_wait that mostly finds nothing). */
static void poll_watches(struct topics *t)
{
	if (t->n_watch == 0 || poll(t->watch_pfd, t->n_watch, 0) <= 0)
		return;
	for (size_t i = 0; i < t->n_watch; i++)
		if (t->watch_pfd[i].revents)
			t->watch_gen[i]++;
}

/* The first collector to ask at a tick reads the file (through an fd
 * kept open), the others have its text. */
static int env_read_shared(const struct collector_env *env, const char *path, const char **ret_text,
			   size_t *ret_len)
{
	struct topics *t = env->ctx;
	struct shared_file *sf = NULL;

	for (size_t i = 0; i < t->n_shared && !sf; i++)
		if (strcmp(t->shared[i].path, path) == 0)
			sf = &t->shared[i];
	if (!sf) {
		if (t->n_shared == SHARED_MAX)
			return -ENOSPC; /* a collector's file beyond SHARED_MAX */
		sf = &t->shared[t->n_shared++];
		sf->path = path;
		sf->gen = t->read_gen + 1;
	}
	if (sf->gen != t->read_gen) {
		sf->r = procfs_read_file_at(&sf->f, env->proc_fd, env->proc_st, path, &sf->buf,
					    SHARED_BYTES);
		sf->gen = t->read_gen;
	}
	if (sf->r < 0)
		return sf->r;
	*ret_text = sf->buf.data;
	*ret_len = sf->buf.len;
	return 0;
}

static void env_set_state(const struct collector_env *env, cJSON *state)
{
	size_t len = 0;
	char *json = json_print(state, &len);

	cJSON_Delete(state);
	pend_state(env->ctx, env->topic, json, len);
}

static void env_set_state_json(const struct collector_env *env, const char *json, size_t len)
{
	char *copy = malloc(len + 1);

	if (copy) {
		memcpy(copy, json, len);
		copy[len] = '\0';
	}
	pend_state(env->ctx, env->topic, copy, len);
}

/* The daemon's own families of the loop thread (self_metrics.c). */
static void daemon_metrics(struct topics *t)
{
	struct metrics *m = &t->mbuf;
	bool up[MAX_TOPICS];
	const char *names[MAX_TOPICS];
	struct mallinfo2 mi = mallinfo2();

	for (size_t i = 0; i < t->n; i++) {
		names[i] = t->cols[i]->name;
		up[i] = t->active[i] && !t->failing[i];
	}
	metrics_reset(m);
	self_metrics_tick(m, &(struct self_tick){.start_ms = t->start_ms,
						 .ticks = t->ticks,
						 .tick_cpu_s = t->tick_cpu_s,
						 .tick_last_wall_s = t->tick_last_wall_s,
						 .tick_last_cpu_s = t->tick_last_cpu_s,
						 .interval_ms = t->cfg->interval_ms,
						 .n_topics = t->n,
						 .topic_names = names,
						 .topic_up = up,
						 .heap_in_use = mi.uordblks + mi.hblkhd,
						 .heap_free = mi.fordblks,
						 .heap_trims = heap_trims(),
						 .metrics_writes = t->metrics_writes});
	if (t->store) {
		struct store_stats st;

		store_get_stats(t->store, &st);
		self_metrics_history(m, &st);
	}
	if (!metrics_error(m))
		hub_set_metrics(t->hub, -1, m->buf, m->len);
}

/* Each topic's families from the tick just taken. */
static void collector_metrics(struct topics *t)
{
	for (size_t i = 0; i < t->n; i++) {
		struct metrics *m = &t->mbuf;

		if (!t->active[i] || !t->cols[i]->metrics)
			continue;
		metrics_reset(m);
		if (t->cols[i]->metrics(t->state[i], m) == 0 && !metrics_error(m))
			hub_set_metrics(t->hub, (int)i, m->buf, m->len);
	}
}

/* One periodic topic's sample as a message of the tick's batch (its frame,
 * its state, its chart row). Returns false when there is none. */
static bool sample_one(struct topics *t, size_t i, const struct collector_tick *tick,
		       struct hub_msg *ret, bool *ret_hostinfo)
{
	cJSON *payload = NULL, *row;
	char *json, *row_json = NULL;
	size_t len, row_len = 0;
	int r;

	r = t->cols[i]->sample(t->state[i], &t->env[i], tick, &payload);
	if (r < 0) {
		if (!t->failing[i])
			log_warnx("%s: sample failed: %s; retrying every tick", t->cols[i]->name,
				  strerror(-r));
		t->failing[i] = true;
		return false;
	}
	if (t->failing[i])
		log_info("%s: sampling again", t->cols[i]->name);
	t->failing[i] = false;
	if (!payload)
		return false;
	if (t->cols[i]->flags & COLLECTOR_HOSTINFO) {
		cJSON_Delete(t->hostinfo);
		t->hostinfo = cJSON_Duplicate(payload, true);
		*ret_hostinfo = true;
	}
	if (t->hook.payload)
		t->hook.payload(t->hook.ctx, (unsigned)i, payload);
	if (t->keep && t->cols[i]->history && (t->rec || (t->rec = store_rec_for(t->store))))
		store_rec_payload(t->rec, tick->t_ms, t->cols[i]->name, payload,
				  t->cols[i]->history, t->cols[i]->tops);
	if (t->cols[i]->history && t->history_rows &&
	    (row = history_row(payload, t->cols[i]->history))) {
		row_json = json_print(row, &row_len);
		cJSON_Delete(row);
	}
	json = json_print(payload, &len);
	cJSON_Delete(payload);
	if (!json) {
		free(row_json);
		return false;
	}
	*ret = (struct hub_msg){.topic = (unsigned)i,
				.json = json,
				.len = len,
				.state = !(t->cols[i]->flags & COLLECTOR_DELTA),
				.level = -1,
				.row = row_json,
				.row_len = row_json ? row_len : 0};
	return true;
}

void topics_tick(struct topics *t)
{
	double wall0 = clock_s(CLOCK_MONOTONIC), cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	struct hub_msg msgs[MAX_TOPICS];
	struct collector_tick tick = {.t_ms = clock_real_ms(), .mono_ns = clock_mono_ns()};
	bool hostinfo = false;
	size_t n = 0;

	poll_watches(t);
	t->read_gen++;
	for (size_t i = 0; i < t->n; i++)
		if (t->active[i] && t->cols[i]->sample &&
		    sample_one(t, i, &tick, &msgs[n], &hostinfo))
			n++;
	flush_pending(t); /* what event collectors gave from their sample */
	store_push(t->store, t->rec);
	t->rec = NULL;
	if (hostinfo || (t->store && store_status(t->store, &(bool){0}, NULL, 0) != t->store_gen))
		topics_hello(t); /* the host's description, history's state */
	if (hub_publish(t->hub, msgs, n, tick.t_ms) == -E2BIG)
		log_warnx("a frame larger than half of ring-bytes was dropped");
	for (size_t i = 0; i < n; i++) {
		free((char *)msgs[i].json);
		free((char *)msgs[i].row);
	}
	if (t->hook.flush && t->hook.flush(t->hook.ctx, true))
		topics_hello(t);
	t->ticks++;
	t->tick_last_wall_s = clock_s(CLOCK_MONOTONIC) - wall0;
	t->tick_last_cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	t->tick_cpu_s += t->tick_last_cpu_s;
}

void topics_metrics(struct topics *t)
{
	t->metrics_writes++;
	collector_metrics(t);
	if (t->hook.metrics)
		t->hook.metrics(t->hook.ctx);
	daemon_metrics(t);
	hub_metrics_written(t->hub);
}

/* Chart history: history-seconds worth of rows at the start's interval
 * (at most HISTORY_MAX_ROWS a topic). */
static int setup_history(struct topics *t)
{
	size_t rows = (size_t)t->cfg->history_s * 1000 / t->cfg->interval_ms;

	t->history_rows = rows = rows > HISTORY_MAX_ROWS ? HISTORY_MAX_ROWS : rows;
	for (size_t i = 0; rows && i < t->n; i++) {
		const char *const *h = t->cols[i]->history;
		cJSON *fields;
		char *json;
		int r;

		if (!h || !t->active[i])
			continue;
		if (!(fields = cJSON_CreateArray()))
			return -ENOMEM;
		cJSON_AddItemToArray(fields, cJSON_CreateString("t"));
		for (size_t j = 0; h[j]; j++)
			cJSON_AddItemToArray(fields, cJSON_CreateString(h[j]));
		json = cJSON_PrintUnformatted(fields);
		cJSON_Delete(fields);
		if (!json)
			return -ENOMEM;
		r = hub_set_history(t->hub, (unsigned)i, json, rows);
		free(json);
		if (r < 0)
			return r;
	}
	return 0;
}

static unsigned long pow10_u(unsigned k)
{
	unsigned long v = 1;

	while (k--)
		v *= 10;
	return v;
}

struct store *topics_store(struct topics *t)
{
	return t->store;
}

struct topics *topics_new(struct hub *hub, const struct config *cfg, int proc_fd, int sys_fd,
			  uint64_t instance, int64_t start_ms)
{
	struct topics *t = calloc(1, sizeof(*t));
	bool proc_known, sys_known;

	if (!t)
		return NULL;
	t->hub = hub;
	t->cfg = cfg;
	t->instance = instance;
	t->start_ms = start_ms;
	/* the roots stay open, and the same directories, until topics_free */
	proc_known = fstat(proc_fd, &t->proc_st) == 0;
	sys_known = fstat(sys_fd, &t->sys_st) == 0;
	for (size_t i = 0; collector_registry[i] && i < MAX_TOPICS; i++) {
		const struct collector *c = collector_registry[i];
		int r = 0;

		t->cols[i] = c;
		t->n = i + 1;
		t->env[i] = (struct collector_env){.proc_fd = proc_fd,
						   .sys_fd = sys_fd,
						   .proc_st = proc_known ? &t->proc_st : NULL,
						   .sys_st = sys_known ? &t->sys_st : NULL,
						   .publish = env_publish,
						   .set_state = env_set_state,
						   .set_state_json = env_set_state_json,
						   .watch = env_watch,
						   .watch_fd = env_watch_fd,
						   .unwatch_fd = env_unwatch_fd,
						   .watch_gen = t->watch_gen,
						   .read_shared = env_read_shared,
						   .wants_dropped = env_wants_dropped,
						   .hand_dropped = env_hand_dropped,
						   .ctx = t,
						   .topic = (unsigned)i};
		if (c->init)
			r = c->init(&t->env[i], cfg->col[i], &t->state[i], t->reason[i],
				    REASON_LEN);
		if (r < 0) {
			if (!t->reason[i][0])
				snprintf(t->reason[i], REASON_LEN, "%s", strerror(-r));
			log_warnx("%s: off: %s", c->name, t->reason[i]);
			continue;
		}
		t->active[i] = true;
	}
	flush_pending(t); /* states set in init */
	t->store = store_open(&(struct store_options){
	    .dir = cfg->state_dir,
	    .max_bytes = cfg->history_max_bytes,
	    .flush_s = cfg->history_flush_s,
	    .interval_ms = cfg->interval_ms,
	    .rel = cfg->history_digits ? (unsigned)pow10_u(cfg->history_digits) : 0,
	    .topics = topics_names(),
	});
	t->keep = t->store && store_enabled(t->store);
	if (!t->store || topics_hello(t) < 0 || setup_history(t) < 0) {
		topics_free(t);
		return NULL;
	}
	return t;
}

void topics_free(struct topics *t)
{
	if (!t)
		return;
	for (size_t i = 0; i < t->n; i++)
		if (t->active[i] && t->cols[i]->fini)
			t->cols[i]->fini(t->state[i]);
	flush_pending(t);
	store_rec_free(t->rec);
	store_close(t->store);
	metrics_free(&t->mbuf);
	cJSON_Delete(t->hostinfo);
	for (size_t i = 0; i < t->n_watch; i++)
		if (t->watch_path[i]) /* the others are the collectors' */
			close(t->watch_pfd[i].fd);
	for (size_t i = 0; i < t->n_shared; i++) {
		procfs_file_close(&t->shared[i].f);
		procfs_buf_free(&t->shared[i].buf);
	}
	free(t);
}

int topics_watch(struct topics *t, int (*add)(void *ctx, int fd, unsigned topic), void *ctx)
{
	for (size_t i = 0; i < t->n; i++) {
		int fd;

		if (!t->active[i] || !t->cols[i]->get_fd || !t->cols[i]->dispatch)
			continue;
		if ((fd = t->cols[i]->get_fd(t->state[i])) >= 0 && add(ctx, fd, (unsigned)i) < 0)
			log_warn("%s: cannot watch its fd", t->cols[i]->name);
	}
	return 0;
}

void topics_dispatch(struct topics *t, unsigned topic)
{
	if (topic < t->n && t->active[topic])
		t->cols[topic]->dispatch(t->state[topic], &t->env[topic]);
	flush_pending(t);
	if (t->hook.flush && t->hook.flush(t->hook.ctx, false))
		topics_hello(t);
}

void topics_follow(struct topics *t)
{
	for (size_t i = 0; i < t->n; i++) {
		bool on;

		if (!t->active[i] || !t->cols[i]->follow)
			continue;
		on = hub_topic_clients(t->hub, (unsigned)i) > 0 ||
		     (t->hook.wants && t->hook.wants(t->hook.ctx, (unsigned)i));
		if (on != t->followed[i]) {
			t->followed[i] = on;
			t->cols[i]->follow(t->state[i], on);
		}
	}
}

void topics_reconfigure(struct topics *t, uint64_t changed)
{
	for (size_t i = 0; i < t->n; i++)
		if ((changed & (1ULL << i)) && t->active[i] && t->cols[i]->reconfigure)
			t->cols[i]->reconfigure(t->state[i]);
	topics_hello(t);
}

size_t topics_active(const struct topics *t)
{
	size_t n = 0;

	for (size_t i = 0; i < t->n; i++)
		n += t->active[i];
	return n;
}
