/* Alerts in the daemon: rules from the configuration, changes to the hub
 * and the senders thread (see alerts.h). */
#include "alerts.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "alert_eval.h"
#include "alert_rule.h"
#include "alert_send.h"
#include "clock.h"
#include "collector.h"
#include "config.h"
#include "hub.h"
#include "journal.h"
#include "json.h"
#include "log.h"
#include "metrics.h"
#include "self_metrics.h"

#define CONTEXT_ROWS 3
#define RECENT_MAX   20
#define BATCH_MAX    64

struct alerts {
	struct hub *hub;
	unsigned topic;
	const struct config *cfg;
	struct alert_engine *engine;
	struct alert_sender *sender;
	char host[256];
	int proc_topic, svc_topic;
	cJSON *ctx_proc, *ctx_svc; /* the latest top rows, as context */
	cJSON *recent;             /* the last RECENT_MAX events, oldest first */
	struct hub_msg batch[BATCH_MAX];
	size_t n_batch;
	cJSON *jobs[BATCH_MAX]; /* notifications, sent at the flush with the context of then */
	bool job_notify[BATCH_MAX];
	size_t n_jobs;
	bool state_dirty;
	cJSON *errors; /* rule name -> why it never fires (hello.alert_errors) */
	unsigned errors_gen;
	struct metrics m;
};

static struct alert_limits limits_of(const struct config *c)
{
	return (struct alert_limits){.repeat_ms = (int64_t)c->alert_repeat_s * 1000,
				     .window_ms = (int64_t)c->alert_window_s * 1000,
				     .per_rule = c->alert_rule_limit,
				     .total = c->alert_limit};
}

static struct alert_send_opts send_opts_of(const struct config *c)
{
	const struct journal_settings *js = c->col[collector_topic("log")];

	return (struct alert_send_opts){.journal_dir = js ? js->dir : NULL,
					.webhooks = &c->alert_webhooks,
					.ntfy = &c->alert_ntfy,
					.execs = &c->alert_execs,
					.timeout_ms = c->alert_timeout_ms,
					.retries = c->alert_retries,
					.exec_max = c->alert_exec_max,
					.queue_max = c->alert_queue};
}

static struct alert_now now_of(void)
{
	return (struct alert_now){.real_ms = clock_real_ms(), .mono_ms = (int64_t)clock_mono_ms()};
}

/* Adds a parsed rule in place of one of the same name, or at the end. */
static int put_rule(struct alert_rule ***v, size_t *n, struct alert_rule *r)
{
	struct alert_rule **p;

	for (size_t i = 0; i < *n; i++)
		if (strcmp((*v)[i]->name, r->name) == 0) {
			alert_rule_free((*v)[i]);
			(*v)[i] = r;
			return 0;
		}
	if (!(p = realloc(*v, (*n + 1) * sizeof(*p)))) {
		alert_rule_free(r);
		return -ENOMEM;
	}
	*v = p;
	p[(*n)++] = r;
	return 0;
}

int alerts_rules(const struct config *cfg, struct alert_rule ***ret, size_t *ret_n, char *err,
		 size_t err_len)
{
	struct alert_rule **v = NULL, *r;
	size_t n = 0, kept = 0;
	int rc = 0;

	for (size_t i = 0; cfg->alert_stock && alert_stock_rules[i] && rc == 0; i++)
		if ((rc = alert_rule_parse(alert_stock_rules[i], &r, err, err_len)) == 0) {
			r->stock = true;
			rc = put_rule(&v, &n, r);
		}
	for (size_t i = 0; i < cfg->n_alert_rules && rc == 0; i++)
		if ((rc = alert_rule_parse(cfg->alert_rules[i], &r, err, err_len)) == 0)
			rc = put_rule(&v, &n, r);
	for (size_t i = 0; i < n; i++) {
		if (rc == 0 && v[i]->kind != ALERT_OFF)
			v[kept++] = v[i];
		else
			alert_rule_free(v[i]);
	}
	if (rc < 0) {
		free(v);
		return rc;
	}
	*ret = v;
	*ret_n = kept;
	return 0;
}

