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

#include "collector.h"
#include "config.h"
#include "history.h"
#include "http.h"
#include "hub.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "procfs.h"
#include "clock.h"

#define MAX_COLLECTORS HUB_MAX_TOPICS
#define REASON_LEN     256
#define SWAP(a, b)                                                                                 \
	do {                                                                                       \
		__typeof__(a) swap_tmp_ = (a);                                                     \
		(a) = (b);                                                                         \
		(b) = swap_tmp_;                                                                   \
	} while (0)

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
	struct http *http;
	int epfd, tick_fd, house_fd, sig_fd, dog_fd;
	int listen_fds[CONFIG_MAX_LISTEN];
	size_t n_listen_fds;

	struct collector_env env;
	const struct collector *cols[MAX_COLLECTORS];
	void *state[MAX_COLLECTORS];
	bool active[MAX_COLLECTORS];
	bool failing[MAX_COLLECTORS]; /* warned once until the next success */
	size_t history_rows;
	struct metrics mbuf[MAX_COLLECTORS + 1]; /* [n_cols]: the daemon's own */
	cJSON *hostinfo; /* the `host` topic's last payload, also in `hello` */
	uint64_t ticks;
	unsigned trim_clients; /* clients at the last trim, or the peak since */
	double tick_cpu_s, tick_last_cpu_s, tick_last_wall_s;
	char reason[MAX_COLLECTORS][REASON_LEN];
	const char *names[MAX_COLLECTORS + 1];
	size_t n_cols;

	/* what each follow hook was last told (update_follow) */
	bool followed[MAX_COLLECTORS];
};

/* epoll tags for the loop's own fds; collectors use their index. */
enum { TAG_TICK = MAX_COLLECTORS, TAG_HOUSE, TAG_SIGNAL, TAG_WATCHDOG, TAG_HANGUP };

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
		   "  --version           print the version and exit\n"
		   "  --help              print this help and exit\n"
		   "\n"
		   "Signals: TERM or INT stop it, HUP reloads the config file.\n"
		   "See sysfeed(8) and sysfeed.conf(5).\n");
}

