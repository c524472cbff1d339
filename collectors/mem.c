#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "procfs.h"

/* /proc/meminfo is about 1.5 KiB; leave room for many more keys. */
#define MEM_INFO_MAX (64u << 10)
/* /proc/vmstat is about 5 KiB on 6.x with NUMA and THP counters. */
#define MEM_VMSTAT_MAX (256u << 10)

struct mem_state {
	struct procfs_buf buf;
	struct procfs_file info_file, vmstat_file; /* kept open for the ticks */
	bool vm_enabled;                           /* /proc/vmstat was there at init */
	/* the last tick's readings: the base of the next rates, and what
	 * /metrics shows */
	struct mem_info mi;
	struct mem_vmstat vm;
	uint64_t vm_mono_ns;
	bool have_mi;
	bool have_vm;
};

/* Splits "Key:   value [kB]" into its key, its number and whether the unit
 * was kB. Any unit but kB, or anything after it, is an error. */
static int mem_split_line(const char *line, size_t len, const char **ret_key, size_t *ret_key_len,
			  uint64_t *ret_value, bool *ret_kb)
{
	const char *colon, *p, *end = line + len, *tok;
	size_t tok_len;
	int r;

	colon = memchr(line, ':', len);
	if (!colon || colon == line || memchr(line, ' ', (size_t)(colon - line)))
		return -EINVAL;
	p = colon + 1;
	if (procfs_next_token(&p, end, &tok, &tok_len) <= 0)
		return -EINVAL;
	r = procfs_parse_u64(tok, tok_len, ret_value);
	if (r < 0)
		return r;
	*ret_kb = false;
	if (procfs_next_token(&p, end, &tok, &tok_len) > 0) {
		if (!procfs_token_is(tok, tok_len, "kB"))
			return -EINVAL;
		*ret_kb = true;
		if (procfs_next_token(&p, end, &tok, &tok_len) > 0)
			return -EINVAL;
	}
	*ret_key = line;
	*ret_key_len = (size_t)(colon - line);
	return 0;
}

int mem_info_parse(const char *text, size_t len, struct mem_info *ret)
{
	/* a pseudo-flag for each required key, above the MEM_HAS_* bits */
	enum { HAS_TOTAL = 1u << 29, HAS_FREE = 1u << 30 };
	struct mem_info mi = {0};
	const struct {
		const char *key;
		uint64_t *dst;
		unsigned flag;
		bool kb; /* in kB (converted to bytes), or a bare count */
	} keys[] = {
	    {"MemTotal", &mi.total, HAS_TOTAL, true},
	    {"MemFree", &mi.free, HAS_FREE, true},
	    {"MemAvailable", &mi.available, MEM_HAS_AVAILABLE, true},
	    {"Buffers", &mi.buffers, MEM_HAS_BUFFERS, true},
	    {"Cached", &mi.cached, MEM_HAS_CACHED, true},
	    {"SReclaimable", &mi.sreclaimable, MEM_HAS_SRECLAIMABLE, true},
	    {"SwapTotal", &mi.swap_total, MEM_HAS_SWAP_TOTAL, true},
	    {"SwapFree", &mi.swap_free, MEM_HAS_SWAP_FREE, true},
	    {"Dirty", &mi.dirty, MEM_HAS_DIRTY, true},
	    {"Slab", &mi.slab, MEM_HAS_SLAB, true},
	    {"SUnreclaim", &mi.sunreclaim, MEM_HAS_SUNRECLAIM, true},
	    {"Shmem", &mi.shmem, MEM_HAS_SHMEM, true},
	    {"HugePages_Total", &mi.hugepages_total, MEM_HAS_HUGEPAGES_TOTAL, false},
	    {"HugePages_Free", &mi.hugepages_free, MEM_HAS_HUGEPAGES_FREE, false},
	    {"Hugepagesize", &mi.hugepage_size, MEM_HAS_HUGEPAGESIZE, true},
	};
	const char *p = text, *end = text + len, *line, *key;
	size_t line_len, key_len;
	unsigned seen = 0;
	uint64_t value;
	bool kb;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		r = mem_split_line(line, line_len, &key, &key_len, &value, &kb);
		if (r < 0)
			goto out;
		for (size_t i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			if (!procfs_token_is(key, key_len, keys[i].key))
				continue;
			r = -EINVAL;
			if (kb != keys[i].kb || (seen & keys[i].flag))
				goto out;
			if (kb) {
				r = procfs_kb_to_bytes(value, keys[i].dst);
				if (r < 0)
					goto out;
			} else {
				*keys[i].dst = value;
			}
			seen |= keys[i].flag;
			break;
		}
	}
	if (r < 0)
		goto out;
	if (!(seen & HAS_TOTAL) || !(seen & HAS_FREE)) {
		r = -ENODATA;
		goto out;
	}
	mi.has = seen & ~(unsigned)(HAS_TOTAL | HAS_FREE);
	*ret = mi;
