/* The `proc` topic's join of DRM fdinfo into its processes: which fds
 * point into /dev/dri/, and what their clients did since the last tick. */
#include "proc_gpu.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "array.h"

#define PROC_GPU_DENTS  (16u << 10)
#define PROC_GPU_FDINFO (64u << 10)
/* (device, engine) pairs summed over a process's clients */
#define PROC_GPU_KEYS 64

void proc_gpu_free(struct proc_gpu *p)
{
	if (!p)
		return;
	free(p->fds);
	free(p->clients);
	free(p);
}

void proc_gpu_forget(struct proc_table *t)
{
	for (size_t i = 0; i < t->n; i++) {
		proc_gpu_free(t->v[i].gpu);
		t->v[i].gpu = NULL;
		t->v[i].fd_state = PROC_GPU_FD_NEW;
	}
}

void proc_gpu_relist(struct proc_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		t->v[i].fd_state = PROC_GPU_FD_NEW;
}

void proc_gpu_scan_done(struct proc_gpu_scan *g)
{
	free(g->dents);
	procfs_buf_free(&g->buf);
	*g = (struct proc_gpu_scan){0};
}

/* What says that a process ran: its CPU clock on the live /proc, else
 * its utime + stime. */
static uint64_t proc_gpu_mark(const struct proc_entry *e)
{
	return e->have_clock ? e->clock_ns : e->cpu_time;
}

static bool proc_gpu_numeric(const char *name, int *ret)
{
	long v = 0;

	if (!name[0])
		return false;
	for (const char *p = name; *p; p++) {
		if (*p < '0' || *p > '9' || v > 0x7fffffff / 10)
			return false;
		v = v * 10 + (*p - '0');
	}
	*ret = (int)v;
	return true;
}

/* Lists e's fds and keeps those pointing into /dev/dri/ in e->gpu (made
 * or dropped as needed), counting the readlink calls in *links. Returns
 * 0, -ENOMEM, or -errno when the directory cannot be read. */
