/* The hub: the ring of encoded frames, the clients reading it, and the
 * shared compressors of gzip streams (see hub.h). */
#include "hub.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <zlib.h>

#include "clock.h"
#include "gz.h"
#include "hub_impl.h"
#include "sse.h"

#define CHUNK_CAP      512
#define GZ_LEVEL       6
#define KEEPALIVE      ": keepalive\n\n"
#define STATE_MAX      (4u << 20) /* a topic's state beyond this is refused */
#define COMPACT_AGE_MS 3000       /* frames older than this are kept compressed */
#define COMPACT_BATCH  64         /* frames compressed in one publish at most */
#define SNAP_PLAIN     false
#define SNAP_FRAMED    true

/* gzip clients of one topic mask: one compressor, one ring of chunks. */
struct group {
	uint64_t mask;
	struct gz *z;
	unsigned users;       /* clients bound to it, members or not yet */
	bool want_join;       /* a client waits for a chunk that starts with a full flush */
	bool fresh;           /* got a chunk in the publish under way */
	struct blob **chunks; /* chunks[g & (CHUNK_CAP - 1)] */
	uint64_t first, head; /* chunk numbers held: first..head (none: head < first) */
	size_t used, max_bytes;
	uint64_t last_ms;
};

/* A client's filter, in one allocation with its strings. */
struct filter {
	struct hub_filter f;
	char strings[];
};

enum phase { PHASE_GZHEAD, PHASE_HELLO, PHASE_SNAPSHOT, PHASE_LIVE };

/* The part being sent: bytes of a held blob, of the snapshot's glue, or
 * static; `stored` wraps them in stored blocks (gzip, uncompressed). */
struct out {
	struct blob *b;
	const char *p;
	size_t len, off;
	bool busy, stored;
	size_t block_left;
	unsigned char hdr[GZ_STORED_HDR_LEN];
	size_t hdr_off;
};

struct hub_client {
	struct hub *hub;
	void *conn;
	uint64_t mask;
	struct filter *filter; /* NULL: every event of its topics */
	bool gzip, over, suspended;
	enum phase phase;
	struct out out;
	struct snap *snap;
	size_t seg;
	uint64_t next_seq;
	struct group *group; /* gzip: its mask's compressor */
	bool member;         /* gzip: reading the group's chunks (chunk g next) */
	uint64_t g;
	uint64_t last_write_ms;
	struct hub_client *prev, *next;
};

struct hub_reader {
	struct hub *hub;
	struct snap *snap;
	size_t seg;
	struct out out;
	bool gzip;
	int stage; /* 0 gzip header, 1 parts, 2 gzip end, 3 done */
	unsigned char end[13];
};

static const unsigned char gz_end_block[5] = {1, 0, 0, 0xff, 0xff}; /* final, stored, empty */

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
		free(b->key);
		free(b->z);
		free(b);
	}
}

static size_t blob_cost(const struct blob *b)
{
	return sizeof(*b) + b->len + b->zlen + (b->key ? strlen(b->key) + 1 : 0);
}

int blob_zip(struct hub *hub, struct blob *b)
{
	int r;

	if (b->z || b->compact)
		return 0;
	if (!hub->scratch && !(hub->scratch = gz_new(GZ_LEVEL)))
		return -ENOMEM;
	if ((r = gz_piece(hub->scratch, b->data, b->len, &b->z, &b->zlen)) == 0 && b->in_ring)
		hub->used += b->zlen; /* the ring's next publish makes room */
	return r;
}

/* A compact frame's text, inflated into a new blob (NULL: out of memory
 * or corrupt, which cannot happen to what gz_piece wrote). */
static struct blob *blob_unzip(const struct blob *b)
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

