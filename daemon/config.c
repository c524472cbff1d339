#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#define CONFIG_MAX_FILE (1 << 20)

enum key_type { KEY_UINT, KEY_SIZE, KEY_PATH, KEY_LISTEN, KEY_HOSTS, KEY_LIST, KEY_PRIO };

struct key {
	const char *name;
	enum key_type type;
	size_t offset;
	unsigned long long min, max;
};

#define OFF(f) offsetof(struct config, f)

static const struct key keys[] = {
    {"listen", KEY_LISTEN, 0, 0, 0},
    {"interval", KEY_UINT, OFF(interval_ms), 100, 60000},
    {"proc-root", KEY_PATH, OFF(proc_root), 0, 0},
    {"sys-root", KEY_PATH, OFF(sys_root), 0, 0},
    {"web-root", KEY_PATH, OFF(web_root), 0, 0},
    {"ring-bytes", KEY_SIZE, OFF(ring_bytes), 65536, 1ULL << 30},
    {"max-clients", KEY_UINT, OFF(max_clients), 1, 100000},
    {"max-clients-per-address", KEY_UINT, OFF(max_clients_per_address), 1, 100000},
    {"connection-bytes", KEY_SIZE, OFF(connection_bytes), 4096, 65536},
    {"allowed-hosts", KEY_HOSTS, 0, 0, 0},
    {"keepalive", KEY_UINT, OFF(keepalive_s), 1, 3600},
    {"stall-timeout", KEY_UINT, OFF(stall_s), 0, 3600},
    {"history-seconds", KEY_UINT, OFF(history_s), 0, 86400},
    {"top-n", KEY_UINT, OFF(top_n), 1, 100},
    {"interfaces", KEY_LIST, OFF(interfaces), 0, 0},
    {"disks", KEY_LIST, OFF(disks), 0, 0},
    {"fs-types", KEY_LIST, OFF(fs_types), 0, 0},
    {"mounts", KEY_LIST, OFF(mounts), 0, 0},
    {"fs-timeout-ms", KEY_UINT, OFF(fs_timeout_ms), 10, 60000},
    {"log-priority", KEY_PRIO, OFF(log_priority), 0, 7},
    {"log-units", KEY_LIST, OFF(log_units), 0, 0},
    {"log-match", KEY_PATH, OFF(log_match), 0, 0},
    {"log-backlog", KEY_UINT, OFF(log_backlog), 0, 10000},
    {"log-backlog-bytes", KEY_SIZE, OFF(log_backlog_bytes), 0, 64ULL << 20},
    {"log-rate", KEY_UINT, OFF(log_rate), 1, 100000},
    {"log-max-bytes", KEY_UINT, OFF(log_max_bytes), 64, 65536},
    {"journal-dir", KEY_PATH, OFF(journal_dir), 0, 0},
    {"watch", KEY_LIST, OFF(watch), 0, 0},
    {"file-coalesce-ms", KEY_UINT, OFF(file_coalesce_ms), 0, 10000},
};

static void errf(char *err, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void errf(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!err || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

static int dup_opt(char **dst, const char *src)
{
	*dst = NULL;
	if (src && !(*dst = strdup(src)))
		return -ENOMEM;
	return 0;
}

void config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->listen[0] = strdup("127.0.0.1:8390");
	cfg->listen[1] = strdup("[::1]:8390");
	cfg->n_listen = 2;
	cfg->listen_default = true;
	cfg->interval_ms = 1000;
	cfg->proc_root = strdup("/proc");
	cfg->sys_root = strdup("/sys");
	cfg->ring_bytes = 2u << 20;
	cfg->max_clients = 1024;
	cfg->max_clients_per_address = 256;
	cfg->connection_bytes = 5120;
	cfg->keepalive_s = 15;
	cfg->stall_s = 30;
	cfg->history_s = 600;
	cfg->top_n = 15;
	cfg->fs_timeout_ms = 1000;
	cfg->log_priority = 6;
	cfg->log_backlog = 200;
	cfg->log_backlog_bytes = 256u << 10;
	cfg->log_rate = 500;
	cfg->log_max_bytes = 4096;
	cfg->file_coalesce_ms = 100;
	cfg->watch.v[0] = strdup("/etc");
	cfg->watch.n = 1;
	cfg->watch_default = true;
}

static void list_free(struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	l->n = 0;
}

static int list_copy(struct config_list *dst, const struct config_list *src)
{
	int r = 0;

	*dst = *src;
	for (size_t i = 0; i < src->n; i++)
		r |= dup_opt(&dst->v[i], src->v[i]);
	return r;
}

/* Appends comma- or blank-separated words to a list. */
static int list_add(struct config_list *l, const char *key, const char *value, char *err,
		    size_t err_len)
{
	char *copy = strdup(value), *save = NULL, *tok;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (l->n >= CONFIG_MAX_LIST) {
			errf(err, err_len, "%s: more than %d entries", key, CONFIG_MAX_LIST);
			r = -EINVAL;
			goto out;
		}
		if (!(l->v[l->n] = strdup(tok))) {
			r = -ENOMEM;
			goto out;
		}
		l->n++;
	}
out:
	free(copy);
	return r;
}

