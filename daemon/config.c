/* The configuration: the daemon's keys and every collector's, each
 * described once in a table (lib/settings.h) with its default and whether
 * it takes effect at once or at the next start. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alert_rule.h"
#include "collector.h"
#include "fmt.h"

#define CONFIG_MAX_FILE (1 << 20)
#define OFF(f)          offsetof(struct config, f)

const char *config_listen_addr(const char *word, bool *ret_tls)
{
	*ret_tls = strncmp(word, "https://", 8) == 0;
	return *ret_tls ? word + 8 : word;
}

/* An IPv4 or IPv6 address, without a port. */
static int check_address(const char *value)
{
	unsigned char addr[sizeof(struct in6_addr)];

	return inet_pton(AF_INET, value, addr) == 1 || inet_pton(AF_INET6, value, addr) == 1
		   ? 0
		   : -EINVAL;
}

/* [https://]ADDR:PORT with ADDR an IPv4 address or [IPv6]; the port
 * 0..65535. */
static int check_listen(const char *word)
{
	bool tls;
	const char *value = config_listen_addr(word, &tls);
	char host[64];
	const char *colon = strrchr(value, ':');
	unsigned char addr[sizeof(struct in6_addr)];
	char *end;
	unsigned long port;
	size_t n;

	if (!colon || (n = (size_t)(colon - value)) >= sizeof(host) || n < 3 ||
	    !isdigit((unsigned char)colon[1]))
		return -EINVAL;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || port > 65535)
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

static int check_url(const char *value)
{
	return strncmp(value, "http://", 7) == 0 || strncmp(value, "https://", 8) == 0 ? 0
										       : -EINVAL;
}

static int check_path(const char *value)
{
	return value[0] == '/' ? 0 : -EINVAL;
}

/* The daemon's own keys. */
static const struct setting daemon_keys[] = {
    SETTING("listen", SET_LIST, OFF(listen), 0, CONFIG_MAX_LISTEN, "127.0.0.1:8390, [::1]:8390",
	    .restart = true, .check = check_listen,
	    .expect = "IPV4:PORT or [IPV6]:PORT, https:// before it for TLS"),
    SETTING("interval", SET_UINT, OFF(interval_ms), 100, 60000, "1000"),
    SETTING("proc-root", SET_STR, OFF(proc_root), 0, 0, "/proc", .restart = true),
    SETTING("sys-root", SET_STR, OFF(sys_root), 0, 0, "/sys", .restart = true),
    SETTING("web-root", SET_STR, OFF(web_root), 0, 0, NULL),
    SETTING("ring-bytes", SET_SIZE, OFF(ring_bytes), 65536, 1ULL << 30, "1M", .restart = true),
    SETTING("max-clients", SET_UINT, OFF(max_clients), 1, 100000, "1024", .restart = true),
    SETTING("max-clients-per-address", SET_UINT, OFF(max_clients_per_address), 1, 100000, "256",
	    .restart = true),
    SETTING("connection-bytes", SET_SIZE, OFF(connection_bytes), 4096, 65536, "5K",
	    .restart = true),
    SETTING("allowed-hosts", SET_LIST, OFF(allowed_hosts), 0, CONFIG_MAX_HOSTS, NULL),
    SETTING("keepalive", SET_UINT, OFF(keepalive_s), 1, 3600, "15"),
    SETTING("stall-timeout", SET_UINT, OFF(stall_s), 0, 3600, "30"),
    SETTING("history-seconds", SET_UINT, OFF(history_s), 0, 86400, "600", .restart = true),
    SETTING("alert-stock", SET_UINT, OFF(alert_stock), 0, 1, "1"),
    SETTING("alert-webhook", SET_LIST, OFF(alert_webhooks), 0, 16, NULL, .check = check_url,
	    .expect = "http:// or https:// URL"),
    SETTING("alert-ntfy", SET_LIST, OFF(alert_ntfy), 0, 16, NULL, .check = check_url,
	    .expect = "http:// or https:// URL"),
    SETTING("alert-exec", SET_LIST, OFF(alert_execs), 0, 8, NULL, .check = check_path,
	    .expect = "absolute path"),
    SETTING("alert-timeout-ms", SET_UINT, OFF(alert_timeout_ms), 100, 300000, "10000"),
    SETTING("alert-retries", SET_UINT, OFF(alert_retries), 0, 10, "3"),
    SETTING("alert-exec-max", SET_UINT, OFF(alert_exec_max), 1, 32, "4"),
    SETTING("alert-queue", SET_UINT, OFF(alert_queue), 1, 100000, "1024", .restart = true),
    SETTING("alert-repeat", SET_UINT, OFF(alert_repeat_s), 0, 604800, "0"),
    SETTING("alert-rate-window", SET_UINT, OFF(alert_window_s), 1, 86400, "3600"),
    SETTING("alert-rate-rule", SET_UINT, OFF(alert_rule_limit), 0, 100000, "10"),
    SETTING("alert-rate-total", SET_UINT, OFF(alert_limit), 0, 100000, "60"),
    SETTING("tls-cert", SET_STR, OFF(tls_cert), 0, 0, NULL),
    SETTING("tls-key", SET_STR, OFF(tls_key), 0, 0, NULL),
    SETTING("auth-users", SET_STR, OFF(auth_users), 0, 0, NULL),
    SETTING("auth-tokens", SET_STR, OFF(auth_tokens), 0, 0, NULL),
    SETTING("trusted-proxy", SET_LIST, OFF(trusted_proxy), 0, 4, NULL, .check = check_address,
	    .expect = "an IPv4 or IPv6 address"),
    SETTING("trusted-proxy-header", SET_STR, OFF(trusted_proxy_header), 0, 0, "X-Forwarded-User"),
    SETTING("auth-loopback", SET_BOOL, OFF(auth_loopback), 0, 1, "no"),
    SETTING("state-dir", SET_STR, OFF(state_dir), 0, 0, NULL, .restart = true),
    SETTING("history-max-bytes", SET_SIZE, OFF(history_max_bytes), 1ULL << 20, 1ULL << 40, "256M",
	    .restart = true),
    SETTING("history-flush-seconds", SET_UINT, OFF(history_flush_s), 1, 3600, "60",
	    .restart = true),
    SETTING("history-digits", SET_UINT, OFF(history_digits), 0, 6, "3", .restart = true),
    {0},
};

