/* The `psi` topic's collector: the /proc/pressure files parsed each tick into
 * averages and stall shares, and node_exporter's pressure families. */
#include "psi.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fields.h"
#include "flat.h"
#include "json.h"
#include "metrics.h"
#include "procfs.h"

static const char *const psi_names[PSI_NRES] = {"cpu", "memory", "io", "irq"};

/* The fields of a "some" or "full" line, in the kernel's fixed order: the
 * averages as it prints them ("%lu.%02lu" percent, kept in hundredths),
 * the stall total in microseconds, and its rate. */
static const struct field psi_line_fields[] = {
    FIELD(.source = "avg10", .json = "avg10", .type = FIELD_GAUGE, .unit = "%",
	  .help = "Share of time stalled over the last 10 s, the kernel's running average.",
	  FIELD_AT(struct psi_line, avg10), .flags = FIELD_CENTI, .div = 100),
    FIELD(.source = "avg60", .json = "avg60", .type = FIELD_GAUGE, .unit = "%",
	  .help = "Share of time stalled over the last 60 s, the kernel's running average.",
	  FIELD_AT(struct psi_line, avg60), .flags = FIELD_CENTI, .div = 100),
    FIELD(.source = "avg300", .json = "avg300", .type = FIELD_GAUGE, .unit = "%",
	  .help = "Share of time stalled over the last 300 s, the kernel's running average.",
	  FIELD_AT(struct psi_line, avg300), .flags = FIELD_CENTI, .div = 100),
    /* us stalled per ns elapsed, as percent: d_us * 1000 / dt_ns * 100;
     * capped because the kernel's total and our clock are not read at the
     * very same instant */
    FIELD(.source = "total", .json = "total_us", .type = FIELD_COUNTER, .unit = "us",
	  .help = "Total stall time since boot.", FIELD_AT(struct psi_line, total_us),
	  .rate = "stall_pct", .rate_unit = "%",
	  .rate_help = "Share of wall time stalled since the previous tick, not smoothed.",
	  .rate_mul = 1e5, .rate_max = 100),
};

static const struct field_table psi_line_table = {
    .path = "{cpu,memory,io,irq}.{some,full}",
    .file = "/proc/pressure/{cpu,memory,io,irq}",
    .passes = {FIELDS_VALUES, FIELDS_RATES},
    FIELD_ROWS(psi_line_fields),
};

/* The bit of struct field.has for a line of a resource. */
#define PSI_HAS(res, full) (1u << ((res)*2 + (full)))

/* node_exporter's pressure families: the stall totals in seconds, as
 * node_pressure_<resource>_{waiting,stalled}_seconds_total (some, full). */
#define PSI_FAMILY(r, name, kind, full, what, text)                                                \
	FIELD(.source = #kind " total", .file = "/proc/pressure/" name,                            \
	      .prom = "node_pressure_" name "_" what "_seconds_total", .type = FIELD_COUNTER,      \
	      .unit = "seconds", .help = "Total time in seconds " text,                            \
	      FIELD_AT(struct psi_reading, res[r].kind.total_us), .has = PSI_HAS(r, full),         \
	      .div = 1e6)
static const struct field psi_families[] = {
    PSI_FAMILY(PSI_CPU, "cpu", some, 0, "waiting", "that processes have waited for CPU time."),
    PSI_FAMILY(PSI_MEMORY, "memory", some, 0, "waiting", "that processes have waited for memory."),
    PSI_FAMILY(PSI_MEMORY, "memory", full, 1, "stalled",
	       "no process could make progress due to memory congestion."),
    PSI_FAMILY(PSI_IO, "io", some, 0, "waiting",
	       "that processes have waited due to IO congestion."),
    PSI_FAMILY(PSI_IO, "io", full, 1, "stalled",
	       "no process could make progress due to IO congestion."),
    PSI_FAMILY(PSI_IRQ, "irq", full, 1, "stalled",
	       "no process could make progress due to IRQ congestion."),
};

static const struct field_table psi_family_table = {
    .file = "/proc/pressure",
    FIELD_ROWS(psi_families),
};