struct hub *hub_new(size_t ring_bytes, uint64_t instance, const char *const *topic_names,
		    const struct hub_conn_ops *ops)
{
	struct hub *hub = calloc(1, sizeof(*hub));
	size_t cap = 1024;

	if (!hub)
		return NULL;
	/* frames are rarely below 128 bytes; the index never limits the ring much */
	while (cap < ring_bytes / 128)
		cap <<= 1;
	hub->frames = calloc(cap, sizeof(*hub->frames));
	if (!hub->frames) {
		free(hub);
		return NULL;
	}
	pthread_mutex_init(&hub->lock, NULL);
	hub->cap = cap;
	hub->ring_bytes = ring_bytes;
	hub->instance = instance;
	hub->names = topic_names;
	while (topic_names[hub->n_topics] && hub->n_topics < HUB_MAX_TOPICS)
		hub->n_topics++;
	hub->ops = *ops;
	hub->first_seq = 1;
	hub->head_seq = 0;
	hub->keepalive_ms = 15000;
	hub->stall_ms = 30000;
	hub->compact_ms = COMPACT_AGE_MS;
	return hub;
}

static void group_free(struct group *g)
{
	if (!g)
		return;
	for (uint64_t i = g->first; i <= g->head && g->head >= g->first; i++)
		blob_unref(g->chunks[i & (CHUNK_CAP - 1)]);
	free(g->chunks);
	gz_free(g->z);
	free(g);
}

void hub_free(struct hub *hub)
{
	if (!hub)
		return;
	for (uint64_t s = hub->first_seq; s <= hub->head_seq; s++)
		blob_unref(hub->frames[s & (hub->cap - 1)]);
	for (unsigned i = 0; i < HUB_MAX_TOPICS; i++) {
		blob_unref(hub->state[i]);
		history_free(&hub->hist[i]);
	}
	for (unsigned i = 0; i <= HUB_MAX_TOPICS; i++)
		blob_unref(hub->metrics[i]);
	for (size_t i = 0; i < hub->n_groups; i++)
		group_free(hub->groups[i]);
	blob_unref(hub->hello);
	gz_free(hub->scratch);
	gz_free(hub->loopz);
	free(hub->frames);
	pthread_mutex_destroy(&hub->lock);
	free(hub);
}

/* Drops the oldest frame. Clients still sending it hold their own ref. */
static void ring_evict(struct hub *hub)
{
	struct blob **slot = &hub->frames[hub->first_seq & (hub->cap - 1)];

	hub->evicted[(*slot)->topic] = (*slot)->seq;
	hub->used -= blob_cost(*slot);
	(*slot)->in_ring = false;
	blob_unref(*slot);
	*slot = NULL;
	hub->first_seq++;
}

static struct blob *encode_frame(struct hub *hub, uint64_t seq, const struct hub_msg *m)
{
	char id[SSE_ID_MAX];
	struct blob *b;
	long len;

	sse_format_id(id, sizeof(id), hub->instance, seq);
	len = sse_encode(NULL, 0, id, hub->names[m->topic], m->json, m->len);
	if (len < 0 || !(b = blob_new((size_t)len)))
		return NULL;
	sse_encode(b->data, (size_t)len + 1, id, hub->names[m->topic], m->json, m->len);
	b->topic = m->topic;
	b->seq = seq;
	b->level = m->level;
	if (m->key && !(b->key = strdup(m->key))) {
		blob_unref(b);
		return NULL;
	}
	return b;
}

/* Wakes, outside the lock, the connections collected in `wake`. */
static void wake_all(struct hub *hub, void **wake, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hub->ops.resume(wake[i]);
	free(wake);
}

/* With the lock held: unparks the clients that wait for a topic in mask or
 * for their group's fresh chunk, and (idle) those whose keepalive is due. */
