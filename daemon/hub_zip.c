/* The hub's shared byte strings (blobs) and its compression: the gzip
 * groups (one compressor and chunk ring per topic mask) and the
 * compaction of old frames into gzip pieces. */
#include "hub.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "array.h"
#include "clock.h"
#include "gz.h"
#include "hub_impl.h"
#include "sse.h"

struct blob *blob_new(size_t len)
{
	struct blob *b = malloc(sizeof(*b) + len + 1);

	if (!b)
		return NULL;
	memset(b, 0, sizeof(*b));
	b->refs = 1;
	b->level = -1;
	b->len = len;
	b->data[len] = '\0';
	return b;
}

struct blob *blob_copy(const char *data, size_t len)
{
	struct blob *b = blob_new(len);

	if (b && len)
		memcpy(b->data, data, len);
	return b;
}

struct blob *blob_ref(struct blob *b)
{
	b->refs++;
	return b;
}

void blob_unref(struct blob *b)
{
	if (b && --b->refs == 0) {
		blob_unref(b->text);
		free(b->key);
		free(b->z);
		free(b);
	}
}

size_t blob_cost(const struct blob *b)
{
	return sizeof(*b) + b->len + b->zlen + (b->key ? strlen(b->key) + 1 : 0);
}

int blob_zip(struct hub *hub, struct blob *b)
{
	int r;

	if (b->z || b->compact)
		return 0;
	if (!hub->scratch && !(hub->scratch = gz_new(GZ_LEVEL, GZ_PIECE_MEM)))
		return -ENOMEM;
	if ((r = gz_piece(hub->scratch, b->data, b->len, &b->z, &b->zlen)) == 0 && b->in_ring)
		hub->used += b->zlen; /* the ring's next publish makes room */
	return r;
}

/* A compact frame's text, inflated into a new blob (NULL: out of memory
 * or corrupt, which cannot happen to what gz_piece wrote). */
struct blob *blob_unzip(const struct blob *b)
{
	struct blob *p = blob_new(b->plain_len);
	z_stream z = {0};
	int r;

	if (!p)
		return NULL;
	if (inflateInit2(&z, -15) != Z_OK) {
		blob_unref(p);
		return NULL;
	}
	z.next_in = (Bytef *)b->data;
	z.avail_in = (uInt)b->len;
	z.next_out = (Bytef *)p->data;
	z.avail_out = (uInt)p->len;
	r = inflate(&z, Z_SYNC_FLUSH);
	inflateEnd(&z);
	if ((r != Z_OK && r != Z_STREAM_END) || z.avail_out != 0) {
		blob_unref(p);
		return NULL;
	}
	p->topic = b->topic;
	p->seq = b->seq;
	p->level = b->level;
	p->mono_ms = b->mono_ms;
	return p;
}

struct blob *blob_text(struct hub *hub, struct blob *b)
{
	struct blob *t;

	if (b->text)
		return b->text;
	if (!(t = blob_unzip(b)))
		return NULL;
	if (ARRAY_GROW(hub->inflated, hub->cap_inflated, hub->n_inflated, 64) < 0) {
		blob_unref(t);
		return NULL;
	}
	hub->inflated[hub->n_inflated++] = blob_ref(b);
	b->text = t;
	return t;
}

void blob_text_drop(struct hub *hub)
{
	for (size_t i = 0; i < hub->n_inflated; i++) {
		struct blob *b = hub->inflated[i];

		blob_unref(b->text);
		b->text = NULL;
		blob_unref(b);
	}
	hub->n_inflated = 0;
}

void group_free(struct group *g)
{
	if (!g)
		return;
	for (uint64_t i = g->first; i <= g->head && g->head >= g->first; i++)
		blob_unref(g->chunks[i & (CHUNK_CAP - 1)]);
	free(g->chunks);
	gz_free(g->z);
	free(g);
}

/* With the lock held: appends a chunk to a group, dropping old ones. */
void group_add(struct group *g, struct blob *chunk)
{
	while (g->head >= g->first &&
	       (g->used + blob_cost(chunk) > g->max_bytes || g->head - g->first + 1 >= CHUNK_CAP)) {
		struct blob **slot = &g->chunks[g->first & (CHUNK_CAP - 1)];

		g->used -= blob_cost(*slot);
		blob_unref(*slot);
		*slot = NULL;
		g->first++;
	}
	g->head++;
	g->chunks[g->head & (CHUNK_CAP - 1)] = chunk;
	g->used += blob_cost(chunk);
	g->last_ms = chunk->mono_ms;
	g->fresh = true;
}

/* With the lock held: a batch could not be compressed into the group's
 * stream. Every chunk goes and one number is skipped, so that members and
 * joiners (behind the gap) get a fresh snapshot; the next chunk starts
 * with a full flush. */
void group_break(struct group *g)
{
	while (g->head >= g->first) {
		struct blob **slot = &g->chunks[g->first & (CHUNK_CAP - 1)];

		g->used -= blob_cost(*slot);
		blob_unref(*slot);
		*slot = NULL;
		g->first++;
	}
	g->head++;
	g->first = g->head + 1;
	g->want_join = true;
}