const struct setting *config_daemon_keys(void)
{
	return daemon_keys;
}

static void rules_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->n_alert_rules; i++)
		free(cfg->alert_rules[i]);
	free(cfg->alert_rules);
	cfg->alert_rules = NULL;
	cfg->n_alert_rules = 0;
}

/* `alert = NAME: RULE`, repeatable: checked at once, so that a bad rule is
 * FILE:LINE; a name given twice is an error. */
static int rule_add(struct config *cfg, const char *value, char *err, size_t err_len)
{
	struct alert_rule *r;
	char **v;
	int rc;

	if ((rc = alert_rule_parse(value, &r, err, err_len)) < 0)
		return rc;
	for (size_t i = 0; i < cfg->n_alert_rules; i++) {
		size_t n = strlen(r->name);

		if (strncmp(cfg->alert_rules[i], r->name, n) == 0 &&
		    cfg->alert_rules[i][n] == ':') {
			fmt_err(err, err_len, "alert %s: defined twice", r->name);
			alert_rule_free(r);
			return -EINVAL;
		}
	}
	alert_rule_free(r);
	if (!(v = realloc(cfg->alert_rules, (cfg->n_alert_rules + 1) * sizeof(*v))))
		return -ENOMEM;
	cfg->alert_rules = v;
	while (*value == ' ' || *value == '\t')
		value++;
	if (!(v[cfg->n_alert_rules] = strdup(value)))
		return -ENOMEM;
	cfg->n_alert_rules++;
	return 0;
}

int config_defaults(struct config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	if (settings_defaults(daemon_keys, cfg) < 0)
		goto fail;
	for (size_t i = 0; collector_registry[i] && i < CONFIG_MAX_COLLECTORS; i++) {
		const struct collector *c = collector_registry[i];

		if (!c->settings)
			continue;
		if (!(cfg->col[i] = calloc(1, c->settings_size)) ||
		    settings_defaults(c->settings, cfg->col[i]) < 0)
			goto fail;
	}
	return 0;
fail:
	config_free(cfg);
	return -ENOMEM;
}

void config_free(struct config *cfg)
{
	if (!cfg)
		return;
	settings_free(daemon_keys, cfg);
	rules_free(cfg);
	for (size_t i = 0; collector_registry[i] && i < CONFIG_MAX_COLLECTORS; i++) {
		settings_free(collector_registry[i]->settings, cfg->col[i]);
		free(cfg->col[i]);
		cfg->col[i] = NULL;
	}
}

