/* sysfeed: the daemon's entry point and its one event loop. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "alerts.h"
#include "cli.h"
#include "clock.h"
#include "config.h"
#include "heap.h"
#include "http.h"
#include "hub.h"
#include "log.h"
#include "loop.h"
#include "service.h"
#include "topics.h"

struct daemon;

struct topic_watch {
	struct daemon *d;
	unsigned topic;
};

struct daemon {
	struct config cfg;
	struct config_source src; /* the file and the flags, again at each reload */

	uint64_t instance;
	int64_t start_ms;
	struct loop *loop;
	struct hub *hub;
	struct topics *topics;
	struct alerts *alerts;
	struct http *http;
	int tick_fd, sig_fd, proc_fd, sys_fd;
	int house_fd;      /* the housekeeping's own timer: armed when ticks are slower */
	uint64_t house_ms; /* the last housekeeping (CLOCK_MONOTONIC) */
	int listen_fds[CONFIG_MAX_LISTEN];
	size_t n_listen_fds;
	struct topic_watch watch[HUB_MAX_TOPICS]; /* the context of each topic's fd */
};

/* Arms the tick on wall-clock multiples of the interval. */
static int arm_tick(struct daemon *d)
{
	int64_t iv = d->cfg.interval_ms, now = clock_real_ms(), next = (now / iv + 1) * iv;
	struct itimerspec its = {
	    .it_interval = {iv / 1000, (iv % 1000) * 1000000},
	    .it_value = {next / 1000, (next % 1000) * 1000000},
	};

	if (timerfd_settime(d->tick_fd, TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET, &its, NULL) <
	    0)
		return -errno;
	return 0;
}

/* Housekeeping runs about once a second: from the tick when it comes at
 * least that often (one wake-up a second, not two), else on a timer of
 * its own. */
static int arm_house(struct daemon *d)
{
	time_t s = d->cfg.interval_ms > 1000 ? 1 : 0;
	struct itimerspec its = {.it_interval = {s, 0}, .it_value = {s, 0}};

	return timerfd_settime(d->house_fd, 0, &its, NULL) < 0 ? -errno : 0;
}

/* SIGHUP: the file again; what may change at once does, the rest is
 * named and waits for the next start. A bad file changes nothing. */
static void reload(struct daemon *d)
{
	char err[CONFIG_ERR_LEN], restart[512];
	struct config cfg;
	uint64_t changed;

	if (config_build(&cfg, &d->src, err, sizeof(err)) < 0) {
		log_warnx("%s; keeping the running configuration", err);
		return;
	}
	if (http_reconfigure(d->http, &cfg, err, sizeof(err)) < 0) {
		log_warnx("%s; keeping the running configuration", err);
		config_free(&cfg);
		return;
	}
	changed = config_apply(&d->cfg, &cfg, restart, sizeof(restart));
	config_free(&cfg);
	if (restart[0])
		log_warnx("%s: take%s effect at the next start", restart,
			  strchr(restart, ',') ? "" : "s");
	hub_set_limits(d->hub, d->cfg.keepalive_s, d->cfg.stall_s);
	arm_tick(d);
	arm_house(d);
	topics_reconfigure(d->topics, changed);
	alerts_reconfigure(d->alerts);
	log_info("reloaded %s (interval %u ms)", d->src.path ? d->src.path : "defaults",
		 d->cfg.interval_ms);
}

/* Once a second: keepalives, stalled streams, connection deadlines, and
 * memory handed back to the system (freed pages in the middle of the heap
 * stay resident until malloc_trim). */
static void on_house(void *ctx, int fd)
{
	struct daemon *d = ctx;

	d->house_ms = clock_mono_ms();
	hub_housekeep(d->hub);
	http_housekeep(d->http);
	heap_housekeep();
	topics_follow(d->topics);
}

/* The tick, on wall-clock multiples of the interval. */
static void on_tick(void *ctx, int fd)
{
	struct daemon *d = ctx;
	uint64_t expirations;

	if (read(fd, &expirations, sizeof(expirations)) < 0) {
		if (errno == ECANCELED)
			arm_tick(d); /* the wall clock was set */
		return;
	}
	topics_tick(d->topics);
	if (d->cfg.interval_ms <= 1000 &&
	    clock_mono_ms() - d->house_ms >= 1000 - d->cfg.interval_ms / 2)
		on_house(d, fd);
}

/* A scrape waits for the metrics texts of the latest tick. */
static void on_metrics(void *ctx, int fd)
{
	struct daemon *d = ctx;
	uint64_t n;

	if (read(fd, &n, sizeof(n)) < 0)
		return;
	topics_metrics(d->topics);
	http_metrics_written(d->http);
}

/* From the loop thread, so that a stuck loop gets restarted; a loop timer
 * (read before this runs), so that it fires once a period. */
static void on_watchdog(void *ctx, int fd)
{
	sd_notify(0, "WATCHDOG=1");
}

/* A stream's peer went away, or a stream joined: who follows what. */
static void on_hangup(void *ctx, int fd)
{
	struct daemon *d = ctx;

	http_reap(d->http);
	topics_follow(d->topics);
}

static void on_signal(void *ctx, int fd)
{
	struct daemon *d = ctx;
	struct signalfd_siginfo si;

	if (read(fd, &si, sizeof(si)) != sizeof(si))
		return;
	if (si.ssi_signo == SIGHUP) {
		reload(d);
		return;
	}
	log_info("stopping on signal %u", si.ssi_signo);
	loop_stop(d->loop, 0);
}

