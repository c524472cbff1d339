/* sseload: a load client for sysfeed's /events.
 *
 * Opens N HTTP/1.1 connections from one epoll loop, decodes the chunked
 * bodies, parses the SSE frames (WHATWG line rules), and for every live event
 * records latency = now - "t" (CLOCK_REALTIME ms). On an unfiltered stream ids
 * are <instance>-<seq> with consecutive seqs, so every gap is a missed event.
 * Ends with one line of JSON on stdout; progress goes to stderr.
 *
 *   sseload --port P [--host 127.0.0.1] [--clients N] [--seconds S] [--path /events]
 *           [--gzip] [--decode-sample K]
 *
 * Phases: connect (until every client has its response head or failed and
 * every decoding client has its snapshot, at most --connect-timeout
 * seconds), then --seconds of measurement. Events, gaps and errors count
 * over both; latency and the window's byte counts only over the
 * measurement window, so the connection storm (10,000 opening snapshots
 * are gigabytes) does not colour the steady state.
 *
 * --gzip sends Accept-Encoding: gzip, as browsers do; a gzip answer is
 * inflated with zlib (gzip wrapper, Z_SYNC_FLUSH at every read), which costs
 * each decoding client about 40 KB and CPU on the cores the daemon runs on.
 * --decode-sample K decodes (inflates when gzip, parses SSE, checks
 * continuity, measures latency) 1 client in K; the others only read, undo
 * the chunked framing and count the bytes. The JSON says which: "decoded",
 * "decode_sample", "gzip_streams". */

#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define ZLIB_CONST
#include <zlib.h>

#include "bench.h"

#define HEAD_MAX     16384
#define LINE_MAX_LEN (16u << 20) /* one SSE line; frames are one-line JSON */
#define MAX_INFLIGHT 128         /* connections opened but without a response head */
#define READ_BUF     (256u << 10)
#define INFLATE_BUF  (64u << 10)

enum client_state {
	CS_PENDING,    /* not opened yet */
	CS_CONNECTING, /* connect() in progress */
	CS_SENDING,    /* writing the request */
	CS_HEAD,       /* reading the response head */
	CS_BODY,       /* streaming */
	CS_CLOSED,     /* the server ended the stream */
	CS_FAILED,     /* connect error, non-200, protocol error, reset */
};

enum chunk_state {
	CH_SIZE,
	CH_EXT,
	CH_SIZE_LF,
	CH_DATA,
	CH_DATA_CR,
	CH_DATA_LF,
	CH_TRAILER,
	CH_END,
};

struct client {
	int fd;
	enum client_state state;
	size_t sent;

	/* response head */
	char *head;
	size_t head_len;
	bool chunked;
	bool gz; /* Content-Encoding: gzip */

	/* body: its bytes (compressed when gz), and the inflater of a decoding
	 * gzip client, made at the response head */
	bool decode; /* this client is in the sample that is decoded */
	z_stream *zs;
	uint64_t win_body; /* body bytes in the measurement window */

	/* chunked decoder */
	enum chunk_state ch;
	uint64_t ch_left;
	unsigned ch_digits;
	size_t trailer_line;

	/* SSE line parser */
	char *line;
	size_t line_len, line_cap;
	bool after_cr;
	char ev_type[32];
	char ev_id[80];
	bool has_id, has_data, has_t;
	int64_t t;

	/* what this client saw */
	bool hello, snapshot;
	char instance[24];
	uint64_t expect; /* next seq; 0 before the snapshot */
	uint64_t events, missed, duplicates, resyncs, keepalives, bad_ids;
	const char *error;
};

struct stats {
	uint64_t snapshotted; /* decoding clients that got their first snapshot */
	uint64_t events, missed, duplicates, resyncs, keepalives, bad_ids, bytes;
	uint64_t body_bytes; /* after the chunked framing (compressed when gzip) */
	uint64_t inflated;   /* what the decoding gzip clients inflated */
	uint64_t win_bytes;  /* bytes read in the measurement window */
	uint64_t win_body;   /* body bytes in the measurement window */
	double *lat;
	size_t n_lat, cap_lat;
	bool record_latency;
};