static int proc_gpu_list(struct proc_gpu_scan *g, int proc_fd, struct proc_entry *e, size_t *links)
{
	char path[32], target[32];
	struct proc_gpu *p = e->gpu;
	struct procfs_dents it;
	const struct dirent64 *d;
	int dfd, r = 0;

	snprintf(path, sizeof(path), "%u/fd", e->pid);
	dfd = openat(proc_fd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	if (p)
		p->n_fds = 0;
	it = (struct procfs_dents)PROCFS_DENTS(dfd, g->dents, PROC_GPU_DENTS);
	while ((r = procfs_dents_next(&it, &d)) > 0) {
		ssize_t len;
		int fd;

		if (!proc_gpu_numeric(d->d_name, &fd))
			continue;
		(*links)++;
		len = readlinkat(dfd, d->d_name, target, sizeof(target));
		if (len < 9 || (size_t)len >= sizeof(target) || memcmp(target, "/dev/dri/", 9) != 0)
			continue;
		if (!p) {
			p = calloc(1, sizeof(*p));
			if (!p) {
				r = -ENOMEM;
				goto out;
			}
			p->pct = -1;
			e->gpu = p;
		}
		if (ARRAY_GROW(p->fds, p->cap_fds, p->n_fds, 4) < 0) {
			r = -ENOMEM;
			goto out;
		}
		p->fds[p->n_fds++] = fd;
	}
out:
	close(dfd);
	if (r == 0 && p && p->n_fds == 0) {
		proc_gpu_free(p);
		e->gpu = NULL;
	}
	return r;
}

static struct proc_gpu_client *proc_gpu_client_find(struct proc_gpu *p,
						    const struct proc_drm_client *c)
{
	for (size_t i = 0; i < p->n_clients; i++) {
		if (p->clients[i].id == c->id && strcmp(p->clients[i].pdev, c->pdev) == 0)
			return &p->clients[i];
	}
	return NULL;
}

/* A (device, engine) pair's share, summed over the clients of a process. */
struct proc_gpu_key {
	const char *pdev, *engine;
	double share;
};

static void proc_gpu_add_share(struct proc_gpu_key *keys, size_t *n, const char *pdev,
			       const char *engine, double share)
{
	for (size_t i = 0; i < *n; i++) {
		if (strcmp(keys[i].pdev, pdev) == 0 && strcmp(keys[i].engine, engine) == 0) {
			keys[i].share += share;
			return;
		}
	}
	if (*n < PROC_GPU_KEYS)
		keys[(*n)++] = (struct proc_gpu_key){pdev, engine, share};
}

/* Folds one parsed client into p: its engines' shares since its last
 * reading go into keys (*rated says one had a rate). Returns 0, or
 * -ENOMEM (the client is then not kept). */
static int proc_gpu_fold_client(struct proc_gpu *p, const struct proc_drm_client *c,
				uint64_t mono_ns, struct proc_gpu_key *keys, size_t *n_keys,
				bool *rated)
{
	struct proc_gpu_client *k = proc_gpu_client_find(p, c);

	if (k && k->seen)
		return 0; /* another fd of the same client: counted once */
	if (c->has_mem) {
		p->mem_bytes = c->mem_bytes > UINT64_MAX - p->mem_bytes
				   ? UINT64_MAX
				   : p->mem_bytes + c->mem_bytes;
		p->has_mem = true;
	}
	if (!k) {
		if (ARRAY_GROW(p->clients, p->cap_clients, p->n_clients, 2) < 0)
			return -ENOMEM;
		k = &p->clients[p->n_clients++];
		memset(k, 0, sizeof(*k));
		memcpy(k->pdev, c->pdev, sizeof(k->pdev));
		k->id = c->id;
		k->seen = true;
		k->mono_ns = mono_ns;
		k->n_engines = c->n_engines;
		memcpy(k->engines, c->engines, c->n_engines * sizeof(c->engines[0]));
		return 0;
	}
	k->seen = true;
	for (size_t i = 0; i < c->n_engines; i++) {
		const struct proc_drm_engine *ce = &c->engines[i];
		struct proc_drm_engine *ke = NULL;
		double share;

		for (size_t j = 0; j < k->n_engines && !ke; j++) {
			if (strcmp(k->engines[j].name, ce->name) == 0)
				ke = &k->engines[j];
		}
		if (!ke) {
			if (k->n_engines < PROC_DRM_ENGINES)
				k->engines[k->n_engines++] = *ce;
			continue;
		}
		if (mono_ns > k->mono_ns && proc_drm_busy(ke, ce, mono_ns - k->mono_ns, &share)) {
			proc_gpu_add_share(keys, n_keys, k->pdev, ke->name, share);
			*rated = true;
		}
		proc_drm_fold(ke, ce);
	}
	k->mono_ns = mono_ns;
	return 0;
}

/* Reads the fdinfo of each of e's DRM fds. An fd that is gone, or that
 * no longer is a DRM client, makes the process be listed again at the
 * next tick. Returns 0 or -ENOMEM. */
static int proc_gpu_read(struct proc_gpu_scan *g, int proc_fd, struct proc_entry *e,
			 uint64_t mono_ns, uint64_t ticks)
{
	struct proc_gpu_key keys[PROC_GPU_KEYS];
	struct proc_gpu *p = e->gpu;
	size_t n_keys = 0, kept = 0;
	bool rated = false;
	double max = 0;
	char path[48];
	int r = 0;

	for (size_t i = 0; i < p->n_clients; i++)
		p->clients[i].seen = false;
	p->mem_bytes = 0;
	p->has_mem = false;
	for (size_t i = 0; i < p->n_fds; i++) {
		snprintf(path, sizeof(path), "%u/fdinfo/%d", e->pid, p->fds[i]);
		r = procfs_read(proc_fd, path, &g->buf, PROC_GPU_FDINFO);
		if (r == -ENOMEM)
			return r;
		if (r == 0)
			r = proc_drm_parse(g->buf.data, g->buf.len, &g->client);
		if (r == -ENOENT || r == -ENODATA)
			e->fd_state = PROC_GPU_FD_NEW;
		if (r < 0 || !g->client.has_id)
			continue; /* without an id, it cannot be counted once */
		r = proc_gpu_fold_client(p, &g->client, mono_ns, keys, &n_keys, &rated);
		if (r < 0)
			return r;
	}
	/* clients no fd showed are gone */
	for (size_t i = 0; i < p->n_clients; i++) {
		if (p->clients[i].seen)
			p->clients[kept++] = p->clients[i];
	}
	p->n_clients = kept;
	for (size_t i = 0; i < n_keys; i++) {
		if (keys[i].share > max)
			max = keys[i].share;
	}
	p->pct = rated ? (int64_t)(max >= 1 ? 10000 : max * 10000 + 0.5) : -1;
	p->read_tick = ticks;
	p->read_mark = proc_gpu_mark(e);
	return 0;
}

/* Whether e's fds are to be listed at this tick. */
static bool proc_gpu_list_due(const struct proc_table *t, const struct proc_entry *e)
{
	if (e->fd_state == PROC_GPU_FD_NEW)
		return true;
	return e->fd_state == PROC_GPU_FD_LISTED && proc_gpu_mark(e) != e->fd_mark &&
	       t->ticks - e->fd_tick >= PROC_GPU_RESCAN_TICKS;
}

/* Whether e's fdinfo files are to be read at this tick; if not, its
 * engines were idle at the last reading and it did not run since. */
static bool proc_gpu_read_due(const struct proc_table *t, const struct proc_entry *e)
{
	const struct proc_gpu *p = e->gpu;

	return p->read_tick == 0 || p->pct != 0 || proc_gpu_mark(e) != p->read_mark ||
	       t->ticks - p->read_tick >= PROC_GPU_REFRESH_TICKS;
}

int proc_gpu_update(struct proc_gpu_scan *g, struct proc_table *t, int proc_fd, uint64_t mono_ns)
{
	size_t links = 0, start;
	int r;

	if (t->n == 0)
		return 0;
	if (!g->dents) {
		g->dents = malloc(PROC_GPU_DENTS);
		if (!g->dents)
			return -ENOMEM;
	}
	start = g->cursor < t->n ? g->cursor : 0;
	g->cursor = start;
	for (size_t k = 0; k < t->n; k++) {
		size_t i = (start + k) % t->n;
		struct proc_entry *e = &t->v[i];

		if ((e->flags & PROC_PF_KTHREAD) || e->state == 'Z')
			continue;
		if (links < PROC_GPU_LINKS_TICK && proc_gpu_list_due(t, e)) {
			r = proc_gpu_list(g, proc_fd, e, &links);
			if (r == -ENOMEM)
				return r;
			if (r == -EMFILE || r == -ENFILE)
				continue; /* out of fds: listed at a later tick */
			e->fd_state = r < 0 && r != -ENOENT && r != -ESRCH ? PROC_GPU_FD_DENIED
									   : PROC_GPU_FD_LISTED;
			e->fd_tick = t->ticks;
			e->fd_mark = proc_gpu_mark(e);
			if (links >= PROC_GPU_LINKS_TICK)
				g->cursor = (i + 1) % t->n;
		}
		if (e->gpu && proc_gpu_read_due(t, e)) {
			r = proc_gpu_read(g, proc_fd, e, mono_ns, t->ticks);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

bool proc_gpu_of(const struct proc_entry *e, int64_t *ret_pct, uint64_t *ret_mem, bool *ret_has_mem)
{
	if (!e->gpu || e->gpu->n_clients == 0)
		return false;
	*ret_pct = e->gpu->pct;
	*ret_mem = e->gpu->mem_bytes;
	*ret_has_mem = e->gpu->has_mem;
	return true;
}
