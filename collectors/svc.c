/* The `svc` topic's collector: the services under system.slice found each
 * tick in every hierarchy that names cgroups (one on cgroup v2; systemd's
 * and each controller's on v1 and hybrid hosts), their numbers read by
 * collectors/cgroup.c, rates from counter deltas, and the top services by
 * CPU and by memory. */
#include "svc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include "array.h"
#include "metrics.h"
#include "procfs.h"
#include "json.h"
#include "cgroup.h"
#include "topn.h"

#define SVC_DENTS_BUF (16u << 10)
#define SVC_NAME_MAX  256 /* systemd's unit names are at most 255 bytes */
#define SVC_MAX_DEPTH 3   /* slices below system.slice that are looked into */
#define SVC_MAX       4096
/* Held fds, 4 a service; beyond, files are opened by path each tick. */
#define SVC_FD_MAX 4096
#define SVC_FILES                                                                                  \
	((1u << CGROUP_CPU) | (1u << CGROUP_MEM) | (1u << CGROUP_PIDS) | (1u << CGROUP_IO))
/* An idle service's whole look (cgroup.h): CPU time read already. */
#define SVC_SLEEPING ((1u << CGROUP_MEM) | (1u << CGROUP_PIDS) | (1u << CGROUP_IO))
/* What a watched slice reports: directories made or removed in it. */
#define SVC_WATCH_MASK (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_ONLYDIR)

struct svc_entry {
	/* what every tick looks at first, with the first part of u */
	char *path;           /* its cgroup under fs/cgroup, "system.slice/ssh.service" */
	bool in_top;          /* in this tick's top_cpu or top_mem rows: shown in metrics */
	struct cgroup_unit u; /* its numbers this tick: u.st */
	char *name;           /* the unit, "ssh.service" */
	cJSON *row;           /* its row, made once it is in a top list: svc_row */
	uint32_t gen;
};

/* What every tick reads of a service (struct svc_entry) is in its first
 * 128 bytes: its own fields, then u's up to st.mem. */
_Static_assert(offsetof(struct svc_entry, u) + offsetof(struct cgroup_unit, st.mem) +
			   sizeof(int64_t) <=
		       128 &&
		   offsetof(struct svc_entry, in_top) < offsetof(struct svc_entry, u),
	       "the fields every tick reads are in the first 128 bytes");

struct svc_state {
	const struct svc_settings *set;
	struct cgroup_set cg; /* groups: the slices the services are in;
				 inotify_fd -1: listed every tick */
	struct svc_entry *v;  /* sorted by name */
	size_t n, cap;
	uint32_t gen;
	char *dents;
	struct topn top;
	bool relist; /* a slice changed (or is not watched): list them at the next tick */
	bool have;   /* a tick's payload was built */
};

/* --- the service table --- */

/* Gives memory back once most services are gone. */
static void svc_shrink(struct svc_state *s)
{
	if (s->cap > 32 && s->n < s->cap / 4) {
		struct svc_entry *v = reallocarray(s->v, s->cap / 2, sizeof(*v));

		if (v) {
			s->v = v;
			s->cap /= 2;
		}
	}
}

static void svc_drop(struct svc_state *s, size_t i)
{
	cgroup_unit_done(&s->cg.rd, &s->cg.groups, &s->v[i].u);
	cJSON_Delete(s->v[i].row);
	free(s->v[i].name);
	free(s->v[i].path);
	memmove(&s->v[i], &s->v[i + 1], (s->n - i - 1) * sizeof(*s->v));
	s->n--;
}

/* Index of name, or where it would go (*found false). */
static size_t svc_find(const struct svc_state *s, const char *name, bool *found)
{
	return array_find_str(s->v, s->n, sizeof(*s->v), offsetof(struct svc_entry, name), name,
			      found);
}

