/* Unit tests of collectors/journal.c (the `log` topic) and its reader
 * (journal_reader.c): the collector driven directly against a real journald
 * (started here, as root, when none runs; skipped otherwise). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-journal.h>

#include "clock.h"
#include "config.h"
#include "journal.h"
#include "metrics.h"
#include "prom_check.h"
#include "fixture.h"

#define JOURNALD     "/lib/systemd/systemd-journald"
#define JOURNAL_SOCK "/run/systemd/journal/socket"

/* ---- the collector against a real journald ------------------------------ */

static pid_t journald_pid = -1;

static bool journald_running(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX, .sun_path = JOURNAL_SOCK};
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return false;
	ok = connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
	close(fd);
	return ok;
}

/* A journald of our own when none runs and we may start one; it dies with
 * this process. */
static int setup_journald(void **unused)
{
	struct timespec ts = {0, 20000000};

	if (journald_running())
		return 0;
	if (geteuid() != 0 || access(JOURNALD, X_OK) != 0)
		return 0;
	journald_pid = fork();
	if (journald_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		freopen("/dev/null", "w", stderr);
		execl(JOURNALD, JOURNALD, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 250 && !journald_running(); i++)
		nanosleep(&ts, NULL);
	return 0;
}

static int teardown_journald(void **unused)
{
	if (journald_pid > 0) {
		kill(journald_pid, SIGTERM);
		waitpid(journald_pid, NULL, 0);
	}
	return 0;
}

/* Entries of the captured events whose message contains token. */
static size_t count_token(const struct capture *cap, const char *token, uint64_t *dropped)
{
	size_t n = 0;

	*dropped = 0;
	for (size_t i = 0; i < cap->n; i++) {
		cJSON *e, *entries = cJSON_GetObjectItem(cap->events[i], "entries");

		*dropped += (uint64_t)cJSON_GetObjectItem(cap->events[i], "dropped")->valuedouble;
		cJSON_ArrayForEach(e, entries)
		{
			cJSON *m = cJSON_GetObjectItem(e, "message");

			if (m && strstr(m->valuestring, token))
				n++;
		}
	}
	return n;
}

/* Index of the first captured event holding an entry with token. */
static size_t find_token(const struct capture *cap, const char *token)
{
	for (size_t i = 0; i < cap->n; i++) {
		cJSON *e, *entries = cJSON_GetObjectItem(cap->events[i], "entries");

		cJSON_ArrayForEach(e, entries)
		{
			if (strstr(cJSON_GetObjectItem(e, "message")->valuestring, token))
				return i;
		}
	}
	fail_msg("no event with %s", token);
	return 0;
}

/* Dispatches for up to ms, or until want entries with token (and their
 * drops) were seen. */
static void pump(void *state, const struct collector_env *env, struct capture *cap,
		 const char *token, size_t want, unsigned ms)
{
	struct pollfd pfd = {.fd = journal_collector.get_fd(state), .events = POLLIN};
	uint64_t end = clock_mono_ms() + ms, dropped;

	while (clock_mono_ms() < end) {
		if (want && count_token(cap, token, &dropped) + dropped >= want)
			return;
		if (poll(&pfd, 1, 50) > 0)
			journal_collector.dispatch(state, env);
	}
}

TEST(test_collector_live)
{
	struct capture *cap = calloc(1, sizeof(*cap));
	struct collector_env env = {.proc_fd = -1,
				    .sys_fd = -1,
				    .publish = cap_publish,
				    .set_state = cap_set_state,
				    .ctx = cap};
	struct collector_tick tick = {0};
	char token[64], reason[256] = "", msg[128];
	struct config cfg;
	cJSON *payload = NULL, *e;
	uint64_t dropped;
	void *st = NULL;
	size_t n, i;

	if (!journald_running()) {
		free(cap);
		skip();
	}
	config_defaults(&cfg);
	COLSET(&cfg, journal)->rate = 10;
	COLSET(&cfg, journal)->backlog = 5;
	snprintf(token, sizeof(token), "unit-%d-%ld", getpid(), (long)time(NULL));
	/* only this test's entries: other programs' would take the rate and
	 * the backlog of a busy journal */
	assert_int_equal(config_set(&cfg, "log-match", token, reason, sizeof(reason)), 0);
	assert_int_equal(journal_collector.init(&env,
						cfg.col[collector_topic(journal_collector.name)],
						&st, reason, sizeof(reason)),
			 0);
	journal_collector.follow(st, true); /* as with a stream client on `log` */
	assert_int_equal(journal_collector.sample(st, &env, &tick, &payload), 0);
	assert_null(payload);
	assert_non_null(cap->state); /* the backlog, set at the first tick */

	/* one entry: every field, at once */
	snprintf(msg, sizeof(msg), "MESSAGE=one %s", token);
	assert_int_equal(sd_journal_send(msg, "PRIORITY=3", "SYSLOG_IDENTIFIER=sysfeed-unit", NULL),
			 0);
	pump(st, &env, cap, token, 1, 3000);
	assert_int_equal(count_token(cap, token, &dropped), 1);
	i = find_token(cap, token);
	assert_int_equal(cap->levels[i], 3);
	assert_string_equal(cap->keys[i], "sysfeed-unit");
	e = cJSON_GetArrayItem(cJSON_GetObjectItem(cap->events[i], "entries"), 0);
	assert_string_equal(cJSON_GetObjectItem(e, "priority_name")->valuestring, "err");
	assert_string_equal(cJSON_GetObjectItem(e, "identifier")->valuestring, "sysfeed-unit");
	assert_string_equal(cJSON_GetObjectItem(e, "transport")->valuestring, "journal");
	assert_int_equal((int)cJSON_GetObjectItem(e, "pid")->valuedouble, getpid());
	assert_true(strlen(cJSON_GetObjectItem(e, "cursor")->valuestring) > 10);
	/* ... and the backlog holds it */
	{
		bool found = false;

		cJSON_ArrayForEach(e, cJSON_GetObjectItem(cap->state, "entries")) found |=
		    strstr(cJSON_GetObjectItem(e, "message")->valuestring, token) != NULL;
		assert_true(found);
	}

	/* a flood of 100 at log-rate 10: nothing lost silently */
	for (int k = 0; k < 100; k++) {
		snprintf(msg, sizeof(msg), "MESSAGE=flood %d %s", k, token);
		assert_int_equal(sd_journal_send(msg, "PRIORITY=6", NULL), 0);
	}
	pump(st, &env, cap, token, 101, 5000);
	n = count_token(cap, token, &dropped);
	assert_true(n + dropped >= 101);
	assert_true(dropped > 0);
	assert_true(n <= 1 + 10);
	assert_int_equal(cJSON_GetArraySize(cJSON_GetObjectItem(cap->state, "entries")), 5);
	assert_true(cJSON_GetObjectItem(cap->state, "dropped_total")->valuedouble >=
		    (double)dropped);
	/* the metrics count what came through: the err entry, the flood as info */
	{
		struct metrics m = {0};
		unsigned long long err = 0, info = 0, drops = 0;
		const char *p;

		assert_int_equal(journal_collector.metrics(st, &m), 0);
		prom_check_promtool(m.buf);
		assert_non_null(p = strstr(m.buf, "{priority=\"err\"} "));
		assert_int_equal(sscanf(p, "{priority=\"err\"} %llu", &err), 1);
		assert_non_null(p = strstr(m.buf, "{priority=\"info\"} "));
		assert_int_equal(sscanf(p, "{priority=\"info\"} %llu", &info), 1);
		assert_non_null(p = strstr(m.buf, "\nsysfeed_log_dropped_total "));
		assert_int_equal(sscanf(p, "\nsysfeed_log_dropped_total %llu", &drops), 1);
		assert_true(err >= 1);
		assert_true(info >= 100);
		assert_true(drops >= dropped);
		metrics_free(&m);
	}

	journal_collector.fini(st);
	cap_free(cap);
	config_free(&cfg);
}

/* One sample per priority, emerg..debug, and the drops. */
TEST(test_metrics)
{
	const uint64_t seen[8] = {0, 1, 2, 30, 4, 5, 600, 7000000000};
	struct metrics m = {0};

	assert_int_equal(journal_metrics_write(seen, 12, true, &m), 0);
	prom_check_text(
	    m.buf, "# HELP sysfeed_log_entries_total Journal entries seen that matched the "
		   "log filters, per priority.\n"
		   "# TYPE sysfeed_log_entries_total counter\n"
		   "sysfeed_log_entries_total{priority=\"emerg\"} 0\n"
		   "sysfeed_log_entries_total{priority=\"alert\"} 1\n"
		   "sysfeed_log_entries_total{priority=\"crit\"} 2\n"
		   "sysfeed_log_entries_total{priority=\"err\"} 30\n"
		   "sysfeed_log_entries_total{priority=\"warning\"} 4\n"
		   "sysfeed_log_entries_total{priority=\"notice\"} 5\n"
		   "sysfeed_log_entries_total{priority=\"info\"} 600\n"
		   "sysfeed_log_entries_total{priority=\"debug\"} 7000000000\n"
		   "# HELP sysfeed_log_dropped_total Journal entries that matched but were "
		   "dropped by the rate limit.\n"
		   "# TYPE sysfeed_log_dropped_total counter\n"
		   "sysfeed_log_dropped_total 12\n"
		   "# HELP sysfeed_log_followed 1 while a stream client subscribes to log or a "
		   "config alert rule reads it: the journal then wakes the daemon and is also "
		   "rechecked every 40 ms; else it is read at each tick.\n"
		   "# TYPE sysfeed_log_followed gauge\n"
		   "sysfeed_log_followed 1\n");
	metrics_free(&m);
}

TEST(test_no_journal_dir)
{
	struct collector_env env = {.proc_fd = -1, .sys_fd = -1};
	char reason[256] = "";
	struct config cfg;
	void *st = NULL;

	config_defaults(&cfg);
	COLSET(&cfg, journal)->dir = strdup("/nonexistent/sysfeed-journal");
	assert_true(journal_collector.init(&env, cfg.col[collector_topic(journal_collector.name)],
					   &st, reason, sizeof(reason)) < 0);
	assert_null(st);
	assert_non_null(strstr(reason, "journal-dir /nonexistent/sysfeed-journal"));
	config_free(&cfg);
}

TEST_GROUP(setup_journald, teardown_journald);
