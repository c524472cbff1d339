/* Alert delivery on the senders thread: the journal, webhooks and ntfy
 * through one libcurl multi handle (libcurl loaded at the first transfer,
 * curl_dl.c), commands through posix_spawn and
 * pidfds, all in one poll (see alert_send.h). */
#include "alert_send.h"

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "alert_text.h"
#include "curl_dl.h"
#include "clock.h"
#include "json.h"

#define MAX_RUNNING_EXEC 32
#define BACKOFF_MS       1000
#define KILL_GRACE_MS    1000

extern char **environ;

struct job {
	struct job *next;
	cJSON *alert;
	bool notify;
};

struct delivery {
	struct delivery *next;
	enum alert_sender_kind kind;
	char *target, *body;
	char what[96]; /* "NAME STATE": for the entry about what shutdown dropped */
	struct curl_slist *headers;
	char **env;
	unsigned attempt;
	int64_t due_ms;
	CURL *easy;
	char errbuf[CURL_ERROR_SIZE];
	pid_t pid;
	int pidfd;
	int64_t started_ms;
	bool killed;
};

struct targets {
	struct list webhooks, ntfy, execs;
	char *journal_dir;
	unsigned timeout_ms, retries, exec_max;
	size_t queue_max;
};

struct alert_sender {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t drained;
	struct job *head, **tail;
	size_t queued;
	bool stop;
	uint64_t pushed, done; /* jobs, for alert_sender_drain */
	size_t inflight;       /* deliveries planned and not over */
	struct targets t;      /* under lock */
	struct alert_send_stats stats;
	alert_send_report *report;
	void *ctx;
	/* the thread's own */
	struct cdl_multi *multi;
	struct delivery *waiting, *running;
	unsigned n_exec;
};

const char *alert_sender_name(enum alert_sender_kind k)
{
	static const char *const names[] = {"journal", "webhook", "ntfy", "exec"};

	return names[k];
}

static void list_copy(struct list *dst, const struct list *src)
{
	memset(dst, 0, sizeof(*dst));
	for (size_t i = 0; src && i < src->n; i++)
		if ((dst->v[dst->n] = strdup(src->v[i])))
			dst->n++;
}