static int svc_add(struct svc_state *s, size_t at, const char *name, const char *dir)
{
	struct svc_entry e = {0};
	int r = -ENOMEM;

	if (s->n >= SVC_MAX)
		return -E2BIG;
	if (ARRAY_GROW(s->v, s->cap, s->n, 32) < 0)
		goto out;
	e.name = strdup(name);
	if (!e.name || asprintf(&e.path, "%s/%s", dir, name) < 0) {
		e.path = NULL;
		goto out;
	}
	cgroup_unit_init(&e.u, name);
	if (cgroup_unit_join(&s->cg.groups, &e.u, e.path) < 0)
		goto out;
	e.gen = s->gen;
	memmove(&s->v[at + 1], &s->v[at], (s->n - at) * sizeof(*s->v));
	s->v[at] = e;
	s->n++;
	e.name = e.path = NULL;
	r = 0;
out:
	free(e.name);
	free(e.path);
	return r;
}

static bool svc_has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	return n > k && memcmp(name + n - k, suffix, k) == 0;
}

/* Lists one slice directory (fd open for reading, at path dir under
 * fs/cgroup): marks or adds its services, and descends into its slices. */
static int svc_list(struct svc_state *s, int fd, const char *dir, unsigned depth)
{
	size_t size = SVC_DENTS_BUF / (SVC_MAX_DEPTH + 1);
	struct procfs_dents it = PROCFS_DENTS(fd, s->dents + (size_t)depth * size, size);
	const struct dirent64 *d;
	int r;

	if (s->cg.inotify_fd >= 0 && cgroup_watch(s->cg.inotify_fd, fd, SVC_WATCH_MASK) < 0)
		s->relist = true; /* not watched: listed again each tick */
	while ((r = procfs_dents_next(&it, &d)) > 0) {
		bool found;
		size_t i;

		if ((d->d_type != DT_DIR && d->d_type != DT_UNKNOWN) ||
		    strlen(d->d_name) >= SVC_NAME_MAX)
			continue;
		if (svc_has_suffix(d->d_name, ".service")) {
			i = svc_find(s, d->d_name, &found);
			if (found) {
				s->v[i].gen = s->gen;
				continue;
			}
			r = svc_add(s, i, d->d_name, dir);
			if (r == -ENOMEM)
				return r;
		} else if (svc_has_suffix(d->d_name, ".slice") && depth < SVC_MAX_DEPTH) {
			char sub[PATH_MAX];
			int sfd;

			if (snprintf(sub, sizeof(sub), "%s/%s", dir, d->d_name) >= (int)sizeof(sub))
				continue;
			sfd = openat(fd, d->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sfd < 0)
				continue; /* gone meanwhile */
			r = svc_list(s, sfd, sub, depth + 1);
			close(sfd);
			if (r == -ENOMEM)
				return r;
		}
	}
	return r;
}

/* --- reading one service --- */

/* One tick of one service (an idle one: its CPU time alone, see
 * cgroup.h). Returns 0, or -ENOENT when its cgroup is gone (no file could
 * be read, one was found missing; on v2 only, where every cgroup has
 * cpu.stat: on v1 a service may be in systemd's hierarchy alone, without
 * numbers). */
static int svc_sample_one(struct svc_state *s, struct svc_entry *e, uint64_t mono_ns)
{
	struct cgroup_values v;
	int r;

	r = cgroup_sample(&s->cg.rd, &e->u, e->path, SVC_FILES, SVC_SLEEPING, &v, mono_ns);
	if (r < 0 && s->cg.root.layout == CGROUP_V2)
		return r;
	if (r >= 0 && !(r & CGROUP_SKIPPED))
		cgroup_pace_set(&s->cg.rd, &e->u.pace, r & CGROUP_STILL);
	return 0;
}

/* --- the payload --- */

/* Ties go by name: the table is in name order, so by place in it. */
static bool svc_cpu_better(const void *a, const void *b)
{
	const struct svc_entry *x = a, *y = b;

	if (x->u.st.cpu_h != y->u.st.cpu_h)
		return x->u.st.cpu_h > y->u.st.cpu_h;
	return x < y;
}

