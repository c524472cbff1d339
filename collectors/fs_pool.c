/* The `fs` topic's statfs worker pool: slots, worker processes, requests
 * and answers through pipes, timeouts, probes and reaping. */
#include "fs_pool.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "array.h"
#include "clock.h"
#include "fs_child.h"

/* statfs() of a hung NFS server or FUSE daemon blocks, and a FUSE request
 * its daemon has already read waits uninterruptibly until it is answered:
 * a thread stuck there would keep the whole daemon from exiting. So the
 * calls run in worker processes, forks of the loop thread that never exec:
 * a worker reads mount paths from one pipe, calls statfs() and writes each
 * answer (plain data) back through another. The loop thread never waits:
 * each tick it reads the answers that arrived, asks for the next round, and
 * reaps finished workers with WNOHANG.
 *
 * A worker answers in the order it was asked, so its oldest unanswered
 * request is the call in progress, running since the later of the request
 * and the previous answer (stamped by the worker). When that call is older
 * than fs-timeout-ms, its mount is marked not responding, the worker is
 * killed and let go, and a new worker takes the mounts that were queued
 * behind it. A killed worker stays in its call until the call returns (an
 * NFS "hard" wait is killable, a FUSE request already read is not), then
 * dies and is reaped; the daemon can exit at any time meanwhile. A mount
 * that hung is asked again only after its worker is gone and
 * FS_RETRY_FACTOR timeouts have passed, by a one-shot worker of its own (a
 * probe), so that a mount that hangs again never delays the others: there
 * is at most one worker per hung mount. */

/* Stuck or probing workers kept at most; past that, no new worker starts
 * until one ends. Each one holds a hung mount, so this is rarely reached. */
#define FS_MAX_STUCK   16
#define FS_MAX_WORKERS (2 * FS_MAX_STUCK + 2)
/* A hung mount is asked again no sooner than this many timeouts later. */
#define FS_RETRY_FACTOR 10
/* How long fini waits for workers it killed, unless known to be stuck. */
#define FS_FINI_WAIT_MS 100

struct fs_pending {
	uint64_t key;
	uint64_t sent_ns;
};

struct fs_worker {
	pid_t pid;  /* 0: a free entry */
	int req_fd; /* our ends, non-blocking; -1 once let go */
	int res_fd;
	bool probe;           /* asks one hung mount again, then is let go */
	bool gone;            /* killed or let go: waiting to be reaped */
	uint64_t stuck_key;   /* gone: the slot it is stuck on, or 0 */
	struct fs_pending *q; /* unanswered requests, oldest at q[q_head] */
	size_t q_head;
	size_t q_n;
	size_t q_cap;
	size_t q_max;                                 /* answers that fit in the answer pipe */
	uint64_t head_since_ns;                       /* when the oldest request's call started */
	unsigned char part[sizeof(struct fs_answer)]; /* an answer read in part */
	size_t part_len;
};

struct fs_pool {
	struct fs_slot **slots; /* sorted by key */
	size_t n_slots;
	size_t cap_slots;
	uint64_t next_key;
	uint64_t timeout_ns;
	struct fs_worker workers[FS_MAX_WORKERS];
	struct fs_worker *main; /* the worker of the rounds, or NULL */
	int (*statfs)(const char *path, struct fs_usage *ret);
};

static void fs_slot_free(struct fs_slot *slot)
{
	if (!slot)
		return;
	free(slot->path);
	free(slot);
}

/* p->slots is sorted by key: slots are appended with growing keys and
 * removed in place. */
static struct fs_slot *fs_find_slot(struct fs_pool *p, uint64_t key)
{
	size_t lo = 0, hi = p->n_slots;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (p->slots[mid]->key == key)
			return p->slots[mid];
		if (p->slots[mid]->key < key)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

static void fs_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Forks a worker into a free entry. Returns it, or NULL with errno set. */
static struct fs_worker *fs_worker_start(struct fs_pool *p, bool probe)
{
	struct fs_worker *w = NULL;
	int req[2] = {-1, -1}, res[2] = {-1, -1}, size, err;
	pid_t pid;