static void **collect_wake(struct hub *hub, uint64_t mask, bool idle, size_t *ret_n)
{
	void **wake = NULL;
	size_t n = 0;
	uint64_t now = clock_mono_ms();

	if (hub->n_clients && !(wake = malloc(hub->n_clients * sizeof(*wake)))) {
		*ret_n = 0;
		return NULL;
	}
	for (struct hub_client *c = hub->clients; c; c = c->next) {
		if (!c->suspended)
			continue;
		if (!(c->mask & mask) && !(c->group && c->group->fresh) &&
		    !(idle && !c->member && now - c->last_write_ms >= hub->keepalive_ms))
			continue;
		c->suspended = false;
		wake[n++] = c->conn;
	}
	*ret_n = n;
	return wake;
}

/* With the lock held: appends a chunk to a group, dropping old ones. */
static void group_add(struct group *g, struct blob *chunk)
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
static void group_break(struct group *g)
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
 * frames, some of other topics; or `extra` bytes) into a chunk. */
static struct blob *group_chunk(struct hub *hub, struct group *g, bool join,
				struct blob *const *frames, size_t n, const char *extra,
				uint64_t after, uint64_t last)
{
	const char *bufs[HUB_MAX_TOPICS + 1];
	size_t lens[HUB_MAX_TOPICS + 1], k = 0, in = 0;
	struct blob *chunk;
	char *z;
	size_t zlen;

	for (size_t i = 0; i < n && k < HUB_MAX_TOPICS; i++) {
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
	if (!k && !join)
		return NULL;
	if (gz_chunk(g->z, join, bufs, lens, k, &z, &zlen) < 0)
		return NULL;
	if (!(chunk = blob_copy(z, zlen))) {
		free(z);
		return NULL;
	}
	free(z);
	chunk->join = join;
	chunk->after = after;
	chunk->seq = last;
	chunk->mono_ms = clock_mono_ms();
	__atomic_add_fetch(&hub->gz_in, in, __ATOMIC_RELAXED);
	__atomic_add_fetch(&hub->gz_out, zlen, __ATOMIC_RELAXED);
	return chunk;
}

/* Loop thread, lock not held (only this thread changes the ring): the
 * compact forms of frames old enough that live readers are past them, at
 * most COMPACT_BATCH. They replace the plain frames under the lock
 * (compact_swap); a ring of compressed frames holds a few times more. */
static size_t compact_prepare(struct hub *hub, uint64_t now, struct blob **out)
{
	uint64_t s = hub->compact_seq > hub->first_seq ? hub->compact_seq : hub->first_seq;
	size_t n = 0;

	if (!hub->loopz && !(hub->loopz = gz_new(GZ_LEVEL)))
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
static void compact_swap(struct hub *hub, struct blob **c, size_t n)
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

int hub_publish(struct hub *hub, const struct hub_msg *msgs, size_t n, int64_t t_ms)
{
	struct blob *compact[COMPACT_BATCH];
	size_t n_compact = 0;
	struct blob **frames = calloc(n ? n : 1, sizeof(*frames));
	struct blob **states = calloc(n ? n : 1, sizeof(*states));
	struct group *todo[HUB_MAX_GROUPS];
	struct blob *chunks[HUB_MAX_GROUPS] = {0};
	bool join[HUB_MAX_GROUPS];
	size_t n_todo = 0, n_wake = 0;
	uint64_t seq, mask = 0, after, now = clock_mono_ms();
	void **wake = NULL;
	int r = 0;

	if (!frames || !states) {
		r = -ENOMEM;
		goto out;
	}
	n_compact = compact_prepare(hub, now, compact);
	/* Encoding happens outside the lock; only this thread assigns seqs. */
	seq = hub->head_seq;
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].topic >= hub->n_topics) {
			r = -EINVAL;
			continue;
		}
		if (msgs[i].state_json && msgs[i].state_len <= STATE_MAX &&
		    !(states[i] = blob_copy(msgs[i].state_json, msgs[i].state_len))) {
			r = -ENOMEM;
			continue;
		}
		if (!msgs[i].state_json && msgs[i].state && msgs[i].len <= STATE_MAX &&
		    !(states[i] = blob_copy(msgs[i].json, msgs[i].len))) {
			r = -ENOMEM;
			continue;
		}
		if (!msgs[i].json)
			continue;
		frames[i] = encode_frame(hub, seq + 1, &msgs[i]);
		if (!frames[i]) {
			r = -ENOMEM;
		} else if (blob_cost(frames[i]) > hub->ring_bytes / 2) {
			blob_unref(frames[i]);
			frames[i] = NULL;
			r = -E2BIG;
		} else {
			frames[i]->mono_ms = now;
			seq++;
		}
	}

	pthread_mutex_lock(&hub->lock);
	compact_swap(hub, compact, n_compact);
	after = hub->head_seq;
	for (size_t i = 0; i < n; i++) {
		struct blob *f = frames[i];

		if (msgs[i].row && msgs[i].topic < hub->n_topics && hub->hist[msgs[i].topic].fields)
			history_add(&hub->hist[msgs[i].topic], msgs[i].row, msgs[i].row_len);
		if (states[i]) {
			blob_unref(hub->state[msgs[i].topic]);
			hub->state[msgs[i].topic] = states[i];
			states[i] = NULL;
		}
		if (!f)
			continue;
		while (hub->head_seq >= hub->first_seq &&
		       (hub->used + blob_cost(f) > hub->ring_bytes ||
			hub->head_seq - hub->first_seq + 1 >= hub->cap))
			ring_evict(hub);
		hub->head_seq = f->seq;
		hub->frames[f->seq & (hub->cap - 1)] = blob_ref(f); /* keep ours for compression */
		f->in_ring = true;
		hub->used += blob_cost(f);
		hub->published++;
		mask |= 1ULL << f->topic;
	}
	if (t_ms) {
		hub->state_t_ms = t_ms;
		hub->tick_mono_ms = now;
	}
	/* Every group gets every batch of its topics, users or not (the
	 * housekeeping frees unused ones): a stream with a batch missing would
	 * skip it for a client that joins before the gap. */
	for (size_t i = 0; i < hub->n_groups; i++) {
		struct group *g = hub->groups[i];

		if (!(g->mask & mask) && !g->want_join)
			continue;
		join[n_todo] = g->want_join;
		g->want_join = false;
		todo[n_todo++] = g;
	}
	pthread_mutex_unlock(&hub->lock);

	/* Only this thread uses or frees a group's compressor. */
	for (size_t i = 0; i < n_todo; i++)
		chunks[i] = group_chunk(hub, todo[i], join[i], frames, n, NULL, after, seq);

	pthread_mutex_lock(&hub->lock);
	for (size_t i = 0; i < n_todo; i++) {
		if (chunks[i])
			group_add(todo[i], chunks[i]);
		else
			group_break(todo[i]); /* out of memory: what it took is lost */
	}
	if (mask || n_todo)
		wake = collect_wake(hub, mask, false, &n_wake);
	for (size_t i = 0; i < n_todo; i++)
		todo[i]->fresh = false;
	pthread_mutex_unlock(&hub->lock);
	wake_all(hub, wake, n_wake);
