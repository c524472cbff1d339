/* The hub's readers: a client's cursor through its snapshot and the
 * ring (plain or gzip, filtered, resynced when behind), and one-shot
 * snapshot readers. */
#include "hub.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "clock.h"
#include "gz.h"
#include "hub_impl.h"
#include "sse.h"

static const unsigned char gz_end_block[5] = {1, 0, 0, 0xff, 0xff}; /* final, stored, empty */

/* Starts sending `len` bytes at p (held by b when not NULL). */
static void out_set(struct out *o, struct blob *b, const char *p, size_t len, bool stored)
{
	*o = (struct out){.b = b ? blob_ref(b) : NULL,
			  .p = p,
			  .len = len,
			  .busy = true,
			  .stored = stored,
			  .hdr_off = GZ_STORED_HDR_LEN};
}

static void out_clear(struct out *o)
{
	blob_unref(o->b);
	memset(o, 0, sizeof(*o));
}

/* Copies the next bytes of o into buf; clears o once all went. */
static size_t out_copy(struct out *o, char *buf, size_t max)
{
	size_t n = 0;

	while (n < max && o->off < o->len) {
		size_t take;

		if (o->stored && o->block_left == 0 && o->hdr_off == GZ_STORED_HDR_LEN) {
			o->block_left =
			    o->len - o->off < GZ_STORED_MAX ? o->len - o->off : GZ_STORED_MAX;
			gz_stored_header(o->hdr, o->block_left);
			o->hdr_off = 0;
		}
		if (o->stored && o->hdr_off < GZ_STORED_HDR_LEN) {
			take = GZ_STORED_HDR_LEN - o->hdr_off;
			take = take < max - n ? take : max - n;
			memcpy(buf + n, o->hdr + o->hdr_off, take);
			o->hdr_off += take;
			n += take;
			continue;
		}
		take = o->len - o->off;
		if (o->stored && take > o->block_left)
			take = o->block_left;
		if (take > max - n)
			take = max - n;
		memcpy(buf + n, o->p + o->off, take);
		o->off += take;
		if (o->stored)
			o->block_left -= take;
		n += take;
	}
	if (o->off == o->len && (!o->stored || o->hdr_off == GZ_STORED_HDR_LEN))
		out_clear(o);
	return n;
}

/* With the lock held: sends a shared piece, compressed for gzip clients
 * (falling back to stored blocks when compression fails). A compact frame
 * alone in a part that starts its run is a gzip piece as it is; the
 * others share their part or continue the run, so gzip clients get a
 * piece of their own made from the text. */
static void out_piece(struct hub *hub, struct out *o, struct blob *b, bool gzip)
{
	struct blob *p;

	if (b->compact && gzip && blob_as_is(b)) {
		out_set(o, b->part, b->part->data, b->part->len, false);
	} else if (gzip && blob_zip(hub, b) == 0) {
		out_set(o, b, b->z, b->zlen, false);
	} else if (!b->compact) {
		out_set(o, b, b->data, b->len, gzip);
	} else if ((p = blob_text(hub, b))) {
		out_set(o, p, p->data, p->len, gzip);
	}
}

/* With the lock held: one part of a snapshot plan. */
static void out_seg(struct hub *hub, struct out *o, const struct snap *s, const struct seg *seg,
		    bool gzip)
{
	if (!seg->b) /* held: a gathered part may outlive the snapshot */
		out_set(o, s->glue, s->glue->data + seg->off, seg->len, gzip);
	else if (seg->off == 0 && seg->len == seg->b->len)
		out_piece(hub, o, seg->b, gzip);
	else
		out_set(o, seg->b, seg->b->data + seg->off, seg->len, gzip);
}

/* Packs f and its strings into one allocation. */
static struct filter *filter_copy(const struct hub_filter *f)
{
	size_t need = 0, off = 0;
	struct filter *copy;