	for (size_t i = 0; i < FS_MAX_WORKERS && !w; i++) {
		if (p->workers[i].pid == 0)
			w = &p->workers[i];
	}
	if (!w) {
		errno = EAGAIN;
		return NULL;
	}
	if (pipe2(req, O_CLOEXEC) < 0 || pipe2(res, O_CLOEXEC) < 0)
		goto fail;
	pid = fork();
	if (pid == 0)
		fs_child_run(req[0], res[1], p->statfs);
	if (pid < 0)
		goto fail;
	close(req[0]);
	close(res[1]);
	/* both pipes have their own file descriptions at each end: the
	 * worker's ends stay blocking */
	if (fcntl(req[1], F_SETFL, O_NONBLOCK) < 0 || fcntl(res[0], F_SETFL, O_NONBLOCK) < 0) {
		err = errno;
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0); /* dies at once: it has not been asked anything */
		close(req[1]);
		close(res[0]);
		errno = err;
		return NULL;
	}
	/* never more answers pending than the answer pipe holds, so that a
	 * worker never waits to write one (half: pages hold whole answers) */
	size = fcntl(res[0], F_GETPIPE_SZ);
	w->q_max = size > 0 ? (size_t)size / sizeof(struct fs_answer) / 2 : 1;
	if (w->q_max == 0)
		w->q_max = 1;
	w->pid = pid;
	w->req_fd = req[1];
	w->res_fd = res[0];
	w->probe = probe;
	w->gone = false;
	w->stuck_key = 0;
	w->q_head = w->q_n = 0;
	w->part_len = 0;
	return w;
fail:
	err = errno;
	for (int i = 0; i < 2; i++) {
		fs_close_fd(&req[i]);
		fs_close_fd(&res[i]);
	}
	errno = err;
	return NULL;
}

/* Stops talking to w: its queued mounts are free to be asked again (but
 * stuck_key's, if any), and it is only left to be reaped. */
static void fs_worker_let_go(struct fs_pool *p, struct fs_worker *w, uint64_t stuck_key)
{
	for (size_t i = 0; i < w->q_n; i++) {
		struct fs_slot *slot = fs_find_slot(p, w->q[(w->q_head + i) % w->q_cap].key);

		if (slot)
			slot->queued = false;
	}
	w->q_head = w->q_n = 0;
	fs_close_fd(&w->req_fd);
	fs_close_fd(&w->res_fd);
	w->gone = true;
	w->stuck_key = stuck_key;
	if (p->main == w)
		p->main = NULL;
}

/* Gives up on a worker whose current call is older than the timeout: its
 * mount is hung until a later call answers. */
static void fs_worker_abandon(struct fs_pool *p, struct fs_worker *w, uint64_t now)
{
	uint64_t key = w->q[w->q_head].key;
	struct fs_slot *slot = fs_find_slot(p, key);

	if (slot) {
		slot->hung = true;
		slot->stuck = true;
		slot->retry_ns = now + FS_RETRY_FACTOR * p->timeout_ns;
	}
	kill(w->pid, SIGKILL);
	fs_worker_let_go(p, w, key);
}

/* Requests to one worker gathered into one write of at most PIPE_BUF
 * bytes (atomic on a pipe: all of it or nothing): the worker wakes once a
 * round, not once a mount (each wake-up preempted the loop thread). */
struct fs_batch {
	size_t len, n;
	uint64_t keys[PIPE_BUF / sizeof(struct fs_request)];
	unsigned char buf[PIPE_BUF];
};

/* Forgets b's requests: their slots are asked at the next round. */
static void fs_batch_drop(struct fs_pool *p, struct fs_batch *b)
{
	for (size_t i = 0; i < b->n; i++) {
		struct fs_slot *slot = fs_find_slot(p, b->keys[i]);

		if (slot)
			slot->queued = false;
	}
	b->len = b->n = 0;
}

/* Writes b's requests to w in one write and queues them, or, when that
 * fails, frees their slots to be asked at the next round. Returns 0,
 * -EAGAIN when the pipe is full, or another -errno when the worker is
 * gone. */
static int fs_batch_send(struct fs_pool *p, struct fs_worker *w, struct fs_batch *b, uint64_t now)
{
	ssize_t n = 0;
	int r = 0;

	if (b->n > 0)
		n = write(w->req_fd, b->buf, b->len);
	if (n < 0)
		r = errno == EAGAIN ? -EAGAIN : -errno;
	else if ((size_t)n != b->len)
		r = -EIO; /* cannot happen up to PIPE_BUF */
	if (r < 0) {
		fs_batch_drop(p, b);
		return r;
	}
	for (size_t i = 0; i < b->n; i++) {
		if (w->q_n == 0)
			w->head_since_ns = now;
		w->q[(w->q_head + w->q_n) % w->q_cap] = (struct fs_pending){b->keys[i], now};
		w->q_n++;
	}
	b->len = b->n = 0;
	return r;
}

/* Adds a request for slot to b (sending what b holds first when it is
 * full) and marks the slot queued; fs_batch_send sends it. Returns 0,
 * -EAGAIN when the pipe or the queue is full (ask again at the next
 * round), -ENAMETOOLONG, -ENOMEM, or another -errno when the worker is
 * gone. */
