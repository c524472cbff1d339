/* The units svc and containers read through collectors/cgroup.c: their
 * groups (the parent whose counter proves idle members still), the tick's
 * reads ahead and idle proofs, the pacing of each unit's files, one unit's
 * sample and the Prometheus families both topics write (see cgroup.h). */
#include "cgroup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "array.h"

/* FNV-1a and a final mix: names that differ in one digit get unrelated
 * phases. */
static unsigned cgroup_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	h ^= h >> 16;
	h *= 0x7feb352du;
	h ^= h >> 15;
	return h;
}

void cgroup_unit_init(struct cgroup_unit *u, const char *key)
{
	*u = (struct cgroup_unit){.cpu_now = -1, .pace.phase = cgroup_hash(key)};
	cgroup_files_init(&u->files);
	u->st.cpu_h = u->st.mem = u->st.pids = u->st.io_r = u->st.io_w = -1;
}

static void cgroup_group_forget(struct cgroup_group *g)
{
	g->io_r = g->io_w = -1;
	g->io_epoch++;
	g->q_valid = false;
	g->failed = false;
	g->misses = 0;
	g->pause_until = 0;
}

int cgroup_unit_join(struct cgroup_groups *gs, struct cgroup_unit *u, const char *rel)
{
	const char *slash = strrchr(rel, '/');
	struct cgroup_group *g = NULL;
	size_t len, at = 0;
	bool found;

	u->group = NULL;
	if (!slash)
		return 0; /* at the root: its P would be the whole host's */
	len = (size_t)(slash - rel);
	for (size_t lo = 0, hi = gs->n; lo < hi;) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strncmp(gs->v[mid]->rel, rel, len);

		if (c == 0 && gs->v[mid]->rel[len])
			c = 1;
		if (c == 0) {
			g = gs->v[mid];
			break;
		}
		if (c < 0)
			lo = at = mid + 1;
		else
			hi = at = mid;
	}
	found = g != NULL;
	if (!found) {
		if (ARRAY_GROW(gs->v, gs->cap, gs->n, 8) < 0)
			return -ENOMEM;
		g = calloc(1, sizeof(*g));
		if (!g || !(g->rel = strndup(rel, len))) {
			free(g);
			return -ENOMEM;
		}
		cgroup_files_init(&g->files);
		cgroup_group_forget(g);
		g->p0 = -1;
		memmove(&gs->v[at + 1], &gs->v[at], (gs->n - at) * sizeof(*gs->v));
		gs->v[at] = g;
		gs->n++;
	}
	g->members++;
	g->q_valid = false; /* Q went down by the newcomer's CPU time */
	g->spoiled = true;
	u->group = g;
	u->io_known = false;
	return 0;
}

static void cgroup_group_free(struct cgroup_reader *rd, struct cgroup_group *g)
{
	cgroup_files_close(rd, &g->files);
	free(g->rel);
	free(g);
}

void cgroup_unit_done(struct cgroup_reader *rd, struct cgroup_groups *gs, struct cgroup_unit *u)
{
	struct cgroup_group *g = u->group;

	cgroup_files_close(rd, &u->files);
	u->group = NULL;
	if (!g)
		return;
	g->spoiled = true;
	g->q_valid = false;
	if (--g->members > 0)
		return;
	for (size_t i = 0; i < gs->n; i++) {
		if (gs->v[i] == g) {
			memmove(&gs->v[i], &gs->v[i + 1], (gs->n - i - 1) * sizeof(*gs->v));
			gs->n--;
			break;
		}
	}
	cgroup_group_free(rd, g);
}

void cgroup_groups_close(struct cgroup_reader *rd, struct cgroup_groups *gs)
{
	for (size_t i = 0; i < gs->n; i++) {
		cgroup_files_close(rd, &gs->v[i]->files);
		cgroup_group_forget(gs->v[i]);
	}
}

void cgroup_groups_free(struct cgroup_reader *rd, struct cgroup_groups *gs)
{
	for (size_t i = 0; i < gs->n; i++)
		cgroup_group_free(rd, gs->v[i]);
	free(gs->v);
	*gs = (struct cgroup_groups){0};
}

int cgroup_set_init(struct cgroup_set *cs, size_t held_max)
{
	*cs = (struct cgroup_set){.inotify_fd = -1};
	for (size_t i = 0; i < CGROUP_NHIER; i++)
		cs->root.fd[i] = -1;
	if (cgroup_reader_init(&cs->rd, &cs->root, held_max) < 0)
		return -ENOMEM;
	cs->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	return 0;
}