	if (f->n_units > 16 || f->n_exclude > 16)
		return NULL;
	for (size_t i = 0; i < f->n_units; i++)
		need += strlen(f->units[i]) + 1;
	for (size_t i = 0; i < f->n_exclude; i++)
		need += strlen(f->exclude[i]) + 1;
	need += f->match ? strlen(f->match) + 1 : 0;
	if (!(copy = calloc(1, sizeof(*copy) + need)))
		return NULL;
	copy->f = *f;
	for (size_t i = 0; i < f->n_units; i++) {
		copy->f.units[i] = strcpy(copy->strings + off, f->units[i]);
		off += strlen(f->units[i]) + 1;
	}
	for (size_t i = 0; i < f->n_exclude; i++) {
		copy->f.exclude[i] = strcpy(copy->strings + off, f->exclude[i]);
		off += strlen(f->exclude[i]) + 1;
	}
	if (f->match)
		copy->f.match = strcpy(copy->strings + off, f->match);
	return copy;
}

int hub_client_new(struct hub *hub, const struct hub_client_opts *opts, void *conn,
		   struct hub_client **ret, bool *ret_gzip)
{
	struct hub_client *c = calloc(1, sizeof(*c));
	uint64_t seq = 0;
	enum sse_id_kind kind;

	if (!c || (opts->filter && !(c->filter = filter_copy(opts->filter)))) {
		free(c);
		return -ENOMEM;
	}
	c->hub = hub;
	c->conn = conn;
	c->mask = opts->mask;
	c->last_write_ms = clock_mono_ms();
	kind = sse_parse_id(opts->last_id, hub->instance, &seq);

	pthread_mutex_lock(&hub->lock);
	if (hub->n_clients >= opts->max_clients) {
		pthread_mutex_unlock(&hub->lock);
		free(c->filter);
		free(c);
		return -EBUSY;
	}
	if (opts->gzip && !opts->filter && (c->group = group_get(hub, c->mask))) {
		c->gzip = true;
		c->group->users++;
		hub->n_gzip++;
	}
	c->phase = c->gzip ? PHASE_GZHEAD : PHASE_HELLO;
	/* Resume exactly after `seq` if every frame after it is still here. */
	if (kind == SSE_ID_OURS && seq + 1 >= hub->first_seq && seq <= hub->head_seq)
		c->next_seq = seq + 1;
	else
		c->next_seq = 0; /* snapshot first */
	c->next = hub->clients;
	if (hub->clients)
		hub->clients->prev = c;
	hub->clients = c;
	hub->n_clients++;
	for (unsigned i = 0; i < HUB_MAX_TOPICS; i++)
		if (c->mask & (1ULL << i))
			hub->topic_clients[i]++;
	pthread_mutex_unlock(&hub->lock);
	*ret = c;
	*ret_gzip = c->gzip;
	return 0;
}

void hub_client_free(struct hub_client *c)
{
	struct hub *hub;

	if (!c)
		return;
	hub = c->hub;
	pthread_mutex_lock(&hub->lock);
	if (c->prev)
		c->prev->next = c->next;
	else
		hub->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	hub->n_clients--;
	/* it resumes from next_seq; 0: it holds no id (mid-snapshot) */
	if (c->next_seq > hub->resume_need)
		hub->resume_need = c->next_seq;
	for (unsigned i = 0; i < HUB_MAX_TOPICS; i++)
		if (c->mask & (1ULL << i))
			hub->topic_clients[i]--;
	if (c->group) {
		c->group->users--;
		hub->n_gzip--;
	}
	out_clear(&c->out);
	snap_free(c->snap);
	for (size_t i = 0; i < c->n_tail; i++)
		blob_unref(c->tail[i].ref);
	pthread_mutex_unlock(&hub->lock);
	free(c->tail);
	free(c->filter);
	free(c);
}

void hub_client_hangup(struct hub_client *c)
{
	struct hub *hub = c->hub;
	bool wake;

	pthread_mutex_lock(&hub->lock);
	c->over = true;
	wake = c->suspended;
	c->suspended = false;
	pthread_mutex_unlock(&hub->lock);
	if (wake)
		hub->ops.resume(c->conn);
}

static bool key_in(const char *key, const char *const *set, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(key, set[i]) == 0)
			return true;
	return false;
}

