/* config_parse(): the config file. Checks that a refused file says
 * "NAME:LINE: reason" with LINE one of its lines, the same reason whatever
 * the room for it (a short buffer gets a NUL-terminated prefix); that an
 * accepted one holds every key within its table's range, lists of single
 * words; that config_copy() copies every key and that what config_print()
 * writes reads back to the same configuration; and that nothing is left
 * behind (LeakSanitizer). The input is also a log-priority query value. */
#include "fuzz.h"

#include <errno.h>

#include "collector.h"
#include "config.h"

/* Every key of a table within its limits in base. */
static void check_table(const struct setting *t, const void *base)
{
	for (const struct setting *s = t; s && s->name; s++) {
		const char *p = (const char *)base + s->offset;

		if (s->type == SET_LIST) {
			const struct list *l = (const struct list *)p;

			FUZZ_CHECK(l->n <= s->max && l->n <= LIST_MAX);
			for (size_t i = 0; i < l->n; i++)
				FUZZ_CHECK(*l->v[i] && !strpbrk(l->v[i], ", \t\n"));
		} else if (s->type == SET_UINT || s->type == SET_PRIO || s->type == SET_BOOL) {
			unsigned v = *(const unsigned *)p;

			FUZZ_CHECK(v >= s->min && v <= s->max);
		} else if (s->type == SET_SIZE) {
			size_t v = *(const size_t *)p;

			FUZZ_CHECK(v >= s->min && v <= s->max);
		}
	}
}

/* a and b hold the same values for every key (and not the same strings). */
static void check_same(const struct config *a, const struct config *b)
{
	for (const struct setting *s = config_daemon_keys(); s->name; s++)
		FUZZ_CHECK(settings_equal(s, a, b));
	for (size_t i = 0; collector_registry[i]; i++) {
		const struct setting *t = collector_registry[i]->settings;

		for (const struct setting *s = t; t && s->name; s++)
			FUZZ_CHECK(settings_equal(s, a->col[i], b->col[i]));
	}
}

/* settings_priority() also reads the query's log-priority: a digit 0-7
 * or a syslog name, nothing else. */
static void check_priority(const uint8_t *data, size_t size)
{
	static const char *const names[] = {"emerg",   "alert",  "crit", "err",
					    "warning", "notice", "info", "debug"};
	char *s = fuzz_str(data, size);
	int p = settings_priority(s), want = -1;

	for (int i = 0; i < 8; i++)
		if (strcmp(s, names[i]) == 0 || (s[0] == '0' + i && s[1] == '\0'))
			want = i;
	FUZZ_CHECK(p == want);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_dup(data, size), err[CONFIG_ERR_LEN], small[12], *printed = NULL;
	struct config cfg, again, copy, reread;
	size_t printed_len = 0;
	FILE *f;
	int r, r2;

	check_priority(data, size);

	FUZZ_CHECK(config_defaults(&cfg) == 0 && config_defaults(&again) == 0);
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
	FUZZ_CHECK(cfg.listen.n >= 1);
	check_table(config_daemon_keys(), &cfg);
	for (size_t i = 0; collector_registry[i]; i++)
		check_table(collector_registry[i]->settings, cfg.col[i]);
	FUZZ_CHECK(config_copy(&copy, &cfg) == 0);
	check_same(&cfg, &copy);
	for (size_t i = 0; i < cfg.listen.n; i++)
		FUZZ_CHECK(copy.listen.v[i] != cfg.listen.v[i]);
	config_free(&copy);
	/* --print-config reads back as the same configuration */
	FUZZ_CHECK((f = open_memstream(&printed, &printed_len)) != NULL);
	config_print(f, &cfg);
	fclose(f);
	FUZZ_CHECK(config_defaults(&reread) == 0);
	FUZZ_CHECK(config_parse(&reread, "printed", printed, printed_len, err, sizeof(err)) == 0);
	check_same(&cfg, &reread);
	config_free(&reread);
	free(printed);
out:
	config_free(&cfg);
	config_free(&again);
	free(text);
	return 0;
}
