/* cpu_stat_parse(): /proc/stat. Input: one or two files ("prev\0cur").
 * Checks that a parse holds ascending cores and is the same when the
 * struct is reused; that the payload between two parses is JSON as the
 * daemon promises, its percentages 0-100 adding up to 100 (rounding
 * aside); that the Prometheus view never goes backwards; and that
 * host_btime_parse() reads the btime line cpu_stat_parse() reads. */
#include "fuzz.h"

#include <math.h>

#include "cpu.h"
#include "host_parse.h"

static int parse(const char *text, size_t len, void *ret)
{
	return cpu_stat_parse(text, len, ret);
}

static void check_stat(const void *parsed, const char *text, size_t len)
{
	const struct cpu_stat *st = parsed;
	struct cpu_stat again = {0};
	uint64_t btime;

	for (size_t i = 1; i < st->n_cores; i++)
		FUZZ_CHECK(st->cores[i - 1].id < st->cores[i].id);
	FUZZ_CHECK(cpu_stat_parse(text, len, &again) == 0);
	FUZZ_CHECK(again.n_cores == st->n_cores && again.has == st->has);
	FUZZ_CHECK(memcmp(&again.total, &st->total, sizeof(st->total)) == 0);
	FUZZ_CHECK(st->n_cores == 0 ||
		   memcmp(again.cores, st->cores, st->n_cores * sizeof(*st->cores)) == 0);
	cpu_stat_free(&again);
	if ((st->has & CPU_HAS_BTIME) && host_btime_parse(text, len, &btime) == 0)
		FUZZ_CHECK(btime == st->btime);
}

static void check_percent(const cJSON *o)
{
	static const char *const keys[] = {"user", "nice",    "system", "iowait",
					   "irq",  "softirq", "steal",  "idle"};
	double sum = 0, busy, idle;

	for (size_t i = 0; i < 8; i++) {
		double v = cJSON_GetNumberValue(cJSON_GetObjectItem(o, keys[i]));

		FUZZ_CHECK(v >= 0 && v <= 100);
		sum += v;
	}
	FUZZ_CHECK(fabs(sum - 100) <= 0.05);
	busy = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "busy"));
	idle = cJSON_GetNumberValue(cJSON_GetObjectItem(o, "idle")) +
	       cJSON_GetNumberValue(cJSON_GetObjectItem(o, "iowait"));
	FUZZ_CHECK(busy >= 0 && busy <= 100 && fabs(busy + idle - 100) <= 0.015);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cpu_stat prev = {0}, cur = {0}, shown = {0};
	struct fuzz_two t;
	cJSON *payload = NULL, *cores;

	fuzz_parse_two(data, size, parse, check_stat, &prev, &cur, &t);
	if (t.r[0] < 0 || t.r[1] < 0)
		goto out;

	FUZZ_CHECK(cpu_build_payload(&prev, &cur, 1000000000, 1700000000000, &payload) == 0);
	if (payload) {
		fuzz_check_json(payload);
		check_percent(cJSON_GetObjectItem(payload, "total"));
		cores = cJSON_GetObjectItem(payload, "cores");
		for (const cJSON *c = cores ? cores->child : NULL; c; c = c->next)
			check_percent(c);
		cJSON_Delete(payload);
	}

	/* /metrics: a core in both keeps each count at least where it was,
	 * unless its idle fell by the reset threshold (it started over) */
	FUZZ_CHECK(cpu_stat_monotonic(&prev, &cur, 300, &shown) == 0);
	FUZZ_CHECK(shown.n_cores == cur.n_cores);
	for (size_t j = 0, i = 0; j < shown.n_cores; j++) {
		const struct cpu_times *s = &shown.cores[j], *c = &cur.cores[j];

		FUZZ_CHECK(s->id == c->id);
		while (i < prev.n_cores && prev.cores[i].id < s->id)
			i++;
		for (size_t m = 0; m < CPU_NMODES; m++)
			FUZZ_CHECK(s->jiffies[m] >= c->jiffies[m]);
		if (i == prev.n_cores || prev.cores[i].id != s->id ||
		    prev.cores[i].jiffies[CPU_IDLE] >= c->jiffies[CPU_IDLE] + 300)
			continue;
		for (size_t m = 0; m < CPU_NMODES; m++)
			FUZZ_CHECK(s->jiffies[m] >= prev.cores[i].jiffies[m]);
	}
out:
	cpu_stat_free(&prev);
	cpu_stat_free(&cur);
	cpu_stat_free(&shown);
	fuzz_two_free(&t);
	return 0;
}
