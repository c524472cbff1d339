/* What a notification says, from an alert's JSON (the `alert` event with
 * its context): journal fields, an ntfy title and text, a command's
 * environment, and the unit's last journal lines added to the context.
 * Used on the senders thread. */
#ifndef SYSFEED_ALERT_TEXT_H
#define SYSFEED_ALERT_TEXT_H

#include <cjson/cJSON.h>

#define ALERT_JOURNAL_LINES 5

struct alert_fields {
	char name[64], state[16], severity[16], instance[256], value[128], threshold[64];
	char since[32], t[32], host[256], message[1024];
	int priority;              /* syslog: crit, warning; notice when resolved */
	const char *ntfy_priority; /* urgent, high, default */
	const char *ntfy_tags;     /* "Tags: ..." header */
};

void alert_text_fields(const cJSON *alert, struct alert_fields *ret);
/* "Title: ..." header, one line of printable ASCII. */
void alert_text_title(const cJSON *alert, char *buf, size_t len);
/* The message, then the context in lines: malloc'd, NULL without memory. */
char *alert_text_body(const cJSON *alert);
/* SYSFEED_ALERT_* variables and PATH, NULL-terminated, malloc'd. */
char **alert_text_env(const cJSON *alert, const char *json);
/* context.journal: the last lines of the alert's unit (when it has one),
 * read from the files in dir (journal-dir), or the local journal (NULL). */
void alert_text_add_journal(cJSON *alert, const char *dir);

#endif
