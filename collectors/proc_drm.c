/* DRM fdinfo keys (Documentation/gpu/drm-usage-stats.rst): drm-driver,
 * drm-pdev, drm-client-id, drm-engine-<e> (ns), drm-engine-capacity-<e>,
 * drm-cycles-<e>, drm-total-cycles-<e>, drm-total-<r>, drm-resident-<r>,
 * drm-memory-<r> (bytes, KiB or MiB). */
#include "proc_drm.h"

#include <errno.h>
#include <string.h>

#include "procfs.h"

/* The memory keys of one region: which it gave, and their bytes. */
struct proc_drm_region {
	char name[PROC_DRM_NAME_MAX];
	uint64_t total, resident;
	bool has_total, has_resident;
};

enum proc_drm_unit {
	PROC_DRM_UNIT_NONE,
	PROC_DRM_UNIT_NS,
	PROC_DRM_UNIT_SIZE, /* none (bytes), KiB or MiB */
};

static bool proc_drm_prefix(const char *s, size_t len, const char *prefix, const char **ret_rest,
			    size_t *ret_len)
{
	size_t n = strlen(prefix);

	if (len < n || memcmp(s, prefix, n) != 0)
		return false;
	*ret_rest = s + n;
	*ret_len = len - n;
	return true;
}

/* Copies a name [s, s + len) into dst (PROC_DRM_NAME_MAX): non-empty,
 * shorter than the buffer. */
static int proc_drm_name(const char *s, size_t len, char *dst)
{
	if (len == 0 || len >= PROC_DRM_NAME_MAX)
		return -EINVAL;
	memcpy(dst, s, len);
	dst[len] = '\0';
	return 0;
}

/* The value [s, s + len): digits, then for `unit` the unit after one or
 * more spaces. Returns 0, -EINVAL or -ERANGE. */
static int proc_drm_value(const char *s, size_t len, enum proc_drm_unit unit, uint64_t *ret)
{
	const char *end = s + len, *p = s, *tok;
	size_t tok_len, n = 0;
	uint64_t v, mul = 1;
	int r;

	while (p + n < end && p[n] >= '0' && p[n] <= '9')
		n++;
	r = procfs_parse_u64(p, n, &v);
	if (r < 0)
		return r;
	p += n;
	if (p < end && *p != ' ')
		return -EINVAL;
	if (procfs_next_token(&p, end, &tok, &tok_len) == 0) {
		if (unit == PROC_DRM_UNIT_NS)
			return -EINVAL; /* the unit is part of the key's format */
	} else if (unit == PROC_DRM_UNIT_NS && procfs_token_is(tok, tok_len, "ns")) {
		mul = 1;
	} else if (unit == PROC_DRM_UNIT_SIZE && procfs_token_is(tok, tok_len, "KiB")) {
		mul = 1024;
	} else if (unit == PROC_DRM_UNIT_SIZE && procfs_token_is(tok, tok_len, "MiB")) {
		mul = 1024 * 1024;
	} else {
		return -EINVAL;
	}
	if (procfs_next_token(&p, end, &tok, &tok_len) != 0)
		return -EINVAL;
	if (v > UINT64_MAX / mul)
		return -ERANGE;
	*ret = v * mul;
	return 0;
}

/* The engine called [name, name + len) of c, added when new; NULL when c
 * has PROC_DRM_ENGINES already (the key is then skipped). */
static int proc_drm_engine(struct proc_drm_client *c, const char *name, size_t len,
			   struct proc_drm_engine **ret)
{
	struct proc_drm_engine *e;
	int r;

	*ret = NULL;
	if (len == 0 || len >= PROC_DRM_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < c->n_engines; i++) {
		if (procfs_token_is(name, len, c->engines[i].name)) {
			*ret = &c->engines[i];
			return 0;
		}
	}
	if (c->n_engines == PROC_DRM_ENGINES)
		return 0;
	e = &c->engines[c->n_engines];
	memset(e, 0, sizeof(*e));
	r = proc_drm_name(name, len, e->name);
	if (r < 0)
		return r;
	e->capacity = 1;
	c->n_engines++;
	*ret = e;
	return 0;
}

static int proc_drm_region(struct proc_drm_region *v, size_t *n, const char *name, size_t len,
			   struct proc_drm_region **ret)
{
	*ret = NULL;
	if (len == 0 || len >= PROC_DRM_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < *n; i++) {
		if (procfs_token_is(name, len, v[i].name)) {
			*ret = &v[i];
			return 0;
		}
	}
	if (*n == PROC_DRM_REGIONS)
		return 0;
	memset(&v[*n], 0, sizeof(v[*n]));
	proc_drm_name(name, len, v[*n].name);
	*ret = &v[(*n)++];
	return 0;
}

/* One "drm-" line: its key [k, k + klen) without "drm-", its value
 * [val, val + vlen). */