out:
	pthread_mutex_lock(&hub->lock);
	for (size_t i = 0; frames && states && i < n; i++) {
		blob_unref(frames[i]);
		blob_unref(states[i]);
	}
	pthread_mutex_unlock(&hub->lock);
	free(frames);
	free(states);
	return r;
}

int hub_set_state(struct hub *hub, unsigned topic, const char *json, size_t len)
{
	struct blob *b;

	if (topic >= hub->n_topics || len > STATE_MAX)
		return topic >= hub->n_topics ? -EINVAL : -E2BIG;
	if (!(b = blob_copy(json, len)))
		return -ENOMEM;
	pthread_mutex_lock(&hub->lock);
	blob_unref(hub->state[topic]);
	hub->state[topic] = b;
	pthread_mutex_unlock(&hub->lock);
	return 0;
}

int hub_set_history(struct hub *hub, unsigned topic, const char *fields_json, size_t rows)
{
	struct history *h;
	size_t block = rows / 4;
	struct blob *f;
	struct blob **blocks;

	if (topic >= hub->n_topics || rows == 0)
		return -EINVAL;
	block = block < 1 ? 1 : block > HUB_ROW_BLOCK ? HUB_ROW_BLOCK : block;
	h = &hub->hist[topic];
	if (h->fields)
		return -EEXIST;
	f = blob_copy(fields_json, strlen(fields_json));
	blocks = calloc(rows / block + 2, sizeof(*blocks));
	if (!f || !blocks) {
		blob_unref(f);
		free(blocks);
		return -ENOMEM;
	}
	pthread_mutex_lock(&hub->lock);
	h->fields = f;
	h->blocks = blocks;
	h->cap_blocks = rows / block + 2;
	h->block_rows = block;
	h->keep_rows = rows;
	pthread_mutex_unlock(&hub->lock);
	return 0;
}