int config_priority(const char *s)
{
	static const char *const names[] = {"emerg",   "alert",  "crit", "err",
					    "warning", "notice", "info", "debug"};

	if (s[0] >= '0' && s[0] <= '7' && s[1] == '\0')
		return s[0] - '0';
	for (int i = 0; i < 8; i++)
		if (strcmp(s, names[i]) == 0)
			return i;
	return -1;
}

bool config_list_match(const struct config_list *list, const char *name, bool dflt)
{
	bool any_include = false, result;
	int last = -1;

	if (list->n == 0)
		return dflt;
	for (size_t i = 0; i < list->n; i++) {
		const char *pat = list->v[i];
		bool neg = pat[0] == '!';

		any_include |= !neg;
		if (fnmatch(neg ? pat + 1 : pat, name, 0) == 0)
			last = (int)i;
	}
	if (last < 0)
		result = !any_include;
	else
		result = list->v[last][0] != '!';
	return result;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	for (size_t i = 0; i < cfg->n_listen; i++)
		free(cfg->listen[i]);
	for (size_t i = 0; i < cfg->n_allowed_hosts; i++)
		free(cfg->allowed_hosts[i]);
	free(cfg->proc_root);
	free(cfg->sys_root);
	free(cfg->web_root);
	list_free(&cfg->interfaces);
	list_free(&cfg->disks);
	list_free(&cfg->fs_types);
	list_free(&cfg->mounts);
	list_free(&cfg->log_units);
	list_free(&cfg->watch);
	free(cfg->log_match);
	free(cfg->journal_dir);
	memset(cfg, 0, sizeof(*cfg));
}

int config_copy(struct config *dst, const struct config *src)
{
	int r = 0;

	*dst = *src;
	for (size_t i = 0; i < src->n_listen; i++)
		r |= dup_opt(&dst->listen[i], src->listen[i]);
	for (size_t i = 0; i < src->n_allowed_hosts; i++)
		r |= dup_opt(&dst->allowed_hosts[i], src->allowed_hosts[i]);
	r |= dup_opt(&dst->proc_root, src->proc_root);
	r |= dup_opt(&dst->sys_root, src->sys_root);
	r |= dup_opt(&dst->web_root, src->web_root);
	r |= list_copy(&dst->interfaces, &src->interfaces);
	r |= list_copy(&dst->disks, &src->disks);
	r |= list_copy(&dst->fs_types, &src->fs_types);
	r |= list_copy(&dst->mounts, &src->mounts);
	r |= list_copy(&dst->log_units, &src->log_units);
	r |= list_copy(&dst->watch, &src->watch);
	r |= dup_opt(&dst->log_match, src->log_match);
	r |= dup_opt(&dst->journal_dir, src->journal_dir);
	if (r) {
		config_free(dst);
		return -ENOMEM;
	}
	return 0;
}

/* Decimal number with an optional K/M/G suffix (powers of 1024) for sizes. */
static int parse_number(const char *value, bool allow_suffix, unsigned long long *ret)
{
	unsigned long long v;
	char *end;

	if (!isdigit((unsigned char)value[0]))
		return -EINVAL;
	errno = 0;
	v = strtoull(value, &end, 10);
	if (errno)
		return -EINVAL;
	if (allow_suffix && *end) {
		unsigned shift = 0;

		switch (toupper((unsigned char)*end)) {
		case 'K':
			shift = 10;
			break;
		case 'M':
			shift = 20;
			break;
		case 'G':
			shift = 30;
			break;
		default:
			return -EINVAL;
		}
		end++;
		if (toupper((unsigned char)*end) == 'I')
			end++;
		if (toupper((unsigned char)*end) == 'B')
			end++;
		if (v > (ULLONG_MAX >> shift))
			return -EINVAL;
		v <<= shift;
	}
	if (*end)
		return -EINVAL;
	*ret = v;
	return 0;
}