/* With the lock held: whether a frame passes the client's filter (see
 * struct hub_filter). */
static bool filter_pass(struct hub *hub, const struct filter *flt, struct blob *b)
{
	const struct hub_filter *f = &flt->f;

	if (b->level < 0 && !b->key)
		return true;
	if (b->compact && f->match && *f->match) {
		struct blob *p = blob_text(hub, b);
		bool pass;

		if (!p)
			return true; /* cannot tell: rather sent than lost */
		p->key = b->key;     /* borrowed for the check */
		pass = filter_pass(hub, flt, p);
		p->key = NULL;
		return pass;
	}
	if (b->level > f->max_level)
		return false;
	if (f->n_units && (!b->key || !key_in(b->key, f->units, f->n_units)))
		return false;
	if (f->n_exclude && b->key && key_in(b->key, f->exclude, f->n_exclude))
		return false;
	if (f->match && *f->match) {
		size_t n = strlen(f->match);

		for (size_t i = 0; i + n <= b->len; i++)
			if (strncasecmp(b->data + i, f->match, n) == 0)
				return true;
		return false;
	}
	return true;
}

/* With the lock held: whether frames of the client's topics were evicted
 * from the ring before it sent them (quiet topics never are). */
static bool lost_frames(const struct hub *hub, const struct hub_client *c)
{
	for (unsigned i = 0; i < hub->n_topics; i++)
		if ((c->mask & (1ULL << i)) && hub->evicted[i] >= c->next_seq)
			return true;
	return false;
}

/* With the lock held: a gzip client sending frames as stored blocks
 * becomes a member of its group at the first chunk after its place, if
 * that chunk starts with a full flush and no frame of its topics lies
 * between. */
static bool try_join(const struct hub *hub, struct hub_client *c)
{
	const struct group *g = c->group;
	uint64_t lo = g->first, hi = g->head + 1;
	const struct blob *j;

	if (g->head < g->first)
		return false;
	while (lo < hi) { /* the first chunk whose `after` is at or past our place */
		uint64_t mid = lo + (hi - lo) / 2;

		if (g->chunks[mid & (CHUNK_CAP - 1)]->after + 1 >= c->next_seq)
			hi = mid;
		else
			lo = mid + 1;
	}
	if (lo > g->head)
		return false;
	j = g->chunks[lo & (CHUNK_CAP - 1)];
	if (!j->join || c->next_seq < hub->first_seq)
		return false;
	for (uint64_t s = c->next_seq; s <= j->after; s++)
		if (c->mask & (1ULL << hub->frames[s & (hub->cap - 1)]->topic))
			return false;
	c->member = true;
	c->g = lo;
	return true;
}

static void resync(struct hub *hub, struct hub_client *c)
{
	hub->resyncs++;
	c->member = false;
	c->phase = PHASE_SNAPSHOT;
}

/* With the lock held: sets c->out to the client's next part. Returns false
 * when nothing is due (or the next frame is left for the next read). */