static void list_done(struct list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

static void targets_set(struct targets *t, const struct alert_send_opts *o)
{
	list_done(&t->webhooks);
	list_done(&t->ntfy);
	list_done(&t->execs);
	list_copy(&t->webhooks, o->webhooks);
	list_copy(&t->ntfy, o->ntfy);
	list_copy(&t->execs, o->execs);
	free(t->journal_dir);
	t->journal_dir = o->journal_dir ? strdup(o->journal_dir) : NULL;
	t->timeout_ms = o->timeout_ms;
	t->retries = o->retries;
	t->exec_max = o->exec_max ? o->exec_max : 1;
	t->queue_max = o->queue_max;
}

static void delivery_free(struct delivery *d)
{
	if (!d)
		return;
	if (d->env)
		for (char **e = d->env; *e; e++)
			free(*e);
	free(d->env);
	cdl_slist_free_all(d->headers);
	free(d->target);
	free(d->body);
	if (d->pidfd >= 0)
		close(d->pidfd);
	free(d);
}

/* Counts and reports a delivery's outcome. */
static void outcome(struct alert_sender *s, enum alert_sender_kind kind, const char *target,
		    bool ok, const char *answer)
{
	pthread_mutex_lock(&s->lock);
	if (kind != ALERT_SEND_JOURNAL)
		s->inflight--;
	if (ok)
		s->stats.sent[kind]++;
	else
		s->stats.failed[kind]++;
	pthread_mutex_unlock(&s->lock);
	if (s->report)
		s->report(s->ctx, kind, target, ok, answer);
}

/* The journal entry of a change, always, on this thread. */
static void to_journal(struct alert_sender *s, const cJSON *a, const char *json)
{
	struct alert_fields f;
	int r;

	alert_text_fields(a, &f);
	r = sd_journal_send(
	    "MESSAGE=%s", f.message, "PRIORITY=%d", f.priority, "SYSLOG_IDENTIFIER=sysfeed-alert",
	    "SYSFEED_ALERT=%s", f.name, "SYSFEED_ALERT_STATE=%s", f.state,
	    "SYSFEED_ALERT_SEVERITY=%s", f.severity, "SYSFEED_ALERT_INSTANCE=%s", f.instance,
	    "SYSFEED_ALERT_VALUE=%s", f.value, "SYSFEED_ALERT_THRESHOLD=%s", f.threshold,
	    "SYSFEED_ALERT_SINCE=%s", f.since, "SYSFEED_ALERT_JSON=%s", json, NULL);
	outcome(s, ALERT_SEND_JOURNAL, "journal", r >= 0, r >= 0 ? "written" : strerror(-r));
}

static size_t discard(char *ptr, size_t size, size_t n, void *ctx)
{
	return size * n;
}

static struct delivery *delivery_new(enum alert_sender_kind kind, const char *target,
				     const char *body, const struct alert_fields *f)
{
	struct delivery *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	snprintf(d->what, sizeof(d->what), "%s %s", f->name, f->state);
	d->kind = kind;
	d->pidfd = -1;
	d->target = strdup(target);
	d->body = body ? strdup(body) : NULL;
	if (!d->target || (body && !d->body)) {
		delivery_free(d);
		return NULL;
	}
	return d;
}

/* The deliveries of one change: one per receiver, due at once. */
static void plan(struct alert_sender *s, const cJSON *a, const char *json)
{
	struct targets t;
	struct alert_fields f;
	char *text = alert_text_body(a);
	char title[512], prio[32];
	struct delivery *d;
	size_t n = 0;

	alert_text_fields(a, &f);
	pthread_mutex_lock(&s->lock);
	memset(&t, 0, sizeof(t));
	list_copy(&t.webhooks, &s->t.webhooks);
	list_copy(&t.ntfy, &s->t.ntfy);
	list_copy(&t.execs, &s->t.execs);
	pthread_mutex_unlock(&s->lock);
	alert_text_title(a, title, sizeof(title));
	snprintf(prio, sizeof(prio), "Priority: %s", f.ntfy_priority);
	for (size_t i = 0; i < t.webhooks.n; i++)
		if ((d = delivery_new(ALERT_SEND_WEBHOOK, t.webhooks.v[i], json, &f))) {
			d->headers = cdl_slist_append(NULL, "Content-Type: application/json");
			d->next = s->waiting;
			s->waiting = d;
			n++;
		}
	for (size_t i = 0; text && i < t.ntfy.n; i++)
		if ((d = delivery_new(ALERT_SEND_NTFY, t.ntfy.v[i], text, &f))) {
			struct curl_slist *h = cdl_slist_append(NULL, title);

			h = h ? cdl_slist_append(h, prio) : NULL;
			h = h ? cdl_slist_append(h, f.ntfy_tags) : NULL;
			d->headers = h;
			d->next = s->waiting;
			s->waiting = d;
			n++;
		}
	for (size_t i = 0; i < t.execs.n; i++)
		if ((d = delivery_new(ALERT_SEND_EXEC, t.execs.v[i], NULL, &f))) {
			d->env = alert_text_env(a, json);
			d->next = s->waiting;
			s->waiting = d;
			n++;
		}
	pthread_mutex_lock(&s->lock);
	s->inflight += n;
	pthread_mutex_unlock(&s->lock);
	free(text);
	list_done(&t.webhooks);
	list_done(&t.ntfy);
	list_done(&t.execs);
}

static int start_http(struct alert_sender *s, struct delivery *d, unsigned timeout_ms)
{
	CURL *c = cdl_easy_init();

	if (!c)
		return -ENOMEM;
	d->errbuf[0] = '\0';
	cdl_easy_setopt(c, CURLOPT_URL, d->target);
	cdl_easy_setopt(c, CURLOPT_POSTFIELDS, d->body);
	cdl_easy_setopt(c, CURLOPT_POSTFIELDSIZE, (long)strlen(d->body));
	cdl_easy_setopt(c, CURLOPT_HTTPHEADER, d->headers);
	cdl_easy_setopt(c, CURLOPT_USERAGENT, "sysfeed/" SYSFEED_VERSION);
	cdl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	cdl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, (long)timeout_ms);
	cdl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	cdl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	cdl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	cdl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	cdl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	cdl_easy_setopt(c, CURLOPT_ERRORBUFFER, d->errbuf);
	cdl_easy_setopt(c, CURLOPT_PRIVATE, d);
	if (cdl_multi_add_handle(s->multi, c) != CURLM_OK) {
		cdl_easy_cleanup(c);
		return -ENOMEM;
	}
	d->easy = c;
	return 0;
}