static struct stats st;
static bool continuity = true;
static bool want_gzip;
static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static double now_real_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static double now_mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

static void fail(struct client *c, const char *why)
{
	if (c->state != CS_FAILED && c->state != CS_CLOSED)
		c->error = why;
	c->state = CS_FAILED;
}

static void record_latency(double ms)
{
	if (!st.record_latency)
		return;
	if (st.n_lat == st.cap_lat) {
		size_t cap = st.cap_lat ? st.cap_lat * 2 : 65536;
		double *p = realloc(st.lat, cap * sizeof(*p));
		if (!p)
			return; /* out of memory: fewer samples, not a crash */
		st.lat = p;
		st.cap_lat = cap;
	}
	st.lat[st.n_lat++] = ms;
}

/* "<instance>-<seq>" -> 0 and the parts, or -1. */
static int parse_id(const char *id, char *ret_inst, size_t inst_len, uint64_t *ret_seq)
{
	const char *dash = strrchr(id, '-');
	char *end;
	size_t n;

	if (!dash || dash == id || !dash[1] || dash[1] < '0' || dash[1] > '9')
		return -1;
	n = (size_t)(dash - id);
	if (n >= inst_len)
		return -1;
	errno = 0;
	*ret_seq = strtoull(dash + 1, &end, 10);
	if (errno || *end)
		return -1;
	memcpy(ret_inst, id, n);
	ret_inst[n] = '\0';
	return 0;
}

static void window_check(double now);

static void dispatch(struct client *c)
{
	char inst[sizeof(c->instance)];
	uint64_t seq = 0;
	bool id_ok;

	if (!c->has_data)
		goto out;
	id_ok = c->has_id && parse_id(c->ev_id, inst, sizeof(inst), &seq) == 0;
	if (strcmp(c->ev_type, "hello") == 0) {
		c->hello = true;
	} else if (strcmp(c->ev_type, "snapshot") == 0) {
		if (!id_ok) {
			c->bad_ids++;
			st.bad_ids++;
			goto out;
		}
		if (c->snapshot) { /* fell behind the ring: a fresh snapshot */
			c->resyncs++;
			st.resyncs++;
		} else {
			st.snapshotted++;
			window_check(now_mono_ms()); /* what follows it counts */
		}
		c->snapshot = true;
		snprintf(c->instance, sizeof(c->instance), "%s", inst);
		c->expect = seq + 1;
	} else {
		c->events++;
		st.events++;
		if (c->has_t)
			record_latency(now_real_ms() - (double)c->t);
		if (!id_ok) {
			c->bad_ids++;
			st.bad_ids++;
		} else if (continuity && c->expect) {
			if (strcmp(inst, c->instance) != 0) {
				c->bad_ids++;
				st.bad_ids++;
			} else if (seq > c->expect) {
				c->missed += seq - c->expect;
				st.missed += seq - c->expect;
			} else if (seq < c->expect) {
				c->duplicates++;
				st.duplicates++;
			}
			c->expect = seq + 1;
		}
	}
out:
	c->ev_type[0] = '\0';
	c->has_id = c->has_data = c->has_t = false;
}

/* Copies value into a fixed field, truncating. */
static void set_field(char *dst, size_t dst_len, const char *v, size_t n)
{
	if (n >= dst_len)
		n = dst_len - 1;
	memcpy(dst, v, n);
	dst[n] = '\0';
}

/* Finds the first "t": in a data line and reads its integer. */
static void find_t(struct client *c, const char *v, size_t n)
{
	static const char key[] = "\"t\":";
	const char *p = memmem(v, n, key, sizeof(key) - 1);
	const char *e = v + n;
	int64_t t = 0;
	bool digits = false;

	if (!p)
		return;
	p += sizeof(key) - 1;
	while (p < e && (*p == ' ' || *p == '\t'))
		p++;
	while (p < e && *p >= '0' && *p <= '9') {
		if (t > (INT64_MAX - 9) / 10)
			return;
		t = t * 10 + (*p - '0');
		digits = true;
		p++;
	}
	if (digits) {
		c->t = t;
		c->has_t = true;
	}
}