void cgroup_set_root(struct cgroup_set *cs, const struct cgroup_root *root)
{
	cgroup_groups_close(&cs->rd, &cs->groups);
	cgroup_root_close(&cs->root);
	cs->root = *root;
}

void cgroup_set_watch(struct cgroup_set *cs, const struct collector_env *env)
{
	collector_watch_fd(&cs->watch, env, cs->inotify_fd);
}

bool cgroup_set_drain(struct cgroup_set *cs, const struct collector_env *env)
{
	return cs->inotify_fd >= 0 && collector_watch_changed(&cs->watch, env) &&
	       cgroup_drain(cs->inotify_fd);
}

void cgroup_set_done(struct cgroup_set *cs)
{
	cgroup_groups_free(&cs->rd, &cs->groups);
	cgroup_root_close(&cs->root);
	cgroup_reader_done(&cs->rd);
	if (cs->inotify_fd >= 0)
		close(cs->inotify_fd);
	cs->inotify_fd = -1;
}

/* What a CPU time reading leaves unknown, in ns: v2's usage_usec is
 * rounded down to µs (see struct cgroup_group). */
static int64_t cgroup_cpu_slack(const struct cgroup_reader *rd)
{
	return rd->root->layout == CGROUP_V2 ? 999 : 0;
}

/* Tests failed in a row without a member found moving before the test is
 * left for CGROUP_IDLE_TICKS (Q moves: another child, or P's own tasks). */
#define CGROUP_GROUP_MISSES 4
/* A group's P is read for the idle members' CPU times, or for the busy
 * members' I/O bytes, when it had at least this many at the last tick:
 * reading it must save reads. */
#define CGROUP_GROUP_MIN 2

void cgroup_tick_begin(struct cgroup_reader *rd, struct cgroup_groups *gs, uint64_t mono_ns)
{
	rd->ticks++;
	rd->dt_ns = rd->mono_ns && mono_ns > rd->mono_ns ? mono_ns - rd->mono_ns : 0;
	rd->mono_ns = mono_ns;
	for (size_t i = 0; i < gs->n; i++) {
		struct cgroup_group *g = gs->v[i];
		struct cgroup_values v = cgroup_none;
		bool had_idle = g->idle_n >= CGROUP_GROUP_MIN,
		     had_busy = g->busy_n >= CGROUP_GROUP_MIN;

		g->p0 = -1;
		g->busy_sum = g->idle_sum = g->read_sum = 0;
		g->busy_n = g->idle_n = g->read_n = g->idle_moved = 0;
		g->still = g->spoiled = g->woke = g->tested = g->retry = false;
		if (!had_busy || cgroup_read(rd, &g->files, g->rel, 1u << CGROUP_IO_TREE, &v) < 0 ||
		    v.io_r < 0 || v.io_r != g->io_r || v.io_w != g->io_w)
			g->io_epoch++;
		g->io_r = v.io_r;
		g->io_w = v.io_w;
		if (had_idle && (!g->q_valid || g->failed) && rd->ticks >= g->pause_until &&
		    cgroup_read(rd, &g->files, g->rel, 1u << CGROUP_CPU, &v) == 0)
			g->p0 = v.cpu_ns;
	}
}

void cgroup_unit_ahead(struct cgroup_reader *rd, struct cgroup_unit *u, const char *rel)
{
	struct cgroup_group *g = u->group;
	struct cgroup_values v = cgroup_none;

	u->ahead = true;
	u->in_test = g && !g->tested;
	u->cpu_now = -1;
	if (u->pace.idle) {
		if (g && u->st.cpu.valid) {
			g->idle_sum += u->st.cpu.value;
			g->idle_n++;
			g->idle_moved += u->moved_gen == g->bound_gen;
		} else if (g) {
			g->spoiled = true;
		}
		return;
	}
	u->ahead_gone = u->ahead_read = false;
	cgroup_read_into(rd, &u->files, rel, 1u << CGROUP_CPU, &v, &u->ahead_gone, &u->ahead_read);
	u->cpu_now = v.cpu_ns;
	if (!g)
		return;
	g->busy_n++;
	if (u->cpu_now < 0) {
		g->spoiled = true;
		return;
	}
	g->busy_sum += (uint64_t)u->cpu_now;
	g->read_sum += (uint64_t)u->cpu_now;
	g->read_n++;
}