static int start_exec(struct alert_sender *s, struct delivery *d)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	sigset_t none, dflt;
	char *argv[] = {d->target, NULL};
	int r;

	sigemptyset(&none);
	sigemptyset(&dflt);
	sigaddset(&dflt, SIGPIPE);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawnattr_init(&attr);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &dflt);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
					    POSIX_SPAWN_SETSID);
	r = posix_spawn(&d->pid, d->target, &fa, &attr, argv, d->env);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (r)
		return -r;
	d->pidfd = (int)syscall(SYS_pidfd_open, d->pid, 0);
	s->n_exec++;
	return 0;
}

static void unlink_running(struct alert_sender *s, struct delivery *d)
{
	for (struct delivery **p = &s->running; *p; p = &(*p)->next)
		if (*p == d) {
			*p = d->next;
			return;
		}
}

/* An HTTP attempt ended: done, or due again after a backoff. */
static void http_done(struct alert_sender *s, struct delivery *d, CURLcode res, int64_t now)
{
	long code = 0;
	char answer[CURL_ERROR_SIZE + 32];
	unsigned retries;
	bool ok;

	cdl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &code);
	cdl_multi_remove_handle(s->multi, d->easy);
	cdl_easy_cleanup(d->easy);
	d->easy = NULL;
	unlink_running(s, d);
	ok = res == CURLE_OK && code >= 200 && code < 300;
	if (res == CURLE_OK)
		snprintf(answer, sizeof(answer), "HTTP %ld", code);
	else
		snprintf(answer, sizeof(answer), "%s",
			 d->errbuf[0] ? d->errbuf : cdl_easy_strerror(res));
	pthread_mutex_lock(&s->lock);
	retries = s->t.retries;
	pthread_mutex_unlock(&s->lock);
	if (!ok && d->attempt < retries) {
		d->due_ms = now + ((int64_t)BACKOFF_MS << (d->attempt < 10 ? d->attempt : 10));
		d->attempt++;
		d->next = s->waiting;
		s->waiting = d;
		return;
	}
	outcome(s, d->kind, d->target, ok, answer);
	delivery_free(d);
}

/* Reaps a command that ended; kills one past its timeout. */
static void exec_check(struct alert_sender *s, struct delivery *d, int64_t now, unsigned timeout)
{
	char answer[64];
	int st;

	if (waitpid(d->pid, &st, WNOHANG) != d->pid) {
		if (now - d->started_ms >= timeout && !d->killed) {
			kill(-d->pid, SIGKILL); /* its session: what it started too */
			kill(d->pid, SIGKILL);
			d->killed = true;
		}
		return;
	}
	s->n_exec--;
	unlink_running(s, d);
	if (d->killed)
		snprintf(answer, sizeof(answer), "killed after %u ms", timeout);
	else if (WIFEXITED(st))
		snprintf(answer, sizeof(answer), "exit %d", WEXITSTATUS(st));
	else
		snprintf(answer, sizeof(answer), "signal %d", WTERMSIG(st));
	outcome(s, d->kind, d->target, !d->killed && WIFEXITED(st) && WEXITSTATUS(st) == 0, answer);
	delivery_free(d);
}

/* Starts what is due; returns how long until the next is (ms). */
static int64_t start_due(struct alert_sender *s, int64_t now, const struct targets *t)
{
	/* nothing waits: until a job or the stop comes (the wake fd) */
	int64_t next = s->waiting || s->running ? 1000 : INT_MAX;

	for (struct delivery **p = &s->waiting; *p;) {
		struct delivery *d = *p;
		int r;

		if (d->due_ms > now) {
			next = d->due_ms - now < next ? d->due_ms - now : next;
			p = &d->next;
			continue;
		}
		if (d->kind == ALERT_SEND_EXEC &&
		    (s->n_exec >= t->exec_max || s->n_exec >= MAX_RUNNING_EXEC)) {
			p = &d->next;
			continue;
		}
		*p = d->next;
		d->started_ms = now;
		r = d->kind == ALERT_SEND_EXEC ? start_exec(s, d) : start_http(s, d, t->timeout_ms);
		if (r < 0) {
			outcome(s, d->kind, d->target, false, strerror(-r));
			delivery_free(d);
			continue;
		}
		d->next = s->running;
		s->running = d;
	}
	return next;
}

