/* The collector interface: one constant struct per collector, listed in
 * collector_registry[]. Collectors run on the daemon's loop thread only, so
 * they need no locks; they never log: they return 0 or a negative errno and,
 * from init, a one-line reason the daemon prints once and shows in `hello`. */
#ifndef SYSFEED_COLLECTOR_H
#define SYSFEED_COLLECTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

struct collector;
struct field_table;
struct metrics;
struct setting;

/* What clients may filter an event on (`?log-priority=`, `?log-units=`,
 * `?log-match=` in the query): a severity 0..7 (lower is more severe; -1
 * for none) and a key such as a unit name (NULL for none). Clients with a
 * text match look for it in the event's JSON. */
struct collector_event {
	int level;
	const char *key;
};

/* Where a collector reads from and how it hands events to the hub: one
 * per collector, its handle on its topic. */
struct collector_env {
	int proc_fd; /* directory fd of the proc root (--proc-root, default /proc) */
	int sys_fd;  /* directory fd of the sys root (--sys-root, default /sys) */
	/* Their fstat(), taken once by whoever opened them and keeps them the
	 * same directories for the collectors' life (the daemon), so that a
	 * collector asking whether a root is the one it kept things from
	 * makes no syscall; NULL: unknown, fstat() the fd (tests that point
	 * env at another tree between ticks). */
	const struct stat *proc_st, *sys_st;
	/* Has the daemon watch a file of the proc root whose poll() says when
	 * it changed (procfs_watch_open: self/mountinfo, sys/kernel/hostname),
	 * in one poll() a tick for all such files, each once whoever watches
	 * it: returns its number, whose count in watch_gen grows at each tick
	 * that saw it change (before that tick's samples), or -1 (not on proc,
	 * no room): look at the file every tick. NULL (tests): poll it
	 * yourself. See struct collector_watch. */
	int (*watch)(const struct collector_env *env, const char *path);
	/* The same poll() also asks whether an fd of the collector's own,
	 * which it drains itself at its sample (a netlink socket, an inotify
	 * or epoll fd), is readable: returns its number, whose count in
	 * watch_gen grows at each tick that found it so (or in error), or -1
	 * (no room): look at it every tick. unwatch_fd gives the number back,
	 * before the fd is closed or replaced (the daemon polls no more after
	 * the collectors' fini). NULL (tests): look at it every tick. */
	int (*watch_fd)(const struct collector_env *env, int fd);
	void (*unwatch_fd)(const struct collector_env *env, int id);
	const uint32_t *watch_gen;
	/* A small file of the proc root that more than one collector reads
	 * at every tick (loadavg: load's payload, proc's last pid), read
	 * once a tick, by the first to ask, through an fd the daemon keeps:
	 * sets its text (NUL-terminated, valid until the next call) and
	 * length and returns 0, or -errno (-EFBIG above 4 KiB). NULL (tests):
	 * read it yourself. */
	int (*read_shared)(const struct collector_env *env, const char *path, const char **ret_text,
			   size_t *ret_len);
	/* Event-driven collectors publish through this; it takes the payload.
	 * ev may be NULL: nothing to filter on. */
	void (*publish)(const struct collector_env *env, cJSON *payload,
			const struct collector_event *ev);
	/* Replaces what the topic contributes to `snapshot`; takes the state. */
	void (*set_state)(const struct collector_env *env, cJSON *state);
	/* The same from a JSON object's text (copied): a large state written
	 * as text, without a tree. */
	void (*set_state_json)(const struct collector_env *env, const char *json, size_t len);
	/* What an event collector read but leaves out of the stream (the log
	 * topic's rate limit) still reaches the alert rules: wants_dropped
	 * says whether a rule looks at an event of this level (so it is worth
	 * encoding), hand_dropped gives them one (not taken). NULL (tests):
	 * nothing looks. */
	bool (*wants_dropped)(const struct collector_env *env, int level);
	void (*hand_dropped)(const struct collector_env *env, const cJSON *payload);
	void *ctx;      /* the daemon's */
	unsigned topic; /* the daemon's number for this collector's topic */
};

enum collector_flag {
	COLLECTOR_HOSTINFO = 1 << 0, /* its latest payload also goes into `hello` */
	/* Its periodic payloads say what changed since the last one: they are
	 * not its state in `snapshot`, which it gives set_state itself
	 * whenever it changes (published before that tick's frames). */
	COLLECTOR_DELTA = 1 << 1,
};

/* One tick's clock readings, shared by every collector of that tick. */
struct collector_tick {
	int64_t t_ms;     /* CLOCK_REALTIME in ms since the epoch: the payload's "t" */
	uint64_t mono_ns; /* CLOCK_MONOTONIC in ns: the base of every rate */
};

