/* The hub's insides, shared by hub.c (ring, publishing, housekeeping),
 * hub_client.c (readers), hub_zip.c (blobs, gzip groups, compaction) and
 * hub_snap.c (states, chart rows and snapshot plans). Not a public API. */
#ifndef SYSFEED_HUB_IMPL_H
#define SYSFEED_HUB_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "gz.h"
#include "hub.h"

#define HUB_MAX_GROUPS 8

/* A shared, immutable byte string: an encoded frame, a compressed chunk, a
 * topic's state, a block of chart rows. Reference counts change only with
 * the hub locked. */
struct blob {
	unsigned refs;
	unsigned topic;
	int level;
	bool join;      /* chunk: starts with a full flush */
	bool in_ring;   /* frame: still in the ring, which counts its bytes */
	bool run_start; /* part: it starts a run (see prev) */
	bool part_tail; /* compact frame: the last of its part, which counts its bytes */
	/* part: data is the deflated text of a batch of old frames, one part
	 * of a run deflated as one stream (see compact_prepare), of plain_len
	 * bytes; compact frame: its text is plain_len bytes of its part's at
	 * part_off (it holds no data of its own) */
	bool compact;
	uint32_t plain_len, part_off; /* below ring-bytes (1G at most) */
	/* part: the one before it in its run, whose data its own continues
	 * (held); NULL: it starts the run, and its data refers to nothing
	 * before it (a gzip piece as it is) */
	struct blob *prev;
	struct blob *part; /* compact frame: its part (held) */
	uint64_t seq;      /* frame: its seq; chunk: the last seq it covers */
	uint64_t after;    /* chunk: the head before it (it covers after+1..seq) */
	uint64_t mono_ms;  /* frame, chunk: when published */
	char *key;
	char *z; /* piece: its gzip form (gz_piece), made on first need */
	size_t zlen;
	/* compact frame, part: its text, inflated once for every reader
	 * behind until the next housekeeping (see blob_text) */
	struct blob *text;
	size_t len;
	char data[];
};

/* One part of what a client is sent: glue text of its snapshot plan
 * (b NULL) or a shared piece. */
struct seg {
	struct blob *b;
	uint32_t off, len;
};

/* A snapshot as references: built once for a client, it pins the pieces
 * as they were, so their later versions never wait for it. */
struct snap {
	uint64_t seq;
	uint64_t mono_ms;
	struct blob *glue;
	size_t n;
	struct seg segs[];
};

/* A topic's chart rows: sealed blocks of `block_rows` rows ("r,r,...")
 * and one open block. Whole blocks are dropped from the front. */
struct history {
	struct blob *fields;
	struct blob **blocks; /* circular, cap_blocks */
	size_t cap_blocks, start, n_blocks;
	struct blob *open;
	size_t open_rows, block_rows, keep_rows;
};

#define CHUNK_CAP 512
#define GZ_LEVEL  6
/* Old frames are compressed once each, whether anyone reads them again or
 * not: zlib's fast levels take half the CPU of 6 for about a tenth more
 * bytes (measured on this host's frames: 2.3 against 4.4 us/KB, ratio 14.3
 * against 15.9), and this runs at every tick, clients or none. */
#define COMPACT_LEVEL 3
/* Old frames are deflated as runs of one stream, in parts: the frames that
 * grew old together (a tick's batch) are one part, ending with a sync
 * flush; a new run once this many plain bytes went into one: a frame
 * finds much of itself in the tick before (the same topic), which a piece
 * per frame cannot use. Measured on 577 frames of this host's stream:
 * 36.1 M instructions and ratio 9.5 (32 KiB runs: 7.8, 128 KiB: 9.5)
 * against 66.2 M and 4.6 for a piece each, with a part per frame; a part
 * per batch ends one deflate block a tick instead of one a frame (each
 * builds its Huffman trees). Reading a frame of a run inflates the run up
 * to its part's end, at most about this much. */
#define COMPACT_RUN (64u << 10)
/* zlib's memLevel: 8 (its default) for a group's continuous stream; 5 for
 * pieces, a few KiB each, as every reset clears the hash table it sizes
 * (an eighth as large: same ratio here, a sixth less CPU on small frames) */
