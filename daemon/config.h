/* The configuration: the daemon's keys and every collector's (each
 * collector declares its own, see collectors/collector.h), from the
 * defaults, the `key = value` file and the command line. Parsing never
 * logs; errors come back as "FILE:LINE: reason". */
#ifndef SYSFEED_CONFIG_H
#define SYSFEED_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "settings.h"

#define CONFIG_MAX_LISTEN     16
#define CONFIG_MAX_HOSTS      32
#define CONFIG_ERR_LEN        512
#define CONFIG_MAX_COLLECTORS 64

struct config {
	struct list
	    listen; /* "[https://]ADDR:PORT", "[V6]:PORT"; .dflt: bind failures are warnings */
	unsigned interval_ms;
	char *proc_root;
	char *sys_root;
	char *web_root; /* NULL: serve the embedded assets */
	size_t ring_bytes;
	unsigned max_clients;
	unsigned max_clients_per_address;
	size_t connection_bytes; /* libmicrohttpd memory per connection */
	struct list allowed_hosts;
	unsigned keepalive_s;
	unsigned stall_s;   /* a stream whose oldest unsent event is older is closed (0: never) */
	unsigned history_s; /* seconds of chart history in `snapshot` */
	/* alerts (daemon/alerts.h, docs/alerts.md) */
	struct list alert_webhooks, alert_ntfy, alert_execs;
	unsigned alert_timeout_ms, alert_retries, alert_exec_max, alert_queue;
	unsigned alert_repeat_s, alert_window_s, alert_rule_limit, alert_limit, alert_stock;
	char **alert_rules; /* the `alert = NAME: ...` lines, in order */
	size_t n_alert_rules;
	char *tls_cert, *tls_key;   /* PEM files for the https:// listeners */
	char *auth_users;           /* user:HASH lines (HTTP Basic) */
	char *auth_tokens;          /* NAME:sha256:HEX lines (bearer tokens) */
	struct list trusted_proxy;  /* addresses whose proxy header names the user */
	char *trusted_proxy_header; /* that header */
	unsigned auth_loopback;     /* loopback listeners ask for credentials too */
	char *state_dir;            /* where the history file lives; NULL: no history on disk */
	size_t history_max_bytes;
	unsigned history_flush_s;         /* seconds between the history's transactions */
	unsigned history_digits;          /* digits kept of each column's scale (0: exact) */
	void *col[CONFIG_MAX_COLLECTORS]; /* each collector's settings, by registry index */
};

#define CONFIG_MAX_FLAGS 64

/* Where a configuration comes from besides the defaults: a file, then
 * command-line flags as {key, value} (a `listen` flag replaces the file's
 * list). */
struct config_source {
	const char *path; /* NULL: none */
	const char *flags[CONFIG_MAX_FLAGS][2];
	size_t n_flags;
};

/* Defaults, then the file, then the flags. Returns 0, or -EINVAL with
 * "FILE:LINE: reason" or "--KEY: reason" in err (cfg is then freed). */
int config_build(struct config *cfg, const struct config_source *src, char *err, size_t err_len);

/* The daemon's own key table. */
const struct setting *config_daemon_keys(void);

/* Fills *cfg with the defaults; 0 or -ENOMEM. */
int config_defaults(struct config *cfg);
void config_free(struct config *cfg);
/* Deep copy; returns 0 or -ENOMEM. */
int config_copy(struct config *dst, const struct config *src);

/* Sets one key from its text value. Returns 0, or -EINVAL/-ENOENT
 * (unknown key) with a reason in err. Lists accumulate; the first value
 * replaces a default list. */
int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t err_len);

/* Parses a config file's text into cfg (on top of what cfg holds).
 * On error returns -EINVAL and err holds "NAME:LINE: reason". */
int config_parse(struct config *cfg, const char *name, const char *text, size_t len, char *err,
		 size_t err_len);

/* Reads and parses FILE, a regular file; an unreadable one is
 * "FILE:0: reason". */
int config_load(struct config *cfg, const char *path, char *err, size_t err_len);

/* A reload: moves what may change at once from fresh into running (fresh
 * keeps what running had, for config_free), names in `restart` the keys
 * that changed but take effect at the next start, and returns the
 * collectors (bit i: registry index i) whose live keys changed. */
uint64_t config_apply(struct config *running, struct config *fresh, char *restart, size_t len);

/* Every key as the file would set it, with the topics that own it and
 * whether it needs a restart (--print-config). */
void config_print(FILE *f, const struct config *cfg);

/* A `listen` word: strips an "https://" prefix (*ret_tls set), leaving
 * ADDR:PORT. */
const char *config_listen_addr(const char *word, bool *ret_tls);

/* Host header check: loopback names or an allowed host, any port. */
bool config_host_allowed(const struct config *cfg, const char *host);

#endif
