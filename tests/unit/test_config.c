/* The config parser: defaults, every key, every error path. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "disk.h"
#include "file.h"
#include "fixture.h"
#include "fs.h"
#include "journal.h"
#include "net.h"

static char err[CONFIG_ERR_LEN];

static int parse(struct config *cfg, const char *text)
{
	config_defaults(cfg);
	err[0] = '\0';
	return config_parse(cfg, "t.conf", text, strlen(text), err, sizeof(err));
}

TEST(test_defaults)
{
	struct config cfg;

	config_defaults(&cfg);
	assert_int_equal(cfg.listen.n, 2);
	assert_string_equal(cfg.listen.v[0], "127.0.0.1:8390");
	assert_string_equal(cfg.listen.v[1], "[::1]:8390");
	assert_true(cfg.listen.dflt);
	assert_int_equal(cfg.interval_ms, 1000);
	assert_int_equal(cfg.ring_bytes, 1 << 20);
	assert_int_equal(cfg.keepalive_s, 15);
	assert_string_equal(cfg.proc_root, "/proc");
	assert_null(cfg.web_root);
	assert_int_equal(COLSET(&cfg, journal)->backlog, 200);
	assert_int_equal(COLSET(&cfg, journal)->backlog_bytes, 256 << 10);
	config_free(&cfg);
}

TEST(test_good_file)
{
	struct config cfg, copy;

	assert_int_equal(parse(&cfg, "# comment\n"
				     "\n"
				     "  interval = 250   # trailing comment\n"
				     "listen=127.0.0.1:0\n"
				     "listen = [::1]:9000\r\n"
				     "ring-bytes = 8M\n"
				     "allowed-hosts = mon.example, box.lan\n"
				     "allowed-hosts = third\n"
				     "web-root = /srv/web#not-a-comment\n"
				     "proc-root = /tmp/proc\n"
				     "keepalive = 1\n"
				     "log-backlog-bytes = 64K\n"
				     "listen = https://[::]:8443\n"
				     "auth-loopback = Yes\n"
				     "trusted-proxy = 10.0.0.1, fd00::1\n"),
			 0);
	assert_int_equal(cfg.interval_ms, 250);
	assert_int_equal(cfg.listen.n, 3);
	assert_string_equal(cfg.listen.v[2], "https://[::]:8443");
	assert_int_equal(cfg.auth_loopback, 1);
	assert_int_equal(cfg.trusted_proxy.n, 2);
	assert_string_equal(cfg.trusted_proxy_header, "X-Forwarded-User");
	assert_false(cfg.listen.dflt);
	assert_string_equal(cfg.listen.v[0], "127.0.0.1:0");
	assert_string_equal(cfg.listen.v[1], "[::1]:9000");
	assert_int_equal(cfg.ring_bytes, 8 << 20);
	assert_int_equal(cfg.allowed_hosts.n, 3);
	assert_string_equal(cfg.allowed_hosts.v[1], "box.lan");
	assert_string_equal(cfg.web_root, "/srv/web#not-a-comment");
	assert_string_equal(cfg.proc_root, "/tmp/proc");
	assert_int_equal(cfg.keepalive_s, 1);
	assert_int_equal(COLSET(&cfg, journal)->backlog_bytes, 64 << 10);
	assert_int_equal(config_copy(&copy, &cfg), 0);
	config_free(&cfg);
	assert_string_equal(copy.allowed_hosts.v[2], "third");
	assert_string_equal(copy.listen.v[1], "[::1]:9000");
	config_free(&copy);
}

static void expect_error(const char *text, const char *msg)
{
	struct config cfg;

	if (parse(&cfg, text) != -EINVAL)
		fail_msg("accepted %.60s", text);
	if (strcmp(err, msg) != 0)
		fail_msg("for %s: got '%s', want '%s'", text, err, msg);
	config_free(&cfg);
}

#define LISTEN_EXPECT "(expected IPV4:PORT or [IPV6]:PORT, https:// before it for TLS)"

TEST(test_errors)
{
	expect_error("interval = 1000\nbogus = 1\n", "t.conf:2: unknown key 'bogus'");
	expect_error("interval = 5\n", "t.conf:1: interval: bad value '5' (expected 100 to 60000)");
	expect_error("log-backlog-bytes = 65M\n",
		     "t.conf:1: log-backlog-bytes: bad value '65M' (expected 0 to 67108864)");
	expect_error("interval = 60001\n",
		     "t.conf:1: interval: bad value '60001' (expected 100 to 60000)");
	expect_error("interval = abc\n",
		     "t.conf:1: interval: bad value 'abc' (expected 100 to 60000)");
	expect_error("interval = -100\n",
		     "t.conf:1: interval: bad value '-100' (expected 100 to 60000)");
	expect_error("interval = 100ms\n",
		     "t.conf:1: interval: bad value '100ms' (expected 100 to 60000)");
	expect_error("interval = 99999999999999999999999\n",
		     "t.conf:1: interval: bad value '99999999999999999999999' (expected 100 to "
		     "60000)");
	expect_error("ring-bytes = 1K\n",
		     "t.conf:1: ring-bytes: bad value '1K' (expected 65536 to 1073741824)");
	expect_error("ring-bytes = 4X\n",
		     "t.conf:1: ring-bytes: bad value '4X' (expected 65536 to 1073741824)");
	expect_error("interval\n", "t.conf:1: expected 'key = value'");
	expect_error(" = 3\n", "t.conf:1: missing key before '='");
	expect_error("interval =\n", "t.conf:1: interval: empty value");
	/* separators alone are no word: the default's list would go empty */
	expect_error("listen = ,\n", "t.conf:1: listen: empty value");
	expect_error("allowed-hosts = , \t,\n", "t.conf:1: allowed-hosts: empty value");
	expect_error("listen = localhost:80\n",
		     "t.conf:1: listen: bad value 'localhost:80' " LISTEN_EXPECT);
	expect_error("listen = 127.0.0.1\n",
		     "t.conf:1: listen: bad value '127.0.0.1' " LISTEN_EXPECT);
	expect_error("listen = 127.0.0.1:70000\n",
		     "t.conf:1: listen: bad value '127.0.0.1:70000' " LISTEN_EXPECT);
	expect_error("listen = ::1:80\n", "t.conf:1: listen: bad value '::1:80' " LISTEN_EXPECT);
	expect_error("listen = []:80\n", "t.conf:1: listen: bad value '[]:80' " LISTEN_EXPECT);
	expect_error("listen = https://\n",
		     "t.conf:1: listen: bad value 'https://' " LISTEN_EXPECT);
	expect_error("listen = http://127.0.0.1:80\n",
		     "t.conf:1: listen: bad value 'http://127.0.0.1:80' " LISTEN_EXPECT);
	expect_error("auth-loopback = maybe\n",
		     "t.conf:1: auth-loopback: bad value 'maybe' (expected yes or no)");
	expect_error("trusted-proxy = proxy.lan\n",
		     "t.conf:1: trusted-proxy: bad value 'proxy.lan' (expected an IPv4 or IPv6 "
		     "address)");
	expect_error("max-clients = 0\n",
		     "t.conf:1: max-clients: bad value '0' (expected 1 to 100000)");
	expect_error("keepalive = 0\n", "t.conf:1: keepalive: bad value '0' (expected 1 to 3600)");

	char text[8192];
	memset(text, 'a', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	expect_error(text, "t.conf:1: line longer than 4095 bytes");

	char many[2048] = "";
	for (int i = 0; i <= CONFIG_MAX_LISTEN; i++)
		strcat(many, "listen = 127.0.0.1:1\n");
	expect_error(many, "t.conf:17: listen: more than 16 entries");
	/* a CR inside a value would not survive --print-config (fuzz_config) */
	expect_error("interval = 500\nallowed-hosts = a b#7\r,\n",
		     "t.conf:2: control character 0x0d in line");
	expect_error("allowed-hosts = a\033b\n", "t.conf:1: control character 0x1b in line");

	struct config cfg;
	config_defaults(&cfg);
	assert_int_equal(config_parse(&cfg, "t.conf", "interval = 1\0x\n", 15, err, sizeof(err)),
			 -EINVAL);
	assert_string_equal(err, "t.conf:1: NUL byte in line");
	config_free(&cfg);
}

