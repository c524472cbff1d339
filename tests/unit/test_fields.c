/* lib/fields: the payload and the Prometheus families written from a
 * field table (order of the passes, nulls, scales, rates, prom_before,
 * per-instance families), and the parse helpers (kB, ranges, "N.NN"). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fields.h"
#include "json.h"
#include "metrics.h"
#include "unit.h"

#define SEC UINT64_C(1000000000)

struct rec {
	char name[8];
	const char *state;
	int flag;
	int64_t speed;
	uint64_t bytes, sectors, kb;
	uint32_t centi;
	double load;
};

enum { HAS_BYTES = 1u << 0, HAS_SECTORS = 1u << 1, HAS_KB = 1u << 2, HAS_HWMON = 1u << 3 };

static bool derive_up(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	const struct rec *r = cur;

	*ret = r->state && strcmp(r->state, "up") == 0;
	return true;
}

/* bytes per sector written, a made-up derived rate: null without both */
static bool derive_ratio(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	const struct rec *c = cur, *p = prev;

	if (!p || c->sectors == p->sectors)
		return false;
	*ret = (double)(c->bytes - p->bytes) / (double)(c->sectors - p->sectors);
	return true;
}

static const struct field rows[] = {
    FIELD(.source = "name", .json = "name", .type = FIELD_INFO, .help = "n",
	  FIELD_CHARS_AT(struct rec, name)),
    FIELD(.source = "state", .json = "state", .type = FIELD_INFO, .help = "s",
	  FIELD_STR_AT(struct rec, state)),
    FIELD(.json = "flag", .type = FIELD_INFO, .help = "f", FIELD_TRI_AT(struct rec, flag)),
    FIELD(.json = "speed", .type = FIELD_INFO, .help = "sp", FIELD_AT(struct rec, speed),
	  .flags = FIELD_NEG_UNKNOWN),
    FIELD(.source = "bytes", .json = "bytes", .prom = "x_bytes_total", .type = FIELD_COUNTER,
	  .help = "Bytes.", FIELD_AT(struct rec, bytes), .has = HAS_BYTES, .rate = "bytes_per_s",
	  .rate_help = "b/s"),
    FIELD(.source = "sectors", .json = "sector_bytes", .prom = "x_sector_bytes_total",
	  .type = FIELD_COUNTER, .help = "Sectors.", FIELD_AT(struct rec, sectors),
	  .has = HAS_SECTORS, .mul = 512, .rate = "busy_pct", .rate_help = "%", .rate_mul = 1e8,
	  .rate_max = 100),
    FIELD(.rate = "ratio", .rate_help = "r", FIELD_DERIVE(derive_ratio)),
    FIELD(.source = "Kb", .json = "kb", .prom = "x_kb_bytes", .type = FIELD_GAUGE, .help = "Kb.",
	  FIELD_AT(struct rec, kb), .has = HAS_KB, .flags = FIELD_KB | FIELD_ZERO_ABSENT,
	  .prom_before = "bytes"),
    FIELD(.source = "centi", .json = "centi", .prom = "x_centi", .type = FIELD_GAUGE,
	  .help = "Centi.", FIELD_AT(struct rec, centi), .flags = FIELD_CENTI, .div = 100,
	  .prom_has = HAS_HWMON),
    FIELD(.json = "load", .type = FIELD_GAUGE, .help = "l", FIELD_AT(struct rec, load)),
    FIELD(.prom = "x_up", .type = FIELD_GAUGE, .help = "Up.", FIELD_DERIVE(derive_up)),
    FIELD(.prom = "x_speed_bytes", .type = FIELD_GAUGE, .help = "Speed.",
	  FIELD_AT(struct rec, speed), .flags = FIELD_NEG_UNKNOWN, .mul = 125000),
};

static const struct field_table table = {
    .path = "recs[]",
    .passes = {FIELDS_INFO, FIELDS_RATES, FIELDS_GAUGES, FIELDS_COUNTERS},
    FIELD_ROWS(rows),
};

