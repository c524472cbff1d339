/* The `units` topic's collector: the conversation with systemd over the
 * system bus (ListUnits and the details of failed units, signals of
 * changes, reconnecting), driven from the loop's epoll set. */
#include "units.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <systemd/sd-bus.h>

#include "metrics.h"
#include "procfs.h"
#include "json.h"
#include "units_report.h"
#include "clock.h"

#define UNITS_DEST        "org.freedesktop.systemd1"
#define UNITS_PATH        "/org/freedesktop/systemd1"
#define UNITS_MANAGER     "org.freedesktop.systemd1.Manager"
#define UNITS_UNIT_IFACE  "org.freedesktop.systemd1.Unit"
#define UNITS_UNIT_PREFIX "/org/freedesktop/systemd1/unit"
#define UNITS_CALL_USEC   (5 * 1000000u) /* every call gives up after this */
#define UNITS_COALESCE_MS 200            /* changes within this make one refresh */
#define UNITS_RETRY_MS    5000           /* after a failed call or a lost bus */
#define UNITS_PROCESS_MAX 256            /* sd_bus_process rounds per dispatch */

enum { TAG_BUS, TAG_TIMEOUT, TAG_REFRESH };

struct units_state {
	sd_bus *bus;
	int epfd, bus_fd, timeout_fd, refresh_fd;
	uint32_t bus_events;
	char error[256]; /* why the data is missing or old, or "" */

	/* the refresh in flight: ListUnits, then each failed unit's details */
	bool in_flight, again;
	size_t outstanding;
	struct units_list next;

	/* what was last published */
	bool have;
	struct units_list cur;
	char *last_json; /* counts and failed as published, to see changes */

	struct units_changes changes;

	bool dirty;
	int64_t state_t_ms;
	const struct collector_env *env; /* set in dispatch for the callbacks */
	cJSON *out;                      /* an event for the end of the dispatch */
};

static int units_arm(int fd, uint64_t ms)
{
	struct itimerspec its = {{0, 0}, {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000}};

	if (ms == 0)
		its.it_value.tv_nsec = 1;
	return timerfd_settime(fd, 0, &its, NULL) < 0 ? -errno : 0;
}

static void units_set_error(struct units_state *s, const char *what, const char *why)
{
	snprintf(s->error, sizeof(s->error), "%.60s: %.180s", what, why);
	s->dirty = true;
	s->state_t_ms = clock_real_ms();
}

/* A refresh after the coalescing delay, unless one is due already. */
static void units_schedule(struct units_state *s, uint64_t ms)
{
	struct itimerspec cur;

	if (s->in_flight) {
		s->again = true;
		return;
	}
	if (timerfd_gettime(s->refresh_fd, &cur) == 0 &&
	    (cur.it_value.tv_sec || cur.it_value.tv_nsec))
		return;
	units_arm(s->refresh_fd, ms);
}

/* ---- JSON ---------------------------------------------------------------- */