static int proc_drm_key(struct proc_drm_client *c, struct proc_drm_region *regions,
			size_t *n_regions, bool *have_driver, const char *k, size_t klen,
			const char *val, size_t vlen)
{
	struct proc_drm_engine *e;
	struct proc_drm_region *reg;
	const char *name;
	size_t nlen;
	uint64_t v;
	int r;

	if (procfs_token_is(k, klen, "driver")) {
		*have_driver = true;
		return proc_drm_name(val, vlen, c->driver);
	}
	if (procfs_token_is(k, klen, "pdev"))
		return proc_drm_name(val, vlen, c->pdev);
	if (procfs_token_is(k, klen, "client-id")) {
		c->has_id = true;
		return proc_drm_value(val, vlen, PROC_DRM_UNIT_NONE, &c->id);
	}
	if (proc_drm_prefix(k, klen, "engine-capacity-", &name, &nlen)) {
		r = proc_drm_value(val, vlen, PROC_DRM_UNIT_NONE, &v);
		if (r == 0 && v == 0)
			r = -EINVAL; /* "Zero capacity is not allowed." */
		if (r == 0)
			r = proc_drm_engine(c, name, nlen, &e);
		if (r == 0 && e)
			e->capacity = v;
		return r;
	}
	if (proc_drm_prefix(k, klen, "engine-", &name, &nlen)) {
		r = proc_drm_value(val, vlen, PROC_DRM_UNIT_NS, &v);
		if (r == 0)
			r = proc_drm_engine(c, name, nlen, &e);
		if (r == 0 && e) {
			e->busy_ns = v;
			e->has |= PROC_DRM_NS;
		}
		return r;
	}
	if (proc_drm_prefix(k, klen, "cycles-", &name, &nlen) ||
	    proc_drm_prefix(k, klen, "total-cycles-", &name, &nlen)) {
		bool total = k[0] == 't';

		r = proc_drm_value(val, vlen, PROC_DRM_UNIT_NONE, &v);
		if (r == 0)
			r = proc_drm_engine(c, name, nlen, &e);
		if (r == 0 && e) {
			*(total ? &e->total_cycles : &e->cycles) = v;
			e->has |= total ? PROC_DRM_TOTAL_CYCLES : PROC_DRM_CYCLES;
		}
		return r;
	}
	if (proc_drm_prefix(k, klen, "total-", &name, &nlen) ||
	    proc_drm_prefix(k, klen, "resident-", &name, &nlen) ||
	    proc_drm_prefix(k, klen, "memory-", &name, &nlen)) {
		bool total = k[0] == 't';

		r = proc_drm_value(val, vlen, PROC_DRM_UNIT_SIZE, &v);
		if (r == 0)
			r = proc_drm_region(regions, n_regions, name, nlen, &reg);
		if (r == 0 && reg && total) {
			reg->total = v;
			reg->has_total = true;
		} else if (r == 0 && reg) {
			reg->resident = v;
			reg->has_resident = true;
		}
		return r;
	}
	return 0;
}

int proc_drm_parse(const char *text, size_t len, struct proc_drm_client *ret)
{
	struct proc_drm_region regions[PROC_DRM_REGIONS];
	const char *p = text, *end = text + len, *line;
	size_t line_len, n_regions = 0;
	bool have_driver = false;
	int r;

	memset(ret, 0, offsetof(struct proc_drm_client, engines));
	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		const char *colon, *val;
		size_t klen;

		if (line_len < 4 || memcmp(line, "drm-", 4) != 0)
			continue;
		colon = memchr(line, ':', line_len);
		if (!colon)
			return -EINVAL;
		klen = (size_t)(colon - line);
		if (memchr(line, ' ', klen) || memchr(line, '\t', klen) || memchr(line, '\0', klen))
			return -EINVAL;
		val = colon + 1;
		while (val < line + line_len && (*val == ' ' || *val == '\t'))
			val++;
		r = proc_drm_key(ret, regions, &n_regions, &have_driver, line + 4, klen - 4, val,
				 (size_t)(line + line_len - val));
		if (r < 0)
			return r;
	}
	if (r < 0)
		return r;
	if (!have_driver)
		return -ENODATA;
	for (size_t i = 0; i < n_regions; i++) {
		uint64_t v = regions[i].has_resident ? regions[i].resident : regions[i].total;

		if (v > UINT64_MAX - ret->mem_bytes)
			return -ERANGE;
		ret->mem_bytes += v;
		ret->has_mem = true;
	}
	return 0;
}

static void proc_drm_max(uint64_t *stored, uint64_t cur)
{
	if (cur > *stored)
		*stored = cur;
}

void proc_drm_fold(struct proc_drm_engine *stored, const struct proc_drm_engine *cur)
{
	proc_drm_max(&stored->busy_ns, cur->busy_ns);
	proc_drm_max(&stored->cycles, cur->cycles);
	proc_drm_max(&stored->total_cycles, cur->total_cycles);
	stored->capacity = cur->capacity;
	stored->has |= cur->has;
}

static uint64_t proc_drm_ahead(uint64_t prev, uint64_t cur)
{
	return cur > prev ? cur - prev : 0;
}

bool proc_drm_busy(const struct proc_drm_engine *prev, const struct proc_drm_engine *cur,
		   uint64_t dt_ns, double *ret)
{
	const unsigned both = PROC_DRM_CYCLES | PROC_DRM_TOTAL_CYCLES;
	uint64_t cap = cur->capacity ? cur->capacity : 1;

	if ((prev->has & both) == both && (cur->has & both) == both) {
		uint64_t dtotal = proc_drm_ahead(prev->total_cycles, cur->total_cycles);

		if (dtotal == 0)
			return false;
		*ret = (double)proc_drm_ahead(prev->cycles, cur->cycles) / (double)dtotal /
		       (double)cap;
		return true;
	}
	if (!(prev->has & cur->has & PROC_DRM_NS) || dt_ns == 0)
		return false;
	*ret = (double)proc_drm_ahead(prev->busy_ns, cur->busy_ns) / (double)dt_ns / (double)cap;
	return true;
}
