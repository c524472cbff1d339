#include "mem.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

/* /proc/meminfo is about 1.5 KiB; leave room for many more keys. */
#define MEM_INFO_MAX (64u << 10)

struct mem_state {
	struct procfs_buf buf;
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
	struct mem_info mi = {0};
	bool has_buffers = false, has_cached = false, has_sreclaimable = false,
	     has_swap_total = false, has_swap_free = false, has_dirty = false, has_total = false,
	     has_free = false;
	const struct {
		const char *key;
		uint64_t *dst;
		bool *seen;
	} keys[] = {
	    {"MemTotal", &mi.total, &has_total},
	    {"MemFree", &mi.free, &has_free},
	    {"MemAvailable", &mi.available, &mi.has_available},
	    {"Buffers", &mi.buffers, &has_buffers},
	    {"Cached", &mi.cached, &has_cached},
	    {"SReclaimable", &mi.sreclaimable, &has_sreclaimable},
	    {"SwapTotal", &mi.swap_total, &has_swap_total},
	    {"SwapFree", &mi.swap_free, &has_swap_free},
	    {"Dirty", &mi.dirty, &has_dirty},
	};
	const char *p = text, *end = text + len, *line, *key;
	size_t line_len, key_len;
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
			if (!kb || *keys[i].seen)
				goto out;
			r = procfs_kb_to_bytes(value, keys[i].dst);
			if (r < 0)
				goto out;
			*keys[i].seen = true;
			break;
		}
	}
	if (r < 0)
		goto out;
	if (!has_total || !has_free) {
		r = -ENODATA;
		goto out;
	}
	*ret = mi;
out:
	return r;
}

static uint64_t mem_sub_clamped(uint64_t a, uint64_t b)
{
	return a > b ? a - b : 0;
}

static uint64_t mem_add_saturated(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

int mem_build_payload(const struct mem_info *mi, int64_t t_ms, cJSON **ret_payload)
{
	uint64_t cached, available, used, swap_used;
	cJSON *payload;
	int r = -ENOMEM;

	cached = mem_add_saturated(mi->cached, mi->sreclaimable);
	if (mi->has_available)
		available = mi->available;
	else
		available = mem_add_saturated(mem_add_saturated(mi->free, mi->buffers), cached);
	if (available > mi->total)
		available = mi->total;
	used = mem_sub_clamped(mem_sub_clamped(mem_sub_clamped(mi->total, mi->free), mi->buffers),
			       cached);
	swap_used = mem_sub_clamped(mi->swap_total, mi->swap_free);

	const struct {
		const char *key;
		double v;
	} fields[] = {
	    {"t", (double)t_ms},
	    {"total", (double)mi->total},
	    {"free", (double)mi->free},
	    {"available", (double)available},
	    {"used", (double)used},
	    {"buffers", (double)mi->buffers},
	    {"cached", (double)cached},
	    {"swap_total", (double)mi->swap_total},
	    {"swap_free", (double)mi->swap_free},
	    {"swap_used", (double)swap_used},
	    {"dirty", (double)mi->dirty},
	};

	*ret_payload = NULL;
	payload = cJSON_CreateObject();
	if (!payload)
		goto out;
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		if (!cJSON_AddNumberToObject(payload, fields[i].key, fields[i].v))
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
	free(s);
}

/* Reads and parses /proc/meminfo once, so that a missing or foreign file
 * turns the topic off now; the buffer is kept for the ticks. */
static int mem_init(const struct collector_env *env, void **ret_state, char *reason,
		    size_t reason_len)
{
	struct mem_state *s;
	struct mem_info mi;
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
	*ret_state = s;
	s = NULL;
out:
	mem_fini(s);
	return r;
}

static int mem_sample(void *state, const struct collector_env *env,
		      const struct collector_tick *tick, cJSON **ret_payload)
{
	struct mem_state *s = state;
	struct mem_info mi;
	int r;

	*ret_payload = NULL;
	r = procfs_read(env->proc_fd, "meminfo", &s->buf, MEM_INFO_MAX);
	if (r < 0)
		goto out;
	r = mem_info_parse(s->buf.data, s->buf.len, &mi);
	if (r < 0)
		goto out;
	r = mem_build_payload(&mi, tick->t_ms, ret_payload);
out:
	return r;
}

static const char *const mem_history[] = {"used",      "cached",    "buffers", "free",
					  "available", "swap_used", "dirty",   NULL};

const struct collector mem_collector = {
    .name = "mem",
    .history = mem_history,
    .init = mem_init,
    .sample = mem_sample,
    .fini = mem_fini,
};
