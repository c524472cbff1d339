#include "hub.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "sse.h"

#define SNAP_CACHE 4

/* An encoded frame, or the hello/snapshot preambles. Reference counts are
 * only touched with the hub locked. */
struct blob {
	unsigned refs;
	unsigned topic;
	uint64_t seq;
	int level;
	char *key;
	size_t len;
	char data[];
};

/* A client's filter, in one allocation with its strings. */
struct filter {
	struct hub_filter f;
	char strings[];
};

enum phase { PHASE_HELLO, PHASE_SNAPSHOT, PHASE_LIVE };

struct hub_client {
	struct hub *hub;
	void *conn;
	uint64_t mask;
	uint64_t next_seq;
	enum phase phase;
	struct filter *filter; /* NULL: every event of its topics */
	struct blob *cur;      /* what is being sent, when it took more than one read */
	size_t cur_off;
	bool suspended;
	uint64_t last_write_ms;
	struct hub_client *prev, *next;
};

/* A topic's chart history: a circular list of rows. */
struct history {
	struct blob *fields;
	struct blob **rows;
	size_t cap, start, n;
};

struct snap_entry {
	uint64_t mask;
	uint64_t gen;
	struct blob *blob;
};

struct hub {
	pthread_mutex_t lock;
	uint64_t instance;
	const char *const *names;
	unsigned n_topics;
	struct hub_conn_ops ops;

	struct blob **frames; /* frames[seq & (cap - 1)] */
	size_t cap;
	uint64_t first_seq, head_seq; /* ring holds first_seq..head_seq */
	size_t used, ring_bytes;

	struct blob *state[HUB_MAX_TOPICS]; /* the topic's latest JSON (no SSE framing) */
	struct history hist[HUB_MAX_TOPICS];
	struct blob *metrics[HUB_MAX_TOPICS + 1]; /* [0]: the daemon's, [1 + topic] */
	uint64_t state_gen;                       /* bumped whenever a state changes */
	int64_t state_t_ms;
	struct snap_entry snaps[SNAP_CACHE];
	struct blob *hello;

	struct hub_client *clients;
	unsigned n_clients;
	unsigned keepalive_ms;
	bool closing;
	uint64_t published, bytes_sent, resyncs;
};

static bool buf_add(char **buf, size_t *len, size_t *cap, const char *s, size_t n);

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct blob *blob_new(size_t len)
{
	struct blob *b = malloc(sizeof(*b) + len + 1);

	if (!b)
		return NULL;
	b->refs = 1;
	b->topic = 0;
	b->seq = 0;
	b->level = -1;
	b->key = NULL;
	b->len = len;
	return b;
}

static struct blob *blob_ref(struct blob *b)
{
	b->refs++;
	return b;
}

static void blob_unref(struct blob *b)
{
	if (b && --b->refs == 0) {
		free(b->key);
		free(b);
	}
}

static size_t blob_cost(const struct blob *b)
{
	return sizeof(*b) + b->len + (b->key ? strlen(b->key) + 1 : 0);
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
	return hub;
}

void hub_free(struct hub *hub)
{
	if (!hub)
		return;
	for (uint64_t s = hub->first_seq; s <= hub->head_seq; s++)
		blob_unref(hub->frames[s & (hub->cap - 1)]);
	for (unsigned i = 0; i < HUB_MAX_TOPICS; i++) {
		struct history *h = &hub->hist[i];

		blob_unref(hub->state[i]);
		blob_unref(h->fields);
		for (size_t j = 0; j < h->n; j++)
			blob_unref(h->rows[(h->start + j) % h->cap]);
		free(h->rows);
	}
	for (unsigned i = 0; i < SNAP_CACHE; i++)
		blob_unref(hub->snaps[i].blob);
	for (unsigned i = 0; i <= HUB_MAX_TOPICS; i++)
		blob_unref(hub->metrics[i]);
	blob_unref(hub->hello);
	free(hub->frames);
	pthread_mutex_destroy(&hub->lock);
	free(hub);
}