/* ADDR:PORT with ADDR an IPv4 address or [IPv6]; the port 0..65535. */
static int check_listen(const char *value)
{
	char host[64];
	const char *colon = strrchr(value, ':');
	unsigned char addr[sizeof(struct in6_addr)];
	unsigned long long port;
	size_t n;

	if (!colon || (n = (size_t)(colon - value)) >= sizeof(host) || n < 3)
		return -EINVAL;
	if (parse_number(colon + 1, false, &port) < 0 || port > 65535)
		return -EINVAL;
	if (value[0] == '[') {
		if (value[n - 1] != ']')
			return -EINVAL;
		memcpy(host, value + 1, n - 2);
		host[n - 2] = '\0';
		return inet_pton(AF_INET6, host, addr) == 1 ? 0 : -EINVAL;
	}
	memcpy(host, value, n);
	host[n] = '\0';
	return inet_pton(AF_INET, host, addr) == 1 ? 0 : -EINVAL;
}

static int add_hosts(struct config *cfg, const char *value, char *err, size_t err_len)
{
	char *copy = strdup(value), *save = NULL, *tok;
	int r = 0;

	if (!copy)
		return -ENOMEM;
	for (tok = strtok_r(copy, ", \t", &save); tok; tok = strtok_r(NULL, ", \t", &save)) {
		if (cfg->n_allowed_hosts >= CONFIG_MAX_HOSTS) {
			errf(err, err_len, "allowed-hosts: more than %d names", CONFIG_MAX_HOSTS);
			r = -EINVAL;
			goto out;
		}
		if (!(cfg->allowed_hosts[cfg->n_allowed_hosts] = strdup(tok))) {
			r = -ENOMEM;
			goto out;
		}
		cfg->n_allowed_hosts++;
	}
out:
	free(copy);
	return r;
}

int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t err_len)
{
	const struct key *k = NULL;
	unsigned long long v;
	char *s;

	for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++)
		if (strcmp(keys[i].name, key) == 0)
			k = &keys[i];
	if (!k) {
		errf(err, err_len, "unknown key '%s'", key);
		return -ENOENT;
	}
	if (!*value) {
		errf(err, err_len, "%s: empty value", key);
		return -EINVAL;
	}
	switch (k->type) {
	case KEY_UINT:
	case KEY_SIZE:
		if (parse_number(value, k->type == KEY_SIZE, &v) < 0 || v < k->min || v > k->max) {
			errf(err, err_len, "%s: bad value '%s' (expected %llu to %llu)", key, value,
			     k->min, k->max);
			return -EINVAL;
		}
		if (k->type == KEY_UINT)
			*(unsigned *)((char *)cfg + k->offset) = (unsigned)v;
		else
			*(size_t *)((char *)cfg + k->offset) = (size_t)v;
		return 0;
	case KEY_PATH:
		if (!(s = strdup(value)))
			return -ENOMEM;
		free(*(char **)((char *)cfg + k->offset));
		*(char **)((char *)cfg + k->offset) = s;
		return 0;
	case KEY_LISTEN:
		if (check_listen(value) < 0) {
			errf(err, err_len,
			     "listen: bad address '%s' (expected IPV4:PORT or [IPV6]:PORT)", value);
			return -EINVAL;
		}
		if (cfg->listen_default) {
			for (size_t i = 0; i < cfg->n_listen; i++)
				free(cfg->listen[i]);
			cfg->n_listen = 0;
			cfg->listen_default = false;
		}
		if (cfg->n_listen >= CONFIG_MAX_LISTEN) {
			errf(err, err_len, "listen: more than %d addresses", CONFIG_MAX_LISTEN);
			return -EINVAL;
		}
		if (!(cfg->listen[cfg->n_listen] = strdup(value)))
			return -ENOMEM;
		cfg->n_listen++;
		return 0;
	case KEY_HOSTS:
		return add_hosts(cfg, value, err, err_len);
	case KEY_PRIO:
		if ((v = (unsigned long long)config_priority(value)) > 7) {
			errf(err, err_len,
			     "%s: bad value '%s' (expected 0 to 7 or emerg, alert, crit, err, "
			     "warning, notice, info, debug)",
			     key, value);
			return -EINVAL;
		}
		*(unsigned *)((char *)cfg + k->offset) = (unsigned)v;
		return 0;
	case KEY_LIST:
		if (k->offset == OFF(watch) && cfg->watch_default) {
			list_free(&cfg->watch); /* the first `watch` replaces the default */
			cfg->watch_default = false;
		}
		return list_add((struct config_list *)((char *)cfg + k->offset), key, value, err,
				err_len);
	}
	return -EINVAL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
		*--e = '\0';
	return s;
}