/* The top rows of a proc or svc payload, a few fields each. */
static cJSON *top_rows(const cJSON *payload, const char *list, const char *const *keys)
{
	cJSON *out = cJSON_CreateArray(), *row;
	const cJSON *src;
	int n = 0;

	cJSON_ArrayForEach(src, cJSON_GetObjectItemCaseSensitive(payload, list))
	{
		if (n++ == CONTEXT_ROWS || !out || !(row = cJSON_CreateObject()))
			break;
		for (size_t k = 0; keys[k]; k++) {
			const cJSON *v = cJSON_GetObjectItemCaseSensitive(src, keys[k]);

			cJSON_AddItemToObject(row, keys[k],
					      v ? cJSON_Duplicate(v, false) : cJSON_CreateNull());
		}
		cJSON_AddItemToArray(out, row);
	}
	return out;
}

static void keep_context(struct alerts *a, unsigned topic, const cJSON *payload)
{
	static const char *const pcpu[] = {"pid", "comm", "cpu_pct", NULL};
	static const char *const pmem[] = {"pid", "comm", "rss_bytes", NULL};
	static const char *const scpu[] = {"unit", "cpu_pct", NULL};
	static const char *const smem[] = {"unit", "mem_bytes", NULL};
	bool proc = (int)topic == a->proc_topic;
	cJSON *c = cJSON_CreateObject();

	if (!c)
		return;
	cJSON_AddItemToObject(c, proc ? "top_cpu" : "services_cpu",
			      top_rows(payload, "top_cpu", proc ? pcpu : scpu));
	cJSON_AddItemToObject(c, proc ? "top_mem" : "services_mem",
			      top_rows(payload, "top_mem", proc ? pmem : smem));
	cJSON_Delete(proc ? a->ctx_proc : a->ctx_svc);
	if (proc)
		a->ctx_proc = c;
	else
		a->ctx_svc = c;
}

/* The context of a notification: top processes and services now. */
static cJSON *context(struct alerts *a)
{
	cJSON *c = cJSON_CreateObject(), *it;

	if (!c)
		return NULL;
	for (int k = 0; k < 2; k++) {
		const cJSON *src = k ? a->ctx_svc : a->ctx_proc;

		cJSON_ArrayForEach(it, src)
		    cJSON_AddItemToObject(c, it->string, cJSON_Duplicate(it, true));
	}
	return c;
}

/* An alert's JSON: the `alert` event's data and what notifications say. */
static cJSON *alert_json(struct alerts *a, const struct alert_change *c)
{
	const struct alert_rule *r = c->rule;
	cJSON *o = json_payload(c->t_ms);
	char msg[1024], value[64] = "";

	if (!o)
		return NULL;
	json_str(o, "name", r->name);
	cJSON_AddStringToObject(o, "state", c->reminder ? "firing" : alert_state_name(c->state));
	cJSON_AddStringToObject(o, "previous", alert_state_name(c->previous));
	cJSON_AddStringToObject(o, "severity", alert_severity_name(r->severity));
	json_str(o, "instance", c->instance);
	if (c->value_str)
		json_str(o, "value", c->value_str);
	else
		json_num_or_null(o, "value", c->has_value, c->value);
	json_num_or_null(o, "threshold", c->has_value && !r->str && r->kind == ALERT_THRESHOLD,
			 c->threshold);
	cJSON_AddNumberToObject(o, "since", (double)c->since_ms);
	cJSON_AddNumberToObject(o, "count", c->count);
	cJSON_AddBoolToObject(o, "reminder", c->reminder);
	json_str(o, "rule", r->text);
	if (c->value_str)
		snprintf(value, sizeof(value), "%.60s", c->value_str);
	else if (c->has_value)
		snprintf(value, sizeof(value), "%.15g", c->value);
	if (r->kind == ALERT_THRESHOLD)
		snprintf(msg, sizeof(msg), "%s %s%s%s: %s%s%s%s%s%s", r->name,
			 c->reminder ? "still firing" : alert_state_name(c->state),
			 c->instance[0] ? " on " : "", c->instance, r->text,
			 value[0] ? " (value " : "", value, value[0] ? ")" : "",
			 c->text ? "; " : "", c->text ? c->text : "");
	else
		snprintf(msg, sizeof(msg), "%s %s%s%s: %s", r->name,
			 c->reminder ? "still firing" : alert_state_name(c->state),
			 c->instance[0] ? " on " : "", c->instance, c->text ? c->text : r->text);
	json_str(o, "message", msg);
	json_str(o, "unit", r->kind == ALERT_LOG || r->kind == ALERT_UNITS ? c->unit : NULL);
	json_str(o, "host", a->host);
	return o;
}