static void sse_line(struct client *c, const char *l, size_t n)
{
	const char *colon, *v;
	size_t fn, vn;

	if (n == 0) {
		dispatch(c);
		return;
	}
	if (l[0] == ':') { /* a comment: sysfeed sends only ": keepalive" */
		c->keepalives++;
		st.keepalives++;
		return;
	}
	colon = memchr(l, ':', n);
	fn = colon ? (size_t)(colon - l) : n;
	v = colon ? colon + 1 : l + n;
	vn = (size_t)(l + n - v);
	if (vn && *v == ' ') {
		v++;
		vn--;
	}
	if (fn == 5 && memcmp(l, "event", 5) == 0) {
		set_field(c->ev_type, sizeof(c->ev_type), v, vn);
	} else if (fn == 4 && memcmp(l, "data", 4) == 0) {
		c->has_data = true;
		if (!c->has_t)
			find_t(c, v, vn);
	} else if (fn == 2 && memcmp(l, "id", 2) == 0) {
		if (!memchr(v, '\0', vn)) {
			set_field(c->ev_id, sizeof(c->ev_id), v, vn);
			c->has_id = true;
		}
	}
}

/* Where the first line end (LF or CR) of p[0..n) is, or n. memchr scans
 * many bytes a step: the per-byte loop this replaces was most of what a
 * plain client cost this process. */
static size_t line_end(const char *p, size_t n)
{
	const char *lf = memchr(p, '\n', n);
	size_t i = lf ? (size_t)(lf - p) : n;
	const char *cr = memchr(p, '\r', i);

	return cr ? (size_t)(cr - p) : i;
}

/* Feeds decoded body bytes: splits lines at CRLF, LF or CR. */
static int sse_feed(struct client *c, const char *p, size_t n)
{
	while (n) {
		size_t i;

		if (c->after_cr) {
			c->after_cr = false;
			if (*p == '\n') {
				p++;
				n--;
				continue;
			}
		}
		i = line_end(p, n);
		if (i == n) { /* no line end yet: keep the piece */
			if (c->line_len + n > LINE_MAX_LEN)
				return -1;
			if (c->line_len + n > c->line_cap) {
				size_t cap = c->line_cap ? c->line_cap : 4096;
				char *q;

				while (cap < c->line_len + n)
					cap *= 2;
				q = realloc(c->line, cap);
				if (!q)
					return -1;
				c->line = q;
				c->line_cap = cap;
			}
			memcpy(c->line + c->line_len, p, n);
			c->line_len += n;
			return 0;
		}
		if (c->line_len) {
			if (sse_feed(c, p, i) < 0) /* appends: no line end in p[0..i) */
				return -1;
			sse_line(c, c->line, c->line_len);
			c->line_len = 0;
		} else {
			sse_line(c, p, i);
		}
		c->after_cr = p[i] == '\r';
		p += i + 1;
		n -= i + 1;
	}
	return 0;
}

/* Inflates a piece of a gzip body into the SSE parser; Z_SYNC_FLUSH hands
 * over everything up to the last flush point the piece completes. */
static int gz_feed(struct client *c, const char *p, size_t n)
{
	static unsigned char out[INFLATE_BUF];
	z_stream *zs = c->zs;

	zs->next_in = (const unsigned char *)p;
	zs->avail_in = (uInt)n;
	for (;;) {
		size_t got;
		int r;

		zs->next_out = out;
		zs->avail_out = sizeof(out);
		r = inflate(zs, Z_SYNC_FLUSH);
		if (r != Z_OK && r != Z_STREAM_END && r != Z_BUF_ERROR)
			return -1;
		got = sizeof(out) - zs->avail_out;
		st.inflated += got;
		if (got && sse_feed(c, (const char *)out, got) < 0)
			return -1;
		if (r == Z_STREAM_END) { /* a gzip member ended: another may follow */
			if (inflateReset(zs) != Z_OK)
				return -1;
			if (!zs->avail_in)
				return 0;
			continue;
		}
		if (!zs->avail_in && zs->avail_out)
			return 0; /* all input taken, all output out */
		if (r == Z_BUF_ERROR && !got)
			return 0; /* no progress possible without more input */
	}
}