static cJSON *units_build_state(const struct units_state *s)
{
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddNumberToObject(o, "t", (double)s->state_t_ms) ||
	    !cJSON_AddBoolToObject(o, "connected", s->bus != NULL) ||
	    json_str(o, "error", s->error[0] ? s->error : NULL) < 0 ||
	    (s->have && !units_list_json(&s->cur, o))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* The `units` event of a finished refresh, when something changed. */
static void units_make_event(struct units_state *s)
{
	cJSON *o = cJSON_CreateObject(), *body = cJSON_CreateObject();
	char *json = NULL;
	bool ok;

	ok = o && body && units_list_json(&s->cur, body) && (json = cJSON_PrintUnformatted(body));
	if (ok && s->changes.n == 0 && s->last_json && strcmp(json, s->last_json) == 0) {
		ok = false; /* nothing new */
	} else if (ok) {
		free(s->last_json);
		s->last_json = json;
		json = NULL;
		ok = cJSON_AddNumberToObject(o, "t", (double)clock_real_ms()) &&
		     units_list_json(&s->cur, o) && units_changes_json(&s->changes, o);
	}
	free(json);
	cJSON_Delete(body);
	units_changes_clear(&s->changes);
	if (!ok) {
		cJSON_Delete(o);
		return;
	}
	cJSON_Delete(s->out);
	s->out = o;
}

/* ---- the refresh --------------------------------------------------------- */

static void units_commit(struct units_state *s)
{
	units_list_clear(&s->cur);
	s->cur = s->next;
	s->next = (struct units_list){0};
	s->have = true;
	s->in_flight = false;
	s->error[0] = '\0';
	s->dirty = true;
	s->state_t_ms = clock_real_ms();
	units_make_event(s);
	if (s->again) {
		s->again = false;
		units_schedule(s, UNITS_COALESCE_MS);
	}
}

static void units_detail_done(struct units_state *s)
{
	if (s->outstanding && --s->outstanding == 0)
		units_commit(s);
}

static int units_on_timestamp(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct units_failed *f = userdata;
	uint64_t t;

	if (!sd_bus_message_is_method_error(m, NULL) && sd_bus_message_read(m, "v", "t", &t) > 0)
		f->since_us = t;
	units_detail_done(f->owner);
	return 0;
}

static int units_on_result(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct units_failed *f = userdata;
	const char *v;

	if (!sd_bus_message_is_method_error(m, NULL) && sd_bus_message_read(m, "v", "s", &v) > 0)
		f->result = strdup(v);
	units_detail_done(f->owner);
	return 0;
}

static int units_get(struct units_state *s, struct units_failed *f, const char *iface,
		     const char *prop, sd_bus_message_handler_t cb)
{
	int r = sd_bus_call_method_async(s->bus, NULL, UNITS_DEST, f->path,
					 "org.freedesktop.DBus.Properties", "Get", cb, f, "ss",
					 iface, prop);

	if (r >= 0)
		s->outstanding++;
	return r;
}

static int units_on_list(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct units_state *s = userdata;
	const char *name, *desc, *load, *active, *sub, *following, *path, *jtype, *jpath;
	char iface[128];
	uint32_t jid;
	int r;

	if (sd_bus_message_is_method_error(m, NULL)) {
		const sd_bus_error *e = sd_bus_message_get_error(m);

		units_set_error(s, "ListUnits", e && e->message ? e->message : "failed");
		s->in_flight = false;
		s->again = false;
		units_arm(s->refresh_fd, UNITS_RETRY_MS);
		return 0;
	}
	units_list_clear(&s->next);
	if (!(s->next.failed = calloc(UNITS_FAILED_MAX, sizeof(*s->next.failed))))
		goto bad;
	r = sd_bus_message_enter_container(m, 'a', "(ssssssouso)");
	if (r < 0)
		goto bad;
	while ((r = sd_bus_message_read(m, "(ssssssouso)", &name, &desc, &load, &active, &sub,
					&following, &path, &jid, &jtype, &jpath)) > 0) {
		units_list_count(&s->next, active);
		if (strcmp(active, "failed") == 0 && s->next.n_failed < UNITS_FAILED_MAX) {
			struct units_failed *f = &s->next.failed[s->next.n_failed++];

			f->owner = s;
			f->name = strdup(name);
			f->description = strdup(desc);
			f->sub_state = strdup(sub);
			f->path = strdup(path);
			if (!f->name || !f->description || !f->sub_state || !f->path)
				goto bad;
		}
	}
	if (r < 0)
		goto bad;
	s->outstanding = 0;
	for (size_t i = 0; i < s->next.n_failed; i++) {
		struct units_failed *f = &s->next.failed[i];

		units_get(s, f, UNITS_UNIT_IFACE, "StateChangeTimestamp", units_on_timestamp);
		if (units_type_interface(f->name, iface, sizeof(iface)) == 0 && iface[0])
			units_get(s, f, iface, "Result", units_on_result);
	}
	if (s->outstanding == 0)
		units_commit(s);
	return 0;
bad:
	units_set_error(s, "ListUnits", "unexpected reply");
	s->in_flight = false;
	units_arm(s->refresh_fd, UNITS_RETRY_MS);
	return 0;
}

static void units_refresh(struct units_state *s)
{
	int r;

	if (s->in_flight)
		return;
	r = sd_bus_call_method_async(s->bus, NULL, UNITS_DEST, UNITS_PATH, UNITS_MANAGER,
				     "ListUnits", units_on_list, s, "");
	if (r < 0) {
		units_set_error(s, "ListUnits", strerror(-r));
		units_arm(s->refresh_fd, UNITS_RETRY_MS);
		return;
	}
	s->in_flight = true;
}

/* ---- signals ------------------------------------------------------------- */

static int units_on_properties(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct units_state *s = userdata;
	const char *iface, *prop, *v, *active = NULL, *sub = NULL;
	struct units_change *c;
	char *unit = NULL;
	int r;

	if (sd_bus_path_decode(sd_bus_message_get_path(m), UNITS_UNIT_PREFIX, &unit) <= 0)
		goto out;
	if (sd_bus_message_read(m, "s", &iface) < 0 || strcmp(iface, UNITS_UNIT_IFACE) != 0 ||
	    sd_bus_message_enter_container(m, 'a', "{sv}") < 0)
		goto out;
	while ((r = sd_bus_message_enter_container(m, 'e', "sv")) > 0) {
		if (sd_bus_message_read(m, "s", &prop) < 0)
			goto out;
		if ((strcmp(prop, "ActiveState") == 0 || strcmp(prop, "SubState") == 0) &&
		    sd_bus_message_read(m, "v", "s", &v) > 0)
			*(prop[0] == 'A' ? &active : &sub) = v;
		else if (sd_bus_message_skip(m, "v") < 0)
			goto out;
		if (sd_bus_message_exit_container(m) < 0)
			goto out;
	}
	if (!active && !sub)
		goto out;
	if ((c = units_changes_get(&s->changes, unit))) {
		units_change_set(&c->active_state, active);
		units_change_set(&c->sub_state, sub);
	}
	units_schedule(s, UNITS_COALESCE_MS);
out:
	free(unit);
	return 0;
}

static int units_on_job_removed(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct units_state *s = userdata;
	const char *job, *unit, *result;
	struct units_change *c;
	uint32_t id;

	if (sd_bus_message_read(m, "uoss", &id, &job, &unit, &result) < 0)
		return 0;
	if ((c = units_changes_get(&s->changes, unit)))
		units_change_set(&c->job_result, result);
	units_schedule(s, UNITS_COALESCE_MS);
	return 0;
}

static int units_on_subscribe(sd_bus_message *m, void *userdata, sd_bus_error *ret_error)
{
	struct units_state *s = userdata;
	const sd_bus_error *e;

	if (sd_bus_message_is_method_error(m, NULL)) {
		e = sd_bus_message_get_error(m);
		units_set_error(s, "Subscribe", e && e->message ? e->message : "failed");
	}
	return 0;
}

/* ---- the connection ------------------------------------------------------ */

static void units_disconnect(struct units_state *s)
{
	if (!s->bus)
		return;
	if (s->bus_fd >= 0)
		epoll_ctl(s->epfd, EPOLL_CTL_DEL, s->bus_fd, NULL);
	s->bus_fd = -1;
	s->bus = sd_bus_flush_close_unref(s->bus);
	units_list_clear(&s->next);
	s->in_flight = false;
	s->again = false;
	s->outstanding = 0;
	s->dirty = true;
}

/* Opens the system bus, subscribes, and asks for the first list; nothing
 * here waits for an answer. */
static int units_connect(struct units_state *s, char *reason, size_t reason_len)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u32 = TAG_BUS};
	int r;

	r = sd_bus_open_system(&s->bus);
	if (r < 0) {
		snprintf(reason, reason_len, "no system bus: %s", strerror(-r));
		goto fail;
	}
	sd_bus_set_method_call_timeout(s->bus, UNITS_CALL_USEC);
	if ((r = sd_bus_add_match_async(
		 s->bus, NULL,
		 "type='signal',sender='" UNITS_DEST
		 "',interface='org.freedesktop.DBus.Properties',"
		 "member='PropertiesChanged',path_namespace='" UNITS_UNIT_PREFIX "'",
		 units_on_properties, NULL, s)) < 0 ||
	    (r = sd_bus_match_signal_async(s->bus, NULL, UNITS_DEST, UNITS_PATH, UNITS_MANAGER,
					   "JobRemoved", units_on_job_removed, NULL, s)) < 0 ||
	    (r = sd_bus_call_method_async(s->bus, NULL, UNITS_DEST, UNITS_PATH, UNITS_MANAGER,
					  "Subscribe", units_on_subscribe, s, "")) < 0) {
		snprintf(reason, reason_len, "system bus: %s", strerror(-r));
		goto fail;
	}
	if ((s->bus_fd = sd_bus_get_fd(s->bus)) < 0 ||
	    epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->bus_fd, &ev) < 0) {
		r = s->bus_fd < 0 ? s->bus_fd : -errno;
		snprintf(reason, reason_len, "system bus: %s", strerror(-r));
		goto fail;
	}
	s->bus_events = EPOLLIN;
	units_refresh(s);
	return 0;