/* Drops the oldest frame. Clients still sending it hold their own ref. */
static void ring_evict(struct hub *hub)
{
	struct blob **slot = &hub->frames[hub->first_seq & (hub->cap - 1)];

	hub->used -= blob_cost(*slot);
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

static struct blob *state_blob(const struct hub_msg *m)
{
	struct blob *b = blob_new(m->len);

	if (!b)
		return NULL;
	memcpy(b->data, m->json, m->len);
	b->data[m->len] = '\0';
	return b;
}

/* Wakes, outside the lock, the clients collected in `wake`. */
static void wake_all(struct hub *hub, void **wake, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hub->ops.resume(wake[i]);
	free(wake);
}

/* With the lock held: unparks the clients that match `mask` (0: all, for
 * closing) or whose keepalive is due, returning their connections. */
static void **collect_wake(struct hub *hub, uint64_t mask, bool idle_only, size_t *ret_n)
{
	void **wake = NULL;
	size_t n = 0;
	uint64_t now = mono_ms();

	if (hub->n_clients && !(wake = malloc(hub->n_clients * sizeof(*wake)))) {
		*ret_n = 0;
		return NULL;
	}
	for (struct hub_client *c = hub->clients; c; c = c->next) {
		bool due = now - c->last_write_ms >= hub->keepalive_ms;

		if (!c->suspended)
			continue;
		if (idle_only ? !due : (mask && !(c->mask & mask) && !due))
			continue;
		c->suspended = false;
		wake[n++] = c->conn;
	}
	*ret_n = n;
	return wake;
}

int hub_publish(struct hub *hub, const struct hub_msg *msgs, size_t n, int64_t t_ms)
{
	struct blob **frames = calloc(n ? n : 1, sizeof(*frames));
	struct blob **states = calloc(n ? n : 1, sizeof(*states));
	struct blob **rows = calloc(n ? n : 1, sizeof(*rows));
	uint64_t seq, mask = 0;
	size_t n_wake = 0;
	void **wake = NULL;
	int r = 0;

	if (!frames || !states || !rows) {
		r = -ENOMEM;
		goto out;
	}
	/* Encoding happens outside the lock; only this thread assigns seqs. */
	seq = hub->head_seq;
	for (size_t i = 0; i < n; i++) {
		if (msgs[i].topic >= hub->n_topics) {
			r = -EINVAL;
			continue;
		}
		if (msgs[i].state && !(states[i] = state_blob(&msgs[i]))) {
			r = -ENOMEM;
			continue;
		}
		if (msgs[i].row && hub->hist[msgs[i].topic].cap &&
		    (rows[i] = blob_new(msgs[i].row_len))) {
			memcpy(rows[i]->data, msgs[i].row, msgs[i].row_len);
			rows[i]->data[msgs[i].row_len] = '\0';
		}
		frames[i] = encode_frame(hub, seq + 1, &msgs[i]);
		if (!frames[i]) {
			r = -ENOMEM;
		} else if (blob_cost(frames[i]) > hub->ring_bytes / 2) {
			blob_unref(frames[i]);
			frames[i] = NULL;
			r = -E2BIG;
		} else {
			seq++;
		}
	}

	pthread_mutex_lock(&hub->lock);
	for (size_t i = 0; i < n; i++) {
		struct blob *f = frames[i];

		if (rows[i]) {
			struct history *h = &hub->hist[msgs[i].topic];

			if (h->n == h->cap) {
				blob_unref(h->rows[h->start]);
				h->start = (h->start + 1) % h->cap;
				h->n--;
			}
			h->rows[(h->start + h->n) % h->cap] = rows[i];
			h->n++;
			rows[i] = NULL;
			hub->state_gen++;
		}
		if (states[i]) {
			blob_unref(hub->state[msgs[i].topic]);
			hub->state[msgs[i].topic] = states[i];
			states[i] = NULL;
			hub->state_gen++;
		}
		if (!f)
			continue;
		while (hub->head_seq >= hub->first_seq &&
		       (hub->used + blob_cost(f) > hub->ring_bytes ||
			hub->head_seq - hub->first_seq + 1 >= hub->cap))
			ring_evict(hub);
		hub->head_seq = f->seq;
		hub->frames[f->seq & (hub->cap - 1)] = f;
		hub->used += blob_cost(f);
		hub->published++;
		mask |= 1ULL << f->topic;
		frames[i] = NULL;
	}
	if (t_ms)
		hub->state_t_ms = t_ms;
	if (mask)
		wake = collect_wake(hub, mask, false, &n_wake);
	pthread_mutex_unlock(&hub->lock);
	wake_all(hub, wake, n_wake);
out:
	for (size_t i = 0; frames && states && rows && i < n; i++) {
		blob_unref(frames[i]);
		blob_unref(states[i]);
		blob_unref(rows[i]);
	}
	free(frames);
	free(states);
	free(rows);
	return r;
}

int hub_set_state(struct hub *hub, unsigned topic, const char *json, size_t len)
{
	struct hub_msg m = {.topic = topic, .json = json, .len = len, .state = true};
	struct blob *b;

	if (topic >= hub->n_topics)
		return -EINVAL;
	if (!(b = state_blob(&m)))
		return -ENOMEM;
	pthread_mutex_lock(&hub->lock);
	blob_unref(hub->state[topic]);
	hub->state[topic] = b;
	hub->state_gen++;
	pthread_mutex_unlock(&hub->lock);
	return 0;
}

int hub_set_history(struct hub *hub, unsigned topic, const char *fields_json, size_t rows)
{
	struct history *h;
	size_t len = strlen(fields_json);
	struct blob *f;
	struct blob **r;

	if (topic >= hub->n_topics || rows == 0)
		return -EINVAL;
	h = &hub->hist[topic];
	if (h->cap)
		return -EEXIST;
	f = blob_new(len);
	r = calloc(rows, sizeof(*r));
	if (!f || !r) {
		blob_unref(f);
		free(r);
		return -ENOMEM;
	}
	memcpy(f->data, fields_json, len + 1);
	pthread_mutex_lock(&hub->lock);
	h->fields = f;
	h->rows = r;
	h->cap = rows;
	pthread_mutex_unlock(&hub->lock);
	return 0;
}

int hub_set_metrics(struct hub *hub, int topic, const char *text, size_t len)
{
	struct blob *b;

	if (topic < -1 || topic >= (int)hub->n_topics)
		return -EINVAL;
	if (!(b = blob_new(len)))
		return -ENOMEM;
	memcpy(b->data, text, len);
	b->data[len] = '\0';
	pthread_mutex_lock(&hub->lock);
	blob_unref(hub->metrics[topic + 1]);
	hub->metrics[topic + 1] = b;
	pthread_mutex_unlock(&hub->lock);
	return 0;
}

char *hub_metrics_text(struct hub *hub, size_t *ret_len)
{
	char head[1024], *buf = NULL;
	size_t len = 0, cap = 0;
	bool ok;

	pthread_mutex_lock(&hub->lock);
	snprintf(
	    head, sizeof(head),
	    "# HELP sysfeed_clients Event-stream clients connected.\n"
	    "# TYPE sysfeed_clients gauge\n"
	    "sysfeed_clients %u\n"
	    "# HELP sysfeed_events_published_total Events published into the ring.\n"
	    "# TYPE sysfeed_events_published_total counter\n"
	    "sysfeed_events_published_total %" PRIu64 "\n"
	    "# HELP sysfeed_sent_bytes_total Bytes of event streams handed to clients.\n"
	    "# TYPE sysfeed_sent_bytes_total counter\n"
	    "sysfeed_sent_bytes_total %" PRIu64 "\n"
	    "# HELP sysfeed_resyncs_total Clients sent a snapshot after falling behind the ring.\n"
	    "# TYPE sysfeed_resyncs_total counter\n"
	    "sysfeed_resyncs_total %" PRIu64 "\n"
	    "# HELP sysfeed_ring_used_bytes Bytes of frames in the ring.\n"
	    "# TYPE sysfeed_ring_used_bytes gauge\n"
	    "sysfeed_ring_used_bytes %zu\n"
	    "# HELP sysfeed_ring_capacity_bytes Bound of the ring (ring-bytes).\n"
	    "# TYPE sysfeed_ring_capacity_bytes gauge\n"
	    "sysfeed_ring_capacity_bytes %zu\n",
	    hub->n_clients, hub->published, hub->bytes_sent, hub->resyncs, hub->used,
	    hub->ring_bytes);
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

void hub_set_keepalive(struct hub *hub, unsigned keepalive_s)
{
	pthread_mutex_lock(&hub->lock);
	hub->keepalive_ms = keepalive_s * 1000;
	pthread_mutex_unlock(&hub->lock);
}

void hub_wake_idle(struct hub *hub)
{
	size_t n = 0;
	void **wake;

	pthread_mutex_lock(&hub->lock);
	wake = collect_wake(hub, 0, true, &n);
	pthread_mutex_unlock(&hub->lock);
	wake_all(hub, wake, n);
}

void hub_close(struct hub *hub)
{
	size_t n = 0;
	void **wake;

	pthread_mutex_lock(&hub->lock);
	hub->closing = true;
	wake = collect_wake(hub, 0, false, &n);
	pthread_mutex_unlock(&hub->lock);
	wake_all(hub, wake, n);
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

/* With the lock held: the snapshot JSON of the topics in mask. */
static char *snapshot_locked(struct hub *hub, uint64_t mask, size_t *ret_len)
{
	char head[128], *buf = NULL;
	size_t len = 0, cap = 0;
	bool ok, first = true;

	snprintf(head, sizeof(head),
		 "{\"t\":%" PRId64 ",\"instance\":\"%016" PRIx64 "\",\"seq\":%" PRIu64
		 ",\"topics\":{",
		 hub->state_t_ms, hub->instance, hub->head_seq);
	ok = buf_add(&buf, &len, &cap, head, strlen(head));
	for (unsigned i = 0; ok && i < hub->n_topics; i++) {
		const char *name = hub->names[i];

		if (!(mask & (1ULL << i)) || !hub->state[i])
			continue;
		ok = buf_add(&buf, &len, &cap, first ? "\"" : ",\"", first ? 1 : 2) &&
		     buf_add(&buf, &len, &cap, name, strlen(name)) &&
		     buf_add(&buf, &len, &cap, "\":", 2) &&
		     buf_add(&buf, &len, &cap, hub->state[i]->data, hub->state[i]->len);
		first = false;
	}
	ok = ok && buf_add(&buf, &len, &cap, "},\"history\":{", 13);
	first = true;
	for (unsigned i = 0; ok && i < hub->n_topics; i++) {
		const struct history *h = &hub->hist[i];
		const char *name = hub->names[i];

		if (!(mask & (1ULL << i)) || !h->cap)
			continue;
		ok = buf_add(&buf, &len, &cap, first ? "\"" : ",\"", first ? 1 : 2) &&
		     buf_add(&buf, &len, &cap, name, strlen(name)) &&
		     buf_add(&buf, &len, &cap, "\":{\"fields\":", 12) &&
		     buf_add(&buf, &len, &cap, h->fields->data, h->fields->len) &&
		     buf_add(&buf, &len, &cap, ",\"rows\":[", 9);
		for (size_t j = 0; ok && j < h->n; j++) {
			const struct blob *row = h->rows[(h->start + j) % h->cap];

			ok = (j == 0 || buf_add(&buf, &len, &cap, ",", 1)) &&
			     buf_add(&buf, &len, &cap, row->data, row->len);
		}
		ok = ok && buf_add(&buf, &len, &cap, "]}", 2);
		first = false;
	}
	ok = ok && buf_add(&buf, &len, &cap, "}}", 2);
	if (!ok) {
		free(buf);
		return NULL;
	}
	*ret_len = len;
	return buf;
}

char *hub_snapshot_json(struct hub *hub, uint64_t mask, size_t *ret_len)
{
	char *s;

	pthread_mutex_lock(&hub->lock);
	s = snapshot_locked(hub, mask, ret_len);
	pthread_mutex_unlock(&hub->lock);
	return s;
}

/* With the lock held: the snapshot frame for mask, built at most once per
 * state change and mask, shared by every client that needs it. Its id is
 * the head at build time; frames after it are replayed from the ring. */
static struct blob *snapshot_frame(struct hub *hub, uint64_t mask)
{
	struct snap_entry *e, *victim = &hub->snaps[0];
	char id[SSE_ID_MAX], *json;
	size_t json_len;
	long len;

	for (unsigned i = 0; i < SNAP_CACHE; i++) {
		e = &hub->snaps[i];
		if (e->blob && e->mask == mask && e->gen == hub->state_gen &&
		    e->blob->seq + 1 >= hub->first_seq)
			return blob_ref(e->blob);
		if (!e->blob || e->gen < victim->gen)
			victim = e;
	}
	if (!(json = snapshot_locked(hub, mask, &json_len)))
		return NULL;
	sse_format_id(id, sizeof(id), hub->instance, hub->head_seq);
	len = sse_encode(NULL, 0, id, "snapshot", json, json_len);
	e = victim;
	blob_unref(e->blob);
	e->blob = NULL;
	if (len >= 0 && (e->blob = blob_new((size_t)len))) {
		sse_encode(e->blob->data, (size_t)len + 1, id, "snapshot", json, json_len);
		e->blob->seq = hub->head_seq;
		e->mask = mask;
		e->gen = hub->state_gen;
	}
	free(json);
	return e->blob ? blob_ref(e->blob) : NULL;
}

struct hub_client *hub_client_new(struct hub *hub, uint64_t mask, const char *last_id, void *conn)
{
	struct hub_client *c = calloc(1, sizeof(*c));
	uint64_t seq = 0;
	enum sse_id_kind kind;

	if (!c)
		return NULL;
	c->hub = hub;
	c->conn = conn;
	c->mask = mask;
	c->phase = PHASE_HELLO;
	c->last_write_ms = mono_ms();
	kind = sse_parse_id(last_id, hub->instance, &seq);

	pthread_mutex_lock(&hub->lock);
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
	pthread_mutex_unlock(&hub->lock);
	return c;
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
	blob_unref(c->cur);
	pthread_mutex_unlock(&hub->lock);
	free(c->filter);
	free(c);
}

/* Packs f and its strings into one allocation. */
int hub_client_set_filter(struct hub_client *c, const struct hub_filter *f)
{
	size_t need = 0, off = 0;
	struct filter *copy;

	if (f->n_units > 16 || f->n_exclude > 16)
		return -EINVAL;
	for (size_t i = 0; i < f->n_units; i++)
		need += strlen(f->units[i]) + 1;
	for (size_t i = 0; i < f->n_exclude; i++)
		need += strlen(f->exclude[i]) + 1;
	need += f->match ? strlen(f->match) + 1 : 0;
	if (!(copy = calloc(1, sizeof(*copy) + need)))
		return -ENOMEM;
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
	free(c->filter);
	c->filter = copy;
	return 0;
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

/* With the lock held: copies from c->cur; drops it once fully sent. */
static size_t copy_cur(struct hub_client *c, char *buf, size_t max)
{
	size_t n = c->cur->len - c->cur_off;

	if (n > max)
		n = max;
	memcpy(buf, c->cur->data + c->cur_off, n);
	c->cur_off += n;
	if (c->cur_off == c->cur->len) {
		blob_unref(c->cur);
		c->cur = NULL;
		c->cur_off = 0;
	}
	return n;
}

long hub_client_read(struct hub_client *c, char *buf, size_t max)
{
	struct hub *hub = c->hub;
	size_t n = 0;

	pthread_mutex_lock(&hub->lock);
	if (hub->closing) {
		pthread_mutex_unlock(&hub->lock);
		return -1;
	}
	while (n < max) {
		struct blob *f;

		if (c->cur) {
			n += copy_cur(c, buf + n, max - n);
			if (c->cur)
				break;
			continue;
		}
		if (c->phase == PHASE_HELLO) {
			c->phase = c->next_seq ? PHASE_LIVE : PHASE_SNAPSHOT;
			if (hub->hello)
				c->cur = blob_ref(hub->hello);
			continue;
		}
		if (c->phase == PHASE_SNAPSHOT || c->next_seq < hub->first_seq) {
			/* new, resuming from too far back, or overtaken by the tail */
			if (c->phase == PHASE_LIVE)
				hub->resyncs++;
			if (!(c->cur = snapshot_frame(hub, c->mask)))
				break;
			c->next_seq = c->cur->seq + 1;
			c->phase = PHASE_LIVE;
			continue;
		}
		if (c->next_seq > hub->head_seq)
			break;
		f = hub->frames[c->next_seq & (hub->cap - 1)];
		if (!(c->mask & (1ULL << f->topic)) || (c->filter && !filter_pass(c->filter, f))) {
			c->next_seq++;
			continue;
		}
		if (f->len > max - n && n > 0)
			break; /* whole frames only, unless one alone exceeds the buffer */
		c->next_seq++;
		c->cur = blob_ref(f);
	}
	if (n == 0 && mono_ms() - c->last_write_ms >= hub->keepalive_ms &&
	    max >= sizeof(": keepalive\n\n") - 1) {
		n = sizeof(": keepalive\n\n") - 1;
		memcpy(buf, ": keepalive\n\n", n);
	}
	if (n == 0) {
		c->suspended = true;
		hub->ops.suspend(c->conn);
	} else {
		c->last_write_ms = mono_ms();
		hub->bytes_sent += n;
	}
	pthread_mutex_unlock(&hub->lock);
	return (long)n;
}

void hub_get_stats(struct hub *hub, struct hub_stats *ret)
{
	pthread_mutex_lock(&hub->lock);
	ret->instance = hub->instance;
	ret->first_seq = hub->head_seq >= hub->first_seq ? hub->first_seq : 0;
	ret->last_seq = hub->head_seq;
	ret->ring_used = hub->used;
	ret->ring_bytes = hub->ring_bytes;
	ret->clients = hub->n_clients;
	ret->published = hub->published;
	ret->bytes_sent = hub->bytes_sent;
	ret->resyncs = hub->resyncs;
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

unsigned hub_topic_clients(struct hub *hub, unsigned topic)
{
	unsigned n = 0;

	if (topic >= HUB_MAX_TOPICS)
		return 0;
	pthread_mutex_lock(&hub->lock);
	for (const struct hub_client *c = hub->clients; c; c = c->next)
		n += (c->mask >> topic) & 1;
	pthread_mutex_unlock(&hub->lock);
	return n;
}