/* Takes the queued jobs: journal entries at once, deliveries planned. */
static bool take_jobs(struct alert_sender *s)
{
	struct job *j;
	char *dir;
	bool stop;

	pthread_mutex_lock(&s->lock);
	j = s->head;
	s->head = NULL;
	s->tail = &s->head;
	s->queued = 0;
	stop = s->stop;
	dir = j && s->t.journal_dir ? strdup(s->t.journal_dir) : NULL;
	pthread_mutex_unlock(&s->lock);
	while (j) {
		struct job *next = j->next;
		char *json;

		alert_text_add_journal(j->alert, dir);
		json = json_print(j->alert, NULL);
		if (json) {
			to_journal(s, j->alert, json);
			if (j->notify)
				plan(s, j->alert, json);
		}
		free(json);
		cJSON_Delete(j->alert);
		free(j);
		pthread_mutex_lock(&s->lock);
		s->done++;
		pthread_cond_broadcast(&s->drained);
		pthread_mutex_unlock(&s->lock);
		j = next;
	}
	free(dir);
	return stop;
}

/* Whether a delivery runs, or waits to start before deadline. */
static bool busy_until(const struct alert_sender *s, int64_t deadline)
{
	if (s->running)
		return true;
	for (const struct delivery *d = s->waiting; d; d = d->next)
		if (d->due_ms < deadline)
			return true;
	return false;
}

/* At shutdown, after the grace: abandons what is left (commands killed),
 * each counted as failed, and says what in one journal entry. */
static void drop_left(struct alert_sender *s)
{
	char msg[1024];
	size_t len = 0;
	unsigned n = 0;

	for (int pass = 0; pass < 2; pass++) {
		struct delivery *d = pass ? s->waiting : s->running;

		if (pass)
			s->waiting = NULL;
		else
			s->running = NULL;
		for (struct delivery *next; d; d = next) {
			next = d->next;
			if (d->easy) {
				cdl_multi_remove_handle(s->multi, d->easy);
				cdl_easy_cleanup(d->easy);
			}
			if (d->kind == ALERT_SEND_EXEC && d->pid > 0) {
				kill(-d->pid, SIGKILL);
				kill(d->pid, SIGKILL);
				waitpid(d->pid, NULL, 0);
			}
			if (len < sizeof(msg)) {
				int w = snprintf(msg + len, sizeof(msg) - len, "%s%s %s (%s)",
						 n ? ", " : "", alert_sender_name(d->kind),
						 d->target, d->what);
				len += w > 0 ? (size_t)w : 0;
			}
			n++;
			outcome(s, d->kind, d->target, false, "dropped at shutdown");
			delivery_free(d);
		}
	}
	if (n)
		sd_journal_send(
		    "MESSAGE=sysfeed stopping: %u alert deliver%s dropped after %d ms: %s", n,
		    n == 1 ? "y" : "ies", ALERT_SEND_GRACE_MS, msg, "PRIORITY=4",
		    "SYSLOG_IDENTIFIER=sysfeed-alert", "SYSFEED_ALERT_DROPPED=%u", n, NULL);
}

