/* bench: the cost of evaluating alert rules per tick (issue 14: 1,000
 * rules in at most 0.2 ms). Feeds real golden payloads (mem, cpu, fs,
 * disk, net of tests/fixtures) to an engine holding N threshold rules
 * spread over those topics, none firing, and prints the median time of a
 * tick's feeds over many rounds. Usage: alert_cost FIXTURES [N] [ROUNDS] */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alert_eval.h"
#include "clock.h"
#include "collector.h"

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = calloc(1, (size_t)n + 1)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

static void on_change(void *ctx, const struct alert_change *c)
{
	(*(unsigned *)ctx)++;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static const char *const topics[] = {"mem", "cpu", "fs", "disk", "net"};
	static const char *const files[] = {"vm2/expected/mem.2.json", "vm2/expected/cpu.json",
					    "server/expected/fs.json", "vm2/expected/disk.1.json",
					    "vm2/expected/net.1.json"};
	static const char *const rules[] = {
	    "mem.available * 100 / mem.total < 0.", "cpu.total.steal >= 99.",
	    "fs.filesystems[].used_percent >= 99.", "disk.disks[].busy_pct >= 99.",
	    "net.interfaces[].rx_errors_per_s > 99999999."};
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 10) : 1000;
	size_t rounds = argc > 3 ? strtoul(argv[3], NULL, 10) : 2000;
	struct alert_limits lim = {.window_ms = 3600000};
	unsigned changes = 0;
	struct alert_engine *e = alert_engine_new(&lim, on_change, NULL, &changes);
	struct alert_rule **rs = calloc(n, sizeof(*rs));
	cJSON *payload[5];
	double *took = calloc(rounds, sizeof(*took));
	char err[256];

	if (argc < 2 || !e || !rs || !took)
		return 2;
	for (size_t i = 0; i < 5; i++) {
		char path[512], *text;

		snprintf(path, sizeof(path), "%s/%s", argv[1], files[i]);
		if (!(text = slurp(path)) || !(payload[i] = cJSON_Parse(text))) {
			fprintf(stderr, "%s: cannot read\n", path);
			return 2;
		}
		free(text);
	}
	for (size_t i = 0; i < n; i++) {
		char line[256], body[200];

		snprintf(body, sizeof(body), "%s%zu", rules[i % 5], i); /* each its own threshold */
		snprintf(line, sizeof(line), "r%zu: %s%s", i, body, i % 2 ? " for 5m" : "");
		if (alert_rule_parse(line, &rs[i], err, sizeof(err)) < 0) {
			fprintf(stderr, "%s\n", err);
			return 2;
		}
	}
	alert_engine_set_rules(e, rs, n, &(struct alert_now){0, 0});
	for (size_t r = 0; r < rounds; r++) {
		struct alert_now now = {1700000000000 + (int64_t)r * 1000, (int64_t)r * 1000};
		double t0 = clock_s(CLOCK_MONOTONIC);

		for (size_t i = 0; i < 5; i++)
			alert_engine_feed(e, (unsigned)collector_topic(topics[i]), payload[i],
					  &now);
		alert_engine_tick(e, &now);
		took[r] = clock_s(CLOCK_MONOTONIC) - t0;
	}
	qsort(took, rounds, sizeof(*took), cmp);
	printf(
	    "alert rules per tick: %zu rules, median %.3f ms, p90 %.3f ms per tick (%u changes)\n",
	    n, took[rounds / 2] * 1e3, took[rounds * 9 / 10] * 1e3, changes);
	for (size_t i = 0; i < 5; i++)
		cJSON_Delete(payload[i]);
	alert_engine_free(e);
	free(rs);
	free(took);
	return 0;
}