out:
	return r;
}

/* A vmstat name: an identifier, as in the kernel's vmstat_text[]. */
static bool mem_vmstat_name_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!(s[i] >= 'a' && s[i] <= 'z') && !(s[i] >= 'A' && s[i] <= 'Z') &&
		    !(s[i] >= '0' && s[i] <= '9') && s[i] != '_')
			return false;
	}
	return len > 0;
}

int mem_vmstat_parse(const char *text, size_t len, struct mem_vmstat *ret)
{
	static const char *const names[MEM_VM_N] = {
	    [MEM_VM_PGFAULT] = "pgfault",
	    [MEM_VM_PGMAJFAULT] = "pgmajfault",
	    [MEM_VM_PSWPIN] = "pswpin",
	    [MEM_VM_PSWPOUT] = "pswpout",
	};
	struct mem_vmstat vm = {{0}, 0};
	const char *p = text, *end = text + len, *line, *sp;
	size_t line_len, name_len;
	uint64_t value;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		/* exactly "name value": the kernel prints "%s %lu\n" */
		sp = memchr(line, ' ', line_len);
		if (!sp) {
			r = -EINVAL;
			goto out;
		}
		name_len = (size_t)(sp - line);
		if (!mem_vmstat_name_ok(line, name_len)) {
			r = -EINVAL;
			goto out;
		}
		r = procfs_parse_u64(sp + 1, line_len - name_len - 1, &value);
		if (r < 0)
			goto out;
		for (size_t i = 0; i < MEM_VM_N; i++) {
			/* the first byte rules out most of the 180 lines cheaply */
			if (line[0] != names[i][0] || !procfs_token_is(line, name_len, names[i]))
				continue;
			if (vm.has & (1u << i)) {
				r = -EINVAL;
				goto out;
			}
			vm.v[i] = value;
			vm.has |= 1u << i;
			break;
		}
	}
	if (r < 0)
		goto out;
	*ret = vm;
out:
	return r;
}

void mem_vmstat_rates(const struct mem_vmstat *prev, const struct mem_vmstat *cur, uint64_t dt_ns,
		      struct mem_rates *ret)
{
	ret->has = 0;
	for (size_t i = 0; i < MEM_VM_N; i++) {
		ret->per_s[i] = 0;
		if (!(prev->has & cur->has & (1u << i)))
			continue;
		if (procfs_rate_hundredths(prev->v[i], cur->v[i], dt_ns, &ret->per_s[i]) == 1)
			ret->has |= 1u << i;
	}
}