/* Loop thread, lock not held: compresses a group's part of a batch (n
 * frames, some of other topics; or `extra` bytes) into a chunk. Every
 * frame of the batch: an event batch holds up to hundreds (a journal
 * burst), and the chunk covers the batch's seqs whatever it holds. */
struct blob *group_chunk(struct hub *hub, struct group *g, bool join, struct blob *const *frames,
			 size_t n, const char *extra, uint64_t after, uint64_t last)
{
	const char **bufs = malloc((n + 1) * sizeof(*bufs));
	size_t *lens = malloc((n + 1) * sizeof(*lens)), k = 0, in = 0;
	struct blob *chunk = NULL;
	char *z = NULL;
	size_t zlen;

	if (!bufs || !lens)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (!frames[i] || !(g->mask & (1ULL << frames[i]->topic)))
			continue;
		bufs[k] = frames[i]->data;
		lens[k] = frames[i]->len;
		in += lens[k++];
	}
	if (extra) {
		bufs[k] = extra;
		lens[k] = strlen(extra);
		in += lens[k++];
	}
	if ((!k && !join) || gz_chunk(g->z, join, bufs, lens, k, &z, &zlen) < 0 ||
	    !(chunk = blob_copy(z, zlen)))
		goto out;
	chunk->join = join;
	chunk->after = after;
	chunk->seq = last;
	chunk->mono_ms = clock_mono_ms();
	__atomic_add_fetch(&hub->gz_in, in, __ATOMIC_RELAXED);
	__atomic_add_fetch(&hub->gz_out, zlen, __ATOMIC_RELAXED);
out:
	free(z);
	free(bufs);
	free(lens);
	return chunk;
}

/* Loop thread, lock not held (only this thread changes the ring): the
 * compact forms of frames old enough that live readers are past them, at
 * most COMPACT_BATCH. They replace the plain frames under the lock
 * (compact_swap); a ring of compressed frames holds a few times more. */
size_t compact_prepare(struct hub *hub, uint64_t now, struct blob **out)
{
	uint64_t s = hub->compact_seq > hub->first_seq ? hub->compact_seq : hub->first_seq;
	size_t n = 0;

	if (!hub->loopz && !(hub->loopz = gz_new(COMPACT_LEVEL, GZ_PIECE_MEM)))
		return 0;
	for (; s <= hub->head_seq && n < COMPACT_BATCH; s++) {
		struct blob *f = hub->frames[s & (hub->cap - 1)], *c;
		char *z;
		size_t zlen;

		if (now - f->mono_ms < hub->compact_ms)
			break;
		if (gz_piece(hub->loopz, f->data, f->len, &z, &zlen) < 0)
			break;
		/* kept only when smaller: tiny frames do not shrink */
		if (zlen >= f->len || !(c = blob_copy(z, zlen)) ||
		    (f->key && !(c->key = strdup(f->key)))) {
			free(z);
			if (zlen < f->len)
				break; /* out of memory: try again later */
			continue;
		}
		free(z);
		c->compact = true;
		c->plain_len = f->len;
		c->topic = f->topic;
		c->seq = f->seq;
		c->level = f->level;
		c->mono_ms = f->mono_ms;
		out[n++] = c;
	}
	hub->compact_seq = s;
	return n;
}

/* With the lock held: puts the compact frames in place of the plain ones
 * (readers holding those keep them). */
void compact_swap(struct hub *hub, struct blob **c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct blob **slot = &hub->frames[c[i]->seq & (hub->cap - 1)];

		if (c[i]->seq < hub->first_seq || !*slot || (*slot)->seq != c[i]->seq) {
			blob_unref(c[i]);
			continue;
		}
		hub->used -= blob_cost(*slot);
		(*slot)->in_ring = false;
		blob_unref(*slot);
		*slot = c[i];
		c[i]->in_ring = true;
		hub->used += blob_cost(c[i]);
	}
}

/* With the lock held: the group of gzip clients of mask, made if there is
 * room (NULL: none; the client gets a plain stream). */
struct group *group_get(struct hub *hub, uint64_t mask)
{
	struct group *g;

	for (size_t i = 0; i < hub->n_groups; i++)
		if (hub->groups[i]->mask == mask)
			return hub->groups[i];
	if (hub->n_groups == HUB_MAX_GROUPS || !(g = calloc(1, sizeof(*g))))
		return NULL;
	g->chunks = calloc(CHUNK_CAP, sizeof(*g->chunks));
	g->z = gz_new(GZ_LEVEL, GZ_STREAM_MEM);
	if (!g->chunks || !g->z) {
		group_free(g);
		return NULL;
	}
	g->mask = mask;
	g->first = 1;
	g->head = 0;
	g->max_bytes = hub->ring_bytes / 8;
	g->last_ms = clock_mono_ms();
	hub->groups[hub->n_groups++] = g;
	return g;
}
