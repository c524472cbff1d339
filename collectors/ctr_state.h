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
#include "topn.h"

struct metrics;

struct ctr_entry {
	char *rel; /* its cgroup under the hierarchy's root: the key */
	char id[CTR_ID_MAX + 1];
	enum ctr_engine engine;
	long uid;
	struct ctr_meta meta; /* name and image, NULL where unknown */
	char *head;           /* its row's JSON up to "state": what does not change */
	size_t head_len;
	char short_id[13];  /* the name when there is none */
	uint64_t meta_next; /* a name missing: tick to look again */
	unsigned meta_tries;
	uint64_t slow_next; /* tick to read the CTR_SLOW files again */
	struct cgroup_pace pace;
	struct cgroup_files files;
	int net_fd;    /* PID/net/dev of a member, held; -1 */
	int64_t pid;   /* the member it was opened through */
	bool net_host; /* that member shares the host's namespace */
	uint32_t gen;
	struct cgroup_stats st; /* this tick */
	struct procfs_counter rx, tx;
	/* this tick; -1 is null */
	int64_t limit, rx_s, tx_s, oom, frozen;
	bool in_top;
	bool is_new; /* found by the walk under way */
};

struct ctr_state {
	const struct containers_settings *set;
	struct cgroup_root root;
	struct cgroup_reader rd;
	struct ctr_meta_ctx meta;
	int inotify_fd; /* -1: walks every tick instead */
	int epfd;       /* the loop's view: inotify_fd in it only while followed */
	bool followed;  /* someone waits for changes: walk as they happen */
	int proc_fd;
	struct ctr_entry *v; /* sorted by rel */
	size_t n, cap;
	uint32_t gen;
	char *dents;
	char *net_buf;
	struct ctr_entry **order; /* the table by name, when !order_dirty */
	bool order_dirty;
	char *row; /* the row being written */
	size_t row_len, row_cap;
	struct topn top;
	cJSON *changes; /* of the walk under way, or NULL when not publishing */
	int64_t t_ms;   /* of the walk under way */
	bool have;
};

static inline const char *ctr_name(const struct ctr_entry *e)
{
	return e->meta.name ? e->meta.name : e->short_id;
}

/* This tick's payload: counts and the list in name order (rows written as
 * one raw JSON array); marks the top containers for the families. */
int ctr_payload(struct ctr_state *s, int64_t t_ms, cJSON **ret_payload);
/* The families of the last tick (collector.metrics). */
int ctr_metrics(void *state, struct metrics *m);

#endif
