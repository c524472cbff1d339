/* The configuration: defaults, the `key = value` file and the command line.
 * Parsing never logs; errors come back as "FILE:LINE: reason". */
#ifndef SYSFEED_CONFIG_H
#define SYSFEED_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#define CONFIG_MAX_LISTEN 16
#define CONFIG_MAX_HOSTS  32
#define CONFIG_ERR_LEN    512
#define CONFIG_MAX_LIST   64

/* A list of glob patterns; "!pattern" excludes. See config_list_match. */
struct config_list {
	char *v[CONFIG_MAX_LIST];
	size_t n;
};

struct config {
	char *listen[CONFIG_MAX_LISTEN]; /* "ADDR:PORT", "[V6]:PORT" */
	size_t n_listen;
	bool listen_default; /* no listen given: bind failures are warnings */
	unsigned interval_ms;
	char *proc_root;
	char *sys_root;
	char *web_root; /* NULL: serve the embedded assets */
	size_t ring_bytes;
	unsigned max_clients;
	unsigned max_clients_per_address;
	size_t
	    connection_bytes; /* libmicrohttpd memory per connection: headers, then write buffer */
	char *allowed_hosts[CONFIG_MAX_HOSTS];
	size_t n_allowed_hosts;
	unsigned keepalive_s;
	unsigned stall_s;   /* a stream whose oldest unsent event is older is closed (0: never) */
	unsigned history_s; /* seconds of chart history in `snapshot` */

	/* collectors */
	unsigned top_n;                /* proc and svc: rows in each top list */
	struct config_list interfaces; /* net: interface names */
	struct config_list disks;      /* disk: device names (ram*, loop* off unless listed) */
	struct config_list fs_types;   /* fs: filesystem types */
	struct config_list mounts;     /* fs: mount points */
	unsigned fs_timeout_ms;        /* fs: a statvfs slower than this is "not responding" */

	unsigned log_priority; /* log: 0 (emerg) .. 7 (debug); entries above it are not sent */
	struct config_list log_units; /* log: units (or identifiers) to include, "!unit" excludes */
	char *log_match;              /* log: plain text an entry's message must contain, or NULL */
	unsigned log_backlog;         /* log: entries in `snapshot` */
	size_t log_backlog_bytes;     /* log: and at most this many JSON bytes of them */
	unsigned log_rate;            /* log: entries per second before batching and dropping */
	unsigned log_max_bytes;       /* log: a message is cut at this many bytes of JSON */
	char *journal_dir;            /* log: read this journal directory, not the system's */
	struct config_list watch;     /* file: paths to watch (directories recursively) */
	unsigned file_coalesce_ms;    /* file: bursts on one path within this merge */
	bool watch_default;           /* watch holds the default: the first `watch` replaces it */
};

/* A syslog priority by name (emerg..debug) or number (0..7), or -1. */
int config_priority(const char *s);

/* Fills *cfg with the defaults. */
void config_defaults(struct config *cfg);
void config_free(struct config *cfg);
/* Deep copy; returns 0 or -ENOMEM. */
int config_copy(struct config *dst, const struct config *src);

/* Sets one key from its text value. Returns 0, or -EINVAL/-ENOENT
 * (unknown key) with a reason in err. `listen` and `allowed-hosts`
 * accumulate; the first `listen` replaces the defaults. */
int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t err_len);

/* Parses a config file's text into cfg (on top of what cfg holds).
 * On error returns -EINVAL and err holds "NAME:LINE: reason". */
int config_parse(struct config *cfg, const char *name, const char *text, size_t len, char *err,
		 size_t err_len);

/* Reads and parses FILE, which must be a regular file (opened without
 * blocking, so a FIFO never hangs a reload); an unreadable file or any
 * other kind is "FILE:0: reason" ("FILE:0: not a regular file"). */
int config_load(struct config *cfg, const char *path, char *err, size_t err_len);

/* Whether name passes the list: the last pattern that matches decides
 * ("!pat" excludes); a name no pattern matches is included when the list
 * only excludes, excluded when it names some to include; an empty list
 * answers `dflt`. */
bool config_list_match(const struct config_list *list, const char *name, bool dflt);

/* Host header check: loopback names or an allowed host, any port. */
bool config_host_allowed(const struct config *cfg, const char *host);

#endif