static bool next_part(struct hub *hub, struct hub_client *c, size_t room, bool any)
{
	for (;;) {
		struct blob *f;

		switch (c->phase) {
		case PHASE_GZHEAD:
			out_set(&c->out, NULL, (const char *)gz_head, GZ_HEADER_LEN, false);
			c->phase = PHASE_HELLO;
			return true;
		case PHASE_HELLO:
			c->phase = c->next_seq ? PHASE_LIVE : PHASE_SNAPSHOT;
			if (!hub->hello)
				continue;
			out_piece(hub, &c->out, hub->hello, c->gzip);
			return true;
		case PHASE_SNAPSHOT:
			if (!c->snap && !(c->snap = snap_build(hub, c->mask, SNAP_FRAMED)))
				return false;
			if (c->seg < c->snap->n) {
				out_seg(hub, &c->out, c->snap, &c->snap->segs[c->seg++], c->gzip);
				return true;
			}
			c->next_seq = c->snap->seq + 1;
			snap_free(c->snap);
			c->snap = NULL;
			c->seg = 0;
			c->phase = PHASE_LIVE;
			continue;
		case PHASE_LIVE:
			break;
		}
		if (c->member) {
			if (c->g < c->group->first) {
				resync(hub, c);
				continue;
			}
			if (c->g > c->group->head)
				return false;
			f = c->group->chunks[c->g++ & (CHUNK_CAP - 1)];
			c->next_seq = f->seq + 1;
			out_set(&c->out, f, f->data, f->len, false);
			return true;
		}
		if (c->next_seq < hub->first_seq && hub->head_seq >= hub->first_seq) {
			if (lost_frames(hub, c)) {
				resync(hub, c);
				continue;
			}
			c->next_seq = hub->first_seq; /* only other topics' frames went */
		}
		if (c->gzip && try_join(hub, c))
			continue;
		if (c->next_seq > hub->head_seq) {
			if (c->gzip)
				c->group->want_join = true;
			return false;
		}
		f = hub->frames[c->next_seq & (hub->cap - 1)];
		if (!(c->mask & (1ULL << f->topic)) ||
		    (c->filter && !filter_pass(hub, c->filter, f))) {
			c->next_seq++;
			continue;
		}
		if (!c->gzip && (f->compact ? f->plain_len : f->len) > room && any)
			return false; /* whole frames only, unless one alone exceeds the buffer */
		c->next_seq++;
		/* gzip, before joining the shared stream (a resume): each frame
		 * compressed on its own, once, for every client that replays it */
		out_piece(hub, &c->out, f, c->gzip);
		return true;
	}
}

/* Appends a piece to b, taking over the reference `ref` (NULL: none). */
static void batch_add(struct hub_batch *b, struct blob *ref, const char *p, size_t len)
{
	b->piece[b->n] = (struct hub_piece){.ref = ref, .p = p, .len = len};
	b->iov[b->n] = (struct iovec){.iov_base = (void *)p, .iov_len = len};
	b->n++;
	b->bytes += len;
}

/* Appends a piece of a few bytes that b keeps itself. */
static void batch_inline(struct hub_batch *b, size_t at, const void *p, size_t len)
{
	struct hub_piece *pc = &b->piece[at];

	*pc = (struct hub_piece){.len = len, .inl_len = (unsigned char)len};
	memcpy(pc->inl, p, len);
	b->iov[at] = (struct iovec){.iov_base = pc->inl, .iov_len = len};
	b->bytes += len;
	if (at == b->n)
		b->n++;
}

/* Moves the part being sent into b: whole when plain; when stored, as
 * many whole blocks as `room` pieces hold, the rest staying in o (which
 * only this path fills, so it is always at a block's start). Returns the
 * bytes moved. */
static size_t out_take(struct out *o, struct hub_batch *b, size_t room)
{
	unsigned char hdr[GZ_STORED_HDR_LEN];
	size_t n = 0;

	if (!o->stored) {
		n = o->len - o->off;
		if (n)
			batch_add(b, o->b, o->p + o->off, n);
		else
			blob_unref(o->b);
		memset(o, 0, sizeof(*o)); /* its reference went to b */
		return n;
	}
	while (o->off < o->len && room >= 2) {
		size_t blk = o->len - o->off < GZ_STORED_MAX ? o->len - o->off : GZ_STORED_MAX;

		gz_stored_header(hdr, blk);
		batch_inline(b, b->n, hdr, sizeof(hdr));
		batch_add(b, o->b ? blob_ref(o->b) : NULL, o->p + o->off, blk);
		o->off += blk;
		n += sizeof(hdr) + blk;
		room -= 2;
	}
	if (o->off == o->len)
		out_clear(o);
	return n;
}

/* Where a client's bytes go: copied into buf (its reader), or gathered
 * into b up to piece `end`; at most about `max` bytes. */
struct sink {
	char *buf;
	struct hub_batch *b;
	size_t end, max, n;
};

static void sink_take(struct sink *s, struct out *o)
{
	if (s->b)
		s->n += out_take(o, s->b, s->end - s->b->n);
	else
		s->n += out_copy(o, s->buf + s->n, s->max - s->n);
}