static void flush_batch(struct alerts *a, bool tick);

static void batch_add(struct alerts *a, const cJSON *o)
{
	size_t len;
	char *json;

	if (a->n_batch == BATCH_MAX)
		flush_batch(a, false);
	if (!(json = json_print(o, &len)))
		return;
	a->batch[a->n_batch++] =
	    (struct hub_msg){.topic = a->topic, .json = json, .len = len, .level = -1};
	cJSON_AddItemToArray(a->recent, cJSON_Duplicate(o, true));
	while (cJSON_GetArraySize(a->recent) > RECENT_MAX)
		cJSON_DeleteItemFromArray(a->recent, 0);
	a->state_dirty = true;
}

static void on_change(void *ctx, const struct alert_change *c)
{
	struct alerts *a = ctx;
	bool notice = c->state == ALERT_FIRING || c->state == ALERT_RESOLVED;
	cJSON *o = alert_json(a, c);

	if (!o)
		return;
	batch_add(a, o);
	if (!notice || !a->sender) {
		cJSON_Delete(o);
		return;
	}
	if (a->n_jobs == BATCH_MAX)
		flush_batch(a, false);
	a->job_notify[a->n_jobs] = c->notify;
	a->jobs[a->n_jobs++] = o;
}

/* Queues the notifications of this tick or dispatch, with the context of
 * now: the tick's own top processes and services. */
static void push_jobs(struct alerts *a)
{
	for (size_t i = 0; i < a->n_jobs; i++) {
		cJSON *o = a->jobs[i];
		const cJSON *name = cJSON_GetObjectItemCaseSensitive(o, "name");

		cJSON_AddItemToObject(o, "context", context(a));
		if (alert_sender_push(a->sender, o, a->job_notify[i]) < 0)
			log_warnx("alert %s: the senders' queue is full; dropped",
				  cJSON_IsString(name) ? name->valuestring : "");
	}
	a->n_jobs = 0;
}

static void on_summary(void *ctx, unsigned held, const char *text, int64_t t_ms)
{
	struct alerts *a = ctx;
	cJSON *o = json_payload(t_ms);
	char msg[1200];

	if (!o || !a->sender) {
		cJSON_Delete(o);
		return;
	}
	snprintf(msg, sizeof(msg), "%u notification%s held back by the rate limits: %s", held,
		 held == 1 ? "" : "s", text);
	cJSON_AddStringToObject(o, "name", "rate-limit");
	cJSON_AddStringToObject(o, "state", "summary");
	cJSON_AddStringToObject(o, "severity", "warning");
	cJSON_AddNumberToObject(o, "count", held);
	json_str(o, "message", msg);
	json_str(o, "host", a->host);
	cJSON_AddItemToObject(o, "context", cJSON_CreateObject());
	alert_sender_push(a->sender, o, true);
}

static void add_active(void *ctx, const struct alert_change *c)
{
	struct alerts *a = ((void **)ctx)[0];
	cJSON *list = ((void **)ctx)[1];

	cJSON_AddItemToArray(list, alert_json(a, c));
}

/* The topic's `snapshot` state: pending and firing alerts, recent events. */
static char *state_json(struct alerts *a, size_t *ret_len)
{
	cJSON *o = json_payload(clock_real_ms()), *active;
	char *json = NULL;

	if (o && (active = cJSON_AddArrayToObject(o, "active"))) {
		alert_engine_each(a->engine, add_active, (void *[]){a, active});
		cJSON_AddItemToObject(o, "recent", cJSON_Duplicate(a->recent, true));
		json = json_print(o, ret_len);
	}
	cJSON_Delete(o);
	return json;
}