static void *sender_main(void *arg)
{
	struct alert_sender *s = arg;
	int64_t stop_at = INT64_MAX; /* the grace's end once stopping */

	for (;;) {
		struct curl_waitfd fds[MAX_RUNNING_EXEC];
		unsigned n = 0;
		struct targets t;
		int64_t now, wait;
		int still;
		CURLMsg *msg;
		bool stop = take_jobs(s);

		now = (int64_t)clock_mono_ms();
		if (stop && stop_at == INT64_MAX)
			stop_at = now + ALERT_SEND_GRACE_MS;
		if (stop && (now >= stop_at || !busy_until(s, stop_at)))
			break;
		pthread_mutex_lock(&s->lock);
		t = s->t; /* the numbers only: lists are not used from this copy */
		pthread_mutex_unlock(&s->lock);
		wait = start_due(s, now, &t);
		if (stop)
			wait = stop_at - now < wait ? stop_at - now : wait;
		for (struct delivery *d = s->running; d; d = d->next)
			if (d->kind == ALERT_SEND_EXEC) {
				int64_t left = d->started_ms + t.timeout_ms - now;

				wait = left < wait ? (left > 0 ? left : 10) : wait;
				if (d->killed)
					wait = wait > 50 ? 50 : wait;
				if (d->pidfd >= 0 && n < MAX_RUNNING_EXEC)
					fds[n++] = (struct curl_waitfd){.fd = d->pidfd,
									.events = CURL_WAIT_POLLIN};
			}
		cdl_multi_poll(s->multi, fds, n, (int)(wait > 0 ? wait : 0));
		cdl_multi_perform(s->multi, &still);
		now = (int64_t)clock_mono_ms();
		while ((msg = cdl_multi_info_read(s->multi, &still))) {
			struct delivery *d;

			if (msg->msg != CURLMSG_DONE)
				continue;
			cdl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&d);
			http_done(s, d, msg->data.result, now);
		}
		for (struct delivery *d = s->running, *next; d; d = next) {
			next = d->next;
			if (d->kind == ALERT_SEND_EXEC)
				exec_check(s, d, now, t.timeout_ms);
		}
		pthread_mutex_lock(&s->lock);
		pthread_cond_broadcast(&s->drained);
		pthread_mutex_unlock(&s->lock);
	}
	json_print_done();
	return NULL;
}

struct alert_sender *alert_sender_new(const struct alert_send_opts *o, alert_send_report *report,
				      void *ctx)
{
	struct alert_sender *s = calloc(1, sizeof(*s));
	int r;

	if (!s)
		return NULL;
	s->tail = &s->head;
	s->report = report;
	s->ctx = ctx;
	targets_set(&s->t, o);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->drained, NULL);
	if (!(s->multi = cdl_multi_init())) {
		errno = ENOMEM;
		goto fail;
	}
	if ((r = pthread_create(&s->thread, NULL, sender_main, s))) {
		errno = r;
		goto fail;
	}
	return s;
fail:
	if (s->multi)
		cdl_multi_cleanup(s->multi);
	targets_set(&s->t, &(struct alert_send_opts){0});
	free(s);
	return NULL;
}

void alert_sender_free(struct alert_sender *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = true;
	pthread_mutex_unlock(&s->lock);
	cdl_multi_wakeup(s->multi);
	pthread_join(s->thread, NULL);
	take_jobs(s); /* what came after the thread's last look */
	drop_left(s);
	cdl_multi_cleanup(s->multi);
	cdl_global_cleanup();
	targets_set(&s->t, &(struct alert_send_opts){0});
	pthread_cond_destroy(&s->drained);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

int alert_sender_configure(struct alert_sender *s, const struct alert_send_opts *o)
{
	pthread_mutex_lock(&s->lock);
	targets_set(&s->t, o);
	pthread_mutex_unlock(&s->lock);
	cdl_multi_wakeup(s->multi);
	return 0;
}

int alert_sender_push(struct alert_sender *s, cJSON *alert, bool notify)
{
	struct job *j = calloc(1, sizeof(*j));
	int r = 0;

	pthread_mutex_lock(&s->lock);
	if (!j || s->queued >= s->t.queue_max) {
		s->stats.dropped++;
		r = -ENOBUFS;
	} else {
		j->alert = alert;
		j->notify = notify;
		*s->tail = j;
		s->tail = &j->next;
		s->queued++;
		s->pushed++;
	}
	pthread_mutex_unlock(&s->lock);
	if (r < 0) {
		free(j);
		cJSON_Delete(alert);
		return r;
	}
	cdl_multi_wakeup(s->multi);
	return 0;
}

void alert_sender_drain(struct alert_sender *s)
{
	pthread_mutex_lock(&s->lock);
	while (s->done < s->pushed || s->inflight)
		pthread_cond_wait(&s->drained, &s->lock);
	pthread_mutex_unlock(&s->lock);
}

void alert_sender_stats(struct alert_sender *s, struct alert_send_stats *ret)
{
	pthread_mutex_lock(&s->lock);
	*ret = s->stats;
	pthread_mutex_unlock(&s->lock);
}