static void on_topic(void *ctx, int fd)
{
	struct topic_watch *w = ctx;

	topics_dispatch(w->d->topics, w->topic);
}

static int watch_topic(void *ctx, int fd, unsigned topic)
{
	struct daemon *d = ctx;

	d->watch[topic].d = d;
	d->watch[topic].topic = topic;
	return loop_add(d->loop, fd, on_topic, &d->watch[topic]);
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* Registers the loop's fds: the tick, housekeeping, signals, the hangup
 * watch, the waiting scrapes, the topics' fds, the watchdog. */
static int watch_all(struct daemon *d, const sigset_t *sigs)
{
	unsigned dog_ms = service_watchdog_ms();

	d->tick_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	d->sig_fd = signalfd(-1, sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->tick_fd < 0 || d->sig_fd < 0 || arm_tick(d) < 0 ||
	    loop_add(d->loop, d->tick_fd, on_tick, d) < 0 ||
	    loop_add(d->loop, d->sig_fd, on_signal, d) < 0 ||
	    loop_add(d->loop, http_watch_fd(d->http), on_hangup, d) < 0 ||
	    loop_add(d->loop, http_metrics_fd(d->http), on_metrics, d) < 0 ||
	    (d->house_fd = loop_timer(d->loop, CLOCK_MONOTONIC, 1000, 1000, on_house, d)) < 0 ||
	    arm_house(d) < 0 ||
	    (dog_ms && loop_timer(d->loop, CLOCK_MONOTONIC, dog_ms, dog_ms, on_watchdog, d) < 0) ||
	    topics_watch(d->topics, watch_topic, d) < 0)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = {
	    .tick_fd = -1, .sig_fd = -1, .proc_fd = -1, .sys_fd = -1, .house_fd = -1};
	char err[CONFIG_ERR_LEN];
	int status = 2, r;
	sigset_t sigs;

	log_init();
	heap_setup(); /* from this thread, the loop's, which builds every payload */
	if ((r = cli_start(argc, argv, &d.src, &d.cfg)) >= 0)
		return r;

	/* Signals go to the signalfd: block them before any thread starts. */
	service_process_setup(&sigs);

	if (getrandom(&d.instance, sizeof(d.instance), 0) != sizeof(d.instance))
		d.instance = (uint64_t)clock_real_ms() ^ ((uint64_t)getpid() << 40);
	d.start_ms = clock_real_ms();
	if ((d.proc_fd = service_open_root(d.cfg.proc_root, "proc-root")) < 0 ||
	    (d.sys_fd = service_open_root(d.cfg.sys_root, "sys-root")) < 0)
		goto out;
	/* The hub first, so that collectors may set their state from init. */
	if (!(d.loop = loop_new()) ||
	    !(d.hub = hub_new(d.cfg.ring_bytes, d.instance, topics_names(), &http_conn_ops)) ||
	    !(d.topics = topics_new(d.hub, &d.cfg, d.proc_fd, d.sys_fd, d.instance, d.start_ms))) {
		log_err("out of memory");
		goto out;
	}
	if (!(d.alerts = alerts_new(d.hub, topics_alert_topic(), &d.cfg, err, sizeof(err)))) {
		log_err("%s", err);
		goto out;
	}
	topics_set_hook(d.topics, &(struct topics_hook){.payload = alerts_payload,
							.flush = alerts_flush,
							.hello = alerts_hello,
							.wants = alerts_wants,
							.wants_dropped = alerts_wants_dropped,
							.metrics = alerts_metrics,
							.ctx = d.alerts});
	hub_set_limits(d.hub, d.cfg.keepalive_s, d.cfg.stall_s);
	topics_tick(d.topics); /* a first tick before serving: the first snapshot has data */
	if ((r = service_listen_fds(d.listen_fds, CONFIG_MAX_LISTEN, err, sizeof(err))) < 0) {
		log_err("%s", err);
		goto out;
	}
	d.n_listen_fds = (size_t)r;
	if (r > 0)
		log_info("using %d socket(s) from the service manager", r);
	d.http = http_start(&d.cfg,
			    &(struct http_info){d.hub, topics_names(), d.start_ms, d.listen_fds,
						d.n_listen_fds, topics_store(d.topics)},
			    err, sizeof(err));
	if (!d.http) {
		log_err("%s", err);
		goto out;
	}
	if (watch_all(&d, &sigs) < 0) {
		log_err("cannot set up the event loop: %s", strerror(errno));
		status = 1;
		goto out;
	}
	sd_notifyf(0, "READY=1\nSTATUS=serving %zu topics every %u ms", topics_active(d.topics),
		   d.cfg.interval_ms);
	status = loop_run(d.loop);
	sd_notify(0, "STOPPING=1");
out:
	http_stop(d.http);
	if (d.topics)
		topics_set_hook(d.topics, &(struct topics_hook){0});
	topics_free(d.topics);
	alerts_free(d.alerts);
	hub_free(d.hub);
	loop_free(d.loop);
	close_fd(d.tick_fd);
	close_fd(d.sig_fd);
	close_fd(d.proc_fd);
	close_fd(d.sys_fd);
	config_free(&d.cfg);
	heap_done();
	return status;
}