bool cgroup_tick_test(struct cgroup_reader *rd, struct cgroup_groups *gs)
{
	bool again = false, retrying = false;

	for (size_t i = 0; i < gs->n; i++)
		retrying = retrying || gs->v[i]->retry;
	/* v1: exact (no slack, what the idle members ran must be 0); v2: less
	 * than 1/20000 of the tick, in all (struct cgroup_group) */
	int64_t unit = cgroup_cpu_slack(rd), below = unit ? (int64_t)(rd->dt_ns / 20000) : 1;

	for (size_t i = 0; i < gs->n; i++) {
		struct cgroup_group *g = gs->v[i];
		struct cgroup_values v;
		int64_t excess, slack;

		if (retrying ? !g->retry || g->spoiled
			     : g->idle_n < CGROUP_GROUP_MIN || g->spoiled || !g->q_valid ||
				   rd->ticks < g->pause_until)
			continue;
		g->retry = false;
		if (cgroup_read(rd, &g->files, g->rel, 1u << CGROUP_CPU, &v) < 0 || v.cpu_ns < 0)
			continue;
		if (!retrying) {
			g->tested = true;
			gs->tests++;
		}
		/* at most what the idle members ran since their last readings */
		excess = v.cpu_ns - (g->q_low + (int64_t)g->busy_sum + (int64_t)g->idle_sum);
		slack = unit * (int64_t)(1 + g->busy_n + g->idle_moved);
		if (excess < -slack) {
			g->q_valid = false; /* below the bound: P was reset */
		} else if (excess + slack < below) {
			g->still = true;
			gs->passed++;
		} else if (!retrying && g->busy_n > 0) {
			/* more: a busy member may have run between its reading
			 * and P's (the likeliest on a busy host), or an idle one
			 * woke, or Q moved; reading the busy ones and P again
			 * costs less than reading every idle one */
			g->retry = again = true;
		}
	}
	return again;
}

void cgroup_unit_again(struct cgroup_reader *rd, struct cgroup_unit *u, const char *rel)
{
	struct cgroup_group *g = u->group;
	struct cgroup_values v = cgroup_none;
	bool gone = false, read = false;

	if (!g || !g->retry || !u->in_test || u->pace.idle || u->cpu_now < 0)
		return;
	cgroup_read_into(rd, &u->files, rel, 1u << CGROUP_CPU, &v, &gone, &read);
	if (v.cpu_ns < u->cpu_now) {
		g->spoiled = true; /* gone, or it went backwards: no test */
		return;
	}
	g->busy_sum += (uint64_t)(v.cpu_ns - u->cpu_now);
	g->read_sum += (uint64_t)(v.cpu_ns - u->cpu_now);
	u->cpu_now = v.cpu_ns;
}

void cgroup_tick_ahead(struct cgroup_reader *rd, struct cgroup_groups *gs, uint64_t mono_ns,
		       size_t n,
		       struct cgroup_unit *(*unit)(void *ctx, size_t i, const char **ret_rel),
		       void *ctx)
{
	struct cgroup_unit *u;
	const char *rel;

	cgroup_tick_begin(rd, gs, mono_ns);
	for (size_t i = 0; i < n; i++) {
		u = unit(ctx, i, &rel);
		cgroup_unit_ahead(rd, u, rel);
	}
	if (!cgroup_tick_test(rd, gs))
		return;
	for (size_t i = 0; i < n; i++) {
		u = unit(ctx, i, &rel);
		cgroup_unit_again(rd, u, rel);
	}
	cgroup_tick_test(rd, gs);
}

void cgroup_tick_end(struct cgroup_reader *rd, struct cgroup_groups *gs)
{
	for (size_t i = 0; i < gs->n; i++) {
		struct cgroup_group *g = gs->v[i];

		g->failed = g->tested && !g->still;
		if (g->failed && !g->woke && ++g->misses >= CGROUP_GROUP_MISSES) {
			g->pause_until = rd->ticks + CGROUP_IDLE_TICKS;
			g->misses = 0;
		} else if (!g->failed && g->tested) {
			g->misses = 0;
		}
		/* P read before every member: P - their CPU times <= Q; where
		 * readings are rounded (v2) the last bound alone, its readings
		 * the ones that cancel in the test */
		if (g->p0 >= 0 && !g->spoiled && g->read_n == g->members) {
			int64_t q = g->p0 - (int64_t)g->read_sum;

			if (cgroup_cpu_slack(rd) || !g->q_valid || q > g->q_low)
				g->q_low = q;
			g->q_valid = true;
			g->bound_gen++;
		}
	}
}

/* Leaves the I/O bytes out of mask when u's group says they did not move
 * since they were read (they are then put into v as they were). */