int hub_set_metrics(struct hub *hub, int topic, const char *text, size_t len)
{
	struct blob *b;

	if (topic < -1 || topic >= (int)hub->n_topics)
		return -EINVAL;
	if (!(b = blob_copy(text, len)))
		return -ENOMEM;
	pthread_mutex_lock(&hub->lock);
	blob_unref(hub->metrics[topic + 1]);
	hub->metrics[topic + 1] = b;
	pthread_mutex_unlock(&hub->lock);
	return 0;
}

/* Appends s to a growing buffer; returns false on allocation failure. */
static bool buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t ncap = *cap ? *cap : 1024;
		char *p;

		while (ncap < *len + n + 1)
			ncap *= 2;
		if (!(p = realloc(*buf, ncap)))
			return false;
		*buf = p;
		*cap = ncap;
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
	return true;
}

char *hub_metrics_text(struct hub *hub, size_t *ret_len)
{
	char head[2048], *buf = NULL;
	size_t len = 0, cap = 0;
	bool ok;

	pthread_mutex_lock(&hub->lock);
	snprintf(
	    head, sizeof(head),
	    "# HELP sysfeed_clients Event-stream clients connected.\n"
	    "# TYPE sysfeed_clients gauge\n"
	    "sysfeed_clients %u\n"
	    "# HELP sysfeed_gzip_clients Event-stream clients sent gzip.\n"
	    "# TYPE sysfeed_gzip_clients gauge\n"
	    "sysfeed_gzip_clients %u\n"
	    "# HELP sysfeed_events_published_total Events published into the ring.\n"
	    "# TYPE sysfeed_events_published_total counter\n"
	    "sysfeed_events_published_total %" PRIu64 "\n"
	    "# HELP sysfeed_sent_bytes_total Bytes of event streams handed to clients.\n"
	    "# TYPE sysfeed_sent_bytes_total counter\n"
	    "sysfeed_sent_bytes_total %" PRIu64 "\n"
	    "# HELP sysfeed_resyncs_total Clients sent a snapshot after falling behind the ring.\n"
	    "# TYPE sysfeed_resyncs_total counter\n"
	    "sysfeed_resyncs_total %" PRIu64 "\n"
	    "# HELP sysfeed_stalled_streams_total Streams closed for taking no data "
	    "(stall-seconds).\n"
	    "# TYPE sysfeed_stalled_streams_total counter\n"
	    "sysfeed_stalled_streams_total %" PRIu64 "\n"
	    "# HELP sysfeed_gzip_in_bytes_total Event bytes fed to the shared gzip compressors.\n"
	    "# TYPE sysfeed_gzip_in_bytes_total counter\n"
	    "sysfeed_gzip_in_bytes_total %" PRIu64 "\n"
	    "# HELP sysfeed_gzip_out_bytes_total Bytes the shared gzip compressors produced.\n"
	    "# TYPE sysfeed_gzip_out_bytes_total counter\n"
	    "sysfeed_gzip_out_bytes_total %" PRIu64 "\n"
	    "# HELP sysfeed_ring_used_bytes Bytes of frames in the ring.\n"
	    "# TYPE sysfeed_ring_used_bytes gauge\n"
	    "sysfeed_ring_used_bytes %zu\n"
	    "# HELP sysfeed_ring_capacity_bytes Bound of the ring (ring-bytes).\n"
	    "# TYPE sysfeed_ring_capacity_bytes gauge\n"
	    "sysfeed_ring_capacity_bytes %zu\n",
	    hub->n_clients, hub->n_gzip, hub->published, hub->bytes_sent, hub->resyncs,
	    hub->stalled, __atomic_load_n(&hub->gz_in, __ATOMIC_RELAXED),
	    __atomic_load_n(&hub->gz_out, __ATOMIC_RELAXED), hub->used, hub->ring_bytes);
	ok = buf_add(&buf, &len, &cap, head, strlen(head));
	for (unsigned i = 0; ok && i <= hub->n_topics; i++)
		if (hub->metrics[i])
			ok = buf_add(&buf, &len, &cap, hub->metrics[i]->data, hub->metrics[i]->len);
	pthread_mutex_unlock(&hub->lock);
	if (!ok) {
		free(buf);
		return NULL;
	}
	*ret_len = len;
	return buf;
}

