/* The `mem` topic's collector: /proc/meminfo and /proc/vmstat parsed each tick
 * through their field tables into the payload and the sysfeed_memory families. */
#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"
#include "flat.h"
#include "json.h"
#include "metrics.h"
#include "procfs.h"

/* /proc/meminfo is about 1.5 KiB; leave room for many more keys. */
#define MEM_INFO_MAX (64u << 10)
/* /proc/vmstat is about 5 KiB on 6.x with NUMA and THP counters. */
#define MEM_VMSTAT_MAX (256u << 10)

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

static uint64_t mem_sub_clamped(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint64_t mem_add_saturated(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

/* Page cache as procps `free` shows it: Cached + SReclaimable. */
static uint64_t mem_cached(const struct mem_info *mi)
{
	return mem_add_saturated(mi->cached, mi->sreclaimable);
}

/* MemAvailable, or free + buffers + cached on kernels without it; at most
 * total. */
static uint64_t mem_available(const struct mem_info *mi)
{
	uint64_t v;

	if (mi->has & MEM_HAS_AVAILABLE)
		v = mi->available;
	else
		v = mem_add_saturated(mem_add_saturated(mi->free, mi->buffers), mem_cached(mi));
	return v > mi->total ? mi->total : v;
}

static bool mem_derive_available(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	*ret = (double)mem_available(cur);
	return true;
}

/* as free(1) of procps 4 counts it: what is not available */
static bool mem_derive_used(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	const struct mem_info *mi = cur;

	*ret = (double)(mi->total - mem_available(mi));
	return true;
}

static bool mem_derive_cached(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	*ret = (double)mem_cached(cur);
	return true;
}

static bool mem_derive_swap_used(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	const struct mem_info *mi = cur;

	*ret = (double)mem_sub_clamped(mi->swap_total, mi->swap_free);
	return true;
}

/* The payload's fields up to hugepage_size and the sysfeed_memory_*
 * families. Fields before slab are always numbers (a line the kernel
 * lacks counts as 0), later ones null; a family is left out without its
 * line. The families keep the order of the kernel's lines. */
#define MEM_KB(key, member, has_bit, extra)                                                        \
	FIELD(.source = key, .json = #member, .prom = "sysfeed_memory_" #member "_bytes",          \
	      .type = FIELD_GAUGE, .unit = "bytes", .help = key " from /proc/meminfo, in bytes.",  \
	      FIELD_AT(struct mem_info, member), .has = has_bit, .flags = FIELD_KB | (extra))
static const struct field mem_info_fields[] = {
    MEM_KB("MemTotal", total, 0, 0),
    MEM_KB("MemFree", free, 0, 0),
    FIELD(.source = "MemAvailable", .prom = "sysfeed_memory_available_bytes", .type = FIELD_GAUGE,
	  .unit = "bytes", .help = "MemAvailable from /proc/meminfo, in bytes.",
	  FIELD_AT(struct mem_info, available), .has = MEM_HAS_AVAILABLE, .flags = FIELD_KB),
    FIELD(.json = "available", .type = FIELD_GAUGE, .unit = "bytes",
	  .help = "Memory available to start new applications without swapping: MemAvailable, or "
		  "free + buffers + cached before 3.14; at most total.",
	  FIELD_DERIVE(mem_derive_available)),
    FIELD(.json = "used", .type = FIELD_GAUGE, .unit = "bytes",
	  .help = "total - available, as free(1) of procps 4 shows it.",
	  FIELD_DERIVE(mem_derive_used)),
    MEM_KB("Buffers", buffers, MEM_HAS_BUFFERS, FIELD_ZERO_ABSENT),
    FIELD(.source = "Cached", .prom = "sysfeed_memory_cached_bytes", .type = FIELD_GAUGE,
	  .unit = "bytes", .help = "Cached from /proc/meminfo, in bytes.",
	  FIELD_AT(struct mem_info, cached), .has = MEM_HAS_CACHED, .flags = FIELD_KB),
    FIELD(.json = "cached", .type = FIELD_GAUGE, .unit = "bytes",
	  .help = "Page cache and reclaimable slab: Cached + SReclaimable.",
	  FIELD_DERIVE(mem_derive_cached)),
    MEM_KB("SwapTotal", swap_total, MEM_HAS_SWAP_TOTAL, FIELD_ZERO_ABSENT),
    MEM_KB("SwapFree", swap_free, MEM_HAS_SWAP_FREE, FIELD_ZERO_ABSENT),
    FIELD(.json = "swap_used", .type = FIELD_GAUGE, .unit = "bytes",
	  .help = "swap_total - swap_free.", FIELD_DERIVE(mem_derive_swap_used)),
    MEM_KB("Dirty", dirty, MEM_HAS_DIRTY, FIELD_ZERO_ABSENT),
    MEM_KB("Slab", slab, MEM_HAS_SLAB, 0),
    MEM_KB("SReclaimable", sreclaimable, MEM_HAS_SRECLAIMABLE, 0),
    MEM_KB("SUnreclaim", sunreclaim, MEM_HAS_SUNRECLAIM, 0),
    FIELD(.source = "Shmem", .json = "shmem", .prom = "sysfeed_memory_shmem_bytes",
	  .type = FIELD_GAUGE, .unit = "bytes", .help = "Shmem from /proc/meminfo, in bytes.",
	  FIELD_AT(struct mem_info, shmem), .has = MEM_HAS_SHMEM, .flags = FIELD_KB,
	  .prom_before = "Slab"),
    FIELD(.source = "HugePages_Total", .json = "hugepages_total",
	  .prom = "sysfeed_memory_hugepages", .type = FIELD_GAUGE, .unit = "pages",
	  .help = "HugePages_Total from /proc/meminfo, in pages.",
	  FIELD_AT(struct mem_info, hugepages_total), .has = MEM_HAS_HUGEPAGES_TOTAL),
    FIELD(.source = "HugePages_Free", .json = "hugepages_free",
	  .prom = "sysfeed_memory_hugepages_free", .type = FIELD_GAUGE, .unit = "pages",
	  .help = "HugePages_Free from /proc/meminfo, in pages.",
	  FIELD_AT(struct mem_info, hugepages_free), .has = MEM_HAS_HUGEPAGES_FREE),
    FIELD(.source = "Hugepagesize", .json = "hugepage_size",
	  .prom = "sysfeed_memory_hugepage_size_bytes", .type = FIELD_GAUGE, .unit = "bytes",
	  .help = "Hugepagesize from /proc/meminfo, in bytes.",
	  FIELD_AT(struct mem_info, hugepage_size), .has = MEM_HAS_HUGEPAGESIZE, .flags = FIELD_KB),
};

static const struct field_table mem_info_table = {
    .path = "",
    .file = "/proc/meminfo",
    .passes = {FIELDS_VALUES},
    FIELD_ROWS(mem_info_fields),
};

/* The vmstat events: rates in the payload, the counters they are in
 * /metrics. */
#define MEM_VM(key, counter, what, rate_key, rate_text)                                            \
	FIELD(.source = key, .prom = "sysfeed_vmstat_" key "_total", .type = FIELD_COUNTER,        \
	      .unit = what, .help = key " from /proc/vmstat.",                                     \
	      FIELD_AT(struct mem_vmstat, v[counter]), .has = 1u << (counter), .rate = rate_key,   \
	      .rate_unit = what "/s", .rate_help = rate_text)
static const struct field mem_vm_fields[] = {
    MEM_VM("pgfault", MEM_VM_PGFAULT, "faults", "page_faults_per_s",
	   "Page faults, minor and major, per second."),
    MEM_VM("pgmajfault", MEM_VM_PGMAJFAULT, "faults", "major_faults_per_s",
	   "Major page faults (the page had to be read from disk) per second."),
    MEM_VM("pswpin", MEM_VM_PSWPIN, "pages", "swap_in_pages_per_s", "Pages swapped in per second."),
    MEM_VM("pswpout", MEM_VM_PSWPOUT, "pages", "swap_out_pages_per_s",
	   "Pages swapped out per second."),
};

static const struct field_table mem_vm_table = {
    .path = "",
    .file = "/proc/vmstat",
    .passes = {FIELDS_RATES},
    FIELD_ROWS(mem_vm_fields),
};

/* The bytes of [text, text + len) up to its last '\n', for parsers whose
 * scans stop at a '\n' without looking at the end: a cut last line is an
 * error after the whole lines before it, as procfs_next_line() makes it. */
static const char *mem_whole_lines(const char *text, size_t len)
{
	const char *nl = len ? memrchr(text, '\n', len) : NULL;

	return nl ? nl + 1 : text;
}

static bool mem_is_digit(char c)
{
	return procfs_class[(unsigned char)c] & PROCFS_DIGIT;
}

/* The line at line (which a '\n' ends) when it has the shape the kernel
 * prints, "Key:   digits[ kB]" with at most 19 digits (no overflow): its
 * key, its number and its '\n'. NULL for anything else, which
 * mem_split_line() then judges. */
static const char *mem_info_plain(const char *line, size_t *ret_key_len, const char **ret_num,
				  size_t *ret_num_len, bool *ret_kb)
{
	const char *p = line, *num;

	while (procfs_class[(unsigned char)*p] & PROCFS_KEY)
		p++;
	if (p == line || *p != ':')
		return NULL;
	*ret_key_len = (size_t)(p - line);
	p++;
	while (*p == ' ')
		p++;
	num = p;
	while (mem_is_digit(*p))
		p++;
	if (p == num || p - num > 19)
		return NULL;
	*ret_num = num;
	*ret_num_len = (size_t)(p - num);
	*ret_kb = false;
	if (*p == ' ') {
		while (*p == ' ')
			p++;
		if (p[0] == 'k' && p[1] == 'B') {
			*ret_kb = true;
			p += 2;
			while (*p == ' ')
				p++;
		}
	}
	return *p == '\n' ? p : NULL;
}

/* Lines of the plain shape have their number parsed only when a row
 * stores it; the kernel prints the rows' lines in the table's order, so
 * a line's row is found first (fields_find_next). */
int mem_info_parse(const char *text, size_t len, struct mem_info *ret)
{
	const size_t n = sizeof(mem_info_fields) / sizeof(mem_info_fields[0]);
	struct mem_info mi = {0};
	const char *p = text, *last = mem_whole_lines(text, len), *key, *num, *nl;
	struct fields_cursor rows;
	size_t key_len, num_len = 0;
	uint32_t seen = 0;
	uint64_t value;
	bool kb;
	int r = 0;

	_Static_assert(sizeof(mem_info_fields) / sizeof(mem_info_fields[0]) <= 32, "seen");
	fields_cursor_init(&rows, &mem_info_table);
	while (p < last) {
		const struct field *f;

		key = p;
		num = NULL;
		nl = mem_info_plain(p, &key_len, &num, &num_len, &kb);
		if (!nl) {
			nl = memchr(p, '\n', (size_t)(last - p));
			r = mem_split_line(p, (size_t)(nl - p), &key, &key_len, &value, &kb);
			if (r < 0)
				goto out;
		}
		p = nl + 1;
		f = fields_find_next(&rows, key, key_len);
		if (!f)
			continue;
		if (num)
			(void)procfs_parse_u64(num, num_len, &value); /* digits: it parses */
		r = -EINVAL;
		if (kb != !!(f->flags & FIELD_KB) || (seen & (1u << (f - mem_info_fields))))
			goto out;
		r = fields_store(f, &mi, value);
		if (r < 0)
			goto out;
		seen |= 1u << (f - mem_info_fields);
		mi.has |= f->has;
	}
	r = -EINVAL;
	if (last != text + len)
		goto out;
	/* the lines every kernel prints */
	for (size_t i = 0; i < n; i++) {
		if (mem_info_fields[i].source && !mem_info_fields[i].has && !(seen & (1u << i))) {
			r = -ENODATA;
			goto out;
		}
	}
	*ret = mi;
	r = 0;
out:
	return r;
}

/* A byte of a vmstat name: an identifier, as in the kernel's
 * vmstat_text[]. */
static bool mem_vmstat_char(char c)
{
	return procfs_class[(unsigned char)c] & PROCFS_IDENT;
}

static bool mem_vmstat_name_ok(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (!mem_vmstat_char(s[i]))
			return false;
	}
	return len > 0;
}

/* Exactly "name value": the kernel prints "%s %lu\n". */
static int mem_vmstat_line(const char *line, size_t len, size_t *ret_name_len, uint64_t *ret_value)
{
	const char *sp = memchr(line, ' ', len);

	if (!sp || !mem_vmstat_name_ok(line, (size_t)(sp - line)))
		return -EINVAL;
	*ret_name_len = (size_t)(sp - line);
	return procfs_parse_u64(sp + 1, len - *ret_name_len - 1, ret_value);
}

/* The line at line (which a '\n' ends) when it is a name, one space and
 * 1 to 19 digits: its name and its '\n'. NULL for anything else, which
 * mem_vmstat_line() then judges. */
static const char *mem_vmstat_plain(const char *line, size_t *ret_name_len)
{
	const char *p = line, *num;

	while (mem_vmstat_char(*p))
		p++;
	if (p == line || *p != ' ')
		return NULL;
	*ret_name_len = (size_t)(p - line);
	num = ++p;
	while (mem_is_digit(*p))
		p++;
	return *p == '\n' && p != num && p - num <= 19 ? p : NULL;
}

/* Every line is checked, but only the rows' numbers are parsed: of about
 * 180 lines, four. */
int mem_vmstat_parse(const char *text, size_t len, struct mem_vmstat *ret)
{
	struct mem_vmstat vm = {{0}, 0};
	const char *p = text, *last = mem_whole_lines(text, len), *line, *nl;
	struct fields_cursor rows;
	size_t name_len;
	uint64_t value;
	int r = 0;

	fields_cursor_init(&rows, &mem_vm_table);
	while (p < last) {
		const struct field *f;
		bool parsed = false;

		line = p;
		nl = mem_vmstat_plain(p, &name_len);
		if (!nl) {
			nl = memchr(p, '\n', (size_t)(last - p));
			r = mem_vmstat_line(p, (size_t)(nl - p), &name_len, &value);
			if (r < 0)
				goto out;
			parsed = true;
		}
		p = nl + 1;
		f = fields_find_next(&rows, line, name_len);
		if (!f)
			continue;
		if (!parsed) /* 1 to 19 digits: it parses */
			(void)procfs_parse_u64(line + name_len + 1,
					       (size_t)(nl - line) - name_len - 1, &value);
		r = -EINVAL;
		if (vm.has & f->has)
			goto out;
		r = fields_store(f, &vm, value);
		if (r < 0)
			goto out;
		vm.has |= f->has;
	}
	r = last != text + len ? -EINVAL : 0;
	if (r < 0)
		goto out;
	*ret = vm;
out:
	return r;
}

int mem_build_payload(const struct mem_info *mi, const struct mem_vmstat *prev,
		      const struct mem_vmstat *cur, uint64_t dt_ns, int64_t t_ms,
		      cJSON **ret_payload)
{
	static const struct mem_vmstat none;
	const struct field_inst info = {mi, mi->has, NULL};
	const struct field_inst vm = {cur ? cur : &none, cur ? cur->has : 0, NULL};
	const struct field_inst vm_prev = {prev, prev ? prev->has : 0, NULL};
	cJSON *payload;
	int r = -ENOMEM;

	*ret_payload = NULL;
	payload = json_payload(t_ms);
	if (!payload)
		goto out;
	r = fields_json(payload, &mem_info_table, &info, NULL, 0);
	if (r < 0)
		goto out;
	r = fields_json(payload, &mem_vm_table, &vm, prev ? &vm_prev : NULL, dt_ns);
	if (r < 0)
		goto out;
out:
	return json_hand_over(payload, r, ret_payload);
}

/* The flat runtime's reading: both files. */
struct mem_reading {
	struct mem_info mi;
	struct mem_vmstat vm;
};

enum { MEM_FILE_INFO, MEM_FILE_VMSTAT };

static int mem_parse_info(const char *text, size_t len, void *reading, size_t index)
{
	return mem_info_parse(text, len, &((struct mem_reading *)reading)->mi);
}

static int mem_parse_vmstat(const char *text, size_t len, void *reading, size_t index)
{
	return mem_vmstat_parse(text, len, &((struct mem_reading *)reading)->vm);
}

/* Every tick sends a payload; the rates start with the second. Without
 * /proc/vmstat they stay null. */
static int mem_payload(const struct flat *f, const void *prev, const struct collector_tick *tick,
		       cJSON **ret_payload)
{
	const struct mem_reading *cur = f->cur, *p = prev;
	const bool vm = f->watched[MEM_FILE_VMSTAT];

	return mem_build_payload(&cur->mi, vm && p ? &p->vm : NULL, vm ? &cur->vm : NULL,
				 procfs_elapsed(p != NULL, f->prev_ns, tick->mono_ns), tick->t_ms,
				 ret_payload);
}

/* /proc/meminfo and /proc/vmstat as snake_case sysfeed_ families (their
 * node_exporter names, node_memory_MemTotal_bytes and so on, are CamelCase,
 * which promtool warns about): kB lines in bytes, only the lines the kernel
 * printed; the vmstat events as the counters they are. */
static int mem_metrics(const struct flat *f, struct metrics *m)
{
	const struct mem_reading *rd = f->prev;

	fields_prom(m, &mem_info_table, &(struct field_inst){&rd->mi, rd->mi.has, NULL}, 1);
	if (f->watched[MEM_FILE_VMSTAT])
		fields_prom(m, &mem_vm_table, &(struct field_inst){&rd->vm, rd->vm.has, NULL}, 1);
	return metrics_error(m);
}

/* A missing or foreign meminfo, or an unreadable or foreign vmstat, turns
 * the topic off; a missing vmstat only leaves the rates null. */
static const struct flat_file mem_files[] = {
    [MEM_FILE_INFO] = {.path = "meminfo", .max = MEM_INFO_MAX, .parse = mem_parse_info},
    [MEM_FILE_VMSTAT] = {.path = "vmstat",
			 .max = MEM_VMSTAT_MAX,
			 .parse = mem_parse_vmstat,
			 .need = FLAT_IF_PRESENT,
			 .record_max = 64}, /* "name value\n": a name and a u64 */
};

static const struct flat_desc mem_flat = {
    .files = mem_files,
    .n_files = 2,
    .reading_size = sizeof(struct mem_reading),
    .payload = mem_payload,
    .metrics = mem_metrics,
};

static const char *const mem_history[] = {"used", "buffers", "cached", NULL};

static const struct field_table *const mem_tables[] = {&mem_info_table, &mem_vm_table, NULL};

FLAT_COLLECTOR(mem, .name = "mem", .history = mem_history, .fields = mem_tables);
