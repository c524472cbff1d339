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
	/* a loop, not recursion, down a run of compact frames */
	while (b && --b->refs == 0) {
		struct blob *prev = b->prev;

		blob_unref(b->text);
		blob_unref(b->part); /* a part has none: one level deep */
		free(b->key);
		free(b->z);
		free(b);
		b = prev;
	}
}

size_t blob_cost(const struct blob *b)
{
	return sizeof(*b) + b->len + b->zlen + (b->key ? strlen(b->key) + 1 : 0) +
	       (b->part_tail ? blob_cost(b->part) : 0);
}

bool blob_as_is(const struct blob *b)
{
	return b->part && !b->part->prev && b->part_off == 0 && b->plain_len == b->part->plain_len;
}

int blob_zip(struct hub *hub, struct blob *b)
{
	const struct blob *t = b;
	int r;

	if (b->z)
		return 0;
	if (b->compact && !(t = blob_text(hub, b)))
		return -ENOMEM;
	if (!hub->scratch && !(hub->scratch = gz_new(GZ_LEVEL, GZ_PIECE_MEM)))
		return -ENOMEM;
	if ((r = gz_piece(hub->scratch, t->data, t->len, &b->z, &b->zlen)) == 0 && b->in_ring)
		hub->used += b->zlen; /* the ring's next publish makes room */
	return r;
}

/* Makes t b's text, with b's fields, until the next housekeeping; the
 * caller grew hub->inflated. */
static void text_keep(struct hub *hub, struct blob *b, struct blob *t)
{
	t->topic = b->topic;
	t->seq = b->seq;
	t->level = b->level;
	t->mono_ms = b->mono_ms;
	hub->inflated[hub->n_inflated++] = blob_ref(b);
	b->text = t;
}

/* Inflates part b with hub->unz into its text (a new blob, made when it
 * has none) or into `scratch` (when it has; only the inflater's window
 * needs it). Returns 0 or -ENOMEM (also for a corrupt part, which cannot
 * happen to what compact_prepare wrote). */
static int text_inflate(struct hub *hub, struct blob *b, char *scratch)
{
	struct blob *t = b->text ? NULL : blob_new(b->plain_len);
	z_stream *z = hub->unz;
	int r;

	if (!b->text &&
	    (!t || ARRAY_GROW(hub->inflated, hub->cap_inflated, hub->n_inflated, 64) < 0)) {
		blob_unref(t);
		return -ENOMEM;
	}
	z->next_in = (Bytef *)b->data;
	z->avail_in = (uInt)b->len;
	z->next_out = (Bytef *)(t ? t->data : scratch);
	z->avail_out = (uInt)b->plain_len;
	r = inflate(z, Z_SYNC_FLUSH);
	if ((r != Z_OK && r != Z_STREAM_END) || z->avail_out != 0 || z->avail_in != 0) {
		blob_unref(t);
		return -ENOMEM;
	}
	if (t)
		text_keep(hub, b, t);
	return 0;
}

/* Sets hub->unz to start the run that ends with part b, and inflates
 * that run up to b, excluded. */
static int text_rewind(struct hub *hub, struct blob *b)
{
	struct blob **run = NULL;
	size_t n = 0, max = 0;
	char *scratch = NULL;
	int r = -ENOMEM;

	for (struct blob *p = b->prev; p; p = p->prev) {
		n++;
		if (p->plain_len > max)
			max = p->plain_len;
	}
	if (!hub->unz &&
	    (!(hub->unz = calloc(1, sizeof(*hub->unz))) || inflateInit2(hub->unz, -15) != Z_OK)) {
		free(hub->unz);
		hub->unz = NULL;
		return -ENOMEM;
	}
	if (inflateReset(hub->unz) != Z_OK || (n && !(run = malloc(n * sizeof(*run)))) ||
	    (max && !(scratch = malloc(max))))
		goto out;
	n = 0;
	for (struct blob *p = b->prev; p; p = p->prev)
		run[n++] = p;
	while (n > 0)
		if ((r = text_inflate(hub, run[--n], scratch)) < 0)
			goto out;
	r = 0;
out:
	free(scratch);
	free(run);
	return r;
}

/* With the lock held: a part's text (see blob_text). */
static struct blob *part_text(struct hub *hub, struct blob *b)
{
	if (b->text)
		return b->text;
	/* where the inflater stopped, or from the run's start */
	if ((!hub->unz_last || hub->unz_last != b->prev) && text_rewind(hub, b) < 0)
		goto fail;
	if (text_inflate(hub, b, NULL) < 0)
		goto fail;
	blob_unref(hub->unz_last);
	hub->unz_last = blob_ref(b);
	return b->text;
fail:
	blob_unref(hub->unz_last);
	hub->unz_last = NULL;
	return NULL;
}

struct blob *blob_text(struct hub *hub, struct blob *b)
{
	struct blob *p, *t;

