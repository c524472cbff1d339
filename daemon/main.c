/* sysfeed: the daemon's entry point and its one event loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "clock.h"
#include "config.h"
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
	struct http *http;
	int tick_fd, sig_fd, dog_fd, proc_fd, sys_fd;
	int listen_fds[CONFIG_MAX_LISTEN];
	size_t n_listen_fds;
	unsigned trim_clients;                    /* clients at the last trim, or the peak since */
	struct topic_watch watch[HUB_MAX_TOPICS]; /* the context of each topic's fd */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: sysfeed [options]\n"
		   "Streams this host's /proc and /sys samples to browsers and scripts as\n"
		   "Server-Sent Events: open http://127.0.0.1:8390/ or curl -N .../events.\n"
		   "\n"
		   "  --listen ADDR:PORT  listen here (repeatable; default 127.0.0.1:8390 and\n"
		   "                      [::1]:8390; port 0 picks a free port)\n"
		   "  --interval MS       sampling interval, 100 to 60000 (default 1000)\n"
		   "  --config FILE       read `key = value` settings from FILE; flags win\n"
		   "  --proc-root DIR     read /proc from DIR (default /proc)\n"
		   "  --sys-root DIR      read /sys from DIR (default /sys)\n"
		   "  --web-root DIR      serve the page from DIR instead of the embedded copy\n"
		   "  --journal-dir DIR   follow the journal files in DIR, not the system journal\n"
		   "  --state-dir DIR     keep history on disk in DIR/history.db (default: systemd's\n"
		   "                      $STATE_DIRECTORY; none: history only in memory)\n"
		   "  --check-config      check the configuration and exit (0 if good, 2 if not)\n"
		   "  --print-config      print every key as the configuration sets it and exit\n"
		   "  --verbose           log debug lines too\n"
		   "  --version           print the version and exit\n"
		   "  --help              print this help and exit\n"
		   "\n"
		   "Signals: TERM or INT stop it, HUP reloads the config file.\n"
		   "See sysfeed(8) and sysfeed.conf(5).\n");
}