static bool svc_mem_better(const void *a, const void *b)
{
	const struct svc_entry *x = a, *y = b;

	if (x->u.st.mem != y->u.st.mem)
		return x->u.st.mem > y->u.st.mem;
	return x < y;
}

/* The numbers of a row, in its order after "unit"; -1 is null. */
static void svc_row_numbers(const struct svc_entry *e, double *ret)
{
	const struct cgroup_stats *st = &e->u.st;

	ret[0] = st->cpu_h < 0 ? -1 : (double)st->cpu_h / 100;
	ret[1] = (double)st->mem;
	ret[2] = (double)st->pids;
	ret[3] = (double)st->io_r;
	ret[4] = (double)st->io_w;
}

/* Puts e's row into arr: the row object is made the first time and kept
 * (its unit by reference, constant keys), its numbers set in place, and
 * arr holds a reference to it, so that a tick makes one item per row, not
 * seven. The payload is gone before the next tick (and so before the
 * service can be). */
static int svc_row(struct svc_entry *e, cJSON *arr)
{
	static const char *const keys[] = {"cpu_pct", "mem_bytes", "tasks", "io_read_bytes_per_s",
					   "io_write_bytes_per_s"};
	double num[5];
	cJSON *ref, *item;

	svc_row_numbers(e, num);
	if (!e->row) {
		if (!(e->row = cJSON_CreateObject()) || json_str_ref(e->row, "unit", e->name) < 0)
			goto fail;
		for (size_t k = 0; k < 5; k++)
			if (json_num_ref(e->row, keys[k], num[k]) < 0)
				goto fail;
	} else {
		item = e->row->child->next; /* after "unit" */
		for (size_t k = 0; k < 5; k++, item = item->next)
			json_num_set(item, num[k]);
	}
	ref = cJSON_CreateObjectReference(e->row->child);
	if (!ref || !cJSON_AddItemToArray(arr, ref)) {
		cJSON_Delete(ref);
		return -ENOMEM;
	}
	return 0;
fail:
	cJSON_Delete(e->row);
	e->row = NULL;
	return -ENOMEM;
}