int hub_set_hello(struct hub *hub, const char *json, unsigned retry_ms)
{
	char retry[32];
	int rlen = snprintf(retry, sizeof(retry), "retry: %u\n", retry_ms);
	long len = sse_encode(NULL, 0, NULL, "hello", json, strlen(json));
	struct blob *b;

	if (len < 0)
		return (int)len;
	if (!(b = blob_new((size_t)rlen + (size_t)len)))
		return -ENOMEM;
	memcpy(b->data, retry, (size_t)rlen);
	sse_encode(b->data + rlen, (size_t)len + 1, NULL, "hello", json, strlen(json));
	pthread_mutex_lock(&hub->lock);
	blob_unref(hub->hello);
	hub->hello = b;
	pthread_mutex_unlock(&hub->lock);
	return 0;
}

void hub_set_compact_age(struct hub *hub, unsigned ms)
{
	hub->compact_ms = ms; /* read by the loop thread only */
}

void hub_set_limits(struct hub *hub, unsigned keepalive_s, unsigned stall_s)
{
	pthread_mutex_lock(&hub->lock);
	hub->keepalive_ms = keepalive_s * 1000;
	hub->stall_ms = stall_s * 1000;
	pthread_mutex_unlock(&hub->lock);
}

/* With the lock held: when the oldest thing the client still has to send
 * was made (0: nothing or unknown). */
static uint64_t oldest_pending(const struct hub *hub, const struct hub_client *c)
{
	if (c->out.busy && c->out.b && c->out.b->mono_ms)
		return c->out.b->mono_ms;
	if (c->phase == PHASE_SNAPSHOT && c->snap)
		return c->snap->mono_ms;
	if (c->phase != PHASE_LIVE)
		return 0;
	if (c->member)
		return c->g >= c->group->first && c->g <= c->group->head
			   ? c->group->chunks[c->g & (CHUNK_CAP - 1)]->mono_ms
			   : 0;
	if (c->next_seq >= hub->first_seq && c->next_seq <= hub->head_seq)
		return hub->frames[c->next_seq & (hub->cap - 1)]->mono_ms;
	return 0;
}