static unsigned cgroup_io_known(const struct cgroup_unit *u, unsigned mask, struct cgroup_values *v)
{
	const unsigned io = 1u << CGROUP_IO;

	if (!(mask & io) || !u->group || !u->io_known || u->io_epoch != u->group->io_epoch ||
	    !u->st.rd.valid || !u->st.wr.valid)
		return mask;
	v->io_r = (int64_t)u->st.rd.value;
	v->io_w = (int64_t)u->st.wr.value;
	return mask & ~io;
}

/* Reads mask (less what is known) into v, after what was read ahead. */
static int cgroup_unit_read(struct cgroup_reader *rd, struct cgroup_unit *u, const char *rel,
			    unsigned mask, struct cgroup_values *v, bool ahead)
{
	bool gone = ahead && u->ahead_gone, read = ahead && u->ahead_read;
	unsigned todo;

	*v = cgroup_none;
	if (ahead)
		v->cpu_ns = u->cpu_now;
	todo = cgroup_io_known(u, mask, v) & ~(ahead ? 1u << CGROUP_CPU : 0);
	cgroup_read_into(rd, &u->files, rel, todo, v, &gone, &read);
	if ((todo & (1u << CGROUP_IO)) && u->group) {
		u->io_known = v->io_r >= 0;
		u->io_epoch = u->group->io_epoch;
	}
	return gone && !read ? -ENOENT : 0;
}

/* The next reading of a busy unit's paced files (read now into v):
 * farther while its memory and tasks hold still, next tick when they
 * moved (the caller's own numbers: cgroup_pace_moved). */
static void cgroup_steady(const struct cgroup_reader *rd, struct cgroup_pace *p,
			  const struct cgroup_stats *st, const struct cgroup_values *v)
{
	/* a file missing is looked for at its own pace (CGROUP_RETRY_TICKS) */
	bool same = v->mem == st->mem && v->pids == st->pids && v->mem >= 0 && v->pids >= 0;

	p->steady_step = cgroup_pace_step(p->steady_step, !same, CGROUP_STEADY_TICKS);
	p->steady_next = cgroup_pace_next(rd, p->phase, p->steady_step);
}

uint64_t cgroup_pace_next(const struct cgroup_reader *rd, unsigned phase, unsigned step)
{
	uint64_t next = rd->ticks + 1;

	while (next % step != phase % step)
		next++;
	return next;
}

unsigned cgroup_pace_step(unsigned step, bool moved, unsigned max)
{
	if (moved || !step)
		return 1;
	return step * 2 > max ? max : step * 2;
}

/* After an idle unit's whole look (mask read into v): its next one
 * farther away when nothing moved. */
static void cgroup_idle_step(struct cgroup_pace *p, const struct cgroup_stats *st,
			     const struct cgroup_values *v, unsigned mask)
{
	bool same = true;

	if (mask & (1u << CGROUP_MEM))
		same = same && v->mem == st->mem;
	if (mask & (1u << CGROUP_PIDS))
		same = same && v->pids == st->pids;
	if (mask & (1u << CGROUP_IO))
		same = same && (st->rd.valid ? v->io_r == (int64_t)st->rd.value &&
						   v->io_w == (int64_t)st->wr.value
					     : v->io_r < 0);
	if (!same || !p->idle_step)
		p->idle_step = CGROUP_IDLE_TICKS;
	else if (p->idle_step < CGROUP_IDLE_MAX)
		p->idle_step *= 2;
}

void cgroup_pace_moved(const struct cgroup_reader *rd, struct cgroup_pace *p)
{
	p->idle_step = CGROUP_IDLE_TICKS;
	p->steady_step = 1;
	p->steady_next = rd->ticks + 1;
}

