/* The hub: the ring of encoded frames, publishing into it, the states,
 * metrics and hello it holds, and housekeeping (see hub.h). Readers are in
 * hub_client.c, gzip groups and compaction in hub_zip.c, snapshots in
 * hub_snap.c. */
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
#include "metrics.h"
#include "sse.h"

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
	blob_text_drop(hub);
	free(hub->inflated);
	blob_unref(hub->run_last);
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

/* One pass over the JSON when it holds no line end nor ill-formed byte
 * (what the daemon's JSON writer makes): the frame's size is then the
 * fields' plus the JSON's; a second pass only when it is not. */
static struct blob *encode_frame(struct hub *hub, uint64_t seq, const struct hub_msg *m)
{
	const char *name = hub->names[m->topic];
	char id[SSE_ID_MAX];
	struct blob *b;
	long fields, len;

	sse_format_id(id, sizeof(id), hub->instance, seq);
	fields = sse_encode(NULL, 0, id, name, "", 0);
	if (fields < 0 || !(b = blob_new((size_t)fields + m->len)))
		return NULL;
	len = sse_encode(b->data, b->len + 1, id, name, m->json, m->len);
	if (len > (long)b->len) {
		blob_unref(b);
		if (!(b = blob_new((size_t)len)))
			return NULL;
		sse_encode(b->data, (size_t)len + 1, id, name, m->json, m->len);
	}
	b->len = (size_t)len;
	b->data[len] = '\0';
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
		    !(idle && !c->member && keepalive_due(hub, c->last_write_ms, now)))
			continue;
		c->suspended = false;
		wake[n++] = c->conn;
	}
	*ret_n = n;
	return wake;
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
	hub->compacting =
	    hub->n_clients > 0 || (hub->resume_need && hub->resume_need >= hub->first_seq);
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

int hub_metrics_append(struct hub *hub, struct metrics *m)
{
	pthread_mutex_lock(&hub->lock);
	for (unsigned i = 0; i <= hub->n_topics; i++)
		if (hub->metrics[i])
			metrics_raw(m, hub->metrics[i]->data, hub->metrics[i]->len);
	pthread_mutex_unlock(&hub->lock);
	return metrics_error(m);
}

bool hub_metrics_scrape(struct hub *hub)
{
	bool fresh;

	pthread_mutex_lock(&hub->lock);
	fresh = hub->metrics_tick_ms == hub->tick_mono_ms;
	pthread_mutex_unlock(&hub->lock);
	return fresh;
}

void hub_metrics_written(struct hub *hub)
{
	pthread_mutex_lock(&hub->lock);
	hub->metrics_tick_ms = hub->tick_mono_ms;
	pthread_mutex_unlock(&hub->lock);
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
	if (c->n_tail)
		return c->tail_ms;
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
	blob_text_drop(hub);
	/* groups nobody uses go; only this thread frees them */
	for (size_t i = 0; i < hub->n_groups; i++) {
		struct group *g = hub->groups[i];

		if (!g->users) {
			group_free(g);
			continue;
		}
		hub->groups[n++] = g;
		if (g->want_join || keepalive_due(hub, g->last_ms, now)) {
			join[n_todo] = g->want_join;
			extra[n_todo] = keepalive_due(hub, g->last_ms, now) ? KEEPALIVE : NULL;
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
	ret->inflated = (unsigned)hub->n_inflated;
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