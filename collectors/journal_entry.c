/* The `log` topic's entries: raw fields in, filters, JSON out. */
#include "journal_entry.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "array.h"
#include "journal.h"
#include "settings.h"
#include "utf8.h"

static const char *const priority_names[] = {"emerg",   "alert",  "crit", "err",
					     "warning", "notice", "info", "debug"};

const char *journal_priority_name(int prio)
{
	return prio >= 0 && prio <= 7 ? priority_names[prio] : NULL;
}

void journal_raw_free(struct journal_raw *raw)
{
	ARRAY_FREE(raw->message, raw->message_cap, raw->message_len);
}

void journal_raw_reset(struct journal_raw *raw)
{
	raw->realtime_us = 0;
	raw->priority = -1;
	raw->systemd_unit[0] = '\0';
	raw->identifier[0] = '\0';
	raw->comm[0] = '\0';
	raw->transport[0] = '\0';
	raw->pid[0] = '\0';
	raw->has_message = false;
	raw->message_len = 0;
	raw->cursor[0] = '\0';
}

/* Copies a value into a short field, cut to fit; a NUL ends it early. */
static void journal_copy_short(char *dst, size_t size, const char *v, size_t len)
{
	if (len > size - 1)
		len = size - 1;
	memcpy(dst, v, len);
	dst[len] = '\0';
}

/* Whether data is "NAME=..." for this name; sets the value. */
static bool journal_field_is(const char *data, size_t len, const char *name, const char **ret_v,
			     size_t *ret_len)
{
	size_t n = strlen(name);

	if (len <= n || memcmp(data, name, n) != 0 || data[n] != '=')
		return false;
	*ret_v = data + n + 1;
	*ret_len = len - n - 1;
	return true;
}

int journal_raw_add(struct journal_raw *raw, const void *data, size_t len)
{
	const char *d = data, *v;
	size_t vlen;

	if (journal_field_is(d, len, "MESSAGE", &v, &vlen)) {
		if (vlen > raw->message_cap) {
			char *m = realloc(raw->message, vlen);

			if (!m)
				return -ENOMEM;
			raw->message = m;
			raw->message_cap = vlen;
		}
		if (vlen)
			memcpy(raw->message, v, vlen);
		raw->message_len = vlen;
		raw->has_message = true;
	} else if (journal_field_is(d, len, "PRIORITY", &v, &vlen)) {
		raw->priority = vlen == 1 && v[0] >= '0' && v[0] <= '7' ? v[0] - '0' : -1;
	} else if (journal_field_is(d, len, "_SYSTEMD_UNIT", &v, &vlen)) {
		journal_copy_short(raw->systemd_unit, sizeof(raw->systemd_unit), v, vlen);
	} else if (journal_field_is(d, len, "SYSLOG_IDENTIFIER", &v, &vlen)) {
		journal_copy_short(raw->identifier, sizeof(raw->identifier), v, vlen);
	} else if (journal_field_is(d, len, "_COMM", &v, &vlen)) {
		journal_copy_short(raw->comm, sizeof(raw->comm), v, vlen);
	} else if (journal_field_is(d, len, "_TRANSPORT", &v, &vlen)) {
		journal_copy_short(raw->transport, sizeof(raw->transport), v, vlen);
	} else if (journal_field_is(d, len, "_PID", &v, &vlen)) {
		journal_copy_short(raw->pid, sizeof(raw->pid), v, vlen);
	}
	return 0;
}

int journal_raw_level(const struct journal_raw *raw)
{
	return raw->priority >= 0 ? raw->priority : JOURNAL_PRIO_DFLT;
}

const char *journal_raw_unit(const struct journal_raw *raw)
{
	return raw->systemd_unit[0] ? raw->systemd_unit : raw->identifier;
}

/* ASCII case-insensitive search of a NUL-terminated needle in bytes. */
static bool journal_contains(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return true;
	for (size_t i = 0; i + n <= len; i++)
		if (strncasecmp(hay + i, needle, n) == 0)
			return true;
	return false;
}

bool journal_raw_pass(const struct journal_raw *raw, const struct journal_settings *set)
{
	if (journal_raw_level(raw) > (int)set->priority)
		return false;
	if (!list_match(&set->units, journal_raw_unit(raw), true))
		return false;
	if (set->match && *set->match &&
	    !journal_contains(raw->message ? raw->message : "", raw->message_len, set->match))
		return false;
	return true;
}

bool journal_is_binary(const char *p, size_t len)
{
	return len && memchr(p, '\0', len) != NULL;
}

