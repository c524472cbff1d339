/* The pure part of the `log` topic: journal_raw_add() on an entry's data
 * items and journal_entry_json(). Input: a byte choosing log-max-bytes,
 * then "FIELD=value" items separated by 0x1e (values may hold any other
 * byte, NUL included). Checks the entry JSON as the daemon promises it
 * (valid UTF-8 whatever the journal holds), the message cut to at most
 * max bytes of JSON and "truncated" only when it had to be, short fields
 * null exactly when absent, and log-match against the message. */
#include "fuzz.h"

#include <ctype.h>

#include "config.h"
#include "journal.h"
#include "journal_entry.h"

/* The bytes a string takes in JSON, quotes aside. */
static size_t string_width(const cJSON *s)
{
	char *text = json_print(s, NULL);
	size_t n;

	FUZZ_CHECK(text);
	n = strlen(text) - 2;
	free(text);
	return n;
}

static bool contains_nocase(const char *hay, size_t len, const char *needle)
{
	size_t n = strlen(needle);

	for (size_t i = 0; i + n <= len; i++) {
		size_t k = 0;

		while (k < n &&
		       tolower((unsigned char)hay[i + k]) == tolower((unsigned char)needle[k]))
			k++;
		if (k == n)
			return true;
	}
	return n == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const unsigned maxes[] = {64, 65, 70, 100, 128, 256, 4096, 65536};
	struct fuzz_in in = {data, size};
	unsigned max = maxes[fuzz_byte(&in) % 8];
	struct journal_raw raw = {0};
	const char *last = NULL;
	size_t last_len = 0;
	struct config cfg;
	struct journal_settings *set;
	cJSON *e, *msg, *unit;
	bool truncated;

	journal_raw_reset(&raw);
	raw.realtime_us = 1700000000123456;
	snprintf(raw.cursor, sizeof(raw.cursor), "s=abc;i=%zx", size);
	while (in.n > 0) {
		const uint8_t *sep = memchr(in.p, 0x1e, in.n);
		size_t n = sep ? (size_t)(sep - in.p) : in.n;
		char *item = fuzz_dup(in.p, n);

		FUZZ_CHECK(journal_raw_add(&raw, item, n) == 0);
		free(item);
		last = (const char *)in.p;
		last_len = n;
		in.p += n + (sep != NULL);
		in.n -= n + (sep != NULL);
	}
	FUZZ_CHECK(journal_raw_level(&raw) >= 0 && journal_raw_level(&raw) <= 7);
	e = journal_entry_json(&raw, max);
	fuzz_check_json(e);
	msg = cJSON_GetObjectItem(e, "message");
	truncated = cJSON_IsTrue(cJSON_GetObjectItem(e, "truncated"));
	FUZZ_CHECK(cJSON_IsString(msg));
	if (raw.has_message && !journal_is_binary(raw.message, raw.message_len)) {
		size_t w = string_width(msg);

		FUZZ_CHECK(w <= max);
		/* a cut stops before a character of at most 6 bytes of JSON */
		FUZZ_CHECK(!truncated || w + 6 > max);
		if (!truncated && fuzz_utf8_valid(raw.message, raw.message_len))
			FUZZ_CHECK(strlen(msg->valuestring) == raw.message_len &&
				   (!raw.message_len ||
				    memcmp(msg->valuestring, raw.message, raw.message_len) == 0));
	} else {
		FUZZ_CHECK(!truncated);
	}
	unit = cJSON_GetObjectItem(e, "unit");
	FUZZ_CHECK(cJSON_IsNull(unit) == !*journal_raw_unit(&raw));
	FUZZ_CHECK(cJSON_IsNull(cJSON_GetObjectItem(e, "transport")) == !raw.transport[0]);
	FUZZ_CHECK(strcmp(cJSON_GetStringValue(cJSON_GetObjectItem(e, "priority_name")),
			  journal_priority_name(journal_raw_level(&raw))) == 0);
	cJSON_Delete(e);

	/* log-match: the last item, as a plain case-insensitive substring */
	config_defaults(&cfg);
	set = cfg.col[collector_topic(journal_collector.name)];
	set->priority = 7;
	if (last && last_len && !memchr(last, '\0', last_len)) {
		set->match = strndup(last, last_len);
		FUZZ_CHECK(set->match);
		FUZZ_CHECK(
		    journal_raw_pass(&raw, set) ==
		    contains_nocase(raw.message ? raw.message : "", raw.message_len, set->match));
	}
	config_free(&cfg);
	journal_raw_free(&raw);
	return 0;
}