void hub_housekeep(struct hub *hub)
{
	uint64_t now = clock_mono_ms();
	struct group *todo[HUB_MAX_GROUPS];
	const char *extra[HUB_MAX_GROUPS];
	bool join[HUB_MAX_GROUPS];
	struct blob *chunks[HUB_MAX_GROUPS];
	size_t n_todo = 0, n = 0, n_wake = 0;
	uint64_t head;
	void **wake;

	pthread_mutex_lock(&hub->lock);
	/* groups nobody uses go; only this thread frees them */
	for (size_t i = 0; i < hub->n_groups; i++) {
		struct group *g = hub->groups[i];

		if (!g->users) {
			group_free(g);
			continue;
		}
		hub->groups[n++] = g;
		if (g->want_join || now - g->last_ms >= hub->keepalive_ms) {
			join[n_todo] = g->want_join;
			extra[n_todo] = now - g->last_ms >= hub->keepalive_ms ? KEEPALIVE : NULL;
			g->want_join = false;
			todo[n_todo++] = g;
		}
	}
	hub->n_groups = n;
	head = hub->head_seq;
	for (struct hub_client *c = hub->clients; c && hub->stall_ms; c = c->next) {
		uint64_t since;

		if (c->suspended || c->over || !(since = oldest_pending(hub, c)) ||
		    now - since < hub->stall_ms)
			continue;
		c->over = true;
		hub->stalled++;
		hub->ops.abort(c->conn);
	}
	pthread_mutex_unlock(&hub->lock);

	for (size_t i = 0; i < n_todo; i++)
		chunks[i] = group_chunk(hub, todo[i], join[i], NULL, 0, extra[i], head, head);

	pthread_mutex_lock(&hub->lock);
	for (size_t i = 0; i < n_todo; i++) {
		if (chunks[i])
			group_add(todo[i], chunks[i]);
		else
			group_break(todo[i]);
	}
	wake = collect_wake(hub, 0, true, &n_wake);
	for (size_t i = 0; i < n_todo; i++)
		todo[i]->fresh = false;
	pthread_mutex_unlock(&hub->lock);
	wake_all(hub, wake, n_wake);
}

void hub_close(struct hub *hub)
{
	size_t n = 0;
	void **wake;

	pthread_mutex_lock(&hub->lock);
	hub->closing = true;
	wake = collect_wake(hub, ~0ULL, false, &n);
	pthread_mutex_unlock(&hub->lock);
	wake_all(hub, wake, n);
}

unsigned hub_topic_clients(struct hub *hub, unsigned topic)
{
	unsigned n;

	if (topic >= HUB_MAX_TOPICS)
		return 0;
	pthread_mutex_lock(&hub->lock);
	n = hub->topic_clients[topic];
	pthread_mutex_unlock(&hub->lock);
	return n;
}

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
 * (falling back to stored blocks when compression fails). */
static void out_piece(struct hub *hub, struct out *o, struct blob *b, bool gzip)
{
	struct blob *p;

	if (b->compact && gzip) {
		out_set(o, b, b->data, b->len, false);
	} else if (b->compact) {
		if ((p = blob_unzip(b))) {
			out_set(o, p, p->data, p->len, false);
			blob_unref(p);
		}
	} else if (gzip && blob_zip(hub, b) == 0) {
		out_set(o, b, b->z, b->zlen, false);
	} else {
		out_set(o, b, b->data, b->len, gzip);
	}
}