/* Defaults, then the file, then the command line. */
static int build_config(struct daemon *d, struct config *cfg, char *err, size_t err_len)
{
	config_defaults(cfg);
	if (d->config_path && config_load(cfg, d->config_path, err, err_len) < 0)
		goto fail;
	if (d->cli_listen)
		cfg->listen_default = true; /* the command line replaces the file's list */
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

static int parse_args(struct daemon *d, int argc, char **argv, bool *check_only)
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
			*check_only = true;
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

/* The `hello` event: who this is and which topics are on or off. */
static int update_hello(struct daemon *d)
{
	cJSON *o = cJSON_CreateObject(), *topics, *off;
	char host[256] = "", inst[17];
	struct utsname uts;
	char *json;
	int r;

	if (!o)
		return -ENOMEM;
	gethostname(host, sizeof(host) - 1);
	uname(&uts);
	snprintf(inst, sizeof(inst), "%016" PRIx64, d->instance);
	cJSON_AddNumberToObject(o, "t", (double)clock_real_ms());
	json_str(o, "host", host); /* host text: made valid UTF-8 */
	json_str(o, "kernel", uts.release);
	cJSON_AddStringToObject(o, "version", SYSFEED_VERSION);
	cJSON_AddStringToObject(o, "instance", inst);
	cJSON_AddNumberToObject(o, "interval_ms", d->cfg.interval_ms);
	if (d->hostinfo)
		cJSON_AddItemToObject(o, "hostinfo", cJSON_Duplicate(d->hostinfo, true));
	topics = cJSON_AddArrayToObject(o, "topics");
	off = cJSON_AddObjectToObject(o, "off");
	for (size_t i = 0; i < d->n_cols; i++) {
		if (d->active[i])
			cJSON_AddItemToArray(topics, cJSON_CreateString(d->names[i]));
		else
			json_str(off, d->names[i], d->reason[i]);
	}
	json = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (!json)
		return -ENOMEM;
	r = hub_set_hello(d->hub, json, 2000);
	free(json);
	return r;
}

static void env_publish(void *ctx, const struct collector *c, cJSON *payload,
			const struct collector_event *ev)
{
	struct daemon *d = ctx;
	int topic = collector_topic(c->name);
	size_t len;
	char *json = json_print(payload, &len);

	cJSON_Delete(payload);
	if (topic < 0 || !json) {
		free(json);
		return;
	}
	hub_publish(d->hub,
		    &(struct hub_msg){.topic = (unsigned)topic,
				      .json = json,
				      .len = len,
				      .level = ev ? ev->level : -1,
				      .key = ev ? ev->key : NULL},
		    1, 0);
	free(json);
}

static void env_set_state(void *ctx, const struct collector *c, cJSON *state)
{
	struct daemon *d = ctx;
	int topic = collector_topic(c->name);
	size_t len;
	char *json = json_print(state, &len);

	cJSON_Delete(state);
	if (topic >= 0 && json)
		hub_set_state(d->hub, (unsigned)topic, json, len);
	free(json);
}

/* The daemon's own families: build, topics, the cost of the tick. */
static void daemon_metrics(struct daemon *d)
{
	struct metrics *m = &d->mbuf[d->n_cols];

	metrics_reset(m);
	metrics_family(m, "sysfeed_build_info", "gauge", "sysfeed version, always 1.");
	metrics_sample(m, "sysfeed_build_info",
		       (const char *const[]){"version", SYSFEED_VERSION, NULL}, 1);
	metrics_family(m, "sysfeed_start_time_seconds", "gauge",
		       "When the daemon started, in seconds since the epoch.");
	metrics_sample(m, "sysfeed_start_time_seconds", NULL, (double)d->start_ms / 1000.0);
	metrics_family(m, "sysfeed_topic_up", "gauge",
		       "Whether a topic works on this host (0: off, see hello).");
	for (size_t i = 0; i < d->n_cols; i++)
		metrics_sample(m, "sysfeed_topic_up",
			       (const char *const[]){"topic", d->names[i], NULL},
			       d->active[i] && !d->failing[i]);
	metrics_family(m, "sysfeed_ticks_total", "counter", "Ticks sampled.");
	metrics_sample(m, "sysfeed_ticks_total", NULL, (double)d->ticks);
	metrics_family(m, "sysfeed_tick_cpu_seconds_total", "counter",
		       "CPU time of the loop thread spent in ticks.");
	metrics_sample(m, "sysfeed_tick_cpu_seconds_total", NULL, d->tick_cpu_s);
	metrics_family(m, "sysfeed_tick_last_duration_seconds", "gauge",
		       "Wall-clock duration of the last tick.");
	metrics_sample(m, "sysfeed_tick_last_duration_seconds", NULL, d->tick_last_wall_s);
	metrics_family(m, "sysfeed_tick_last_cpu_seconds", "gauge", "CPU time of the last tick.");
	metrics_sample(m, "sysfeed_tick_last_cpu_seconds", NULL, d->tick_last_cpu_s);
	metrics_family(m, "sysfeed_interval_seconds", "gauge", "The sampling interval.");
	metrics_sample(m, "sysfeed_interval_seconds", NULL, d->cfg.interval_ms / 1000.0);
	if (!metrics_error(m))
		hub_set_metrics(d->hub, -1, m->buf, m->len);
}

/* Each collector's families from the tick just taken. */
static void collector_metrics(struct daemon *d)
{
	for (size_t i = 0; i < d->n_cols; i++) {
		struct metrics *m = &d->mbuf[i];

		if (!d->active[i] || !d->cols[i]->metrics)
			continue;
		metrics_reset(m);
		if (d->cols[i]->metrics(d->state[i], m) == 0 && !metrics_error(m))
			hub_set_metrics(d->hub, (int)i, m->buf, m->len);
	}
}

/* Runs every periodic collector once and publishes the tick as one batch. */
static void tick(struct daemon *d)
{
	double wall0 = clock_s(CLOCK_MONOTONIC), cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	struct hub_msg msgs[MAX_COLLECTORS];
	struct collector_tick t;
	bool host_changed = false;
	size_t n = 0;
	int r;

	t.mono_ns = clock_mono_ns();
	t.t_ms = clock_real_ms();
	for (size_t i = 0; i < d->n_cols; i++) {
		cJSON *payload = NULL, *row;
		char *json, *row_json = NULL;
		size_t len, row_len = 0;

		if (!d->active[i] || !d->cols[i]->sample)
			continue;
		r = d->cols[i]->sample(d->state[i], &d->env, &t, &payload);
		if (r < 0) {
			if (!d->failing[i])
				log_warnx("%s: sample failed: %s; retrying every tick", d->names[i],
					  strerror(-r));
			d->failing[i] = true;
			continue;
		}
		if (d->failing[i])
			log_info("%s: sampling again", d->names[i]);
		d->failing[i] = false;
		if (!payload)
			continue;
		if (strcmp(d->names[i], "host") == 0) {
			/* the host's description goes into `hello` too */
			cJSON_Delete(d->hostinfo);
			d->hostinfo = cJSON_Duplicate(payload, true);
			host_changed = true;
		}
		if (d->cols[i]->history && d->history_rows &&
		    (row = history_row(payload, d->cols[i]->history))) {
			row_json = json_print(row, &row_len);
			cJSON_Delete(row);
		}
		json = json_print(payload, &len);
		cJSON_Delete(payload);
		if (!json) {
			free(row_json);
			continue;
		}
		msgs[n++] = (struct hub_msg){.topic = (unsigned)i,
					     .json = json,
					     .len = len,
					     .state = true,
					     .level = -1,
					     .row = row_json,
					     .row_len = row_json ? row_len : 0};
	}
	if (host_changed)
		update_hello(d);
	r = hub_publish(d->hub, msgs, n, t.t_ms);
	if (r == -E2BIG)
		log_warnx("a frame larger than half of ring-bytes was dropped");
	for (size_t i = 0; i < n; i++) {
		free((char *)msgs[i].json);
		free((char *)msgs[i].row);
	}
	collector_metrics(d);
	d->ticks++;
	d->tick_last_wall_s = clock_s(CLOCK_MONOTONIC) - wall0;
	d->tick_last_cpu_s = clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0;
	d->tick_cpu_s += d->tick_last_cpu_s;
	daemon_metrics(d);
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

static void reload(struct daemon *d)
{
	char err[CONFIG_ERR_LEN];
	struct config cfg;

	if (build_config(d, &cfg, err, sizeof(err)) < 0) {
		log_warnx("%s; keeping the running configuration", err);
		return;
	}
	if (strcmp(cfg.proc_root, d->cfg.proc_root) || strcmp(cfg.sys_root, d->cfg.sys_root) ||
	    cfg.ring_bytes != d->cfg.ring_bytes || cfg.n_listen != d->cfg.n_listen ||
	    cfg.max_clients != d->cfg.max_clients ||
	    cfg.max_clients_per_address != d->cfg.max_clients_per_address ||
	    cfg.connection_bytes != d->cfg.connection_bytes)
		log_warnx("listen, proc-root, sys-root, ring-bytes, max-clients* and "
			  "connection-bytes take effect "
			  "at the next start");
	if (http_reconfigure(d->http, &cfg) < 0) {
		log_warn("web-root %s; keeping the running configuration", cfg.web_root);
		config_free(&cfg);
		return;
	}
	/* What needs a restart keeps its running value; the rest is swapped in. */
	for (size_t i = 0; i < CONFIG_MAX_LISTEN; i++) {
		char *t = cfg.listen[i];

		cfg.listen[i] = d->cfg.listen[i];
		d->cfg.listen[i] = t;
	}
	SWAP(cfg.n_listen, d->cfg.n_listen);
	SWAP(cfg.listen_default, d->cfg.listen_default);
	SWAP(cfg.proc_root, d->cfg.proc_root);
	SWAP(cfg.sys_root, d->cfg.sys_root);
	SWAP(cfg.ring_bytes, d->cfg.ring_bytes);
	SWAP(cfg.max_clients, d->cfg.max_clients);
	SWAP(cfg.max_clients_per_address, d->cfg.max_clients_per_address);
	SWAP(cfg.connection_bytes, d->cfg.connection_bytes);
	SWAP(cfg, d->cfg);
	config_free(&cfg);
	hub_set_limits(d->hub, d->cfg.keepalive_s, d->cfg.stall_s);
	arm_tick(d);
	update_hello(d);
	log_info("reloaded %s (interval %u ms)", d->config_path ? d->config_path : "defaults",
		 d->cfg.interval_ms);
}

static int add_fd(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static void init_collectors(struct daemon *d)
{
	for (size_t i = 0; collector_registry[i] && i < MAX_COLLECTORS; i++) {
		const struct collector *c = collector_registry[i];
		int r = 0;

		d->cols[i] = c;
		d->names[i] = c->name;
		d->n_cols = i + 1;
		if (c->init)
			r = c->init(&d->env, &d->state[i], d->reason[i], REASON_LEN);
		if (r < 0) {
			if (!d->reason[i][0])
				snprintf(d->reason[i], REASON_LEN, "%s", strerror(-r));
			log_warnx("%s: off: %s", c->name, d->reason[i]);
			continue;
		}
		d->active[i] = true;
		if (c->get_fd && c->dispatch) {
			int fd = c->get_fd(d->state[i]);

			if (fd >= 0 && add_fd(d->epfd, fd, i) < 0)
				log_warn("%s: cannot watch its fd", c->name);
		}
	}
	d->names[d->n_cols] = NULL;
}

static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Tells the collectors with a follow hook whether a stream client
 * subscribes to their topic now, when that changed. */
static void update_follow(struct daemon *d)
{
	for (size_t i = 0; i < d->n_cols; i++) {
		bool on;

		if (!d->active[i] || !d->cols[i]->follow)
			continue;
		on = hub_topic_clients(d->hub, (unsigned)i) > 0;
		if (on != d->followed[i]) {
			d->followed[i] = on;
			d->cols[i]->follow(d->state[i], on);
		}
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
	update_follow(d);
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
				tick(d);
			} else if (tag == TAG_WATCHDOG) {
				/* from the loop thread, so a stuck loop gets restarted */
				if (read(d->dog_fd, &expirations, sizeof(expirations)) > 0)
					sd_notify(0, "WATCHDOG=1");
			} else if (tag == TAG_HOUSE) {
				if (read(d->house_fd, &expirations, sizeof(expirations)) > 0)
					housekeep(d);
			} else if (tag == TAG_HANGUP) {
				http_reap(d->http);
				update_follow(d);
			} else if (tag == TAG_SIGNAL) {
				if (read(d->sig_fd, &si, sizeof(si)) != sizeof(si))
					continue;
				if (si.ssi_signo == SIGHUP) {
					reload(d);
					continue;
				}
				log_info("stopping on signal %u", si.ssi_signo);
				return 0;
			} else if (tag < d->n_cols && d->active[tag]) {
				d->cols[tag]->dispatch(d->state[tag], &d->env);
			}
		}
	}
}

static size_t count_active(const struct daemon *d)
{
	size_t n = 0;

	for (size_t i = 0; i < d->n_cols; i++)
		n += d->active[i];
	return n;
}

/* Chart history: history-seconds worth of rows at the start's interval
 * (at most 3600 rows a topic). */
static int setup_history(struct daemon *d)
{
	size_t rows = (size_t)d->cfg.history_s * 1000 / d->cfg.interval_ms;

	if (rows > 3600)
		rows = 3600;
	d->history_rows = rows;
	for (size_t i = 0; rows && i < d->n_cols; i++) {
		const char *const *h = d->cols[i]->history;
		cJSON *fields;
		char *json;
		int r;

		if (!h || !d->active[i])
			continue;
		if (!(fields = cJSON_CreateArray()))
			return -ENOMEM;
		cJSON_AddItemToArray(fields, cJSON_CreateString("t"));
		for (size_t j = 0; h[j]; j++)
			cJSON_AddItemToArray(fields, cJSON_CreateString(h[j]));
		json = cJSON_PrintUnformatted(fields);
		cJSON_Delete(fields);
		if (!json)
			return -ENOMEM;
		r = hub_set_history(d->hub, (unsigned)i, json, rows);
		free(json);
		if (r < 0)
			return r;
	}
	return 0;
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
			   .env = {.proc_fd = -1, .sys_fd = -1}};
	struct itimerspec house = {{1, 0}, {1, 0}};
	char err[CONFIG_ERR_LEN];
	bool check_only = false;
	sigset_t sigs;
	int status = 2;

	if (parse_args(&d, argc, argv, &check_only) < 0)
		return 2;
	if (build_config(&d, &d.cfg, err, sizeof(err)) < 0) {
		log_warnx("%s", err);
		return 2;
	}
	if (check_only) {
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
	d.env.proc_fd = open_root(d.cfg.proc_root, "proc-root");
	d.env.sys_fd = open_root(d.cfg.sys_root, "sys-root");
	if (d.env.proc_fd < 0 || d.env.sys_fd < 0)
		goto out;
	d.env.cfg = &d.cfg;
	d.env.publish = env_publish;
	d.env.set_state = env_set_state;
	d.env.ctx = &d;

	d.epfd = epoll_create1(EPOLL_CLOEXEC);
	d.tick_fd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK | TFD_CLOEXEC);
	d.house_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	d.sig_fd = signalfd(-1, &sigs, SFD_NONBLOCK | SFD_CLOEXEC);
	if (d.epfd < 0 || d.tick_fd < 0 || d.house_fd < 0 || d.sig_fd < 0) {
		log_warn("cannot set up the event loop");
		goto out;
	}
	/* The hub first, so that collectors may set their state from init. */
	for (size_t i = 0; collector_registry[i] && i < MAX_COLLECTORS; i++)
		d.names[i] = collector_registry[i]->name;
	d.hub = hub_new(d.cfg.ring_bytes, d.instance, d.names, &http_conn_ops);
	if (d.hub)
		init_collectors(&d);
	if (!d.hub || update_hello(&d) < 0) {
		log_warnx("out of memory");
		goto out;
	}
	hub_set_limits(d.hub, d.cfg.keepalive_s, d.cfg.stall_s);
	if (setup_history(&d) < 0) {
		log_warnx("out of memory");
		goto out;
	}
	/* A first tick before serving, so the first snapshot has data. */
	tick(&d);
	if (take_listen_fds(&d) < 0)
		goto out;
	d.http = http_start(
	    &d.cfg, &(struct http_info){d.hub, d.names, d.start_ms, d.listen_fds, d.n_listen_fds},
	    err, sizeof(err));
	if (!d.http) {
		log_warnx("%s", err);
		goto out;
	}
	if (add_fd(d.epfd, d.tick_fd, TAG_TICK) < 0 || add_fd(d.epfd, d.house_fd, TAG_HOUSE) < 0 ||
	    add_fd(d.epfd, http_watch_fd(d.http), TAG_HANGUP) < 0 ||
	    add_fd(d.epfd, d.sig_fd, TAG_SIGNAL) < 0 || arm_tick(&d) < 0 ||
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
	sd_notifyf(0, "READY=1\nSTATUS=serving %zu topics every %u ms", count_active(&d),
		   d.cfg.interval_ms);
	status = run_loop(&d);
	sd_notify(0, "STOPPING=1");
out:
	http_stop(d.http);
	for (size_t i = 0; i < d.n_cols; i++)
		if (d.active[i] && d.cols[i]->fini)
			d.cols[i]->fini(d.state[i]);
	hub_free(d.hub);
	cJSON_Delete(d.hostinfo);
	for (size_t i = 0; i <= MAX_COLLECTORS; i++)
		metrics_free(&d.mbuf[i]);
	close_fd(d.epfd);
	close_fd(d.tick_fd);
	close_fd(d.house_fd);
	close_fd(d.sig_fd);
	close_fd(d.dog_fd);
	close_fd(d.env.proc_fd);
	close_fd(d.env.sys_fd);
	config_free(&d.cfg);
	return status;
}