/* With the lock held: moves what is due to c into s, or a keepalive when
 * nothing is and one is due; parks c when there is nothing at all.
 * Returns the byte count. */
static size_t fill(struct hub *hub, struct hub_client *c, struct sink *s)
{
	uint64_t now;

	while (s->n < s->max && (!s->b || s->b->n < s->end)) {
		if (c->out.busy) {
			sink_take(s, &c->out);
			if (c->out.busy)
				break;
			continue;
		}
		if (!next_part(hub, c, s->max - s->n, s->n > 0))
			break;
	}
	now = clock_mono_ms();
	if (s->n == 0 && !c->member && keepalive_due(hub, c->last_write_ms, now)) {
		out_set(&c->out, NULL, KEEPALIVE, sizeof(KEEPALIVE) - 1, c->gzip);
		sink_take(s, &c->out);
	}
	if (s->n == 0) {
		c->suspended = true;
		hub->ops.suspend(c->conn);
	} else {
		c->last_write_ms = now;
		hub->bytes_sent += s->n;
	}
	return s->n;
}

long hub_client_read(struct hub_client *c, char *buf, size_t max)
{
	struct hub *hub = c->hub;
	struct sink s = {.buf = buf, .max = max};
	long n = -1;

	pthread_mutex_lock(&hub->lock);
	if (!hub->closing && !c->over)
		n = (long)fill(hub, c, &s);
	pthread_mutex_unlock(&hub->lock);
	return n;
}

long hub_client_gather(struct hub_client *c, struct hub_batch *b, size_t max, bool chunked)
{
	struct hub *hub = c->hub;
	struct sink s = {.b = b, .end = HUB_BATCH_IOV - chunked, .max = max};
	char size[16];
	int len;

	b->n = b->bytes = 0;
	pthread_mutex_lock(&hub->lock);
	if (hub->closing || c->over) {
		pthread_mutex_unlock(&hub->lock);
		return -1;
	}
	if (c->n_tail) { /* what the socket did not take last time comes first */
		for (size_t i = 0; i < c->n_tail; i++) {
			const struct hub_piece *t = &c->tail[i];

			if (t->inl_len)
				batch_inline(b, b->n, t->inl, t->inl_len);
			else
				batch_add(b, t->ref, t->p, t->len);
		}
		free(c->tail);
		c->tail = NULL;
		c->n_tail = 0;
		pthread_mutex_unlock(&hub->lock);
		return (long)b->bytes;
	}
	b->n = chunked; /* the chunk's size line goes first, once known */
	if (fill(hub, c, &s) == 0) {
		b->n = 0;
	} else if (chunked) {
		len = snprintf(size, sizeof(size), "%zx\r\n", s.n);
		batch_inline(b, 0, size, (size_t)len);
		batch_add(b, NULL, "\r\n", 2);
	}
	pthread_mutex_unlock(&hub->lock);
	return (long)b->bytes;
}

void hub_client_sent(struct hub_client *c, struct hub_batch *b, size_t written)
{
	struct hub *hub = c->hub;
	size_t i = 0;

	pthread_mutex_lock(&hub->lock);
	for (; i < b->n && written >= b->iov[i].iov_len; i++) {
		written -= b->iov[i].iov_len;
		blob_unref(b->piece[i].ref);
	}
	if (i < b->n && !(c->tail = malloc((b->n - i) * sizeof(*c->tail)))) {
		c->over = true; /* out of memory: the stream cannot go on whole */
		for (; i < b->n; i++)
			blob_unref(b->piece[i].ref);
	}
	c->tail_ms = clock_mono_ms();
	for (; i < b->n; i++) {
		struct hub_piece *t = &c->tail[c->n_tail++];
		const struct blob *held = b->piece[i].ref;

		*t = b->piece[i];
		if (t->inl_len) {
			memmove(t->inl, t->inl + written, t->inl_len - written);
			t->inl_len = (unsigned char)(t->inl_len - written);
			t->len = t->inl_len;
		} else {
			t->p += written;
			t->len -= written;
		}
		written = 0;
		if (held && held->mono_ms && held->mono_ms < c->tail_ms)
			c->tail_ms = held->mono_ms;
	}
	b->n = b->bytes = 0;
	pthread_mutex_unlock(&hub->lock);
}