fail:
	units_disconnect(s);
	return r;
}

/* What sd-bus wants next: input, output, a wake-up at its timeout. */
static void units_rearm(struct units_state *s)
{
	struct itimerspec its = {{0, 0}, {0, 0}};
	uint64_t usec = UINT64_MAX;
	int ev;

	if (!s->bus)
		return;
	ev = sd_bus_get_events(s->bus);
	if (ev >= 0 && (uint32_t)ev != s->bus_events) {
		struct epoll_event e = {.events = (uint32_t)ev, .data.u32 = TAG_BUS};

		if (epoll_ctl(s->epfd, EPOLL_CTL_MOD, s->bus_fd, &e) == 0)
			s->bus_events = (uint32_t)ev;
	}
	if (sd_bus_get_timeout(s->bus, &usec) >= 0 && usec != UINT64_MAX) {
		if (usec == 0)
			usec = 1;
		its.it_value.tv_sec = (time_t)(usec / 1000000u);
		its.it_value.tv_nsec = (long)(usec % 1000000u) * 1000;
	}
	timerfd_settime(s->timeout_fd, TFD_TIMER_ABSTIME, &its, NULL);
}

static void units_send(struct units_state *s, const struct collector_env *env)
{
	cJSON *st;

	if (s->dirty && (st = units_build_state(s))) {
		env->set_state(env, st);
		s->dirty = false;
	}
	if (s->out) {
		env->publish(env, s->out, NULL);
		s->out = NULL;
	}
}