int cgroup_sample(struct cgroup_reader *rd, struct cgroup_unit *u, const char *rel, unsigned busy,
		  unsigned sleeping, struct cgroup_values *v, uint64_t mono_ns)
{
	const unsigned cpu = 1u << CGROUP_CPU;
	struct cgroup_stats *st = &u->st;
	struct cgroup_group *g = u->group;
	unsigned mask = busy;
	bool still = false;
	int64_t cpu_ns;
	int r;

	if (!u->ahead)
		cgroup_unit_ahead(rd, u, rel); /* after the test: it cannot count */
	u->ahead = false;
	if (u->pace.idle) {
		if (g && g->still && u->in_test) {
			*v = cgroup_none;
			v->cpu_ns = (int64_t)st->cpu.value;
			still = true;
			rd->proven++;
		} else {
			r = cgroup_unit_read(rd, u, rel, cpu, v, false);
			if (r < 0)
				goto out;
			still = st->cpu.valid && v->cpu_ns == (int64_t)st->cpu.value;
			if (g && v->cpu_ns >= 0) {
				g->read_sum += (uint64_t)v->cpu_ns;
				g->read_n++;
				g->woke = g->woke || !still;
			}
		}
		if (still && rd->ticks < u->pace.idle_next) {
			st->cpu.mono_ns = mono_ns; /* its CPU rate: 0 until now */
			st->cpu_h = 0;
			u->read = cpu;
			return CGROUP_SKIPPED | CGROUP_STILL;
		}
		if (still)
			mask = sleeping;
		cpu_ns = v->cpu_ns;
		r = cgroup_unit_read(rd, u, rel, mask & ~cpu, v, false);
		v->cpu_ns = cpu_ns;
		if (still)
			cgroup_idle_step(&u->pace, st, v, mask);
		mask |= cpu;
	} else {
		const unsigned paced = busy & ~(cpu | (1u << CGROUP_IO));
		int64_t prev = st->cpu.valid ? (int64_t)st->cpu.value : -1;

		if (rd->ticks < u->pace.steady_next)
			mask &= ~paced;
		r = cgroup_unit_read(rd, u, rel, mask, v, true);
		still = prev >= 0 && v->cpu_ns == prev;
		if (paced && (mask & paced) == paced)
			cgroup_steady(rd, &u->pace, st, v);
	}
out:
	/* gone: nulls (a v1 service may stay, in systemd's hierarchy alone) */
	if (g && v->cpu_ns >= 0 && (!st->cpu.valid || v->cpu_ns != (int64_t)st->cpu.value))
		u->moved_gen = g->bound_gen; /* a reading the bound did not take */
	u->read = mask | cpu;
	cgroup_stats_update(st, v, mask | cpu, mono_ns);
	return r < 0 ? r : still ? CGROUP_STILL : 0;
}

void cgroup_pace_set(const struct cgroup_reader *rd, struct cgroup_pace *p, bool idle)
{
	unsigned phase = p->phase % CGROUP_IDLE_TICKS;

	if (!idle && p->idle) { /* woke: read whole now, then each tick */
		p->steady_step = 1;
		p->steady_next = rd->ticks + 1;
	}
	if (idle && !p->idle)
		p->idle_step = CGROUP_IDLE_TICKS;
	if (idle && (!p->idle || rd->ticks >= p->idle_next)) {
		p->idle_next = rd->ticks + 1;
		while (p->idle_next % CGROUP_IDLE_TICKS != phase)
			p->idle_next++;
		p->idle_next += p->idle_step - CGROUP_IDLE_TICKS;
	}
	p->idle = idle;
}

static bool cgroup_stats_cpu(const struct cgroup_stats *st, double *ret)
{
	*ret = (double)st->cpu.value / 1e9;
	return st->cpu.valid;
}

static bool cgroup_stats_mem(const struct cgroup_stats *st, double *ret)
{
	*ret = (double)st->mem;
	return st->mem >= 0;
}

static bool cgroup_stats_tasks(const struct cgroup_stats *st, double *ret)
{
	*ret = (double)st->pids;
	return st->pids >= 0;
}

static bool cgroup_stats_read(const struct cgroup_stats *st, double *ret)
{
	*ret = (double)st->rd.value;
	return st->rd.valid;
}

static bool cgroup_stats_written(const struct cgroup_stats *st, double *ret)
{
	*ret = (double)st->wr.value;
	return st->wr.valid;
}

const struct cgroup_family cgroup_families[] = {
    {"cpu_seconds_total", "counter", "CPU time used by", "", cgroup_stats_cpu},
    {"memory_bytes", "gauge", "Memory charged to", "", cgroup_stats_mem},
    {"tasks", "gauge", "Tasks in", "", cgroup_stats_tasks},
    {"io_read_bytes_total", "counter", "Bytes", " read from block devices", cgroup_stats_read},
    {"io_written_bytes_total", "counter", "Bytes", " wrote to block devices", cgroup_stats_written},
    {0},
};

void cgroup_family_text(const struct cgroup_family *f, const char *noun, char *name,
			size_t name_len, char *help, size_t help_len)
{
	snprintf(name, name_len, "sysfeed_%s_%s", noun, f->suffix);
	snprintf(help, help_len, "%s the %s's cgroup%s (top %ss only).", f->head, noun, f->tail,
		 noun);
}