static void publish_metrics(struct alerts *a)
{
	const struct alert_rule *const *rules;
	size_t n = alert_engine_rules(a->engine, &rules);
	struct alert_send_stats st = {0};
	bool firing[n ? n : 1], invalid[n ? n : 1];

	for (size_t i = 0; i < n; i++) {
		firing[i] = alert_engine_rule_firing(a->engine, i);
		invalid[i] = alert_engine_rule_error(a->engine, i) != NULL;
	}
	if (a->sender)
		alert_sender_stats(a->sender, &st);
	metrics_reset(&a->m);
	self_metrics_alerts(&a->m,
			    &(struct self_alerts){.n_rules = n,
						  .rules = rules,
						  .firing = firing,
						  .invalid = invalid,
						  .sent = st.sent,
						  .failed = st.failed,
						  .dropped = st.dropped,
						  .held = alert_engine_held_total(a->engine)});
	if (!metrics_error(&a->m))
		hub_set_metrics(a->hub, (int)a->topic, a->m.buf, a->m.len);
}

void alerts_payload(void *ctx, unsigned topic, const cJSON *payload)
{
	struct alerts *a = ctx;
	struct alert_now now = now_of();

	if ((int)topic == a->proc_topic || (int)topic == a->svc_topic)
		keep_context(a, topic, payload);
	alert_engine_feed(a->engine, topic, payload, &now);
}

/* The rules' faults found in the payloads: each new one logged once.
 * Returns whether the list changed (hello says it). */
static bool refresh_errors(struct alerts *a)
{
	const struct alert_rule *const *rules;
	size_t n = alert_engine_rules(a->engine, &rules);
	cJSON *errors;
	bool changed;

	if (alert_engine_errors_gen(a->engine) == a->errors_gen || !(errors = cJSON_CreateObject()))
		return false;
	a->errors_gen = alert_engine_errors_gen(a->engine);
	for (size_t i = 0; i < n; i++) {
		const char *why = alert_engine_rule_error(a->engine, i);
		const cJSON *old = cJSON_GetObjectItemCaseSensitive(a->errors, rules[i]->name);

		if (!why)
			continue;
		if (!cJSON_IsString(old) || strcmp(old->valuestring, why) != 0)
			log_warnx("%s", why);
		json_str_dup(errors, rules[i]->name, why); /* a reload frees the rule */
	}
	changed = !cJSON_Compare(errors, a->errors, true);
	cJSON_Delete(a->errors);
	a->errors = errors;
	return changed;
}

void alerts_hello(void *ctx, cJSON *hello)
{
	struct alerts *a = ctx;

	if (cJSON_GetArraySize(a->errors) > 0)
		cJSON_AddItemToObject(hello, "alert_errors", cJSON_Duplicate(a->errors, true));
}

/* Publishes the batch of alert events, queues the notifications. */
static void flush_batch(struct alerts *a, bool tick)
{
	size_t len = 0;

	if (tick) {
		struct alert_now now = now_of();

		alert_engine_tick(a->engine, &now);
	}
	if (a->state_dirty && a->n_batch) {
		a->batch[a->n_batch - 1].state_json = state_json(a, &len);
		a->batch[a->n_batch - 1].state_len = len;
	}
	if (a->n_batch)
		hub_publish(a->hub, a->batch, a->n_batch, 0);
	for (size_t i = 0; i < a->n_batch; i++) {
		free((char *)a->batch[i].json);
		free((char *)a->batch[i].state_json);
	}
	a->n_batch = 0;
	a->state_dirty = false;
	push_jobs(a);
}

bool alerts_flush(void *ctx, bool tick)
{
	struct alerts *a = ctx;
	bool changed;

	flush_batch(a, tick);
	changed = refresh_errors(a);
	return changed;
}

void alerts_metrics(void *ctx)
{
	publish_metrics(ctx);
}

bool alerts_wants(void *ctx, unsigned topic)
{
	struct alerts *a = ctx;

	return alert_engine_reads(a->engine, topic);
}

bool alerts_wants_dropped(void *ctx, unsigned topic, int level)
{
	struct alerts *a = ctx;

	return alert_engine_reads_level(a->engine, topic, level);
}

static int load_rules(struct alerts *a, char *err, size_t err_len)
{
	struct alert_rule **rules;
	size_t n;
	struct alert_now now = now_of();
	int r;

	if ((r = alerts_rules(a->cfg, &rules, &n, err, err_len)) < 0)
		return r;
	r = alert_engine_set_rules(a->engine, rules, n, &now);
	free(rules);
	return r;
}