/* Body bytes (the chunked framing undone): counted; parsed only by the
 * clients in the decoding sample. */
static int payload_feed(struct client *c, const char *p, size_t n)
{
	st.body_bytes += n;
	if (st.record_latency) {
		st.win_body += n;
		c->win_body += n;
	}
	if (!c->decode)
		return 0;
	return c->zs ? gz_feed(c, p, n) : sse_feed(c, p, n);
}

/* Decodes chunked framing and feeds the payload to the SSE parser. */
static int body_feed(struct client *c, const char *p, size_t n)
{
	if (!c->chunked)
		return payload_feed(c, p, n);
	while (n) {
		switch (c->ch) {
		case CH_SIZE: {
			int h = procfs_hex_digit(*p);

			if (h >= 0) {
				if (++c->ch_digits > 15)
					return -1;
				c->ch_left = c->ch_left * 16 + (uint64_t)h;
			} else if (c->ch_digits && (*p == ';' || *p == ' ' || *p == '\t')) {
				c->ch = CH_EXT;
			} else if (c->ch_digits && *p == '\r') {
				c->ch = CH_SIZE_LF;
			} else {
				return -1;
			}
			p++;
			n--;
			break;
		}
		case CH_EXT:
			if (*p == '\r')
				c->ch = CH_SIZE_LF;
			p++;
			n--;
			break;
		case CH_SIZE_LF:
			if (*p != '\n')
				return -1;
			c->ch = c->ch_left ? CH_DATA : CH_TRAILER;
			c->trailer_line = 0;
			p++;
			n--;
			break;
		case CH_DATA: {
			size_t k = n < c->ch_left ? n : (size_t)c->ch_left;

			if (payload_feed(c, p, k) < 0)
				return -1;
			c->ch_left -= k;
			p += k;
			n -= k;
			if (!c->ch_left)
				c->ch = CH_DATA_CR;
			break;
		}
		case CH_DATA_CR:
			if (*p != '\r')
				return -1;
			c->ch = CH_DATA_LF;
			p++;
			n--;
			break;
		case CH_DATA_LF:
			if (*p != '\n')
				return -1;
			c->ch = CH_SIZE;
			c->ch_digits = 0;
			c->ch_left = 0;
			p++;
			n--;
			break;
		case CH_TRAILER:
			if (*p == '\n') {
				if (c->trailer_line == 0)
					c->ch = CH_END;
				c->trailer_line = 0;
			} else if (*p != '\r') {
				c->trailer_line++;
			}
			p++;
			n--;
			break;
		case CH_END:
			return 0; /* bytes after the last chunk: ignored */
		}
	}
	return 0;
}

/* Whether the header `name` (with its colon, after CRLF: "\r\nname:") in the
 * NUL-terminated head has `token` in its value. */
static bool head_has(char *head, const char *name, const char *token)
{
	char *h = strcasestr(head, name), *eol;
	bool found;
	size_t len;
	char save;

	if (!h)
		return false;
	eol = strstr(h + 2, "\r\n");
	len = eol ? (size_t)(eol - h) : strlen(h);
	save = h[len];
	h[len] = '\0';
	found = strcasestr(h + strlen(name), token) != NULL;
	h[len] = save;
	return found;
}

