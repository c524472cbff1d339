/* config_parse(): the config file. Checks that a refused file says
 * "NAME:LINE: reason" with LINE one of its lines, the same reason whatever
 * the room for it (a short buffer gets a NUL-terminated prefix); that an
 * accepted one stays within the limits of struct config, lists holding
 * single words; and that config_copy() and config_free() leave nothing
 * behind (LeakSanitizer). The input is also a log-priority query value. */
#include "fuzz.h"

#include <errno.h>

#include "config.h"

static void check_list(const struct config_list *l)
{
	FUZZ_CHECK(l->n <= CONFIG_MAX_LIST);
	for (size_t i = 0; i < l->n; i++)
		FUZZ_CHECK(*l->v[i] && !strpbrk(l->v[i], ", \t\n"));
}

/* config_priority() also reads the query's log-priority: a digit 0-7 or
 * a syslog name, nothing else. */
static void check_priority(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"emerg",   "alert",  "crit", "err",
					    "warning", "notice", "info", "debug"};
	char *s = fuzz_str(data, size);
	int p = config_priority(s), want = -1;

	for (int i = 0; i < 8; i++)
		if (strcmp(s, names[i]) == 0 || (s[0] == '0' + i && s[1] == '\0'))
			want = i;
	FUZZ_CHECK(p == want);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_dup(data, size), err[CONFIG_ERR_LEN], small[12];
	struct config cfg, again, copy;
	int r, r2;

	check_priority(data, size);

	config_defaults(&cfg);
	config_defaults(&again);
	err[0] = '\0';
	r = config_parse(&cfg, "fuzz.conf", text, size, err, sizeof(err));
	memset(small, 'x', sizeof(small));
	r2 = config_parse(&again, "fuzz.conf", text, size, small, sizeof(small));
	FUZZ_CHECK(r == r2);
	if (r < 0) {
		unsigned long line, lines = 1;
		char *end;

		FUZZ_CHECK(r == -EINVAL || r == -ENOMEM);
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) && strncmp(err, "fuzz.conf:", 10) == 0);
		line = strtoul(err + 10, &end, 10);
		for (size_t i = 0; i + 1 < size; i++)
			lines += data[i] == '\n';
		FUZZ_CHECK(end > err + 10 && line >= 1 && line <= lines);
		FUZZ_CHECK(end[0] == ':' && end[1] == ' ' && end[2]);
		FUZZ_CHECK(memchr(small, '\0', sizeof(small)));
		FUZZ_CHECK(strncmp(small, err, strlen(small)) == 0);
		goto out;
	}
	FUZZ_CHECK(cfg.n_listen >= 1 && cfg.n_listen <= CONFIG_MAX_LISTEN);
	FUZZ_CHECK(cfg.n_allowed_hosts <= CONFIG_MAX_HOSTS);
	FUZZ_CHECK(cfg.interval_ms >= 100 && cfg.interval_ms <= 60000);
	FUZZ_CHECK(cfg.log_priority <= 7 && cfg.top_n >= 1);
	check_list(&cfg.interfaces);
	check_list(&cfg.disks);
	check_list(&cfg.fs_types);
	check_list(&cfg.mounts);
	check_list(&cfg.log_units);
	check_list(&cfg.watch);
	FUZZ_CHECK(config_copy(&copy, &cfg) == 0);
	FUZZ_CHECK(copy.n_listen == cfg.n_listen && copy.watch.n == cfg.watch.n);
	for (size_t i = 0; i < cfg.n_listen; i++)
		FUZZ_CHECK(strcmp(copy.listen[i], cfg.listen[i]) == 0 &&
			   copy.listen[i] != cfg.listen[i]);
	config_free(&copy);
out:
	config_free(&cfg);
	config_free(&again);
	free(text);
	return 0;
}