struct hub_reader *hub_reader_new(struct hub *hub, uint64_t mask, bool gzip, size_t *ret_size)
{
	struct hub_reader *r = calloc(1, sizeof(*r));
	uLong crc = crc32(0, NULL, 0);
	size_t size = 0, raw = 0;

	if (!r)
		return NULL;
	r->hub = hub;
	r->gzip = gzip;
	r->stage = gzip ? 0 : 1;
	pthread_mutex_lock(&hub->lock);
	if (!(r->snap = snap_build(hub, mask, SNAP_PLAIN)))
		goto fail;
	for (size_t i = 0; i < r->snap->n; i++) {
		const struct seg *s = &r->snap->segs[i];
		const char *p = s->b ? s->b->data + s->off : r->snap->glue->data + s->off;
		bool whole = s->b && s->off == 0 && s->len == s->b->len;

		raw += s->len;
		if (!gzip) {
			size += s->len;
			continue;
		}
		crc = crc32(crc, (const Bytef *)p, (uInt)s->len);
		if (whole && blob_zip(hub, s->b) < 0)
			goto fail;
		size += whole ? s->b->zlen : gz_stored_size(s->len);
	}
	pthread_mutex_unlock(&hub->lock);
	if (gzip) {
		/* the final empty block, CRC-32 and the length, little-endian */
		memcpy(r->end, gz_end_block, sizeof(gz_end_block));
		for (int i = 0; i < 4; i++) {
			r->end[5 + i] = (unsigned char)(crc >> (8 * i));
			r->end[9 + i] = (unsigned char)((uint32_t)raw >> (8 * i));
		}
		size += GZ_HEADER_LEN + sizeof(r->end);
	}
	*ret_size = size;
	return r;
fail:
	pthread_mutex_unlock(&hub->lock);
	hub_reader_free(r);
	return NULL;
}

long hub_reader_read(struct hub_reader *r, char *buf, size_t max)
{
	size_t n = 0;

	/* every piece was compressed at creation: no lock is needed to read */
	while (n < max && (r->out.busy || r->stage < 3)) {
		if (r->out.busy) {
			n += out_copy(&r->out, buf + n, max - n);
			continue;
		}
		if (r->stage == 0) {
			out_set(&r->out, NULL, (const char *)gz_head, GZ_HEADER_LEN, false);
			r->stage = 1;
		} else if (r->stage == 1 && r->seg < r->snap->n) {
			const struct seg *s = &r->snap->segs[r->seg++];

			if (!s->b)
				out_set(&r->out, NULL, r->snap->glue->data + s->off, s->len,
					r->gzip);
			else if (r->gzip && s->off == 0 && s->len == s->b->len)
				out_set(&r->out, NULL, s->b->z, s->b->zlen, false);
			else
				out_set(&r->out, NULL, s->b->data + s->off, s->len, r->gzip);
		} else if (r->stage == 1) {
			r->stage = r->gzip ? 2 : 3;
		} else {
			out_set(&r->out, NULL, (const char *)r->end, sizeof(r->end), false);
			r->stage = 3;
		}
	}
	return (long)n;
}

void hub_reader_free(struct hub_reader *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->hub->lock);
	snap_free(r->snap);
	pthread_mutex_unlock(&r->hub->lock);
	free(r);
}

char *hub_snapshot_json(struct hub *hub, uint64_t mask, size_t *ret_len)
{
	size_t size = 0;
	struct hub_reader *r = hub_reader_new(hub, mask, false, &size);
	char *buf = r ? malloc(size + 1) : NULL;

	if (buf) {
		*ret_len = (size_t)hub_reader_read(r, buf, size);
		buf[*ret_len] = '\0';
	}
	hub_reader_free(r);
	return buf;
}