static uint64_t mem_sub_clamped(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint64_t mem_add_saturated(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int mem_build_payload(const struct mem_info *mi, const struct mem_rates *rates, int64_t t_ms,
		      cJSON **ret_payload)
{
	uint64_t cached, available, used, swap_used;
	unsigned rates_has = rates ? rates->has : 0;
	cJSON *payload;
	int r = -ENOMEM;

	cached = mem_add_saturated(mi->cached, mi->sreclaimable);
	if (mi->has & MEM_HAS_AVAILABLE)
		available = mi->available;
	else
		available = mem_add_saturated(mem_add_saturated(mi->free, mi->buffers), cached);
	if (available > mi->total)
		available = mi->total;
	/* as free(1) of procps 4 counts it: what is not available */
	used = mi->total - available;
	swap_used = mem_sub_clamped(mi->swap_total, mi->swap_free);

	const struct {
		const char *key;
		double v;
		bool have;
	} fields[] = {
	    {"t", (double)t_ms, true},
	    {"total", (double)mi->total, true},
	    {"free", (double)mi->free, true},
	    {"available", (double)available, true},
	    {"used", (double)used, true},
	    {"buffers", (double)mi->buffers, true},
	    {"cached", (double)cached, true},
	    {"swap_total", (double)mi->swap_total, true},
	    {"swap_free", (double)mi->swap_free, true},
	    {"swap_used", (double)swap_used, true},
	    {"dirty", (double)mi->dirty, true},
	    {"slab", (double)mi->slab, mi->has & MEM_HAS_SLAB},
	    {"sreclaimable", (double)mi->sreclaimable, mi->has & MEM_HAS_SRECLAIMABLE},
	    {"sunreclaim", (double)mi->sunreclaim, mi->has & MEM_HAS_SUNRECLAIM},
	    {"shmem", (double)mi->shmem, mi->has & MEM_HAS_SHMEM},
	    {"hugepages_total", (double)mi->hugepages_total, mi->has & MEM_HAS_HUGEPAGES_TOTAL},
	    {"hugepages_free", (double)mi->hugepages_free, mi->has & MEM_HAS_HUGEPAGES_FREE},
	    {"hugepage_size", (double)mi->hugepage_size, mi->has & MEM_HAS_HUGEPAGESIZE},
	    {"page_faults_per_s", rates ? rates->per_s[MEM_VM_PGFAULT] : 0,
	     rates_has & (1u << MEM_VM_PGFAULT)},
	    {"major_faults_per_s", rates ? rates->per_s[MEM_VM_PGMAJFAULT] : 0,
	     rates_has & (1u << MEM_VM_PGMAJFAULT)},
	    {"swap_in_pages_per_s", rates ? rates->per_s[MEM_VM_PSWPIN] : 0,
	     rates_has & (1u << MEM_VM_PSWPIN)},
	    {"swap_out_pages_per_s", rates ? rates->per_s[MEM_VM_PSWPOUT] : 0,
	     rates_has & (1u << MEM_VM_PSWPOUT)},
	};

	*ret_payload = NULL;
	payload = cJSON_CreateObject();
	if (!payload)
		goto out;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (fields[i].have ? !cJSON_AddNumberToObject(payload, fields[i].key, fields[i].v)
				   : !cJSON_AddNullToObject(payload, fields[i].key))
			goto out;
	}
	*ret_payload = payload;
	payload = NULL;
	r = 0;
out:
	cJSON_Delete(payload);
	return r;
}

static void mem_fini(void *state)
{
	struct mem_state *s = state;

	if (!s)
		return;
	procfs_buf_free(&s->buf);
	procfs_file_close(&s->info_file);
	procfs_file_close(&s->vmstat_file);
	free(s);
}

/* Reads and parses /proc/meminfo and /proc/vmstat once, so that a missing
 * or foreign meminfo, or a foreign vmstat, turns the topic off now. A
 * missing vmstat only leaves the rates null. The buffer is kept for the
 * ticks. */
static int mem_init(const struct collector_env *env, const void *settings, void **ret_state,
		    char *reason, size_t reason_len)
{
	struct mem_state *s;
	struct mem_info mi;
	struct mem_vmstat vm;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		procfs_reason(reason, reason_len, "meminfo", r, false);
		goto out;
	}
	r = procfs_read(env->proc_fd, "meminfo", &s->buf, MEM_INFO_MAX);
	if (r < 0) {
		procfs_reason(reason, reason_len, "meminfo", r, false);
		goto out;
	}
	r = mem_info_parse(s->buf.data, s->buf.len, &mi);
	if (r < 0) {
		procfs_reason(reason, reason_len, "meminfo", r, true);
		goto out;
	}
	r = procfs_read(env->proc_fd, "vmstat", &s->buf, MEM_VMSTAT_MAX);
	if (r == 0) {
		r = mem_vmstat_parse(s->buf.data, s->buf.len, &vm);
		if (r < 0) {
			procfs_reason(reason, reason_len, "vmstat", r, true);
			goto out;
		}
		s->vm_enabled = true;
	} else if (r != -ENOENT) {
		procfs_reason(reason, reason_len, "vmstat", r, false);
		goto out;
	}
	r = 0;
	*ret_state = s;
	s = NULL;
out:
	mem_fini(s);
	return r;
}

/* Every tick sends a payload; the rates start with the second. A failed
 * read or parse of either file sends nothing and keeps the last readings,
 * so the next rates span two intervals. */
static int mem_sample(void *state, const struct collector_env *env,
		      const struct collector_tick *tick, cJSON **ret_payload)
{
	struct mem_state *s = state;
	struct mem_info mi;
	struct mem_vmstat vm;
	struct mem_rates rates;
	const struct mem_rates *have_rates = NULL;
	int r;

	*ret_payload = NULL;
	r = procfs_read_file(&s->info_file, env->proc_fd, "meminfo", &s->buf, MEM_INFO_MAX);
	if (r < 0)
		goto out;
	r = mem_info_parse(s->buf.data, s->buf.len, &mi);
	if (r < 0)
		goto out;
	if (s->vm_enabled) {
		r = procfs_read_file(&s->vmstat_file, env->proc_fd, "vmstat", &s->buf,
				     MEM_VMSTAT_MAX);
		if (r < 0)
			goto out;
		r = mem_vmstat_parse(s->buf.data, s->buf.len, &vm);
		if (r < 0)
			goto out;
		if (s->have_vm) {
			mem_vmstat_rates(
			    &s->vm, &vm,
			    tick->mono_ns > s->vm_mono_ns ? tick->mono_ns - s->vm_mono_ns : 0,
			    &rates);
			have_rates = &rates;
		}
	}
	r = mem_build_payload(&mi, have_rates, tick->t_ms, ret_payload);
	if (r < 0)
		goto out;
	s->mi = mi;
	s->have_mi = true;
	if (s->vm_enabled) {
		s->vm = vm;
		s->vm_mono_ns = tick->mono_ns;
		s->have_vm = true;
	}
out:
	return r;
}

