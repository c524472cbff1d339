/* sysfeed: the daemon's entry point and its one event loop. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <malloc.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <systemd/sd-daemon.h>

#include "clock.h"
#include "config.h"
#include "http.h"
#include "hub.h"
#include "log.h"
#include "topics.h"

/* Command-line settings, applied over the config file at start and reload. */
struct override {
	const char *key;
	const char *value;
};

struct daemon {
	struct config cfg;
	const char *config_path;
	struct override overrides[64];
	size_t n_overrides;
	bool cli_listen;

	uint64_t instance;
	int64_t start_ms;
	struct hub *hub;
	struct topics *topics;
	struct http *http;
	int epfd, tick_fd, house_fd, sig_fd, dog_fd, proc_fd, sys_fd;
	int listen_fds[CONFIG_MAX_LISTEN];
	size_t n_listen_fds;
	unsigned trim_clients; /* clients at the last trim, or the peak since */
};

/* epoll tags for the loop's own fds; below them, topics' numbers. */
enum { TAG_TICK = HUB_MAX_TOPICS, TAG_HOUSE, TAG_SIGNAL, TAG_WATCHDOG, TAG_HANGUP };

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
		   "  --check-config      check the configuration and exit (0 if good, 2 if not)\n"
		   "  --print-config      print every key as the configuration sets it and exit\n"
		   "  --version           print the version and exit\n"
		   "  --help              print this help and exit\n"
		   "\n"
		   "Signals: TERM or INT stop it, HUP reloads the config file.\n"
		   "See sysfeed(8) and sysfeed.conf(5).\n");
}

/* Defaults, then the file, then the command line. */
static int build_config(struct daemon *d, struct config *cfg, char *err, size_t err_len)
{
	if (config_defaults(cfg) < 0) {
		snprintf(err, err_len, "out of memory");
		return -ENOMEM;
	}
	if (d->config_path && config_load(cfg, d->config_path, err, err_len) < 0)
		goto fail;
	if (d->cli_listen)
		cfg->listen.dflt = true; /* the command line replaces the file's list */
	for (size_t i = 0; i < d->n_overrides; i++) {
		char reason[CONFIG_ERR_LEN - 64];

		if (config_set(cfg, d->overrides[i].key, d->overrides[i].value, reason,
			       sizeof(reason)) < 0) {
			snprintf(err, err_len, "--%.40s: %s", d->overrides[i].key, reason);
			goto fail;
		}
	}
	return 0;
fail:
	config_free(cfg);
	return -EINVAL;
}