static int fs_worker_ask(struct fs_pool *p, struct fs_worker *w, struct fs_batch *b,
			 struct fs_slot *slot, uint64_t now)
{
	struct fs_request req;
	size_t len = strlen(slot->path), size = sizeof(req) + len;
	int r;

	if (len > FS_PATH_MAX)
		return -ENAMETOOLONG;
	if (w->q_n + b->n >= w->q_max)
		return -EAGAIN;
	if (w->q_n + b->n == w->q_cap) {
		/* a full ring: unwrapped into a larger one */
		size_t cap = w->q_cap ? w->q_cap * 2 : 16;
		struct fs_pending *q = malloc(cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		for (size_t i = 0; i < w->q_n; i++)
			q[i] = w->q[(w->q_head + i) % w->q_cap];
		free(w->q);
		w->q = q;
		w->q_cap = cap;
		w->q_head = 0;
	}
	if (b->len + size > sizeof(b->buf) && (r = fs_batch_send(p, w, b, now)) < 0)
		return r;
	memset(&req, 0, sizeof(req));
	req.key = slot->key;
	req.len = (uint32_t)len;
	memcpy(b->buf + b->len, &req, sizeof(req));
	memcpy(b->buf + b->len + sizeof(req), slot->path, len);
	b->len += size;
	b->keys[b->n++] = slot->key;
	slot->queued = true;
	return 0;
}

/* Files one answer: it must be for the oldest request. */
static int fs_worker_answer(struct fs_pool *p, struct fs_worker *w, const struct fs_answer *a)
{
	struct fs_slot *slot;

	if (w->q_n == 0 || w->q[w->q_head].key != a->key)
		return -EPROTO;
	w->q_head = (w->q_head + 1) % w->q_cap;
	w->q_n--;
	if (w->q_n > 0) {
		uint64_t sent = w->q[w->q_head].sent_ns;

		/* the next call started when this one ended, or when it was sent */
		w->head_since_ns = a->end_ns > sent ? a->end_ns : sent;
	}
	slot = fs_find_slot(p, a->key);
	if (!slot)
		return 0; /* unmounted meanwhile */
	slot->queued = false;
	slot->hung = false;
	slot->err = a->err;
	if (a->err == 0) {
		slot->usage = a->usage;
		slot->have = true;
	}
	return 0;
}

/* Reads every answer w wrote so far. Returns 0, or -errno when the worker
 * is gone or broke the protocol. */
static int fs_worker_collect(struct fs_pool *p, struct fs_worker *w)
{
	for (;;) {
		unsigned char buf[32 * sizeof(struct fs_answer)];
		size_t have = w->part_len, done = 0;
		ssize_t n;

		memcpy(buf, w->part, have);
		n = read(w->res_fd, buf + have, sizeof(buf) - have);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == EAGAIN ? 0 : -errno;
		if (n == 0)
			return -EPIPE;
		have += (size_t)n;
		for (; have - done >= sizeof(struct fs_answer); done += sizeof(struct fs_answer)) {
			struct fs_answer a;
			int r;

			memcpy(&a, buf + done, sizeof(a));
			r = fs_worker_answer(p, w, &a);
			if (r < 0)
				return r;
		}
		w->part_len = have - done;
		memcpy(w->part, buf + done, w->part_len);
		if (have < sizeof(buf))
			return 0; /* the pipe is empty */
	}
}

/* Reads what every live worker answered; lets go of a probe that is done
 * and of a worker that died. */
static void fs_collect_all(struct fs_pool *p)
{
	for (size_t i = 0; i < FS_MAX_WORKERS; i++) {
		struct fs_worker *w = &p->workers[i];

		if (w->pid == 0 || w->gone)
			continue;
		if (fs_worker_collect(p, w) < 0) {
			kill(w->pid, SIGKILL);
			fs_worker_let_go(p, w, 0);
		} else if (w->probe && w->q_n == 0) {
			fs_worker_let_go(p, w, 0); /* exits on EOF */
		}
	}
}

/* Abandons every worker whose current call is older than the timeout. */
static void fs_check_timeouts(struct fs_pool *p, uint64_t now)
{
	for (size_t i = 0; i < FS_MAX_WORKERS; i++) {
		struct fs_worker *w = &p->workers[i];

		if (w->pid != 0 && !w->gone && w->q_n > 0 && now > w->head_since_ns &&
		    now - w->head_since_ns > p->timeout_ns)
			fs_worker_abandon(p, w, now);
	}
}

/* Reaps the workers let go that have ended, never waiting: a stuck one
 * ends when its call returns. Its mount may then be asked again. */
static void fs_reap(struct fs_pool *p)
{
	for (size_t i = 0; i < FS_MAX_WORKERS; i++) {
		struct fs_worker *w = &p->workers[i];
		struct fs_slot *slot;
		pid_t r;

		if (w->pid == 0 || !w->gone)
			continue;
		r = waitpid(w->pid, NULL, WNOHANG);
		if (r == 0 || (r < 0 && errno != ECHILD))
			continue;
		/* ECHILD: someone else reaped it */
		if (w->stuck_key && (slot = fs_find_slot(p, w->stuck_key)))
			slot->stuck = false;
		w->pid = 0;
	}
}

/* Workers stuck in a call or asking a hung mount again. */
static unsigned fs_count_stuck(const struct fs_pool *p)
{
	unsigned n = 0;

	for (size_t i = 0; i < FS_MAX_WORKERS; i++) {
		const struct fs_worker *w = &p->workers[i];

		n += w->pid != 0 && ((w->gone && w->stuck_key) || (!w->gone && w->probe));
	}
	return n;
}

/* The main worker broke (a write failed): what b holds is not sent, and
 * the worker is let go; a new one starts at the next round. */
static void fs_main_died(struct fs_pool *p, struct fs_batch *b)
{
	fs_batch_drop(p, b);
	kill(p->main->pid, SIGKILL);
	fs_worker_let_go(p, p->main, 0);
}

/* A local mount's statfs() on this thread: it answers from memory. */
static void fs_ask_local(struct fs_pool *p, struct fs_slot *slot)
{
	struct fs_usage u;
	int r = p->statfs(slot->path, &u);

	slot->err = -r;
	if (r == 0) {
		slot->usage = u;
		slot->have = true;
	}
}

/* Asks a local mount itself (see fs_ask_local), and the main worker for
 * every other mount that is neither hung nor already asked, starting a
 * worker when there is none; asks a probe of its own for
 * each hung mount whose stuck call has ended, once its retry time came.
 * What cannot be asked now is asked at the next round. Returns 0, or the
 * -errno of a main worker that could not be started. */
static int fs_request_round(struct fs_pool *p, uint64_t now)
{
	struct fs_batch batch = {0}, one;
	bool main_full = false;
	int ret = 0, r;

	for (size_t i = 0; i < p->n_slots; i++) {
		struct fs_slot *slot = p->slots[i];
		struct fs_worker *w;

		if (slot->queued || slot->stuck)
			continue;
		if (slot->local) {
			fs_ask_local(p, slot);
			continue;
		}
		if (slot->hung) {
			if (now < slot->retry_ns || fs_count_stuck(p) >= FS_MAX_STUCK ||
			    !(w = fs_worker_start(p, true)))
				continue;
			one.len = one.n = 0;
			r = fs_worker_ask(p, w, &one, slot, now);
			if (r == 0)
				r = fs_batch_send(p, w, &one, now);
			if (r < 0) {
				kill(w->pid, SIGKILL);
				fs_worker_let_go(p, w, 0);
			}
			continue;
		}
		if (main_full)
			continue;
		if (!p->main && fs_count_stuck(p) < FS_MAX_STUCK) {
			p->main = fs_worker_start(p, false);
			if (!p->main)
				ret = -errno;
		}
		if (!p->main) {
			main_full = true;
			continue;
		}
		r = fs_worker_ask(p, p->main, &batch, slot, now);
		if (r == -ENAMETOOLONG) {
			slot->err = ENAMETOOLONG;
		} else if (r < 0) {
			main_full = true;
			if (r != -EAGAIN && r != -ENOMEM) /* it died: a new one next round */
				fs_main_died(p, &batch);
		}
	}
	if (p->main && (r = fs_batch_send(p, p->main, &batch, now)) < 0 && r != -EAGAIN)
		fs_main_died(p, &batch);
	return ret;
}

int fs_pool_settle(struct fs_pool *p, unsigned timeout_ms)
{
	uint64_t deadline = clock_mono_ns() + (uint64_t)timeout_ms * 1000000u;

	for (;;) {
		struct pollfd pfd[FS_MAX_WORKERS];
		uint64_t now, wait_ns;
		nfds_t n = 0;

		fs_collect_all(p);
		now = clock_mono_ns();
		wait_ns = deadline > now ? deadline - now : 0;
		for (size_t i = 0; i < FS_MAX_WORKERS; i++) {
			const struct fs_worker *w = &p->workers[i];
			uint64_t due;

			if (w->pid == 0 || w->gone || w->q_n == 0)
				continue;
			due = w->head_since_ns + p->timeout_ns;
			if (now >= due)
				continue; /* overdue: stuck, not waited for */
			if (due - now < wait_ns)
				wait_ns = due - now;
			pfd[n++] = (struct pollfd){.fd = w->res_fd, .events = POLLIN};
		}
		if (n == 0)
			return 0;
		if (now >= deadline)
			return -ETIMEDOUT;
		poll(pfd, n, (int)(wait_ns / 1000000u) + 1);
	}
}

unsigned fs_pool_stuck(const struct fs_pool *p)
{
	unsigned n = 0;

	for (size_t i = 0; i < FS_MAX_WORKERS; i++)
		n += p->workers[i].pid != 0 && p->workers[i].gone && p->workers[i].stuck_key;
	return n;
}

pid_t fs_pool_worker_pid(const struct fs_pool *p)
{
	return p->main ? p->main->pid : 0;
}

/* Waits a little for the killed workers, so that none is left a zombie. */
void fs_pool_free(struct fs_pool *p)
{
	uint64_t deadline = clock_mono_ns() + FS_FINI_WAIT_MS * 1000000u;

	if (!p)
		return;
	for (size_t i = 0; i < FS_MAX_WORKERS; i++) {
		struct fs_worker *w = &p->workers[i];

		if (w->pid != 0 && !w->gone) {
			kill(w->pid, SIGKILL);
			fs_worker_let_go(p, w, 0);
		}
	}
	for (;;) {
		bool waiting = false;

		fs_reap(p);
		for (size_t i = 0; i < FS_MAX_WORKERS; i++)
			waiting = waiting || (p->workers[i].pid != 0 && !p->workers[i].stuck_key);
		if (!waiting || clock_mono_ns() >= deadline)
			break;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	for (size_t i = 0; i < FS_MAX_WORKERS; i++)
		free(p->workers[i].q);
	for (size_t i = 0; i < p->n_slots; i++)
		fs_slot_free(p->slots[i]);
	free(p->slots);
	free(p);
}

struct fs_pool *fs_pool_new(uint64_t timeout_ns)
{
	struct fs_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->statfs = fs_child_statfs();
	p->timeout_ns = timeout_ns;
	for (size_t i = 0; i < FS_MAX_WORKERS; i++)
		p->workers[i].req_fd = p->workers[i].res_fd = -1;
	return p;
}

void fs_pool_set_timeout(struct fs_pool *p, uint64_t timeout_ns)
{
	p->timeout_ns = timeout_ns;
}

void fs_pool_mark(struct fs_pool *p)
{
	for (size_t i = 0; i < p->n_slots; i++)
		p->slots[i]->seen = false;
}

struct fs_slot *fs_pool_claim(struct fs_pool *p, unsigned mount_id, const char *path, bool local)
{
	struct fs_slot *slot = NULL;

	for (size_t i = 0; i < p->n_slots && !slot; i++) {
		struct fs_slot *c = p->slots[i];

		if (!c->seen && c->mount_id == mount_id && strcmp(c->path, path) == 0)
			slot = c;
	}
	if (!slot) {
		if (ARRAY_GROW(p->slots, p->cap_slots, p->n_slots, 16) < 0)
			return NULL;
		slot = calloc(1, sizeof(*slot));
		if (!slot)
			return NULL;
		slot->path = strdup(path);
		if (!slot->path) {
			free(slot);
			return NULL;
		}
		slot->key = ++p->next_key;
		slot->mount_id = mount_id;
		slot->local = local;
		p->slots[p->n_slots++] = slot;
	}
	slot->seen = true;
	return slot;
}

/* Keeps the slots in key order. */
void fs_pool_sweep(struct fs_pool *p)
{
	size_t k = 0;

	for (size_t i = 0; i < p->n_slots; i++) {
		if (p->slots[i]->seen)
			p->slots[k++] = p->slots[i];
		else
			fs_slot_free(p->slots[i]);
	}
	p->n_slots = k;
}

int fs_pool_start(struct fs_pool *p)
{
	int r = fs_request_round(p, clock_mono_ns());

	for (size_t i = 0; i < p->n_slots && !p->main; i++)
		if (!p->slots[i]->local)
			return r < 0 ? r : -EAGAIN;
	return 0;
}

void fs_pool_update(struct fs_pool *p)
{
	uint64_t now;

	fs_collect_all(p);
	now = clock_mono_ns();
	fs_check_timeouts(p, now);
	fs_reap(p);
	fs_request_round(p, now);
}
