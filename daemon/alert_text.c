/* What a notification says: see alert_text.h. */
#include "alert_text.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <systemd/sd-journal.h>

#include "json.h"

static const cJSON *get(const cJSON *o, const char *key)
{
	return cJSON_GetObjectItemCaseSensitive(o, key);
}

/* A field as text: strings as they are, numbers as %g, null as "". */
static void text_of(const cJSON *o, const char *key, char *buf, size_t len)
{
	const cJSON *v = get(o, key);

	if (cJSON_IsString(v))
		snprintf(buf, len, "%s", v->valuestring);
	else if (cJSON_IsNumber(v) && v->valuedouble == (double)(long long)v->valuedouble)
		snprintf(buf, len, "%lld", (long long)v->valuedouble);
	else if (cJSON_IsNumber(v))
		snprintf(buf, len, "%g", v->valuedouble);
	else if (cJSON_IsBool(v))
		snprintf(buf, len, "%s", cJSON_IsTrue(v) ? "true" : "false");
	else if (len)
		buf[0] = '\0';
}

void alert_text_fields(const cJSON *a, struct alert_fields *f)
{
	bool resolved, critical;

	text_of(a, "name", f->name, sizeof(f->name));
	text_of(a, "state", f->state, sizeof(f->state));
	text_of(a, "severity", f->severity, sizeof(f->severity));
	text_of(a, "instance", f->instance, sizeof(f->instance));
	text_of(a, "value", f->value, sizeof(f->value));
	text_of(a, "threshold", f->threshold, sizeof(f->threshold));
	text_of(a, "since", f->since, sizeof(f->since));
	text_of(a, "t", f->t, sizeof(f->t));
	text_of(a, "host", f->host, sizeof(f->host));
	text_of(a, "message", f->message, sizeof(f->message));
	resolved = strcmp(f->state, "firing") != 0;
	critical = strcmp(f->severity, "critical") == 0;
	f->priority = resolved ? 5 : critical ? 2 : 4;
	f->ntfy_priority = resolved ? "default" : critical ? "urgent" : "high";
	f->ntfy_tags = resolved   ? "Tags: white_check_mark"
		       : critical ? "Tags: rotating_light"
				  : "Tags: warning";
}

/* Printable ASCII only: a header cannot be split or smuggled. */
static void ascii(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || (unsigned char)*s >= 0x7f)
			*s = '?';
}

void alert_text_title(const cJSON *a, char *buf, size_t len)
{
	struct alert_fields f;

	alert_text_fields(a, &f);
	snprintf(buf, len, "Title: [%s] %s %s%s%s", f.host, f.name, f.state,
		 f.instance[0] ? " " : "", f.instance);
	ascii(buf + 7);
}

struct buf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void add(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || b->oom)
		return;
	if (b->len + (size_t)n + 1 > b->cap) {
		size_t cap = (b->len + (size_t)n + 1) * 2;
		char *p = realloc(b->p, cap);

		if (!p) {
			b->oom = true;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

/* 1.5 GiB */
static void human_bytes(char *buf, size_t len, double v)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	size_t u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, len, "%.*f %s", u ? 1 : 0, v, units[u]);
}

/* "Top CPU: nginx (812) 25.4%, ..." from a context list. */
static void context_line(struct buf *b, const cJSON *ctx, const char *key, const char *title,
			 const char *what, const char *num, const char *unit)
{
	const cJSON *row;
	bool first = true;

	cJSON_ArrayForEach(row, get(ctx, key))
	{
		char name[128], id[32], v[64];

		text_of(row, what, name, sizeof(name));
		text_of(row, "pid", id, sizeof(id));
		text_of(row, num, v, sizeof(v));
		if (!strcmp(unit, "B") && cJSON_IsNumber(get(row, num)))
			human_bytes(v, sizeof(v), get(row, num)->valuedouble);
		add(b, "%s%s%s%s%s%s %s%s", first ? title : ", ", name, id[0] ? " (" : "", id,
		    id[0] ? ")" : "", "", v[0] ? v : "-", v[0] && strcmp(unit, "B") ? unit : "");
		first = false;
	}
	if (!first)
		add(b, "\n");
}