/* The fields after "some"/"full": "key=value" each, in table order. */
static int psi_parse_fields(const char *p, const char *end, struct psi_line *ret)
{
	struct psi_line l = {0};
	const char *tok;
	size_t tok_len;
	int r;

	for (size_t i = 0; i < psi_line_table.n; i++) {
		const struct field *f = &psi_line_fields[i];
		size_t key_len = 0;

		if (procfs_next_token(&p, end, &tok, &tok_len) <= 0)
			return -EINVAL;
		/* "key=" and at least one byte */
		while (f->source[key_len] && key_len < tok_len &&
		       tok[key_len] == f->source[key_len])
			key_len++;
		if (f->source[key_len] || tok_len <= key_len + 1 || tok[key_len] != '=')
			return -EINVAL;
		r = fields_parse(f, &l, tok + key_len + 1, tok_len - key_len - 1);
		if (r < 0)
			return r;
	}
	if (procfs_next_token(&p, end, &tok, &tok_len) > 0)
		return -EINVAL;
	*ret = l;
	return 0;
}

int psi_file_parse(enum psi_resource res, const char *text, size_t len, struct psi_file *ret)
{
	const char *p = text, *end = text + len, *line, *kind;
	size_t line_len, kind_len;
	struct psi_file f = {0};
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		const char *q = line, *line_end = line + line_len;
		struct psi_line *dst;
		bool *seen;

		r = -EINVAL;
		if (procfs_next_token(&q, line_end, &kind, &kind_len) <= 0)
			goto out;
		if (procfs_token_is(kind, kind_len, "some")) {
			dst = &f.some;
			seen = &f.has_some;
		} else if (procfs_token_is(kind, kind_len, "full")) {
			dst = &f.full;
			seen = &f.has_full;
		} else {
			goto out;
		}
		if (*seen)
			goto out;
		r = psi_parse_fields(q, line_end, dst);
		if (r < 0)
			goto out;
		*seen = true;
	}
	if (r < 0)
		goto out;
	r = -ENODATA;
	switch (res) {
	case PSI_CPU:
		if (!f.has_some)
			goto out;
		break;
	case PSI_MEMORY:
	case PSI_IO:
		if (!f.has_some || !f.has_full)
			goto out;
		break;
	case PSI_IRQ:
		if (!f.has_full)
			goto out;
		break;
	default:
		r = -EINVAL;
		goto out;
	}
	*ret = f;
	r = 0;
out:
	return r;
}

/* One line as an object under key, or null when the kernel printed none.
 * prev is the same line of the previous reading (NULL: no rate). */
static int psi_line_json(cJSON *parent, const char *key, const struct psi_line *cur,
			 const struct psi_line *prev, uint64_t dt_ns)
{
	cJSON *o;

	if (!cur)
		return cJSON_AddNullToObject(parent, key) ? 0 : -ENOMEM;
	o = cJSON_AddObjectToObject(parent, key);
	if (!o)
		return -ENOMEM;
	return fields_json(o, &psi_line_table, &(struct field_inst){cur, 0, NULL},
			   prev ? &(struct field_inst){prev, 0, NULL} : NULL, dt_ns);
}

static int psi_resource_json(cJSON *payload, enum psi_resource res, const struct psi_reading *prev,
			     const struct psi_reading *cur, uint64_t dt_ns)
{
	const struct psi_file *f = &cur->res[res], *pf = NULL;
	cJSON *o;

	if (!cur->present[res])
		return cJSON_AddNullToObject(payload, psi_names[res]) ? 0 : -ENOMEM;
	if (prev && prev->present[res])
		pf = &prev->res[res];
	o = cJSON_AddObjectToObject(payload, psi_names[res]);
	if (!o)
		return -ENOMEM;
	if (psi_line_json(o, "some", f->has_some ? &f->some : NULL,
			  pf && pf->has_some ? &pf->some : NULL, dt_ns) < 0 ||
	    psi_line_json(o, "full", f->has_full ? &f->full : NULL,
			  pf && pf->has_full ? &pf->full : NULL, dt_ns) < 0)
		return -ENOMEM;
	return 0;
}