int config_copy(struct config *dst, const struct config *src)
{
	struct config tmp = *src;

	memset(tmp.col, 0, sizeof(tmp.col));
	tmp.alert_rules = NULL;
	tmp.n_alert_rules = 0;
	if (settings_copy(daemon_keys, dst, &tmp, sizeof(tmp)) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < src->n_alert_rules; i++)
		if (rule_add(dst, src->alert_rules[i], NULL, 0) < 0) {
			config_free(dst);
			return -ENOMEM;
		}
	for (size_t i = 0; collector_registry[i] && i < CONFIG_MAX_COLLECTORS; i++) {
		const struct collector *c = collector_registry[i];

		if (!src->col[i])
			continue;
		if (!(dst->col[i] = malloc(c->settings_size)) ||
		    settings_copy(c->settings, dst->col[i], src->col[i], c->settings_size) < 0) {
			free(dst->col[i]);
			dst->col[i] = NULL;
			config_free(dst);
			return -ENOMEM;
		}
	}
	return 0;
}

int config_set(struct config *cfg, const char *key, const char *value, char *err, size_t err_len)
{
	const struct setting *s = settings_find(daemon_keys, key);
	bool found = false;

	if (s)
		return settings_set(s, cfg, value, err, err_len);
	if (strcmp(key, "alert") == 0)
		return rule_add(cfg, value, err, err_len);
	/* a collector's key; one that several share (top-n) goes to each */
	for (size_t i = 0; collector_registry[i] && i < CONFIG_MAX_COLLECTORS; i++) {
		int r;

		if (!cfg->col[i] || !(s = settings_find(collector_registry[i]->settings, key)))
			continue;
		if ((r = settings_set(s, cfg->col[i], value, err, err_len)) < 0)
			return r;
		found = true;
	}
	if (!found) {
		fmt_err(err, err_len, "unknown key '%s'", key);
		return -ENOENT;
	}
	return 0;
}

/* Appends ", name" (or "name") to a list of names, within len. */
static void name_add(char *buf, size_t len, const char *name)
{
	size_t n = strlen(buf);

	if (strstr(buf, name))
		return;
	snprintf(buf + n, len - n, "%s%s", n ? ", " : "", name);
}

uint64_t config_apply(struct config *running, struct config *fresh, char *restart, size_t len)
{
	uint64_t changed = 0;

	if (len)
		restart[0] = '\0';
	for (const struct setting *s = daemon_keys; s->name; s++)
		if (s->restart && !settings_equal(s, running, fresh))
			name_add(restart, len, s->name);
	settings_apply_live(daemon_keys, running, fresh);
	{ /* the rules change at once */
		char **v = running->alert_rules;
		size_t n = running->n_alert_rules;

		running->alert_rules = fresh->alert_rules;
		running->n_alert_rules = fresh->n_alert_rules;
		fresh->alert_rules = v;
		fresh->n_alert_rules = n;
	}
	for (size_t i = 0; collector_registry[i] && i < CONFIG_MAX_COLLECTORS; i++) {
		const struct setting *t = collector_registry[i]->settings;
		bool live = false;

		if (!running->col[i] || !fresh->col[i])
			continue;
		for (const struct setting *s = t; s->name; s++) {
			if (settings_equal(s, running->col[i], fresh->col[i]))
				continue;
			if (s->restart)
				name_add(restart, len, s->name);
			else
				live = true;
		}
		settings_apply_live(t, running->col[i], fresh->col[i]);
		if (live)
			changed |= 1ULL << i;
	}
	return changed;
}

/* One key as the file would set it, and in a comment the topics that own
 * it and whether a change needs a restart. */
static void print_key(FILE *f, const struct config *cfg, const struct setting *s, const void *base)
{
	char value[4096], note[256] = "";

	settings_format(s, base, value, sizeof(value));
	for (size_t i = 0; collector_registry[i] && i < CONFIG_MAX_COLLECTORS; i++)
		if (cfg->col[i] && settings_find(collector_registry[i]->settings, s->name))
			name_add(note, sizeof(note), collector_registry[i]->name);
	if (s->restart)
		name_add(note, sizeof(note), "restart");
	/* unset: commented out, so that the output reads back as it is */
	fprintf(f, "%s%s =%s%s%s%s\n", value[0] ? "" : "# ", s->name, value[0] ? " " : "", value,
		note[0] ? "  # " : "", note);
}

void config_print(FILE *f, const struct config *cfg)
{
	for (const struct setting *s = daemon_keys; s->name; s++)
		print_key(f, cfg, s, cfg);
	if (!cfg->n_alert_rules)
		fprintf(f, "# alert =\n");
	for (size_t i = 0; i < cfg->n_alert_rules; i++)
		fprintf(f, "alert = %s\n", cfg->alert_rules[i]);
	for (size_t i = 0; collector_registry[i] && i < CONFIG_MAX_COLLECTORS; i++) {
		const struct setting *t = collector_registry[i]->settings;

		for (const struct setting *s = t; cfg->col[i] && s && s->name; s++) {
			bool seen = false;

			for (size_t k = 0; k < i && !seen; k++)
				seen = cfg->col[k] &&
				       settings_find(collector_registry[k]->settings, s->name);
			if (!seen)
				print_key(f, cfg, s, cfg->col[i]);
		}
	}
}