/* /proc/meminfo and /proc/vmstat as snake_case sysfeed_ families (their
 * node_exporter names, node_memory_MemTotal_bytes and so on, are CamelCase,
 * which promtool warns about): kB lines in bytes, only the lines the kernel
 * printed; the vmstat events as the counters they are. */
static int mem_metrics(void *state, struct metrics *m)
{
	const struct mem_state *s = state;
	const struct mem_info *mi = &s->mi;
	const struct {
		const char *name, *help;
		unsigned flag; /* 0: always there */
		uint64_t v;
	} lines[] = {
	    {"sysfeed_memory_total_bytes", "MemTotal from /proc/meminfo, in bytes.", 0, mi->total},
	    {"sysfeed_memory_free_bytes", "MemFree from /proc/meminfo, in bytes.", 0, mi->free},
	    {"sysfeed_memory_available_bytes", "MemAvailable from /proc/meminfo, in bytes.",
	     MEM_HAS_AVAILABLE, mi->available},
	    {"sysfeed_memory_buffers_bytes", "Buffers from /proc/meminfo, in bytes.",
	     MEM_HAS_BUFFERS, mi->buffers},
	    {"sysfeed_memory_cached_bytes", "Cached from /proc/meminfo, in bytes.", MEM_HAS_CACHED,
	     mi->cached},
	    {"sysfeed_memory_swap_total_bytes", "SwapTotal from /proc/meminfo, in bytes.",
	     MEM_HAS_SWAP_TOTAL, mi->swap_total},
	    {"sysfeed_memory_swap_free_bytes", "SwapFree from /proc/meminfo, in bytes.",
	     MEM_HAS_SWAP_FREE, mi->swap_free},
	    {"sysfeed_memory_dirty_bytes", "Dirty from /proc/meminfo, in bytes.", MEM_HAS_DIRTY,
	     mi->dirty},
	    {"sysfeed_memory_shmem_bytes", "Shmem from /proc/meminfo, in bytes.", MEM_HAS_SHMEM,
	     mi->shmem},
	    {"sysfeed_memory_slab_bytes", "Slab from /proc/meminfo, in bytes.", MEM_HAS_SLAB,
	     mi->slab},
	    {"sysfeed_memory_sreclaimable_bytes", "SReclaimable from /proc/meminfo, in bytes.",
	     MEM_HAS_SRECLAIMABLE, mi->sreclaimable},
	    {"sysfeed_memory_sunreclaim_bytes", "SUnreclaim from /proc/meminfo, in bytes.",
	     MEM_HAS_SUNRECLAIM, mi->sunreclaim},
	    {"sysfeed_memory_hugepages", "HugePages_Total from /proc/meminfo, in pages.",
	     MEM_HAS_HUGEPAGES_TOTAL, mi->hugepages_total},
	    {"sysfeed_memory_hugepages_free", "HugePages_Free from /proc/meminfo, in pages.",
	     MEM_HAS_HUGEPAGES_FREE, mi->hugepages_free},
	    {"sysfeed_memory_hugepage_size_bytes", "Hugepagesize from /proc/meminfo, in bytes.",
	     MEM_HAS_HUGEPAGESIZE, mi->hugepage_size},
	};
	static const struct {
		const char *name, *help;
	} vm_names[MEM_VM_N] = {
	    [MEM_VM_PGFAULT] = {"sysfeed_vmstat_pgfault_total", "pgfault from /proc/vmstat."},
	    [MEM_VM_PGMAJFAULT] = {"sysfeed_vmstat_pgmajfault_total",
				   "pgmajfault from /proc/vmstat."},
	    [MEM_VM_PSWPIN] = {"sysfeed_vmstat_pswpin_total", "pswpin from /proc/vmstat."},
	    [MEM_VM_PSWPOUT] = {"sysfeed_vmstat_pswpout_total", "pswpout from /proc/vmstat."},
	};

	if (!s->have_mi)
		return 0;
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (lines[i].flag && !(mi->has & lines[i].flag))
			continue;
		metrics_family(m, lines[i].name, "gauge", lines[i].help);
		metrics_sample(m, lines[i].name, NULL, (double)lines[i].v);
	}
	for (size_t i = 0; s->have_vm && i < MEM_VM_N; i++) {
		if (!(s->vm.has & (1u << i)))
			continue;
		metrics_family(m, vm_names[i].name, "counter", vm_names[i].help);
		metrics_sample(m, vm_names[i].name, NULL, (double)s->vm.v[i]);
	}
	return metrics_error(m);
}

static const char *const mem_history[] = {"used", "buffers", "cached", NULL};

const struct collector mem_collector = {
    .name = "mem",
    .history = mem_history,
    .init = mem_init,
    .sample = mem_sample,
    .metrics = mem_metrics,
    .fini = mem_fini,
};