char *alert_text_body(const cJSON *a)
{
	const cJSON *ctx = get(a, "context"), *line;
	struct alert_fields f;
	struct buf b = {0};
	char unit[256];

	alert_text_fields(a, &f);
	add(&b, "%s\n", f.message);
	context_line(&b, ctx, "top_cpu", "Top CPU: ", "comm", "cpu_pct", "%");
	context_line(&b, ctx, "top_mem", "Top memory: ", "comm", "rss_bytes", "B");
	context_line(&b, ctx, "services_cpu", "Services by CPU: ", "unit", "cpu_pct", "%");
	context_line(&b, ctx, "services_mem", "Services by memory: ", "unit", "mem_bytes", "B");
	text_of(a, "unit", unit, sizeof(unit));
	if (cJSON_GetArraySize(get(ctx, "journal")) > 0)
		add(&b, "Journal of %s:\n", unit);
	cJSON_ArrayForEach(line, get(ctx, "journal"))
	{
		if (cJSON_IsString(line))
			add(&b, "  %s\n", line->valuestring);
	}
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}

char **alert_text_env(const cJSON *a, const char *json)
{
	static const char *const keys[] = {"name",  "state",     "severity", "instance",
					   "value", "threshold", "since",    "t",
					   "host",  "message",   "rule",     "unit"};
	size_t n = sizeof(keys) / sizeof(keys[0]);
	char **env = calloc(n + 5, sizeof(*env)), *body = alert_text_body(a);
	size_t k = 0;

	if (!env)
		goto out;
	for (size_t i = 0; i < n; i++) {
		char v[1024], up[32];

		text_of(a, keys[i], v, sizeof(v));
		for (size_t c = 0; c <= strlen(keys[i]); c++)
			up[c] = (char)(keys[i][c] >= 'a' && keys[i][c] <= 'z' ? keys[i][c] - 32
									      : keys[i][c]);
		if (asprintf(&env[k], "SYSFEED_ALERT_%s=%s", up, v) >= 0)
			k++;
	}
	if (asprintf(&env[k], "SYSFEED_ALERT_TEXT=%s", body ? body : "") >= 0)
		k++;
	if (asprintf(&env[k], "SYSFEED_ALERT_JSON=%s", json) >= 0)
		k++;
	if ((env[k] = strdup("PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin")))
		k++;
	env[k] = NULL;
out:
	free(body);
	return env;
}

void alert_text_add_journal(cJSON *a, const char *dir)
{
	const cJSON *u = get(a, "unit");
	cJSON *ctx = cJSON_GetObjectItemCaseSensitive(a, "context"), *lines;
	char match[300];
	sd_journal *j = NULL;
	const char *msg[ALERT_JOURNAL_LINES];
	size_t n = 0;

	if (!cJSON_IsString(u) || !u->valuestring[0] || !ctx ||
	    !(lines = cJSON_AddArrayToObject(ctx, "journal")))
		return;
	if ((dir ? sd_journal_open_directory(&j, dir, 0)
		 : sd_journal_open(&j, SD_JOURNAL_LOCAL_ONLY)) < 0)
		return;
	snprintf(match, sizeof(match), "_SYSTEMD_UNIT=%s", u->valuestring);
	sd_journal_add_match(j, match, 0);
	sd_journal_add_disjunction(j);
	snprintf(match, sizeof(match), "SYSLOG_IDENTIFIER=%s", u->valuestring);
	sd_journal_add_match(j, match, 0);
	if (sd_journal_seek_tail(j) < 0)
		goto out;
	while (n < ALERT_JOURNAL_LINES && sd_journal_previous(j) > 0) {
		const void *data;
		size_t len;

		if (sd_journal_get_data(j, "MESSAGE", &data, &len) < 0)
			continue;
		msg[n++] = strndup((const char *)data + 8, len - 8 > 512 ? 512 : len - 8);
	}
	while (n-- > 0) {
		if (msg[n])
			json_array_str(lines, msg[n]);
		free((char *)msg[n]);
	}
out:
	sd_journal_close(j);
}