static char *json_of(const struct rec *cur, unsigned has, const struct rec *prev, unsigned prev_has,
		     uint64_t dt_ns)
{
	cJSON *o = cJSON_CreateObject();
	char *text;

	assert_non_null(o);
	assert_int_equal(fields_json(o, &table, &(struct field_inst){cur, has, NULL},
				     prev ? &(struct field_inst){prev, prev_has, NULL} : NULL,
				     dt_ns),
			 0);
	text = json_print(o, NULL);
	assert_non_null(text);
	cJSON_Delete(o);
	return text;
}

/* The passes in order (info, rates, gauges, counters), each in table
 * order; nulls for what an instance lacks or does not know. */
TEST(test_json)
{
	struct rec a = {"eth0", "up", 1, 1000, 100, 10, 2048, 1971, 0.5};
	struct rec b = {"eth\xff", NULL, -1, -1, 0, 0, 0, 0, 0};
	char *text;

	text = json_of(&a, ~0u, NULL, 0, 0);
	assert_string_equal(text,
			    "{\"name\":\"eth0\",\"state\":\"up\",\"flag\":true,\"speed\":1000,"
			    "\"bytes_per_s\":null,\"busy_pct\":null,\"ratio\":null,"
			    "\"kb\":2048,\"centi\":19.71,\"load\":0.5,"
			    "\"bytes\":100,\"sector_bytes\":5120}");
	free(text);
	/* missing values: null, or the 0 they read as (FIELD_ZERO_ABSENT);
	 * host text made valid UTF-8 */
	text = json_of(&b, 0, NULL, 0, 0);
	assert_string_equal(text, "{\"name\":\"eth\xef\xbf\xbd\",\"state\":null,\"flag\":null,"
				  "\"speed\":null,\"bytes_per_s\":null,\"busy_pct\":null,"
				  "\"ratio\":null,\"kb\":0,\"centi\":0,\"load\":0,"
				  "\"bytes\":null,\"sector_bytes\":null}");
	free(text);
}

static double rate_of(const char *key, const struct rec *cur, unsigned has, const struct rec *prev,
		      unsigned prev_has, uint64_t dt_ns, bool *ret_null)
{
	cJSON *o = cJSON_CreateObject(), *item;
	double v;

	assert_int_equal(fields_json(o, &table, &(struct field_inst){cur, has, NULL},
				     &(struct field_inst){prev, prev_has, NULL}, dt_ns),
			 0);
	item = cJSON_GetObjectItemCaseSensitive(o, key);
	assert_non_null(item);
	*ret_null = cJSON_IsNull(item);
	v = cJSON_IsNumber(item) ? item->valuedouble : -1;
	cJSON_Delete(o);
	return v;
}

/* delta * rate_mul / dt_ns in hundredths rounded half up, capped; null
 * without time, for a counter gone backwards or missing from either. */
TEST(test_rates)
{
	struct rec p = {.bytes = 1000, .sectors = 100}, c = {.bytes = 1500, .sectors = 103};
	bool null;

	assert_true(rate_of("bytes_per_s", &c, ~0u, &p, ~0u, 3 * SEC, &null) == 166.67 && !null);
	assert_true(rate_of("bytes_per_s", &c, ~0u, &p, ~0u, 2 * SEC, &null) == 250 && !null);
	/* 3 sectors in 1 s: 3e8 / 1e9 = 0.3 % busy; in 1 ms: capped at 100 */
	assert_true(rate_of("busy_pct", &c, ~0u, &p, ~0u, SEC, &null) == 0.3 && !null);
	assert_true(rate_of("busy_pct", &c, ~0u, &p, ~0u, SEC / 1000, &null) == 100 && !null);
	/* derived: 500 bytes over 3 sectors */
	assert_true(rate_of("ratio", &c, ~0u, &p, ~0u, SEC, &null) == 500.0 / 3 && !null);
	rate_of("bytes_per_s", &c, ~0u, &p, ~0u, 0, &null);
	assert_true(null);
	rate_of("bytes_per_s", &p, ~0u, &c, ~0u, SEC, &null);
	assert_true(null);
	rate_of("bytes_per_s", &c, ~0u, &p, HAS_SECTORS, SEC, &null);
	assert_true(null);
	rate_of("bytes_per_s", &c, HAS_SECTORS, &p, ~0u, SEC, &null);
	assert_true(null);
	assert_true(rate_of("busy_pct", &c, HAS_SECTORS, &p, HAS_SECTORS, SEC, &null) == 0.3);
}