/* One of a payload's lists of who used the most, kept with the history
 * rows ("who caused it"): the array's key, and in each element the keys of
 * the id (NULL: none), the name, the CPU percent and the memory bytes. */
struct collector_top {
	const char *list;
	bool by_mem; /* ranked by memory, else by CPU */
	const char *id, *name, *cpu, *mem;
};

struct collector {
	const char *name; /* topic and SSE event name */
	unsigned flags;   /* enum collector_flag */
	/* Its configuration keys (lib/settings.h; NULL-name terminated, or
	 * NULL) and the size of the struct they fill. The daemon parses them
	 * with its own, hands the struct to init and keeps it for the
	 * collector's life: a reload changes the keys not marked `restart` in
	 * place, between two calls. */
	const struct setting *settings;
	size_t settings_size;
	/* The payload fields charts need, kept per tick for `snapshot`'s
	 * history (see daemon/history.h for the path syntax), or NULL. */
	const char *const *history;
	/* Its top lists kept with the history ({0}-terminated), or NULL. */
	const struct collector_top *tops;
	/* Its field tables (lib/fields.h), NULL-terminated, or NULL: what
	 * tools/fields lists for the docs. */
	const struct field_table *const *fields;
	/* Sets *ret_state; on failure returns -errno and writes a one-line
	 * reason (the topic is then off). settings: see above (NULL when it
	 * has none). May be NULL. */
	int (*init)(const struct collector_env *env, const void *settings, void **ret_state,
		    char *reason, size_t reason_len);
	/* Periodic: builds this tick's payload (a JSON object holding "t").
	 * Returns 0 with *ret_payload NULL when there is nothing to send. */
	int (*sample)(void *state, const struct collector_env *env,
		      const struct collector_tick *tick, cJSON **ret_payload);
	/* Event-driven: the fd to watch for input (EPOLLIN), and what to do
	 * when it is readable; dispatch publishes through env->publish. */
	int (*get_fd)(void *state);
	int (*dispatch)(void *state, const struct collector_env *env);
	/* Writes the topic's Prometheus families (lib/metrics.h) from
	 * its latest sample: raw counters where the source counts, never a
	 * new read. Called on the loop thread between ticks, whenever the
	 * text is wanted (a scrape). May be NULL. */
	int (*metrics)(void *state, struct metrics *m);
	/* Whether some stream client subscribes to the topic now (or a
	 * config alert rule reads it): the daemon calls it when that changes
	 * (checked about once a second; at start nobody does), so that a
	 * collector runs timers faster than the tick, or lets its sources wake
	 * the loop, only while someone waits for its events; else its sample
	 * looks at them. May be NULL. */
	void (*follow)(void *state, bool followed);
	/* Some of its keys changed in place (a reload): whatever was derived
	 * from them is to be made again. May be NULL. */
	void (*reconfigure)(void *state);
	void (*fini)(void *state);
};

/* A file of the proc root watched for changes (see env->watch): through
 * the daemon's poll, or an fd of its own when env has no watch. Or one of
 * the collector's fds (env->watch_fd): through the daemon's poll, or
 * looked at every tick. */
struct collector_watch {
	int id;        /* env's watch number, or -1 */
	int fd;        /* its own fd when id is -1; -1: changed at every ask */
	uint32_t seen; /* env->watch_gen[id] at the last ask */
};

/* Starts watching path under env's proc root (before reading it, so that
 * a change after the read is seen). */
void collector_watch_open(struct collector_watch *w, const struct collector_env *env,
			  const char *path);
/* Whether the file changed since the last ask (or the open). */
bool collector_watch_changed(struct collector_watch *w, const struct collector_env *env);
/* Accepts a watch zeroed, or never opened with fd -1. */
void collector_watch_close(struct collector_watch *w);

/* Has the daemon's poll look at fd, which stays the collector's (see
 * env->watch_fd): collector_watch_changed then says whether the last
 * tick's poll found it readable since the last ask, or true without the
 * daemon's poll. fd -1: nothing to look at (changed at every ask). */
void collector_watch_fd(struct collector_watch *w, const struct collector_env *env, int fd);
/* Gives the number back before the fd is closed or replaced; the watch
 * is then changed at every ask. Accepts a watch opened by
 * collector_watch_fd, or set up with id and fd -1. */
void collector_watch_fd_close(struct collector_watch *w, const struct collector_env *env);

/* NULL-terminated; the index of a collector in it is its topic number. */
extern const struct collector *const collector_registry[];

/* Topic number of a name, or -1. */
int collector_topic(const char *name);
size_t collector_count(void);

#endif
