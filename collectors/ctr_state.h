/* The `containers` topic's state, shared by its collector (containers.c:
 * the table, walks, readings) and its writers (ctr_out.c: the payload
 * and the Prometheus families). Private to those two. */
#ifndef SYSFEED_CTR_STATE_H
#define SYSFEED_CTR_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "cgroup.h"
#include "containers.h"
#include "ctr_find.h"
#include "ctr_meta.h"
#include "json.h"
#include "topn.h"

struct metrics;

/* The numbers a row shows (ctr_out.c): a row is sent again when one moved. */
#define CTR_SHOWN 10
/* Room after a row that changed, in the state (spaces): its numbers may
 * grow by this much and it is still written in its place. */
#define CTR_ROW_SLACK 16

struct ctr_entry {
	/* first what every tick looks at, idle or not, with the first part of
	 * u (see cgroup_unit): 128 bytes, two cache lines a sleeping container
	 * costs a tick (a tick goes over every one, whose lines are cold) */
	char *rel;          /* its cgroup under the hierarchy's root: the key */
	uint64_t meta_next; /* a name missing: tick to look again */
	bool named;         /* meta.name is set */
	bool in_top;
	bool row_dirty;       /* its head changed: written again */
	bool read_now;        /* read since its row was last written */
	bool sent;            /* in a tick's rows since it started */
	struct cgroup_unit u; /* its numbers this tick: u.st */
	/* then what its readings and its row take */
	struct ctr_meta meta; /* name and image, NULL where unknown */
	int64_t frozen;       /* this tick; -1 is null */
	bool is_new;          /* found by the walk under way */
	bool net_host;        /* its member shares the host's namespace */
	uint8_t conmon_tries; /* looks at pid's parent for Podman's conmon */
	struct json_buf row;  /* its row's JSON as last written */
	size_t rank;          /* its place in the order by name */
	char id[CTR_ID_MAX + 1];
	enum ctr_engine engine;
	long uid;
	char *head; /* its row's JSON up to "state": what does not change */
	size_t head_len;
	char short_id[13]; /* the name when there is none */
	unsigned meta_tries;
	int net_fd;        /* PID/net/dev of a member, held; -1 */
	uint64_t net_next; /* busy: the tick its net/dev is read again */
	unsigned net_step; /* ticks between those readings: 1, 2, 4, ... */
	int64_t pid;       /* the member it was opened through */
	uint32_t gen;
	struct procfs_counter rx, tx;
	/* this tick; -1 is null */
	int64_t limit, rx_s, tx_s, oom;
	int64_t shown[CTR_SHOWN]; /* the numbers in its row */
};

struct ctr_state {
	const struct containers_settings *set;
	struct cgroup_set cg; /* groups: the directories containers are in;
				 inotify_fd -1: walks every tick instead */
	struct ctr_meta_ctx meta;
	int epfd;      /* the loop's view: cg.inotify_fd in it only while followed */
	bool followed; /* someone waits for changes: walk as they happen */
	int proc_fd;
	struct ctr_entry *v; /* sorted by rel */
	size_t n, cap;
	uint32_t gen;
	char *dents;
	char *net_buf;
	struct ctr_entry **order; /* the table by name, when !order_dirty */
	bool order_dirty;
	/* this tick: the containers whose row may have changed or is due
	 * (read, renamed, new, not sent yet), from the sampling loop */
	struct ctr_entry **touched;
	size_t n_touched, touched_cap;
	size_t *changed; /* this tick: the ranks of the rows that changed, ascending */
	size_t n_changed, n_changed_cap;
	size_t paused;        /* containers whose freezer state is 1 */
	struct json_buf rows; /* the tick's rows that changed */
	struct json_buf list; /* every row: the state */
	/* where each row is in list's array (by rank, from body), while
	 * layout_ok: a state with a few rows changed is written over the last
	 * one where each changed row fits its place (cap: a row that changed
	 * is given CTR_ROW_SLACK bytes more, spaces after it), else made by
	 * copying the runs between them from the last one (list_old) */
	struct ctr_span {
		size_t off, len, cap;
	} * at;
	size_t body;
	struct json_buf list_old;
	bool layout_ok;
	bool list_dirty; /* a container came or went: the state is set again */
	struct topn top;
	cJSON *changes; /* of the walk under way, or NULL when not publishing */
	int64_t t_ms;   /* of the walk under way */
	bool have;
};

static inline const char *ctr_name(const struct ctr_entry *e)
{
	return e->meta.name ? e->meta.name : e->short_id;
}

/* This tick's payload: the counts and the rows that changed since the
 * last tick (or were never sent), in name order, written as one raw JSON
 * array; the topic's state (every row) to env->set_state when it changed.
 * Marks the top containers for the families. */
int ctr_payload(struct ctr_state *s, const struct collector_env *env, int64_t t_ms,
		cJSON **ret_payload);
/* The state (counts and every row, in name order) to env->set_state, when
 * env has one: after a walk that found containers start or stop. */
int ctr_state_set(struct ctr_state *s, const struct collector_env *env, int64_t t_ms);
/* The families of the last tick (collector.metrics). */
int ctr_metrics(void *state, struct metrics *m);

#endif