static int parse_args(struct daemon *d, int argc, char **argv, int *only)
{
	/* flags that set a configuration key (val: their index + 1) */
	static const char *const keys[] = {"listen",   "interval", "proc-root",  "sys-root",
					   "web-root", "journal-dir", "state-dir"};
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 1},
	    {"interval", required_argument, NULL, 2},
	    {"proc-root", required_argument, NULL, 3},
	    {"sys-root", required_argument, NULL, 4},
	    {"web-root", required_argument, NULL, 5},
	    {"journal-dir", required_argument, NULL, 6},
	    {"state-dir", required_argument, NULL, 7},
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"print-config", no_argument, NULL, 'P'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c >= 1 && c <= 7) {
			if (d->src.n_flags == CONFIG_MAX_FLAGS) {
				log_err("too many options");
				return -EINVAL;
			}
			d->src.flags[d->src.n_flags][0] = keys[c - 1];
			d->src.flags[d->src.n_flags++][1] = optarg;
		} else if (c == 'c') {
			d->src.path = optarg;
		} else if (c == 'C' || c == 'P') {
			*only = c;
		} else if (c == 'v') {
			log_set_verbose(true);
		} else if (c == 'V' || c == 'h') {
			if (c == 'V')
				printf("sysfeed %s\n", SYSFEED_VERSION);
			else
				usage(stdout);
			exit(0);
		} else {
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

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
	if (http_reconfigure(d->http, &cfg) < 0) {
		log_warn("web-root %s; keeping the running configuration", cfg.web_root);
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
	topics_reconfigure(d->topics, changed);
	log_info("reloaded %s (interval %u ms)", d->src.path ? d->src.path : "defaults",
		 d->cfg.interval_ms);
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Once a second: keepalives, stalled streams, connection deadlines, and
 * memory handed back to the system after a burst of clients left (freed
 * pages in the middle of the heap stay mapped until malloc_trim). */
static void on_house(void *ctx, int fd)
{
	struct daemon *d = ctx;
	struct hub_stats st;
	struct mallinfo2 mi;

	hub_housekeep(d->hub);
	http_housekeep(d->http);
	hub_get_stats(d->hub, &st);
	if (st.clients + 64 < d->trim_clients) {
		mi = mallinfo2();
		if (mi.fordblks > (1u << 20))
			malloc_trim(0);
	}
	if (st.clients + 64 < d->trim_clients || st.clients > d->trim_clients)
		d->trim_clients = st.clients;
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
}

/* From the loop thread, so that a stuck loop gets restarted. */
static void on_watchdog(void *ctx, int fd)
{
	sd_notify(0, "WATCHDOG=1");
}

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

static int open_root(const char *path, const char *what)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		log_warn("%s %s", what, path);
	return fd;
}

/* Registers the loop's fds: the tick, housekeeping, signals, the hangup
 * watch, the topics' fds, the watchdog. */
static int watch_all(struct daemon *d, const sigset_t *sigs)
{
	int dog = service_watchdog_fd();

	d->tick_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	d->sig_fd = signalfd(-1, sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d->tick_fd < 0 || d->sig_fd < 0 || dog < -1 || arm_tick(d) < 0 ||
	    loop_add(d->loop, d->tick_fd, on_tick, d) < 0 ||
	    loop_add(d->loop, d->sig_fd, on_signal, d) < 0 ||
	    loop_add(d->loop, http_watch_fd(d->http), on_hangup, d) < 0 ||
	    loop_timer(d->loop, CLOCK_MONOTONIC, 1000, 1000, on_house, d) < 0 ||
	    (dog >= 0 && loop_add(d->loop, dog, on_watchdog, d) < 0) ||
	    topics_watch(d->topics, watch_topic, d) < 0) {
		if (dog >= 0)
			close(dog);
		return -1;
	}
	d->dog_fd = dog;
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = {.tick_fd = -1, .sig_fd = -1, .dog_fd = -1, .proc_fd = -1, .sys_fd = -1};
	char err[CONFIG_ERR_LEN];
	int only = 0, status = 2, r;
	sigset_t sigs;

	log_init();
	if (parse_args(&d, argc, argv, &only) < 0)
		return 2;
	if (config_build(&d.cfg, &d.src, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 2;
	}
	if (only) {
		if (only == 'P')
			config_print(stdout, &d.cfg);
		else
			printf("%s: ok\n", d.src.path ? d.src.path : "(defaults)");
		config_free(&d.cfg);
		return 0;
	}

	/* Signals go to the signalfd: block them before any thread starts. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile();
	/* One malloc arena for every thread: the HTTP threads' and the history
	 * writer's own arenas kept megabytes that malloc_trim could not give
	 * back (measured: +5.8 MiB of RSS with two, +1.3 MiB with one). */
	mallopt(M_ARENA_MAX, 1);

	if (getrandom(&d.instance, sizeof(d.instance), 0) != sizeof(d.instance))
		d.instance = (uint64_t)clock_real_ms() ^ ((uint64_t)getpid() << 40);
	d.start_ms = clock_real_ms();
	if ((d.proc_fd = open_root(d.cfg.proc_root, "proc-root")) < 0 ||
	    (d.sys_fd = open_root(d.cfg.sys_root, "sys-root")) < 0)
		goto out;
	/* The hub first, so that collectors may set their state from init. */
	if (!(d.loop = loop_new()) ||
	    !(d.hub = hub_new(d.cfg.ring_bytes, d.instance, topics_names(), &http_conn_ops)) ||
	    !(d.topics = topics_new(d.hub, &d.cfg, d.proc_fd, d.sys_fd, d.instance, d.start_ms))) {
		log_err("out of memory");
		goto out;
	}
	hub_set_limits(d.hub, d.cfg.keepalive_s, d.cfg.stall_s);
	topics_tick(d.topics); /* a first tick before serving: the first snapshot has data */
	if ((r = service_listen_fds(d.listen_fds, CONFIG_MAX_LISTEN, err, sizeof(err))) < 0) {
		log_err("%s", err);
		goto out;
	}
	d.n_listen_fds = (size_t)r;
	if (r > 0)
		log_info("using %d socket(s) from the service manager", r);
	d.http = http_start(
	    &d.cfg,
	    &(struct http_info){d.hub, topics_names(), d.start_ms, d.listen_fds, d.n_listen_fds,
				topics_store(d.topics)},
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
	topics_free(d.topics);
	hub_free(d.hub);
	loop_free(d.loop);
	close_fd(d.tick_fd);
	close_fd(d.sig_fd);
	close_fd(d.dog_fd);
	close_fd(d.proc_fd);
	close_fd(d.sys_fd);
	config_free(&d.cfg);
	return status;
}