TEST(test_load_file)
{
	char path[] = "/tmp/sysfeed-test-XXXXXX";
	struct config cfg;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "interval = 300\n", 15), 15);
	close(fd);
	config_defaults(&cfg);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), 0);
	assert_int_equal(cfg.interval_ms, 300);
	unlink(path);
	assert_true(config_load(&cfg, path, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, ":0: cannot open: No such file or directory"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	assert_true(config_load(&cfg, "/", err, sizeof(err)) < 0);
	assert_string_equal(err, "/:0: not a regular file");
	/* a FIFO without a writer: refused at once, not waited on */
	assert_int_equal(mkfifo(path, 0600), 0);
	assert_int_equal(config_load(&cfg, path, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, ":0: not a regular file"));
	assert_int_equal(strncmp(err, path, strlen(path)), 0);
	unlink(path);
	assert_true(config_load(&cfg, "/dev/null", err, sizeof(err)) < 0);
	assert_string_equal(err, "/dev/null:0: not a regular file");
	assert_int_equal(cfg.interval_ms, 300);
	config_free(&cfg);
}

TEST(test_set_overrides)
{
	struct config cfg;

	config_defaults(&cfg);
	assert_int_equal(config_set(&cfg, "interval", "200", err, sizeof(err)), 0);
	assert_int_equal(cfg.interval_ms, 200);
	assert_int_equal(config_set(&cfg, "nope", "1", err, sizeof(err)), -ENOENT);
	assert_string_equal(err, "unknown key 'nope'");
	/* the first listen replaces the defaults, later ones add */
	assert_int_equal(config_set(&cfg, "listen", "127.0.0.1:1", err, sizeof(err)), 0);
	assert_int_equal(config_set(&cfg, "listen", "127.0.0.1:2", err, sizeof(err)), 0);
	assert_int_equal(cfg.listen.n, 2);
	assert_string_equal(cfg.listen.v[0], "127.0.0.1:1");
	config_free(&cfg);
}

TEST(test_hosts)
{
	struct config cfg;

	assert_int_equal(parse(&cfg, "allowed-hosts = mon.example.org\n"), 0);
	const char *ok[] = {NULL,
			    "localhost",
			    "localhost:8390",
			    "LOCALHOST:1",
			    "127.0.0.1",
			    "127.0.0.1:8390",
			    "[::1]",
			    "[::1]:8390",
			    "mon.example.org",
			    "mon.example.org:443"};
	const char *bad[] = {
	    "",         "evil.example",         "localhost.evil.example", "127.0.0.2",
	    "[::2]:80", "localhost:",           "localhost:80x",          "[::1",
	    "[::1]x",   "mon.example.org.evil", "127.0.0.1:80:80"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (!config_host_allowed(&cfg, ok[i]))
			fail_msg("refused %s", ok[i] ? ok[i] : "(none)");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (config_host_allowed(&cfg, bad[i]))
			fail_msg("allowed %s", bad[i]);
	config_free(&cfg);
}

TEST(test_lists)
{
	struct config cfg;

	assert_int_equal(parse(&cfg, "interfaces = eth*, wl*\n"
				     "disks = !sd?1\n"
				     "fs-types = ext4 xfs\n"
				     "fs-types = !xfs\n"),
			 0);
	assert_int_equal(COLSET(&cfg, net)->interfaces.n, 2);
	assert_true(list_match(&COLSET(&cfg, net)->interfaces, "eth0", false));
	assert_true(list_match(&COLSET(&cfg, net)->interfaces, "wlan0", false));
	assert_false(
	    list_match(&COLSET(&cfg, net)->interfaces, "lo", true));       /* lists includes only */
	assert_true(list_match(&COLSET(&cfg, disk)->disks, "sda", false)); /* excludes only */
	assert_false(list_match(&COLSET(&cfg, disk)->disks, "sda1", true));
	assert_true(list_match(&COLSET(&cfg, fs)->fs_types, "ext4", false));
	assert_false(
	    list_match(&COLSET(&cfg, fs)->fs_types, "xfs", true)); /* the last match wins */
	assert_false(list_match(&COLSET(&cfg, fs)->fs_types, "btrfs", true));
	assert_true(list_match(&COLSET(&cfg, fs)->mounts, "/", true)); /* empty: the default */
	assert_false(list_match(&COLSET(&cfg, fs)->mounts, "/", false));
	config_free(&cfg);
	/* log and file keys */
	assert_int_equal(parse(&cfg, "log-priority = warning\nwatch = /srv\nwatch = /opt/x\n"), 0);
	assert_int_equal(COLSET(&cfg, journal)->priority, 4);
	assert_int_equal(COLSET(&cfg, file)->watch.n,
			 2); /* the first watch replaces the default /etc */
	assert_string_equal(COLSET(&cfg, file)->watch.v[0], "/srv");
	config_free(&cfg);
	assert_int_equal(parse(&cfg, "log-priority = 3\n"), 0);
	assert_int_equal(COLSET(&cfg, journal)->priority, 3);
	assert_string_equal(COLSET(&cfg, file)->watch.v[0], "/etc");
	config_free(&cfg);
	expect_error("log-priority = loud\n",
		     "t.conf:1: log-priority: bad value 'loud' (expected 0 to 7 or emerg, alert, "
		     "crit, err, warning, notice, info, debug)");
	char many[4096] = "mounts = ";
	for (int i = 0; i <= LIST_MAX; i++)
		strcat(many, "/m,");
	strcat(many, "\n");
	expect_error(many, "t.conf:1: mounts: more than 64 entries");
}