/* Adds a sanitised short field, or null when it is empty. */
static bool journal_add_short(cJSON *o, const char *key, const char *v)
{
	char *clean;
	cJSON *item;

	if (!*v)
		return cJSON_AddNullToObject(o, key) != NULL;
	if (utf8_dup(v, strlen(v), JOURNAL_SHORT_MAX, &clean, NULL) < 0)
		return false;
	item = cJSON_AddStringToObject(o, key, clean);
	free(clean);
	return item != NULL;
}

cJSON *journal_entry_json(const struct journal_raw *raw, unsigned max_bytes)
{
	const char *ident = raw->identifier[0] ? raw->identifier : raw->comm;
	int level = journal_raw_level(raw);
	bool truncated = false, binary = false, ok;
	char *msg = NULL, *end = NULL;
	unsigned long long pid;
	cJSON *o = cJSON_CreateObject();

	if (!o)
		return NULL;
	if (!raw->has_message) {
		msg = strdup("");
	} else if (journal_is_binary(raw->message, raw->message_len)) {
		binary = true;
		if (asprintf(&msg, "[%zu bytes of binary data]", raw->message_len) < 0)
			msg = NULL;
	} else if (utf8_dup(raw->message, raw->message_len, max_bytes, &msg, &truncated) < 0) {
		msg = NULL;
	}
	errno = 0;
	pid = raw->pid[0] >= '0' && raw->pid[0] <= '9' ? strtoull(raw->pid, &end, 10) : 0;
	ok = msg && cJSON_AddNumberToObject(o, "ts", (double)(raw->realtime_us / 1000)) &&
	     cJSON_AddNumberToObject(o, "priority", level) &&
	     cJSON_AddStringToObject(o, "priority_name", journal_priority_name(level)) &&
	     journal_add_short(o, "unit", journal_raw_unit(raw)) &&
	     journal_add_short(o, "identifier", ident);
	if (ok && end && !*end && errno == 0 && pid > 0)
		ok = cJSON_AddNumberToObject(o, "pid", (double)pid) != NULL;
	else if (ok)
		ok = cJSON_AddNullToObject(o, "pid") != NULL;
	ok = ok && journal_add_short(o, "transport", raw->transport) &&
	     cJSON_AddStringToObject(o, "message", msg);
	if (ok && truncated)
		ok = cJSON_AddTrueToObject(o, "truncated") != NULL;
	if (ok && binary)
		ok = cJSON_AddTrueToObject(o, "binary") != NULL;
	ok = ok && cJSON_AddStringToObject(o, "cursor", raw->cursor);
	free(msg);
	if (!ok) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

/* Reads "s=" (the sequence number id) and "i=" (the sequence number, hex)
 * of a cursor. */
static bool journal_cursor_seq(const char *c, const char **ret_id, size_t *ret_id_len,
			       uint64_t *ret_seq)
{
	const char *id = NULL, *i = NULL;
	char *end;

	for (const char *p = c; p && *p; p = strchr(p, ';') ? strchr(p, ';') + 1 : NULL) {
		if (strncmp(p, "s=", 2) == 0)
			id = p + 2;
		else if (strncmp(p, "i=", 2) == 0)
			i = p + 2;
	}
	if (!id || !i)
		return false;
	errno = 0;
	*ret_seq = strtoull(i, &end, 16);
	if (errno || end == i || (*end && *end != ';'))
		return false;
	*ret_id = id;
	*ret_id_len = strcspn(id, ";");
	return true;
}

void journal_raw_set_cursor(struct journal_raw *raw, const char *cursor)
{
	journal_copy_short(raw->cursor, sizeof(raw->cursor), cursor, strlen(cursor));
}

bool journal_cursor_not_after(const char *a, const char *b)
{
	const char *ida, *idb;
	size_t la, lb;
	uint64_t sa, sb;

	if (!journal_cursor_seq(a, &ida, &la, &sa) || !journal_cursor_seq(b, &idb, &lb, &sb))
		return false;
	return la == lb && memcmp(ida, idb, la) == 0 && sa <= sb;
}

cJSON *journal_payload(int64_t t_ms, char *const *entries, size_t n, uint64_t dropped)
{
	cJSON *o = cJSON_CreateObject(), *arr;

	if (!o || !cJSON_AddNumberToObject(o, "t", (double)t_ms) ||
	    !(arr = cJSON_AddArrayToObject(o, "entries")))
		goto fail;
	for (size_t i = 0; i < n; i++) {
		cJSON *raw = cJSON_CreateRaw(entries[i]);

		if (!raw)
			goto fail;
		cJSON_AddItemToArray(arr, raw);
	}
	if (!cJSON_AddNumberToObject(o, "dropped", (double)dropped))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}
