/* The hub's snapshots: each topic's state and its chart rows as shared
 * pieces, and the plan (glue text plus references) a client sends. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "clock.h"
#include "hub_impl.h"
#include "sse.h"

void history_free(struct history *h)
{
	blob_unref(h->fields);
	for (size_t i = 0; i < h->n_blocks; i++)
		blob_unref(h->blocks[(h->start + i) % h->cap_blocks]);
	blob_unref(h->open);
	free(h->blocks);
	memset(h, 0, sizeof(*h));
}

/* Appends a row to the open block (a new blob: readers may hold the old
 * one), seals it when full and drops whole blocks beyond keep_rows. */
int history_add(struct history *h, const char *row, size_t len)
{
	size_t old = h->open ? h->open->len : 0, n;
	struct blob *b = blob_new(old + 1 + len);

	if (!b)
		return -ENOMEM;
	if (old)
		memcpy(b->data, h->open->data, old);
	n = old;
	if (h->open_rows)
		b->data[n++] = ',';
	memcpy(b->data + n, row, len);
	b->len = n + len;
	b->data[b->len] = '\0';
	blob_unref(h->open);
	h->open = b;
	if (++h->open_rows == h->block_rows) {
		if (h->n_blocks == h->cap_blocks) { /* cannot happen: cap covers keep_rows */
			blob_unref(h->blocks[h->start]);
			h->start = (h->start + 1) % h->cap_blocks;
			h->n_blocks--;
		}
		h->blocks[(h->start + h->n_blocks) % h->cap_blocks] = h->open;
		h->n_blocks++;
		h->open = NULL;
		h->open_rows = 0;
	}
	while (h->n_blocks && (h->n_blocks - 1) * h->block_rows + h->open_rows >= h->keep_rows) {
		blob_unref(h->blocks[h->start]);
		h->start = (h->start + 1) % h->cap_blocks;
		h->n_blocks--;
	}
	return 0;
}

/* A plan under construction. */
struct plan {
	char *glue;
	size_t glue_len, glue_cap;
	struct seg *segs;
	size_t n, cap;
	bool failed;
};

static void plan_seg(struct plan *p, struct blob *b, size_t off, size_t len)
{
	if (p->failed || len == 0)
		return;
	if (!b && p->n && !p->segs[p->n - 1].b &&
	    p->segs[p->n - 1].off + p->segs[p->n - 1].len == off) {
		p->segs[p->n - 1].len += (uint32_t)len; /* adjacent glue */
		return;
	}
	if (ARRAY_GROW(p->segs, p->cap, p->n, 32) < 0) {
		p->failed = true;
		return;
	}
	p->segs[p->n++] = (struct seg){b ? blob_ref(b) : NULL, (uint32_t)off, (uint32_t)len};
}

static void plan_glue(struct plan *p, const char *s, size_t len)
{
	if (p->failed)
		return;
	if (p->glue_len + len + 1 > p->glue_cap) {
		size_t ncap = p->glue_cap ? p->glue_cap : 256;
		char *g;

		while (ncap < p->glue_len + len + 1)
			ncap *= 2;
		if (!(g = realloc(p->glue, ncap))) {
			p->failed = true;
			return;
		}
		p->glue = g;
		p->glue_cap = ncap;
	}
	memcpy(p->glue + p->glue_len, s, len);
	plan_seg(p, NULL, p->glue_len, len);
	p->glue_len += len;
}

static void plan_str(struct plan *p, const char *s)
{
	plan_glue(p, s, strlen(s));
}

/* `"name":` with a comma before all but the first. */
static void plan_key(struct plan *p, const char *name, bool *first)
{
	plan_str(p, *first ? "\"" : ",\"");
	plan_str(p, name);
	plan_str(p, "\":");
	*first = false;
}

static void plan_history(struct plan *p, const struct history *h)
{
	bool any = false;

	plan_str(p, "{\"fields\":");
	plan_glue(p, h->fields->data, h->fields->len);
	plan_str(p, ",\"rows\":[");
	for (size_t i = 0; i < h->n_blocks; i++) {
		if (any)
			plan_str(p, ",");
		plan_seg(p, h->blocks[(h->start + i) % h->cap_blocks], 0,
			 h->blocks[(h->start + i) % h->cap_blocks]->len);
		any = true;
	}
	if (h->open) {
		if (any)
			plan_str(p, ",");
		plan_seg(p, h->open, 0, h->open->len);
	}
	plan_str(p, "]}");
}

void snap_free(struct snap *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		blob_unref(s->segs[i].b);
	blob_unref(s->glue);
	free(s);
}

struct snap *snap_build(struct hub *hub, uint64_t mask, bool sse)
{
	struct plan p = {0};
	struct snap *s = NULL;
	char head[192], id[SSE_ID_MAX];
	bool first = true;

	snprintf(
	    head, sizeof(head),
	    "%s{\"t\":%" PRId64 ",\"instance\":\"%016" PRIx64 "\",\"seq\":%" PRIu64 ",\"topics\":{",
	    sse ? "event: snapshot\ndata: " : "", hub->state_t_ms, hub->instance, hub->head_seq);
	plan_str(&p, head);
	for (unsigned i = 0; i < hub->n_topics; i++) {
		if (!(mask & (1ULL << i)) || !hub->state[i])
			continue;
		plan_key(&p, hub->names[i], &first);
		plan_seg(&p, hub->state[i], 0, hub->state[i]->len);
	}
	plan_str(&p, "},\"history\":{");
	first = true;
	for (unsigned i = 0; i < hub->n_topics; i++) {
		if (!(mask & (1ULL << i)) || !hub->hist[i].fields)
			continue;
		plan_key(&p, hub->names[i], &first);
		plan_history(&p, &hub->hist[i]);
	}
	plan_str(&p, "}}");
	if (sse) {
		sse_format_id(id, sizeof(id), hub->instance, hub->head_seq);
		plan_str(&p, "\nid: ");
		plan_str(&p, id);
		plan_str(&p, "\n\n");
	}
	if (p.failed || !(s = malloc(sizeof(*s) + p.n * sizeof(s->segs[0]))) ||
	    !(s->glue = blob_copy(p.glue, p.glue_len))) {
		free(s);
		s = NULL;
		goto out;
	}
	s->seq = hub->head_seq;
	s->mono_ms = clock_mono_ms();
	s->n = p.n;
	memcpy(s->segs, p.segs, p.n * sizeof(s->segs[0]));
	p.n = 0; /* the references moved into s */
out:
	for (size_t i = 0; i < p.n; i++)
		blob_unref(p.segs[i].b);
	free(p.segs);
	free(p.glue);
	return s;
}