/* With the lock held: one part of a snapshot plan. */
static void out_seg(struct hub *hub, struct out *o, const struct snap *s, const struct seg *seg,
		    bool gzip)
{
	if (!seg->b)
		out_set(o, NULL, s->glue->data + seg->off, seg->len, gzip);
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

/* With the lock held: the group of gzip clients of mask, made if there is
 * room (NULL: none; the client gets a plain stream). */
static struct group *group_get(struct hub *hub, uint64_t mask)
{
	struct group *g;

	for (size_t i = 0; i < hub->n_groups; i++)
		if (hub->groups[i]->mask == mask)
			return hub->groups[i];
	if (hub->n_groups == HUB_MAX_GROUPS || !(g = calloc(1, sizeof(*g))))
		return NULL;
	g->chunks = calloc(CHUNK_CAP, sizeof(*g->chunks));
	g->z = gz_new(GZ_LEVEL);
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
	for (unsigned i = 0; i < HUB_MAX_TOPICS; i++)
		if (c->mask & (1ULL << i))
			hub->topic_clients[i]--;
	if (c->group) {
		c->group->users--;
		hub->n_gzip--;
	}
	out_clear(&c->out);
	snap_free(c->snap);
	pthread_mutex_unlock(&hub->lock);
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

/* Whether a frame passes the client's filter (see struct hub_filter). */
static bool filter_pass(const struct filter *flt, const struct blob *b)
{
	const struct hub_filter *f = &flt->f;

	if (b->level < 0 && !b->key)
		return true;
	if (b->compact && f->match && *f->match) {
		struct blob *p = blob_unzip(b);
		bool pass;

		if (!p)
			return true; /* cannot tell: rather sent than lost */
		p->key = b->key;     /* borrowed for the check */
		pass = filter_pass(flt, p);
		p->key = NULL;
		blob_unref(p);
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
		if (!(c->mask & (1ULL << f->topic)) || (c->filter && !filter_pass(c->filter, f))) {
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

long hub_client_read(struct hub_client *c, char *buf, size_t max)
{
	struct hub *hub = c->hub;
	uint64_t now;
	size_t n = 0;

	pthread_mutex_lock(&hub->lock);
	if (hub->closing || c->over) {
		pthread_mutex_unlock(&hub->lock);
		return -1;
	}
	while (n < max) {
		if (c->out.busy) {
			n += out_copy(&c->out, buf + n, max - n);
			if (c->out.busy)
				break;
			continue;
		}
		if (!next_part(hub, c, max - n, n > 0))
			break;
	}
	now = clock_mono_ms();
	if (n == 0 && !c->member && now - c->last_write_ms >= hub->keepalive_ms) {
		out_set(&c->out, NULL, KEEPALIVE, sizeof(KEEPALIVE) - 1, c->gzip);
		n = out_copy(&c->out, buf, max);
	}
	if (n == 0) {
		c->suspended = true;
		hub->ops.suspend(c->conn);
	} else {
		c->last_write_ms = now;
		hub->bytes_sent += n;
	}
	pthread_mutex_unlock(&hub->lock);
	return (long)n;
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

void hub_get_stats(struct hub *hub, struct hub_stats *ret)
{
	uint64_t now = clock_mono_ms();

	pthread_mutex_lock(&hub->lock);
	ret->instance = hub->instance;
	ret->first_seq = hub->head_seq >= hub->first_seq ? hub->first_seq : 0;
	ret->last_seq = hub->head_seq;
	ret->ring_used = hub->used;
	ret->ring_bytes = hub->ring_bytes;
	ret->clients = hub->n_clients;
	ret->gzip_clients = hub->n_gzip;
	ret->gzip_groups = (unsigned)hub->n_groups;
	ret->published = hub->published;
	ret->bytes_sent = hub->bytes_sent;
	ret->resyncs = hub->resyncs;
	ret->stalled = hub->stalled;
	ret->tick_age_ms = hub->tick_mono_ms ? now - hub->tick_mono_ms : UINT64_MAX;
	ret->gzip_in_bytes = __atomic_load_n(&hub->gz_in, __ATOMIC_RELAXED);
	ret->gzip_out_bytes = __atomic_load_n(&hub->gz_out, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&hub->lock);
}

int hub_topic_mask(const char *const *names, const char *list, uint64_t *ret_mask, char *bad,
		   size_t bad_len)
{
	uint64_t mask = 0;
	const char *p = list;

	do {
		size_t n = strcspn(p, ",");
		bool found = false;

		for (unsigned i = 0; n && names[i] && i < HUB_MAX_TOPICS; i++)
			if (strlen(names[i]) == n && strncmp(names[i], p, n) == 0) {
				mask |= 1ULL << i;
				found = true;
			}
		if (!found) {
			snprintf(bad, bad_len, "%.*s", (int)(n > 64 ? 64 : n), p);
			return -EINVAL;
		}
		p += n;
	} while (*p++ == ',');
	*ret_mask = mask;
	return 0;
}