struct alerts *alerts_new(struct hub *hub, unsigned topic, const struct config *cfg, char *err,
			  size_t err_len)
{
	struct alerts *a = calloc(1, sizeof(*a));
	struct alert_limits lim = limits_of(cfg);
	struct alert_send_opts so = send_opts_of(cfg);
	size_t len;
	char *json;

	if (!a)
		goto oom;
	a->hub = hub;
	a->topic = topic;
	a->cfg = cfg;
	a->proc_topic = collector_topic("proc");
	a->svc_topic = collector_topic("svc");
	gethostname(a->host, sizeof(a->host) - 1);
	if (!(a->recent = cJSON_CreateArray()) ||
	    !(a->engine = alert_engine_new(&lim, on_change, on_summary, a)))
		goto oom;
	if (!(a->sender = alert_sender_new(&so, NULL, NULL))) {
		snprintf(err, err_len, "cannot start the alert senders: %s", strerror(errno));
		goto fail;
	}
	if (load_rules(a, err, err_len) < 0)
		goto fail;
	if ((json = state_json(a, &len))) {
		hub_set_state(hub, topic, json, len);
		free(json);
	}
	publish_metrics(a);
	return a;
oom:
	snprintf(err, err_len, "out of memory");
fail:
	alerts_free(a);
	return NULL;
}

void alerts_free(struct alerts *a)
{
	if (!a)
		return;
	alert_sender_free(a->sender); /* first: it holds nothing of ours */
	a->sender = NULL;
	alert_engine_free(a->engine);
	for (size_t i = 0; i < a->n_batch; i++)
		free((char *)a->batch[i].json);
	for (size_t i = 0; i < a->n_jobs; i++)
		cJSON_Delete(a->jobs[i]);
	cJSON_Delete(a->ctx_proc);
	cJSON_Delete(a->ctx_svc);
	cJSON_Delete(a->recent);
	cJSON_Delete(a->errors);
	metrics_free(&a->m);
	free(a);
}

int alerts_reconfigure(struct alerts *a)
{
	struct alert_limits lim = limits_of(a->cfg);
	struct alert_send_opts so = send_opts_of(a->cfg);
	char err[CONFIG_ERR_LEN];
	int r;

	alert_engine_set_limits(a->engine, &lim);
	alert_sender_configure(a->sender, &so);
	if ((r = load_rules(a, err, sizeof(err))) < 0)
		log_warnx("%s; keeping the running alert rules", err);
	flush_batch(a, false);
	publish_metrics(a);
	return r;
}

static void test_report(void *ctx, enum alert_sender_kind kind, const char *target, bool ok,
			const char *answer)
{
	FILE *out = ((void **)ctx)[0];
	int *failed = ((void **)ctx)[1];

	fprintf(out, "%s %s: %s (%s)\n", alert_sender_name(kind), target, ok ? "ok" : "FAILED",
		answer);
	fflush(out);
	*failed += !ok;
}

int alerts_test(const struct config *cfg, FILE *out)
{
	struct alert_send_opts so = send_opts_of(cfg);
	int failed = 0;
	struct alert_sender *s;
	char host[256] = "", msg[512];
	cJSON *o = json_payload(clock_real_ms());
	void *report_ctx[] = {out, &failed};

	so.retries = 0; /* what each answers to one attempt */
	if (!o || !(s = alert_sender_new(&so, test_report, report_ctx))) {
		cJSON_Delete(o);
		fprintf(out, "cannot start the alert senders\n");
		return 1;
	}
	gethostname(host, sizeof(host) - 1);
	snprintf(msg, sizeof(msg), "sysfeed-test firing: a test notification from %s", host);
	cJSON_AddStringToObject(o, "name", "sysfeed-test");
	cJSON_AddStringToObject(o, "state", "firing");
	cJSON_AddStringToObject(o, "severity", "warning");
	cJSON_AddStringToObject(o, "instance", "");
	cJSON_AddNullToObject(o, "value");
	json_str(o, "message", msg);
	json_str(o, "host", host);
	cJSON_AddItemToObject(o, "context", cJSON_CreateObject());
	if (!cfg->alert_webhooks.n && !cfg->alert_ntfy.n && !cfg->alert_execs.n)
		fprintf(out, "no alert-webhook, alert-ntfy or alert-exec configured\n");
	alert_sender_push(s, o, true);
	alert_sender_drain(s);
	alert_sender_free(s);
	return failed ? 1 : 0;
}