	if (b->text)
		return b->text;
	if (!(p = part_text(hub, b->part)) ||
	    ARRAY_GROW(hub->inflated, hub->cap_inflated, hub->n_inflated, 64) < 0 ||
	    !(t = blob_copy(p->data + b->part_off, b->plain_len)))
		return NULL;
	text_keep(hub, b, t);
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
	blob_unref(hub->unz_last);
	hub->unz_last = NULL;
	if (hub->unz) {
		inflateEnd(hub->unz);
		free(hub->unz);
		hub->unz = NULL;
	}
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

/* Loop thread, lock not held: the compact forms of frames first..first+n-1
 * of the ring, which share one new part (their texts deflated in a row,
 * ending with a sync flush: one deflate block), continuing the run unless
 * `start`. NULL when out of memory. */
static struct blob *compact_part(struct hub *hub, uint64_t first, size_t n, bool start,
				 struct blob **out)
{
	const char *bufs[COMPACT_BATCH];
	size_t lens[COMPACT_BATCH], plain = 0, i, zlen;
	struct blob *part = NULL;
	char *z = NULL;

	for (i = 0; i < n; i++) {
		struct blob *f = hub->frames[(first + i) & (hub->cap - 1)];

		bufs[i] = f->data;
		lens[i] = f->len;
		plain += f->len;
	}
	if (start)
		gz_reset(hub->loopz); /* the part refers to nothing before it */
	if (gz_chunk(hub->loopz, false, bufs, lens, n, &z, &zlen) < 0 ||
	    !(part = blob_copy(z, zlen)))
		goto out;
	part->compact = true;
	part->run_start = start; /* else linked to the one before in compact_swap */
	part->plain_len = (uint32_t)plain;
	part->seq = first + n - 1;
	plain = 0;
	for (i = 0; i < n; i++) {
		struct blob *f = hub->frames[(first + i) & (hub->cap - 1)], *c = blob_new(0);

		if (!c || (f->key && !(c->key = strdup(f->key)))) {
			blob_unref(c);
			break;
		}
		c->compact = true;
		c->part = blob_ref(part); /* not shared yet: no lock needed */
		c->part_off = (uint32_t)plain;
		c->plain_len = (uint32_t)f->len;
		c->part_tail = i == n - 1;
		c->topic = f->topic;
		c->seq = f->seq;
		c->level = f->level;
		c->mono_ms = f->mono_ms;
		out[i] = c;
		plain += f->len;
	}
	if (i < n) {
		while (i > 0)
			blob_unref(out[--i]);
		blob_unref(part);
		part = NULL;
		goto out;
	}
	blob_unref(part); /* its frames hold it */
out:
	free(z);
	return part;
}

/* Loop thread, lock not held (only this thread changes the ring): the
 * compact forms of frames old enough that live readers are past them, at
 * most COMPACT_BATCH, all of them one part (at a tick, those published at
 * the tick compact-age ago), or two when a run fills: a new run once one
 * holds COMPACT_RUN plain bytes, or after a failure (the stream then holds
 * a part that nothing keeps). They replace the plain frames under the lock
 * (compact_swap), which links each part to the one before; a ring of
 * compressed frames holds several times more. Nothing while no resume
 * can ask for them (hub->compacting). */
size_t compact_prepare(struct hub *hub, uint64_t now, struct blob **out)
{
	uint64_t s = hub->compact_seq > hub->first_seq ? hub->compact_seq : hub->first_seq;
	size_t n = 0;

	if (!hub->compacting) {
		/* none of these can be asked for: left plain, and the next
		 * compaction starts a run of its own */
		hub->compact_seq = hub->head_seq + 1;
		hub->run_bytes = 0;
		return 0;
	}
	if (!hub->loopz && !(hub->loopz = gz_new(COMPACT_LEVEL, GZ_PIECE_MEM)))
		return 0;
	while (s <= hub->head_seq && n < COMPACT_BATCH) {
		bool start = hub->run_bytes == 0 || hub->run_bytes >= COMPACT_RUN;
		size_t k = 0, bytes = start ? 0 : hub->run_bytes;

		/* up to the run's end, the frame that fills it included */
		while (s + k <= hub->head_seq && n + k < COMPACT_BATCH && bytes < COMPACT_RUN) {
			struct blob *f = hub->frames[(s + k) & (hub->cap - 1)];

			if (now - f->mono_ms < hub->compact_ms)
				break;
			bytes += f->len;
			k++;
		}
		if (!k)
			break;
		if (!compact_part(hub, s, k, start, out + n)) {
			hub->run_bytes = 0;
			break; /* out of memory: try again later, in a new run */
		}
		hub->run_bytes = bytes;
		s += k;
		n += k;
	}
	hub->compact_seq = s;
	return n;
}

/* With the lock held: links each new part to the one before it in its
 * run, and puts the compact frames in place of the plain ones (readers
 * holding those keep them). One whose frame left the ring meanwhile is
 * dropped, but the next of its run still holds its part. */
void compact_swap(struct hub *hub, struct blob **c, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct blob *p = c[i]->part;

		if (i && c[i - 1]->part == p)
			continue;
		if (!p->run_start)
			p->prev = blob_ref(hub->run_last);
		blob_unref(hub->run_last);
		hub->run_last = blob_ref(p);
	}
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