int psi_build_payload(const struct psi_reading *prev, const struct psi_reading *cur, int64_t t_ms,
		      cJSON **ret_payload)
{
	uint64_t dt_ns;
	cJSON *payload;
	int r = -ENOMEM;

	*ret_payload = NULL;
	dt_ns = procfs_elapsed(prev, prev ? prev->mono_ns : 0, cur->mono_ns);
	payload = json_payload(t_ms);
	if (!payload)
		goto out;
	for (int i = 0; i < PSI_NRES; i++) {
		if (psi_resource_json(payload, (enum psi_resource)i, prev, cur, dt_ns) < 0)
			goto out;
	}
	r = 0;
out:
	return json_hand_over(payload, r, ret_payload);
}

void psi_reason(char *reason, size_t reason_len, const char *path, int err, bool parsing,
		bool have_dir)
{
	if (!reason || reason_len == 0)
		return;
	if (!parsing && !have_dir)
		snprintf(reason, reason_len, "kernel without PSI (no /proc/pressure)");
	else if (!parsing && err == -EOPNOTSUPP)
		snprintf(reason, reason_len,
			 "PSI disabled (kernel booted with psi=0 or built with "
			 "CONFIG_PSI_DEFAULT_DISABLED; boot with psi=1)");
	else
		procfs_reason(reason, reason_len, path, err, parsing);
}

/* The flat runtime's reading is a struct psi_reading; file i is resource
 * i. */
static int psi_parse(const char *text, size_t len, void *reading, size_t index)
{
	struct psi_reading *rd = reading;
	int r;

	rd->present[index] = false;
	r = psi_file_parse((enum psi_resource)index, text, len, &rd->res[index]);
	rd->present[index] = r == 0;
	return r;
}

static void psi_init_reason(const struct flat *f, const struct collector_env *env, int err,
			    char *reason, size_t reason_len)
{
	bool have_dir = faccessat(env->proc_fd, "pressure", F_OK, 0) == 0;

	psi_reason(reason, reason_len, f->files.path, err, f->files.parsing, have_dir);
}

/* Every tick sends the averages; stall_pct needs the previous reading. */
static int psi_payload(const struct flat *f, const void *prev, const struct collector_tick *tick,
		       cJSON **ret_payload)
{
	struct psi_reading *cur = f->cur;

	cur->mono_ns = tick->mono_ns;
	return psi_build_payload(prev, cur, tick->t_ms, ret_payload);
}

/* node_exporter's pressure families from the last good reading. */
static int psi_metrics(const struct flat *f, struct metrics *m)
{
	const struct psi_reading *rd = f->prev;
	unsigned has = 0;

	for (int i = 0; i < PSI_NRES; i++) {
		if (rd->present[i] && rd->res[i].has_some)
			has |= PSI_HAS(i, 0);
		if (rd->present[i] && rd->res[i].has_full)
			has |= PSI_HAS(i, 1);
	}
	fields_prom(m, &psi_family_table, &(struct field_inst){rd, has, NULL}, 1);
	return metrics_error(m);
}

/* A pressure file is two lines of about 55 bytes. A kernel without PSI (or
 * with PSI off) turns the topic off at init; pressure/irq is watched only
 * when it reads then. */
static const struct flat_file psi_files[PSI_NRES] = {
    {.path = "pressure/cpu", .max = 4096, .parse = psi_parse},
    {.path = "pressure/memory", .max = 4096, .parse = psi_parse},
    {.path = "pressure/io", .max = 4096, .parse = psi_parse},
    {.path = "pressure/irq", .max = 4096, .parse = psi_parse, .need = FLAT_IF_READABLE},
};

static const struct flat_desc psi_flat = {
    .files = psi_files,
    .n_files = PSI_NRES,
    .reading_size = sizeof(struct psi_reading),
    .payload = psi_payload,
    .metrics = psi_metrics,
    .reason = psi_init_reason,
};

static const struct field_table *const psi_tables[] = {&psi_line_table, &psi_family_table, NULL};

FLAT_COLLECTOR(psi, .name = "psi", .fields = psi_tables);