/* Parses the response head; returns 1 when done, 0 for more, -1 on error. */
static int head_feed(struct client *c, const char *p, size_t n, size_t *ret_used)
{
	size_t old = c->head_len, take = n;
	char *end;
	int status;

	if (!c->head && !(c->head = malloc(HEAD_MAX + 1)))
		return -1;
	if (take > HEAD_MAX - c->head_len)
		take = HEAD_MAX - c->head_len;
	memcpy(c->head + c->head_len, p, take);
	c->head_len += take;
	c->head[c->head_len] = '\0';
	end = strstr(c->head, "\r\n\r\n");
	if (!end) {
		*ret_used = take;
		return c->head_len >= HEAD_MAX ? -1 : 0;
	}
	*ret_used = (size_t)(end + 4 - c->head) - old;
	*end = '\0';
	if (sscanf(c->head, "HTTP/1.%*1[01] %3d", &status) != 1)
		return -1;
	if (status != 200)
		return -1;
	c->chunked = head_has(c->head, "\r\ntransfer-encoding:", "chunked");
	c->gz = head_has(c->head, "\r\ncontent-encoding:", "gzip");
	if (c->gz && c->decode) {
		if (!(c->zs = calloc(1, sizeof(*c->zs))))
			return -1;
		if (inflateInit2(c->zs, 16 + MAX_WBITS) != Z_OK) {
			free(c->zs);
			c->zs = NULL;
			return -1;
		}
	}
	free(c->head);
	c->head = NULL;
	return 1;
}

static const char *request;
static size_t request_len;

static int send_request(struct client *c)
{
	while (c->sent < request_len) {
		ssize_t w = send(c->fd, request + c->sent, request_len - c->sent, MSG_NOSIGNAL);

		if (w < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			return -1;
		}
		c->sent += (size_t)w;
	}
	return 1;
}

struct loop {
	int ep;
	struct client *clients;
	int n, next, inflight, connected, resolved;
	int decoding; /* connected clients that decode */
	struct addrinfo *ai;
};