int config_parse(struct config *cfg, const char *name, const char *text, size_t len, char *err,
		 size_t err_len)
{
	char line[4096];
	size_t pos = 0;
	unsigned lineno = 0;

	while (pos < len) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char *key, *value, *eq, reason[CONFIG_ERR_LEN];
		int r;

		lineno++;
		if (n >= sizeof(line)) {
			errf(err, err_len, "%s:%u: line longer than %zu bytes", name, lineno,
			     sizeof(line) - 1);
			return -EINVAL;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (memchr(line, '\0', n)) {
			errf(err, err_len, "%s:%u: NUL byte in line", name, lineno);
			return -EINVAL;
		}
		key = trim(line);
		if (*key == '#' || *key == '\0')
			continue;
		if (!(eq = strchr(key, '='))) {
			errf(err, err_len, "%s:%u: expected 'key = value'", name, lineno);
			return -EINVAL;
		}
		*eq = '\0';
		value = eq + 1;
		/* a comment may follow the value after whitespace */
		for (char *h = value; (h = strchr(h, '#')); h++)
			if (h == value || h[-1] == ' ' || h[-1] == '\t') {
				*h = '\0';
				break;
			}
		key = trim(key);
		value = trim(value);
		if (!*key) {
			errf(err, err_len, "%s:%u: missing key before '='", name, lineno);
			return -EINVAL;
		}
		r = config_set(cfg, key, value, reason, sizeof(reason));
		if (r == -ENOMEM) {
			errf(err, err_len, "%s:%u: out of memory", name, lineno);
			return r;
		}
		if (r < 0) {
			errf(err, err_len, "%s:%u: %s", name, lineno, reason);
			return -EINVAL;
		}
	}
	return 0;
}

int config_load(struct config *cfg, const char *path, char *err, size_t err_len)
{
	char *text = NULL;
	size_t len = 0, cap = 0;
	struct stat st;
	int fd, r = 0;

	/* O_NONBLOCK: a FIFO or a device must not hang the loop (SIGHUP) */
	fd = open(path, O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		errf(err, err_len, "%s:0: cannot open: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		errf(err, err_len, "%s:0: cannot stat: %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		errf(err, err_len, "%s:0: not a regular file", path);
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *p;

			if (cap >= CONFIG_MAX_FILE) {
				errf(err, err_len, "%s:0: larger than %d bytes", path,
				     CONFIG_MAX_FILE);
				r = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 4096;
			if (!(p = realloc(text, cap))) {
				r = -ENOMEM;
				errf(err, err_len, "%s:0: out of memory", path);
				goto out;
			}
			text = p;
		}
		n = read(fd, text + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			errf(err, err_len, "%s:0: cannot read: %s", path, strerror(errno));
			goto out;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	r = config_parse(cfg, path, text ? text : "", len, err, err_len);
out:
	free(text);
	close(fd);
	return r;
}

/* Compares the host part of a Host header (port stripped) with name. */
static bool host_is(const char *host, size_t host_len, const char *name)
{
	return strlen(name) == host_len && strncasecmp(host, name, host_len) == 0;
}

bool config_host_allowed(const struct config *cfg, const char *host)
{
	static const char *const loopback[] = {"localhost", "127.0.0.1", "[::1]"};
	size_t len;
	const char *colon;

	if (!host)
		return true; /* HTTP/1.0 without Host: not a browser */
	if (host[0] == '[') {
		const char *close = strchr(host, ']');

		if (!close)
			return false;
		len = (size_t)(close - host) + 1;
		colon = close[1] ? close + 1 : NULL;
	} else {
		colon = strchr(host, ':');
		len = colon ? (size_t)(colon - host) : strlen(host);
	}
	if (colon) {
		if (colon[0] != ':' || !colon[1])
			return false;
		for (const char *p = colon + 1; *p; p++)
			if (*p < '0' || *p > '9')
				return false;
	}
	for (size_t i = 0; i < sizeof(loopback) / sizeof(loopback[0]); i++)
		if (host_is(host, len, loopback[i]))
			return true;
	for (size_t i = 0; i < cfg->n_allowed_hosts; i++)
		if (host_is(host, len, cfg->allowed_hosts[i]))
			return true;
	return false;
}