static int parse_args(struct daemon *d, int argc, char **argv, int *only)
{
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 'l'},
	    {"interval", required_argument, NULL, 'i'},
	    {"config", required_argument, NULL, 'c'},
	    {"proc-root", required_argument, NULL, 'p'},
	    {"sys-root", required_argument, NULL, 's'},
	    {"web-root", required_argument, NULL, 'w'},
	    {"journal-dir", required_argument, NULL, 'j'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"print-config", no_argument, NULL, 'P'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		const char *key = NULL;

		switch (c) {
		case 'l':
			key = "listen";
			d->cli_listen = true;
			break;
		case 'i':
			key = "interval";
			break;
		case 'p':
			key = "proc-root";
			break;
		case 's':
			key = "sys-root";
			break;
		case 'w':
			key = "web-root";
			break;
		case 'j':
			key = "journal-dir";
			break;
		case 'c':
			d->config_path = optarg;
			break;
		case 'C':
		case 'P':
			*only = c;
			break;
		case 'V':
			printf("sysfeed %s\n", SYSFEED_VERSION);
			exit(0);
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (key) {
			if (d->n_overrides >= sizeof(d->overrides) / sizeof(d->overrides[0])) {
				log_warnx("too many options");
				return -EINVAL;
			}
			d->overrides[d->n_overrides++] = (struct override){key, optarg};
		}
	}
	if (optind < argc) {
		log_warnx("unexpected argument '%s'", argv[optind]);
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

	if (build_config(d, &cfg, err, sizeof(err)) < 0) {
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
	log_info("reloaded %s (interval %u ms)", d->config_path ? d->config_path : "defaults",
		 d->cfg.interval_ms);
}

static int add_fd(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int add_topic_fd(void *ctx, int fd, unsigned topic)
{
	return add_fd(*(int *)ctx, fd, topic);
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
static void housekeep(struct daemon *d)
{
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

/* Returns the exit status once a stop signal came. */
static int run_loop(struct daemon *d)
{
	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(d->epfd, evs, 16, -1);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_warn("epoll_wait");
			return 1;
		}
		for (int i = 0; i < n; i++) {
			uint64_t tag = evs[i].data.u64, expirations;
			struct signalfd_siginfo si;

			if (tag == TAG_TICK) {
				if (read(d->tick_fd, &expirations, sizeof(expirations)) < 0 &&
				    errno == ECANCELED) {
					arm_tick(d); /* the wall clock was set */
					continue;
				}
				topics_tick(d->topics);
			} else if (tag == TAG_WATCHDOG) {
				/* from the loop thread, so a stuck loop gets restarted */
				if (read(d->dog_fd, &expirations, sizeof(expirations)) > 0)
					sd_notify(0, "WATCHDOG=1");
			} else if (tag == TAG_HOUSE) {
				if (read(d->house_fd, &expirations, sizeof(expirations)) > 0)
					housekeep(d);
			} else if (tag == TAG_HANGUP) {
				http_reap(d->http);
				topics_follow(d->topics);
			} else if (tag == TAG_SIGNAL) {
				if (read(d->sig_fd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					reload(d);
					continue;
				}
				log_info("stopping on signal %u", si.ssi_signo);
				return 0;
			} else if (tag < HUB_MAX_TOPICS) {
				topics_dispatch(d->topics, (unsigned)tag);
			}
		}
	}
}

/* Socket activation: listening sockets passed by the service manager
 * replace the `listen` addresses. */
static int take_listen_fds(struct daemon *d)
{
	int n = sd_listen_fds(1);

	if (n < 0) {
		log_warnx("sockets from the service manager: %s", strerror(-n));
		return n;
	}
	if (n > CONFIG_MAX_LISTEN) {
		log_warnx("more than %d sockets from the service manager", CONFIG_MAX_LISTEN);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;

		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			log_warnx("fd %d from the service manager is not a listening stream socket",
				  fd);
			return -EINVAL;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		d->listen_fds[d->n_listen_fds++] = fd;
	}
	if (n > 0)
		log_info("using %d socket(s) from the service manager", n);
	return 0;
}

/* WatchdogSec= in the unit: ping at half the period from the loop. */
static int arm_watchdog(struct daemon *d)
{
	uint64_t usec = 0;
	struct itimerspec its = {{0, 0}, {0, 0}};

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	usec /= 2;
	its.it_interval.tv_sec = (time_t)(usec / 1000000);
	its.it_interval.tv_nsec = (long)(usec % 1000000) * 1000;
	its.it_value = its.it_interval;
	d->dog_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (d->dog_fd < 0 || timerfd_settime(d->dog_fd, 0, &its, NULL) < 0)
		return -errno;
	return add_fd(d->epfd, d->dog_fd, TAG_WATCHDOG);
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

int main(int argc, char **argv)
{
	struct daemon d = {.epfd = -1,
			   .tick_fd = -1,
			   .house_fd = -1,
			   .sig_fd = -1,
			   .dog_fd = -1,
			   .proc_fd = -1,
			   .sys_fd = -1};
	struct itimerspec house = {{1, 0}, {1, 0}};
	char err[CONFIG_ERR_LEN];
	int only = 0, status = 2;
	sigset_t sigs;

	if (parse_args(&d, argc, argv, &only) < 0)
		return 2;
	if (build_config(&d, &d.cfg, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return 2;
	}
	if (only) {
		if (only == 'P')
			config_print(stdout, &d.cfg);
		else
			printf("%s: ok\n", d.config_path ? d.config_path : "(defaults)");
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

	if (getrandom(&d.instance, sizeof(d.instance), 0) != sizeof(d.instance))
		d.instance = (uint64_t)clock_real_ms() ^ ((uint64_t)getpid() << 40);
	d.start_ms = clock_real_ms();
	d.proc_fd = open_root(d.cfg.proc_root, "proc-root");
	d.sys_fd = open_root(d.cfg.sys_root, "sys-root");
	if (d.proc_fd < 0 || d.sys_fd < 0)
		goto out;
	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	d.tick_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	d.house_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d.sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d.epfd < 0 || d.tick_fd < 0 || d.house_fd < 0 || d.sig_fd < 0) {
		log_warn("cannot set up the event loop");
		goto out;
	}
	/* The hub first, so that collectors may set their state from init. */
	if (!(d.hub = hub_new(d.cfg.ring_bytes, d.instance, topics_names(), &http_conn_ops)) ||
	    !(d.topics = topics_new(d.hub, &d.cfg, d.proc_fd, d.sys_fd, d.instance, d.start_ms))) {
		log_warnx("out of memory");
		goto out;
	}
	hub_set_limits(d.hub, d.cfg.keepalive_s, d.cfg.stall_s);
	topics_tick(d.topics); /* a first tick before serving: the first snapshot has data */
	if (take_listen_fds(&d) < 0)
		goto out;
	d.http = http_start(
	    &d.cfg,
	    &(struct http_info){d.hub, topics_names(), d.start_ms, d.listen_fds, d.n_listen_fds},
	    err, sizeof(err));
	if (!d.http) {
		log_warnx("%s", err);
		goto out;
	}
	if (add_fd(d.epfd, d.tick_fd, TAG_TICK) < 0 || add_fd(d.epfd, d.house_fd, TAG_HOUSE) < 0 ||
	    add_fd(d.epfd, http_watch_fd(d.http), TAG_HANGUP) < 0 ||
	    add_fd(d.epfd, d.sig_fd, TAG_SIGNAL) < 0 ||
	    topics_watch(d.topics, add_topic_fd, &d.epfd) < 0 || arm_tick(&d) < 0 ||
	    timerfd_settime(d.house_fd, 0, &house, NULL) < 0) {
		log_warn("cannot set up the event loop");
		status = 1;
		goto out;
	}
	if (arm_watchdog(&d) < 0) {
		log_warn("cannot arm the watchdog");
		status = 1;
		goto out;
	}
	sd_notifyf(0, "READY=1\nSTATUS=serving %zu topics every %u ms", topics_active(d.topics),
		   d.cfg.interval_ms);
	status = run_loop(&d);
	sd_notify(0, "STOPPING=1");
out:
	http_stop(d.http);
	topics_free(d.topics);
	hub_free(d.hub);
	close_fd(d.epfd);
	close_fd(d.tick_fd);
	close_fd(d.house_fd);
	close_fd(d.sig_fd);
	close_fd(d.dog_fd);
	close_fd(d.proc_fd);
	close_fd(d.sys_fd);
	config_free(&d.cfg);
	return status;
}