/* Families in table order but for prom_before; each once, its samples in
 * instance order with their labels; none without a sample; prom_has. */
TEST(test_prom)
{
	struct rec a = {"a", "up", 0, 100, 7, 2, 4096, 150, 0};
	struct rec b = {"b", "down", 0, -1, 9, 0, 0, 250, 0};
	const char *const la[] = {"device", "a", NULL}, *const lb[] = {"device", "b\"", NULL};
	struct field_inst v[] = {{&a, HAS_BYTES | HAS_SECTORS, la},
				 {&b, HAS_BYTES | HAS_HWMON, lb}};
	struct metrics m = {0};

	fields_prom(&m, &table, v, 2);
	assert_int_equal(metrics_error(&m), 0);
	assert_string_equal(m.buf, "# HELP x_bytes_total Bytes.\n"
				   "# TYPE x_bytes_total counter\n"
				   "x_bytes_total{device=\"a\"} 7\n"
				   "x_bytes_total{device=\"b\\\"\"} 9\n"
				   "# HELP x_sector_bytes_total Sectors.\n"
				   "# TYPE x_sector_bytes_total counter\n"
				   "x_sector_bytes_total{device=\"a\"} 1024\n"
				   "# HELP x_centi Centi.\n"
				   "# TYPE x_centi gauge\n"
				   "x_centi{device=\"b\\\"\"} 2.5\n"
				   "# HELP x_up Up.\n"
				   "# TYPE x_up gauge\n"
				   "x_up{device=\"a\"} 1\n"
				   "x_up{device=\"b\\\"\"} 0\n"
				   "# HELP x_speed_bytes Speed.\n"
				   "# TYPE x_speed_bytes gauge\n"
				   "x_speed_bytes{device=\"a\"} 12500000\n");
	/* with HAS_KB, x_kb_bytes comes before the family of "bytes" */
	metrics_reset(&m);
	v[0].has |= HAS_KB;
	fields_prom(&m, &table, v, 1);
	assert_non_null(strstr(m.buf, "# HELP x_kb_bytes Kb.\n# TYPE x_kb_bytes gauge\n"
				      "x_kb_bytes{device=\"a\"} 4096\n# HELP x_bytes_total"));
	assert_true(strncmp(m.buf, "# HELP x_kb_bytes", 17) == 0);
	metrics_free(&m);
}

/* Stores as the rows say: kB made bytes, narrower kinds range-checked;
 * "N.NN" for FIELD_CENTI rows, digits for the others. */
TEST(test_parse)
{
	struct rec r = {.flag = 0};

	assert_ptr_equal(fields_find(&table, "Kb", 2), &rows[7]);
	assert_null(fields_find(&table, "K", 1));
	assert_int_equal(fields_parse(&rows[7], &r, "3", 1), 0);
	assert_int_equal(r.kb, 3072);
	assert_int_equal(fields_store(&rows[7], &r, UINT64_MAX / 1024 + 1), -ERANGE);
	assert_int_equal(fields_parse(&rows[8], &r, "19.71", 5), 0);
	assert_int_equal(r.centi, 1971);
	assert_int_equal(fields_parse(&rows[8], &r, "19.711", 6), -EINVAL);
	assert_int_equal(fields_parse(&rows[8], &r, "42949672.96", 11), -ERANGE);
	assert_int_equal(fields_parse(&rows[4], &r, "18446744073709551615", 20), 0);
	assert_int_equal(r.bytes, UINT64_MAX);
	assert_int_equal(fields_parse(&rows[4], &r, "1.5", 3), -EINVAL);
	assert_int_equal(fields_parse(&rows[4], &r, "-1", 2), -EINVAL);
	assert_int_equal(fields_store(&rows[0], &r, 1), -EINVAL);
	assert_int_equal(fields_store(&rows[3], &r, (uint64_t)INT64_MAX + 1), -ERANGE);
}