static int units_dispatch(void *state, const struct collector_env *env)
{
	struct units_state *s = state;
	struct epoll_event evs[3];
	char reason[256];
	bool process = false;
	uint64_t v;
	int n, r = 0;

	n = epoll_wait(s->epfd, evs, 3, 0);
	for (int i = 0; i < n; i++) {
		switch (evs[i].data.u32) {
		case TAG_BUS:
			process = true;
			break;
		case TAG_TIMEOUT:
			if (read(s->timeout_fd, &v, sizeof(v)) > 0)
				process = true;
			break;
		case TAG_REFRESH:
			if (read(s->refresh_fd, &v, sizeof(v)) <= 0)
				break;
			if (!s->bus) {
				if (units_connect(s, reason, sizeof(reason)) < 0) {
					units_set_error(s, "reconnecting", reason);
					units_arm(s->refresh_fd, UNITS_RETRY_MS);
				}
			} else {
				units_refresh(s);
			}
			process = s->bus != NULL;
			break;
		}
	}
	for (int k = 0; process && s->bus && k < UNITS_PROCESS_MAX; k++) {
		r = sd_bus_process(s->bus, NULL);
		if (r < 0 || sd_bus_is_open(s->bus) <= 0) {
			units_set_error(s, "system bus lost", strerror(r < 0 ? -r : ECONNRESET));
			units_disconnect(s);
			units_arm(s->refresh_fd, UNITS_RETRY_MS);
			break;
		}
		if (r == 0)
			break;
	}
	units_rearm(s);
	units_send(s, env);
	return r < 0 ? r : 0;
}

static int units_sample(void *state, const struct collector_env *env,
			const struct collector_tick *tick, cJSON **ret_payload)
{
	*ret_payload = NULL;
	units_send(state, env);
	return 0;
}

static int units_get_fd(void *state)
{
	return ((struct units_state *)state)->epfd;
}

/* The last published counts (none before the first answer) and the bus. */
static int units_metrics(void *state, struct metrics *m)
{
	const struct units_state *s = state;

	return units_metrics_write(s->have ? s->cur.counts : NULL, s->bus != NULL, m);
}

static void units_fini(void *state)
{
	struct units_state *s = state;

	if (!s)
		return;
	units_disconnect(s);
	units_list_clear(&s->cur);
	units_changes_clear(&s->changes);
	free(s->last_json);
	cJSON_Delete(s->out);
	if (s->epfd >= 0)
		close(s->epfd);
	if (s->timeout_fd >= 0)
		close(s->timeout_fd);
	if (s->refresh_fd >= 0)
		close(s->refresh_fd);
	free(s);
}

static int units_init(const struct collector_env *env, const void *settings, void **ret_state,
		      char *reason, size_t reason_len)
{
	struct units_state *s = calloc(1, sizeof(*s));
	struct epoll_event ev = {.events = EPOLLIN};
	int r = 0;

	if (!s) {
		r = -ENOMEM;
		goto out;
	}
	s->bus_fd = s->timeout_fd = s->refresh_fd = -1;
	s->epfd = epoll_create1(EPOLL_CLOEXEC);
	s->timeout_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	s->refresh_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (s->epfd < 0 || s->timeout_fd < 0 || s->refresh_fd < 0) {
		r = -errno;
		snprintf(reason, reason_len, "cannot set up: %s", strerror(-r));
		goto out;
	}
	ev.data.u32 = TAG_TIMEOUT;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->timeout_fd, &ev) < 0)
		r = -errno;
	ev.data.u32 = TAG_REFRESH;
	if (epoll_ctl(s->epfd, EPOLL_CTL_ADD, s->refresh_fd, &ev) < 0)
		r = -errno;
	if (r < 0) {
		snprintf(reason, reason_len, "cannot set up: %s", strerror(-r));
		goto out;
	}
	r = units_connect(s, reason, reason_len);
	if (r < 0)
		goto out;
	units_rearm(s);
	snprintf(s->error, sizeof(s->error), "waiting for systemd's answer");
	s->state_t_ms = clock_real_ms();
	s->dirty = true;
	*ret_state = s;
	s = NULL;
out:
	units_fini(s);
	return r;
}

const struct collector units_collector = {
    .name = "units",
    .init = units_init,
    .sample = units_sample,
    .get_fd = units_get_fd,
    .dispatch = units_dispatch,
    .metrics = units_metrics,
    .fini = units_fini,
};