/* The first n of the services that have the field, best first. */
static int svc_top(struct svc_state *s, cJSON *payload, const char *key, size_t n, bool by_cpu)
{
	cJSON *arr = cJSON_AddArrayToObject(payload, key);
	size_t len;

	if (!arr || topn_start(&s->top, n, by_cpu ? svc_cpu_better : svc_mem_better) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < s->n; i++) {
		if ((by_cpu ? s->v[i].u.st.cpu_h : s->v[i].u.st.mem) >= 0)
			topn_offer(&s->top, &s->v[i]);
	}
	len = topn_sort(&s->top);
	for (size_t i = 0; i < len; i++) {
		struct svc_entry *e = s->top.v[i];

		e->in_top = true;
		if (svc_row(e, arr) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int svc_payload(struct svc_state *s, const struct collector_env *env, int64_t t_ms,
		       cJSON **ret_payload)
{
	size_t top_n = s->set && s->set->top_n ? s->set->top_n : 15;
	cJSON *payload = NULL;
	int r = -ENOMEM;

	for (size_t i = 0; i < s->n; i++)
		s->v[i].in_top = false;
	s->have = true;
	payload = json_payload(t_ms);
	if (!payload || !cJSON_AddNumberToObject(payload, "services", (double)s->n))
		goto out;
	r = svc_top(s, payload, "top_cpu", top_n, true);
	if (r < 0)
		goto out;
	r = svc_top(s, payload, "top_mem", top_n, false);
	if (r < 0)
		goto out;
out:
	return json_hand_over(payload, r, ret_payload);
}

/* --- metrics --- */

/* One family over the services of the last top rows, in name order:
 * field returns false for a service without the value. */
static void svc_family(const struct svc_state *s, struct metrics *m, const char *name,
		       const char *type, const char *help,
		       bool (*field)(const struct cgroup_stats *st, double *ret))
{
	double v;

	metrics_family(m, name, type, help);
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].in_top && field(&s->v[i].u.st, &v))
			metrics_sample(m, name, (const char *const[]){"unit", s->v[i].name, NULL},
				       v);
}

/* The services of the last tick's top_cpu and top_mem rows (at most twice
 * top-n units): raw cgroup counters as read, plus how many services there
 * were. Nothing before the first tick. */
static int svc_metrics(void *state, struct metrics *m)
{
	const struct svc_state *s = state;

	if (!s->have)
		return 0;
	metrics_family(m, "sysfeed_services", "gauge", "Systemd services seen in system.slice.");
	metrics_sample(m, "sysfeed_services", NULL, (double)s->n);
	cgroup_reader_metrics(&s->cg.rd, m,
			      (const char *const[]){"sysfeed_services_fds",
						    "sysfeed_services_reads_total",
						    "sysfeed_services_idle_proven_total"},
			      0);
	for (const struct cgroup_family *f = cgroup_families; f->suffix; f++) {
		char name[96], help[160];

		cgroup_family_text(f, "service", name, sizeof(name), help, sizeof(help));
		svc_family(s, m, name, f->type, help, f->get);
	}
	return metrics_error(m);
}

/* --- the collector --- */

static void svc_fini(void *state)
{
	struct svc_state *s = state;

	if (!s)
		return;
	while (s->n > 0)
		svc_drop(s, s->n - 1);
	cgroup_set_done(&s->cg);
	free(s->v);
	free(s->dents);
	topn_free(&s->top);
	free(s);
}

/* Lists system.slice in every hierarchy that names cgroups: each service
 * once, whichever hierarchies have it. Returns how many hierarchies had a
 * system.slice, or -ENOMEM. */
static int svc_list_all(struct svc_state *s)
{
	int fds[CGROUP_NHIER], found = 0, r;
	size_t n = cgroup_name_hiers(&s->cg.root, fds);

	for (size_t i = 0; i < n; i++) {
		int fd = openat(fds[i], "system.slice", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

		if (fd < 0)
			continue;
		found++;
		r = svc_list(s, fd, "system.slice", 0);
		close(fd);
		if (r == -ENOMEM)
			return r;
	}
	return found;
}

/* Opens the hierarchies under the sys root (on a new root, a test
 * switching snapshots, the held fds are closed; the services and their
 * counters stay) and checks that one has a system.slice. Writes the
 * reason when it fails. */
static int svc_open_root(struct svc_state *s, int sys_fd, char *reason, size_t reason_len)
{
	struct cgroup_root root;
	int fds[CGROUP_NHIER], r;
	bool slice = false;
	size_t n;

	r = cgroup_root_open(&root, sys_fd, reason, reason_len);
	if (r < 0)
		return r;
	n = cgroup_name_hiers(&root, fds);
	for (size_t i = 0; i < n && !slice; i++)
		slice = faccessat(fds[i], "system.slice", F_OK, 0) == 0;
	if (!slice) {
		snprintf(reason, reason_len,
			 "/sys/fs/cgroup%s/system.slice: %s (not run by systemd?)",
			 root.layout == CGROUP_V2 ? "" : "/*", strerror(ENOENT));
		cgroup_root_close(&root);
		return -ENOENT;
	}
	for (size_t i = 0; i < s->n; i++)
		cgroup_files_close(&s->cg.rd, &s->v[i].u.files);
	cgroup_set_root(&s->cg, &root);
	s->relist = true;
	return 0;
}

/* Opens the cgroup hierarchies under the sys root, so that a host without
 * a system.slice in any turns the topic off now with the reason. */
static int svc_init(const struct collector_env *env, const void *settings, void **ret_state,
		    char *reason, size_t reason_len)
{
	struct svc_state *s;
	char why[256] = "";
	int r = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto out;
	s->set = settings;
	s->dents = malloc(SVC_DENTS_BUF);
	if (cgroup_set_init(&s->cg, SVC_FD_MAX) < 0 || !s->dents)
		goto out;
	r = svc_open_root(s, env->sys_fd, why, sizeof(why));
	if (r < 0)
		goto out;
	cgroup_set_watch(&s->cg, env);
	*ret_state = s;
	s = NULL;
out:
	if (r < 0 && reason && reason_len > 0)
		snprintf(reason, reason_len, "%s", why[0] ? why : strerror(-r));
	svc_fini(s);
	return r;
}

/* Drains inotify: a slice where a directory was made or removed (or a lost
 * event) means the slices are listed again. At the tick only, when its
 * poll found the fd readable: the loop never watches this fd, since
 * nothing but the tick reads the slices (a host that starts and stops
 * units and scopes all the time would wake the daemon for nothing). */
static void svc_drain(struct svc_state *s, const struct collector_env *env)
{
	if (cgroup_set_drain(&s->cg, env))
		s->relist = true;
}

/* The i-th service's cgroup unit (cgroup_tick_ahead). */
static struct cgroup_unit *svc_unit(void *ctx, size_t i, const char **ret_rel)
{
	struct svc_state *s = ctx;

	*ret_rel = s->v[i].path;
	return &s->v[i].u;
}

/* Each tick lists system.slice (and the slices in it) in each hierarchy
 * when one changed (every tick without inotify), drops the services no
 * longer there, and reads each one's files. The first tick of a service
 * has no rates. */
static int svc_sample(void *state, const struct collector_env *env,
		      const struct collector_tick *tick, cJSON **ret_payload)
{
	struct svc_state *s = state;
	bool listed = false;
	char why[256];
	int r;

	*ret_payload = NULL;
	if (!cgroup_root_same(&s->cg.root, env->sys_fd, env->sys_st)) {
		r = svc_open_root(s, env->sys_fd, why, sizeof(why));
		if (r < 0)
			return r;
	}
	svc_drain(s, env);
	if (s->relist || s->cg.inotify_fd < 0) {
		s->relist = false;
		s->gen++;
		r = svc_list_all(s);
		if (r < 0)
			return r;
		listed = true;
	}
	for (size_t i = 0; i < s->n;) {
		if (listed && s->v[i].gen != s->gen)
			svc_drop(s, i);
		else
			i++;
	}
	cgroup_tick_ahead(&s->cg.rd, &s->cg.groups, tick->mono_ns, s->n, svc_unit, s);
	for (size_t i = 0; i < s->n;) {
		if (svc_sample_one(s, &s->v[i], tick->mono_ns) < 0)
			svc_drop(s, i);
		else
			i++;
	}
	cgroup_tick_end(&s->cg.rd, &s->cg.groups);
	svc_shrink(s);
	return svc_payload(s, env, tick->t_ms, ret_payload);
}

static const char *const svc_history[] = {"services", NULL};

static const struct collector_top svc_tops[] = {
    {"top_cpu", false, NULL, "unit", "cpu_pct", "mem_bytes"},
    {"top_mem", true, NULL, "unit", "cpu_pct", "mem_bytes"},
    {0},
};

static const struct setting svc_keys[] = {
    SETTING("top-n", SET_UINT, offsetof(struct svc_settings, top_n), 1, 100, "15"),
    {0},
};

const struct collector svc_collector = {
    .name = "svc",
    .settings = svc_keys,
    .settings_size = sizeof(struct svc_settings),
    .history = svc_history,
    .tops = svc_tops,
    .init = svc_init,
    .sample = svc_sample,
    .metrics = svc_metrics,
    .fini = svc_fini,
};