static void client_close(struct loop *lp, struct client *c)
{
	if (c->fd >= 0) {
		epoll_ctl(lp->ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
}

/* The measuring window: it opens once every client has its response head
 * (or failed) and every decoding client its snapshot, or at the connect
 * timeout; start 0 until then. */
struct window {
	const struct loop *lp;
	double t0, start, end;
	long seconds, timeout_s, sample;
};
static struct window win;

static void window_check(double now)
{
	const struct loop *lp = win.lp;

	if (win.start || !((lp->resolved == lp->n && st.snapshotted >= (uint64_t)lp->decoding) ||
			   now - win.t0 >= (double)win.timeout_s * 1000.0))
		return;
	win.start = now;
	win.end = now + (double)win.seconds * 1000.0;
	st.record_latency = true;
	fprintf(stderr,
		"sseload: %d/%d connected in %.0f ms; measuring for %ld s (%s, decoding 1 client "
		"in %ld)\n",
		lp->connected, lp->n, now - win.t0, win.seconds, want_gzip ? "gzip asked" : "plain",
		win.sample);
}

/* The head phase ended for c (streaming or failed). */
static void resolved(struct loop *lp)
{
	lp->inflight--;
	lp->resolved++;
}

static void client_open(struct loop *lp, struct client *c)
{
	struct epoll_event ev = {.events = EPOLLOUT, .data.ptr = c};
	int fd = socket(lp->ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	lp->inflight++;
	if (fd < 0) {
		fail(c, "socket");
		resolved(lp);
		return;
	}
	c->fd = fd;
	if (connect(fd, lp->ai->ai_addr, lp->ai->ai_addrlen) < 0 && errno != EINPROGRESS) {
		fail(c, "connect");
		client_close(lp, c);
		resolved(lp);
		return;
	}
	c->state = CS_CONNECTING;
	if (epoll_ctl(lp->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
		fail(c, "epoll_ctl");
		client_close(lp, c);
		resolved(lp);
	}
}

static void open_more(struct loop *lp)
{
	while (lp->next < lp->n && lp->inflight < MAX_INFLIGHT)
		client_open(lp, &lp->clients[lp->next++]);
}

/* Reads what c has; one recv when it does not fill the buffer (the epoll
 * set is level-triggered: more data reports the socket again), which
 * saves each client the recv that would only say EAGAIN. */
static void on_readable(struct loop *lp, struct client *c)
{
	static char buf[READ_BUF];
	bool more = true;

	while (more) {
		ssize_t r = recv(c->fd, buf, sizeof(buf), 0);
		size_t off = 0;

		if (r < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			if (c->state == CS_HEAD)
				resolved(lp);
			fail(c, "recv");
			client_close(lp, c);
			return;
		}
		if (r == 0) {
			if (c->state == CS_HEAD) {
				resolved(lp);
				fail(c, "closed before the response head");
			} else {
				c->state = CS_CLOSED;
			}
			client_close(lp, c);
			return;
		}
		more = (size_t)r == sizeof(buf);
		st.bytes += (uint64_t)r;
		if (st.record_latency)
			st.win_bytes += (uint64_t)r;
		if (c->state == CS_HEAD) {
			int h = head_feed(c, buf, (size_t)r, &off);

			if (h < 0) {
				resolved(lp);
				fail(c, "bad response head or status");
				client_close(lp, c);
				return;
			}
			if (h == 0) {
				more = true;
				continue;
			}
			c->state = CS_BODY;
			lp->connected++;
			lp->decoding += c->decode;
			resolved(lp);
		}
		if (body_feed(c, buf + off, (size_t)r - off) < 0) {
			fail(c, "bad chunked or SSE framing");
			client_close(lp, c);
			return;
		}
	}
}

static void on_event(struct loop *lp, struct client *c, uint32_t events)
{
	if (c->fd < 0)
		return;
	if (c->state == CS_CONNECTING) {
		int err = 0;
		socklen_t len = sizeof(err);

		if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			fail(c, "connect");
			client_close(lp, c);
			resolved(lp);
			return;
		}
		c->state = CS_SENDING;
	}
	if (c->state == CS_SENDING) {
		int s = send_request(c);
		struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = c};

		if (s < 0) {
			fail(c, "send");
			client_close(lp, c);
			resolved(lp);
			return;
		}
		if (s == 0)
			return; /* EPOLLOUT again */
		c->state = CS_HEAD;
		if (epoll_ctl(lp->ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
			fail(c, "epoll_ctl");
			client_close(lp, c);
			resolved(lp);
		}
		return;
	}
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		on_readable(lp, c);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Nearest-rank percentile of the sorted samples. */
static double percentile(double p)
{
	size_t rank;

	if (!st.n_lat)
		return 0;
	rank = (size_t)(p * (double)st.n_lat + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > st.n_lat)
		rank = st.n_lat;
	return st.lat[rank - 1];
}

static int raise_nofile(rlim_t need)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	if (rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max < need)
		rl.rlim_max = need; /* needs CAP_SYS_RESOURCE */
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		return -errno;
	return 0;
}

static void usage(FILE *f)
{
	fputs("usage: sseload --port P [--host 127.0.0.1] [--clients N] [--seconds S]\n"
	      "               [--path /events] [--connect-timeout S] [--gzip]\n"
	      "               [--decode-sample K]\n"
	      "Opens N SSE streams, checks seq continuity, measures latency = now - \"t\";\n"
	      "prints one line of JSON. --gzip asks for a gzip stream and inflates it;\n"
	      "--decode-sample K decodes 1 client in K, the others only count bytes.\n",
	      f);
}

static long parse_long(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || end == s || v < lo || v > hi) {
		fprintf(stderr, "sseload: bad %s: %s\n", what, s);
		exit(2);
	}
	return v;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"port", required_argument, NULL, 'p'},
	    {"host", required_argument, NULL, 'H'},
	    {"clients", required_argument, NULL, 'c'},
	    {"seconds", required_argument, NULL, 's'},
	    {"path", required_argument, NULL, 'P'},
	    {"connect-timeout", required_argument, NULL, 'T'},
	    {"gzip", no_argument, NULL, 'z'},
	    {"decode-sample", required_argument, NULL, 'k'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	const char *host = "127.0.0.1", *path = "/events";
	long port = -1, nclients = 100, seconds = 10, connect_timeout = 30, sample = 1;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_NUMERICSERV};
	struct epoll_event *evs = NULL;
	struct sigaction sa;
	struct loop lp = {.ep = -1};
	char portstr[24], *req = NULL;
	double t0, t_connected = 0, t_end = 0;
	uint64_t complete = 0, failed = 0, closed = 0, decoded = 0, gz_streams = 0, reading = 0;
	double per_client_min = 0;
	int opt, rc = 1, gai, reqlen;

	while ((opt = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (opt) {
		case 'p':
			port = parse_long(optarg, 1, 65535, "port");
			break;
		case 'H':
			host = optarg;
			break;
		case 'c':
			nclients = parse_long(optarg, 1, 1000000, "client count");
			break;
		case 's':
			seconds = parse_long(optarg, 1, 86400, "seconds");
			break;
		case 'P':
			path = optarg;
			break;
		case 'T':
			connect_timeout = parse_long(optarg, 1, 3600, "connect timeout");
			break;
		case 'z':
			want_gzip = true;
			break;
		case 'k':
			sample = parse_long(optarg, 1, 1000000, "decode sample");
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (port < 0 || optind != argc || path[0] != '/') {
		usage(stderr);
		return 2;
	}
	continuity = strstr(path, "topics=") == NULL;

	snprintf(portstr, sizeof(portstr), "%ld", port);
	gai = getaddrinfo(host, portstr, &hints, &lp.ai);
	if (gai) {
		fprintf(stderr, "sseload: %s: %s\n", host, gai_strerror(gai));
		return 2;
	}
	reqlen = asprintf(&req,
			  "GET %s HTTP/1.1\r\nHost: %s%s%s:%ld\r\nAccept: text/event-stream\r\n"
			  "Cache-Control: no-cache\r\n%sUser-Agent: sseload\r\n\r\n",
			  path, strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
			  port, want_gzip ? "Accept-Encoding: gzip, deflate, br\r\n" : "");
	if (reqlen < 0) {
		req = NULL;
		goto out;
	}
	request = req;
	request_len = (size_t)reqlen;

	if (raise_nofile((rlim_t)nclients + 32) < 0) {
		fprintf(stderr, "sseload: cannot raise RLIMIT_NOFILE to %ld: %s\n", nclients + 32,
			strerror(errno));
		goto out;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal; /* no SA_RESTART: epoll_wait returns EINTR */
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	lp.n = (int)nclients;
	lp.clients = calloc((size_t)nclients, sizeof(*lp.clients));
	evs = calloc(1024, sizeof(*evs));
	lp.ep = epoll_create1(EPOLL_CLOEXEC);
	if (!lp.clients || !evs || lp.ep < 0) {
		fprintf(stderr, "sseload: out of memory or epoll: %s\n", strerror(errno));
		goto out;
	}
	for (int i = 0; i < lp.n; i++) {
		lp.clients[i].fd = -1;
		lp.clients[i].decode = i % sample == 0;
	}

	t0 = now_mono_ms();
	win = (struct window){.lp = &lp,
			      .t0 = t0,
			      .seconds = seconds,
			      .timeout_s = connect_timeout,
			      .sample = sample};
	open_more(&lp);
	while (!stop_requested) {
		double now = now_mono_ms(), until;
		int n, timeout;

		window_check(now);
		t_connected = win.start;
		t_end = win.end;
		if (t_connected && now >= t_end)
			break;
		until = t_connected ? t_end : t0 + connect_timeout * 1000.0;
		timeout = (int)(until - now) + 1;
		if (timeout > 1000)
			timeout = 1000;
		n = epoll_wait(lp.ep, evs, 1024, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			fprintf(stderr, "sseload: epoll_wait: %s\n", strerror(errno));
			goto out;
		}
		for (int i = 0; i < n; i++)
			on_event(&lp, evs[i].data.ptr, evs[i].events);
		open_more(&lp);
	}
	t_connected = win.start; /* it may have opened in the last read */
	t_end = win.end;
	if (!t_connected) {
		t_connected = now_mono_ms();
		t_end = t_connected;
	} else if (now_mono_ms() < t_end) {
		t_end = now_mono_ms(); /* stopped early by a signal */
	}

	for (int i = 0; i < lp.n; i++) {
		struct client *c = &lp.clients[i];

		decoded += c->decode;
		gz_streams += c->gz;
		reading += c->state == CS_BODY && c->win_body > 0;
		if (c->decode && c->state == CS_BODY && c->hello && c->snapshot && c->events > 0 &&
		    !c->missed && !c->duplicates && !c->resyncs && !c->bad_ids)
			complete++;
		if (c->state == CS_FAILED || c->state == CS_PENDING || c->state == CS_CONNECTING ||
		    c->state == CS_SENDING || c->state == CS_HEAD)
			failed++;
		if (c->state == CS_CLOSED)
			closed++;
	}
	for (int i = 0; i < lp.n && failed; i++) {
		if (lp.clients[i].error) {
			fprintf(stderr, "sseload: first error: client %d: %s\n", i,
				lp.clients[i].error);
			break;
		}
	}
	qsort(st.lat, st.n_lat, sizeof(*st.lat), cmp_double);
	if (lp.connected && t_end > t_connected)
		per_client_min =
		    (double)st.win_bytes / lp.connected / ((t_end - t_connected) / 60000.0);
	printf("{\"clients\":%d,\"connected\":%d,\"complete\":%" PRIu64 ",\"failed\":%" PRIu64
	       ",\"closed\":%" PRIu64 ",\"events\":%" PRIu64 ",\"missed\":%" PRIu64
	       ",\"duplicates\":%" PRIu64 ",\"resyncs\":%" PRIu64 ",\"bad_ids\":%" PRIu64
	       ",\"keepalives\":%" PRIu64 ",\"bytes\":%" PRIu64
	       ",\"continuity\":%s,\"connect_ms\":%.0f,\"seconds\":%.1f"
	       ",\"latency_samples\":%zu,\"latency_p50_ms\":%.2f,\"latency_p99_ms\":%.2f"
	       ",\"latency_max_ms\":%.2f,\"gzip\":%s,\"gzip_streams\":%" PRIu64
	       ",\"decode_sample\":%ld,\"decoded\":%" PRIu64 ",\"reading\":%" PRIu64
	       ",\"body_bytes\":%" PRIu64 ",\"inflated_bytes\":%" PRIu64
	       ",\"window_bytes\":%" PRIu64 ",\"window_body_bytes\":%" PRIu64
	       ",\"wire_bytes_per_client_per_min\":%.0f}\n",
	       lp.n, lp.connected, complete, failed, closed, st.events, st.missed, st.duplicates,
	       st.resyncs, st.bad_ids, st.keepalives, st.bytes, continuity ? "true" : "false",
	       t_connected - t0, (t_end - t_connected) / 1000.0, st.n_lat, percentile(0.50),
	       percentile(0.99), st.n_lat ? st.lat[st.n_lat - 1] : 0.0,
	       want_gzip ? "true" : "false", gz_streams, sample, decoded, reading, st.body_bytes,
	       st.inflated, st.win_bytes, st.win_body, per_client_min);
	fflush(stdout);
	rc = lp.connected > 0 ? 0 : 1;
out:
	if (lp.clients) {
		for (int i = 0; i < lp.n; i++) {
			client_close(&lp, &lp.clients[i]);
			free(lp.clients[i].line);
			free(lp.clients[i].head);
			if (lp.clients[i].zs) {
				inflateEnd(lp.clients[i].zs);
				free(lp.clients[i].zs);
			}
		}
	}
	if (lp.ep >= 0)
		close(lp.ep);
	if (lp.ai)
		freeaddrinfo(lp.ai);
	free(lp.clients);
	free(evs);
	free(st.lat);
	free(req);
	return rc;
}