#define GZ_STREAM_MEM  8
#define GZ_PIECE_MEM   5
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
	/* gathered (hub_client_gather) but not taken by the socket: sent
	 * first next time; tail_ms: when the oldest of it was made */
	struct hub_piece *tail;
	size_t n_tail;
	uint64_t tail_ms;
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
	uint64_t evicted[HUB_MAX_TOPICS]; /* newest evicted seq of each topic */

	struct blob *state[HUB_MAX_TOPICS]; /* the topic's latest JSON (no SSE framing) */
	struct history hist[HUB_MAX_TOPICS];
	struct blob *metrics[HUB_MAX_TOPICS + 1]; /* [0]: the daemon's, [1 + topic] */
	int64_t state_t_ms;
	uint64_t tick_mono_ms;
	uint64_t metrics_tick_ms; /* the tick (its tick_mono_ms) the metrics texts show */
	struct blob *hello;
	struct gz *scratch;    /* compresses pieces, with the lock held */
	struct gz *loopz;      /* compresses old frames, on the loop thread */
	uint64_t compact_seq;  /* frames before it are compact or gone */
	size_t run_bytes;      /* plain bytes in loopz's run (0: the next starts one) */
	struct blob *run_last; /* the last compact frame made (held), its run's tail */
	unsigned compact_ms;   /* age at which frames are compressed */
	/* Compaction keeps frames for resumes: while a client is connected (it
	 * may drop and come back), or while the frame the last client to leave
	 * would resume from (resume_need; 0: none left) is still in the ring.
	 * Otherwise no client can ask for the frames being published and they
	 * stay plain until evicted (an idle daemon deflates nothing). Set under
	 * the lock by hub_publish for the next tick's compact_prepare. */
	uint64_t resume_need;
	bool compacting;

	struct group *groups[HUB_MAX_GROUPS];
	size_t n_groups;

	struct blob **inflated; /* compact frames holding their text (held) */
	size_t n_inflated, cap_inflated;
	/* the inflater of compact runs, and the frame it stopped after
	 * (held): a reader going forward through a run inflates each part
	 * once; until the next housekeeping */
	struct z_stream_s *unz;
	struct blob *unz_last;

	struct hub_client *clients;
	unsigned n_clients, n_gzip;
	unsigned topic_clients[HUB_MAX_TOPICS];
	unsigned keepalive_ms, stall_ms;
	bool closing;
	uint64_t published, bytes_sent, resyncs, stalled, gz_in, gz_out;
};

/* Housekeeping runs about once a second: a keepalive is due at the one
 * nearest to `keepalive` seconds of silence, so a quiet stream waits at most
 * half a second past it (a check a few ms short of the period used to wait
 * a whole second more: gaps of keepalive + 1 s cut proxies' idle timeouts). */
#define KEEPALIVE_EARLY_MS 500

static inline bool keepalive_due(const struct hub *hub, uint64_t last_ms, uint64_t now)
{
	return now + KEEPALIVE_EARLY_MS - last_ms >= hub->keepalive_ms;
}

struct blob *blob_new(size_t len);
struct blob *blob_copy(const char *data, size_t len);
struct blob *blob_ref(struct blob *b);
void blob_unref(struct blob *b);
/* With the lock held: b's gzip piece, made now if needed; -ENOMEM. */
int blob_zip(struct hub *hub, struct blob *b);
/* What a blob costs in memory, for the ring's and groups' budgets (a
 * compact frame: with its part's when it is the part's last). */
size_t blob_cost(const struct blob *b);
/* Whether compact frame b is the whole of a part that starts its run:
 * that part's data is b's gzip piece. */
bool blob_as_is(const struct blob *b);
/* With the lock held: a compact frame's text, shared by every reader until
 * the next housekeeping (blob_text_drop): clients that fell more than
 * compact-age behind, a storm of them, inflate each frame once, not once
 * each. Borrowed; NULL when out of memory. */
struct blob *blob_text(struct hub *hub, struct blob *b);
void blob_text_drop(struct hub *hub);

/* hub_zip.c: gzip groups and compaction (contracts above each definition) */
void group_free(struct group *g);
struct group *group_get(struct hub *hub, uint64_t mask);
struct blob *group_chunk(struct hub *hub, struct group *g, bool join, struct blob *const *frames,
			 size_t n, const char *extra, uint64_t after, uint64_t last);
void group_add(struct group *g, struct blob *chunk);
void group_break(struct group *g);
size_t compact_prepare(struct hub *hub, uint64_t now, struct blob **out);
void compact_swap(struct hub *hub, struct blob **c, size_t n);

/* hub_snap.c, all with the lock held */
void history_free(struct history *h);
int history_add(struct history *h, const char *row, size_t len);
/* The snapshot of mask: with `sse` framed as the `snapshot` event (id =
 * the head), else the bare JSON object. */
struct snap *snap_build(struct hub *hub, uint64_t mask, bool sse);
void snap_free(struct snap *s);

#endif
