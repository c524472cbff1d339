#include "psi.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "procfs.h"
#include "json.h"

/* A pressure file is two lines of about 55 bytes. */
#define PSI_FILE_MAX 4096

static const char *const psi_paths[PSI_NRES] = {
    "pressure/cpu",
    "pressure/memory",
    "pressure/io",
    "pressure/irq",
};

static const char *const psi_names[PSI_NRES] = {"cpu", "memory", "io", "irq"};

struct psi_state {
	struct procfs_buf buf;
	struct procfs_file files[PSI_NRES]; /* kept open for the ticks */
	struct psi_reading prev, cur;
	bool have_prev;
	bool have_irq; /* pressure/irq was readable at init */
};

/* Splits "key=value" and checks the key. */
static int psi_split_kv(const char *tok, size_t len, const char *key, const char **ret_val,
			size_t *ret_len)
{
	size_t key_len = strlen(key);

	if (len <= key_len + 1 || memcmp(tok, key, key_len) != 0 || tok[key_len] != '=')
		return -EINVAL;
	*ret_val = tok + key_len + 1;
	*ret_len = len - key_len - 1;
	return 0;
}

/* The four fields after "some"/"full", in the kernel's fixed order. */
static int psi_parse_fields(const char *p, const char *end, struct psi_line *ret)
{
	static const char *const keys[] = {"avg10", "avg60", "avg300", "total"};
	const char *tok, *val;
	size_t tok_len, val_len;
	uint64_t v[4];
	int r;

	for (size_t i = 0; i < 4; i++) {
		if (procfs_next_token(&p, end, &tok, &tok_len) <= 0)
			return -EINVAL;
		r = psi_split_kv(tok, tok_len, keys[i], &val, &val_len);
		if (r < 0)
			return r;
		/* averages are "%lu.%02lu" */
		if (i < 3)
			r = procfs_parse_fixed(val, val_len, 2, &v[i]);
		else
			r = procfs_parse_u64(val, val_len, &v[i]);
		if (r < 0)
			return r;
		if (i < 3 && v[i] > UINT32_MAX)
			return -ERANGE;
	}
	if (procfs_next_token(&p, end, &tok, &tok_len) > 0)
		return -EINVAL;
	ret->avg10 = (uint32_t)v[0];
	ret->avg60 = (uint32_t)v[1];
	ret->avg300 = (uint32_t)v[2];
	ret->total_us = v[3];
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

/* Rounds half up to hundredths, as every fractional value of the topic. */
static double psi_hundredths(double v)
{
	return floor(v * 100.0 + 0.5) / 100.0;
}

/* One line as an object under key, or null when the kernel printed none.
 * prev is the same line of the previous reading (NULL: no rate). */
static int psi_line_json(cJSON *parent, const char *key, const struct psi_line *cur,
			 const struct psi_line *prev, uint64_t dt_ns)
{
	uint64_t d_us;
	cJSON *o;

	if (!cur)
		return cJSON_AddNullToObject(parent, key) ? 0 : -ENOMEM;
	o = cJSON_AddObjectToObject(parent, key);
	if (!o)
		return -ENOMEM;
	if (json_num(o, "avg10", cur->avg10 / 100.0) < 0 ||
	    json_num(o, "avg60", cur->avg60 / 100.0) < 0 ||
	    json_num(o, "avg300", cur->avg300 / 100.0) < 0 ||
	    json_num(o, "total_us", (double)cur->total_us) < 0)
		return -ENOMEM;
	if (prev && dt_ns > 0 && procfs_delta(prev->total_us, cur->total_us, &d_us) == 0) {
		/* us stalled per ns elapsed, as percent: d_us * 1000 / dt_ns * 100;
		 * capped because the kernel's total and our clock are not read at
		 * the very same instant */
		double pct = psi_hundredths((double)d_us * 1e5 / (double)dt_ns);

		return json_num(o, "stall_pct", pct > 100.0 ? 100.0 : pct);
	}
	return cJSON_AddNullToObject(o, "stall_pct") ? 0 : -ENOMEM;
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
	uint64_t dt_ns = 0;
	cJSON *payload;
	int r = -ENOMEM;

	*ret_payload = NULL;
	if (prev && procfs_delta(prev->mono_ns, cur->mono_ns, &dt_ns) < 0)
		dt_ns = 0;
	payload = cJSON_CreateObject();
	if (!payload)
		goto out;
	if (json_num(payload, "t", (double)t_ms) < 0)
		goto out;
	for (int i = 0; i < PSI_NRES; i++) {
		if (psi_resource_json(payload, (enum psi_resource)i, prev, cur, dt_ns) < 0)
			goto out;
	}
	*ret_payload = payload;
	payload = NULL;
	r = 0;
out:
	cJSON_Delete(payload);
	return r;
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

/* Reads and parses every file this run watches into *ret; on failure names
 * the file and whether parsing (rather than reading) failed. */
static int psi_read(struct psi_state *s, int proc_fd, struct psi_reading *ret, int *ret_res,
		    bool *ret_parsing)
{
	int r;

	for (int i = 0; i < PSI_NRES; i++) {
		ret->present[i] = false;
		if (i == PSI_IRQ && !s->have_irq)
			continue;
		*ret_res = i;
		*ret_parsing = false;
		r = procfs_read_file(&s->files[i], proc_fd, psi_paths[i], &s->buf, PSI_FILE_MAX);
		if (r < 0)
			return r;
		*ret_parsing = true;
		r = psi_file_parse((enum psi_resource)i, s->buf.data, s->buf.len, &ret->res[i]);
		if (r < 0)
			return r;
		ret->present[i] = true;
	}
	return 0;
}

static void psi_fini(void *state)
{
	struct psi_state *s = state;

	if (!s)
		return;
	procfs_buf_free(&s->buf);
	for (int i = 0; i < PSI_NRES; i++)
		procfs_file_close(&s->files[i]);
	free(s);
}

/* Reads every file once, so that a kernel without PSI (or with PSI off)
 * turns the topic off now. pressure/irq is optional: watched only when it
 * reads at init. */
static int psi_init(const struct collector_env *env, const void *settings, void **ret_state,
		    char *reason, size_t reason_len)
{
	struct psi_state *s;
	bool parsing = false;
	int res = PSI_CPU, r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		procfs_reason(reason, reason_len, psi_paths[res], r, parsing);
		goto out;
	}
	s->have_irq = procfs_read(env->proc_fd, psi_paths[PSI_IRQ], &s->buf, PSI_FILE_MAX) == 0;
	r = psi_read(s, env->proc_fd, &s->cur, &res, &parsing);
	if (r < 0) {
		bool have_dir = faccessat(env->proc_fd, "pressure", F_OK, 0) == 0;

		psi_reason(reason, reason_len, psi_paths[res], r, parsing, have_dir);
		goto out;
	}
	*ret_state = s;
	s = NULL;
out:
	psi_fini(s);
	return r;
}

/* Every tick sends the averages; stall_pct needs the previous reading. A
 * failed read keeps the previous reading for the next rate. */
static int psi_sample(void *state, const struct collector_env *env,
		      const struct collector_tick *tick, cJSON **ret_payload)
{
	struct psi_state *s = state;
	bool parsing;
	int res, r;

	*ret_payload = NULL;
	r = psi_read(s, env->proc_fd, &s->cur, &res, &parsing);
	if (r < 0)
		goto out;
	s->cur.mono_ns = tick->mono_ns;
	r = psi_build_payload(s->have_prev ? &s->prev : NULL, &s->cur, tick->t_ms, ret_payload);
	if (r < 0)
		goto out;
	s->prev = s->cur;
	s->have_prev = true;
out:
	return r;
}

/* node_exporter's pressure families from the last good reading (prev:
 * cur is overwritten by a failed read): the stall totals in seconds. */
static int psi_metrics(void *state, struct metrics *m)
{
	const struct psi_state *s = state;
	static const struct {
		const char *name, *help;
		enum psi_resource res;
		bool full;
	} lines[] = {
	    {"node_pressure_cpu_waiting_seconds_total",
	     "Total time in seconds that processes have waited for CPU time.", PSI_CPU, false},
	    {"node_pressure_memory_waiting_seconds_total",
	     "Total time in seconds that processes have waited for memory.", PSI_MEMORY, false},
	    {"node_pressure_memory_stalled_seconds_total",
	     "Total time in seconds no process could make progress due to memory congestion.",
	     PSI_MEMORY, true},
	    {"node_pressure_io_waiting_seconds_total",
	     "Total time in seconds that processes have waited due to IO congestion.", PSI_IO,
	     false},
	    {"node_pressure_io_stalled_seconds_total",
	     "Total time in seconds no process could make progress due to IO congestion.", PSI_IO,
	     true},
	    {"node_pressure_irq_stalled_seconds_total",
	     "Total time in seconds no process could make progress due to IRQ congestion.", PSI_IRQ,
	     true},
	};
	const struct psi_reading *rd = &s->prev;

	if (!s->have_prev)
		return 0;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		const struct psi_file *f = &rd->res[lines[i].res];
		const struct psi_line *l = lines[i].full ? &f->full : &f->some;

		if (!rd->present[lines[i].res] || !(lines[i].full ? f->has_full : f->has_some))
			continue;
		metrics_family(m, lines[i].name, "counter", lines[i].help);
		metrics_sample(m, lines[i].name, NULL, (double)l->total_us / 1e6);
	}
	return metrics_error(m);
}

const struct collector psi_collector = {
    .name = "psi",
    .init = psi_init,
    .sample = psi_sample,
    .metrics = psi_metrics,
    .fini = psi_fini,
};