int config_build(struct config *cfg, const struct config_source *src, char *err, size_t err_len)
{
	const char *state = getenv("STATE_DIRECTORY");
	bool listen_flag = false;

	if (config_defaults(cfg) < 0) {
		fmt_err(err, err_len, "out of memory");
		return -ENOMEM;
	}
	/* systemd's StateDirectory= (the first, when several) is the default */
	if (state && *state) {
		char dir[4096];

		snprintf(dir, sizeof(dir), "%.*s", (int)strcspn(state, ":"), state);
		if (config_set(cfg, "state-dir", dir, err, err_len) < 0)
			goto fail;
	}
	if (src->path && config_load(cfg, src->path, err, err_len) < 0)
		goto fail;
	for (size_t i = 0; i < src->n_flags; i++) {
		char reason[CONFIG_ERR_LEN - 64];

		if (strcmp(src->flags[i][0], "listen") == 0 && !listen_flag) {
			cfg->listen.dflt = true; /* the command line replaces the file's list */
			listen_flag = true;
		}
		const char *key = src->flags[i][0], *why = reason;
		size_t n = strlen(key);

		if (config_set(cfg, key, src->flags[i][1], reason, sizeof(reason)) < 0) {
			/* "--interval: bad value", not "--interval: interval: ..." */
			if (strncmp(why, key, n) == 0 && why[n] == ':' && why[n + 1] == ' ')
				why += n + 2;
			fmt_err(err, err_len, "--%.40s: %s", key, why);
			goto fail;
		}
	}
	return 0;
fail:
	config_free(cfg);
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
			fmt_err(err, err_len, "%s:%u: line longer than %zu bytes", name, lineno,
				sizeof(line) - 1);
			return -EINVAL;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		pos += n + 1;
		if (memchr(line, '\0', n)) {
			fmt_err(err, err_len, "%s:%u: NUL byte in line", name, lineno);
			return -EINVAL;
		}
		/* tabs, and a CR ending the line (CRLF files); no other control bytes */
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)line[i];

			if ((c < 0x20 && c != '\t' && !(c == '\r' && i + 1 == n)) || c == 0x7f) {
				fmt_err(err, err_len, "%s:%u: control character 0x%02x in line",
					name, lineno, c);
				return -EINVAL;
			}
		}
		key = trim(line);
		if (*key == '#' || *key == '\0')
			continue;
		if (!(eq = strchr(key, '='))) {
			fmt_err(err, err_len, "%s:%u: expected 'key = value'", name, lineno);
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
			fmt_err(err, err_len, "%s:%u: missing key before '='", name, lineno);
			return -EINVAL;
		}
		r = config_set(cfg, key, value, reason, sizeof(reason));
		if (r == -ENOMEM) {
			fmt_err(err, err_len, "%s:%u: out of memory", name, lineno);
			return r;
		}
		if (r < 0) {
			fmt_err(err, err_len, "%s:%u: %s", name, lineno, reason);
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
		fmt_err(err, err_len, "%s:0: cannot open: %s", path, strerror(-r));
		return r;
	}
	if (fstat(fd, &st) < 0) {
		r = -errno;
		fmt_err(err, err_len, "%s:0: cannot stat: %s", path, strerror(-r));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL;
		fmt_err(err, err_len, "%s:0: not a regular file", path);
		goto out;
	}
	for (;;) {
		ssize_t n;

		if (len == cap) {
			char *p;

			if (cap >= CONFIG_MAX_FILE) {
				fmt_err(err, err_len, "%s:0: larger than %d bytes", path,
					CONFIG_MAX_FILE);
				r = -EFBIG;
				goto out;
			}
			cap = cap ? cap * 2 : 4096;
			if (!(p = realloc(text, cap))) {
				r = -ENOMEM;
				fmt_err(err, err_len, "%s:0: out of memory", path);
				goto out;
			}
			text = p;
		}
		n = read(fd, text + len, cap - len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			r = -errno;
			fmt_err(err, err_len, "%s:0: cannot read: %s", path, strerror(errno));
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
	for (size_t i = 0; i < cfg->allowed_hosts.n; i++)
		if (host_is(host, len, cfg->allowed_hosts.v[i]))
			return true;
	return false;
}
