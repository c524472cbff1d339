#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "metrics.h"
#include "procfs.h"
#include "json.h"

/* /proc/net/dev is about 130 bytes a device: room for ~60,000 devices. */
#define NET_DEV_MAX (8u << 20)
/* /proc/net/snmp and sockstat are a few KiB. */
#define NET_SMALL_MAX (64u << 10)
/* Speed is read when an interface appears, when its operstate changes
 * and at least this often (a bond's speed follows its slaves). */
#define NET_SPEED_REFRESH_NS (30ull * 1000000000ull)

#define NET_FD_NONE   -1
#define NET_FD_ABSENT -2

/* IF_OPER_* names as net/core/net-sysfs.c prints them. */
static const char *const net_operstates[] = {
    "unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up",
};

struct net_state {
	struct procfs_buf buf;
	struct procfs_file dev_file, snmp_file, sockstat_file; /* kept open for the ticks */
	struct procfs_buf small;                               /* sysfs speed */
	struct net_reading prev, cur;
	bool have_prev;
	int sys_fd; /* the sys root the operstate fds were opened under */
	const struct net_settings *set;
};

/* --- /proc/net/dev --- */

/* Finds the four columns of one direction among the names of one '|'
 * section; idx gets their positions, offset by base. */
static int net_dev_section(const char *p, const char *end, size_t base, size_t *ret_n,
			   size_t idx[4])
{
	static const char *const names[4] = {"bytes", "packets", "errs", "drop"};
	const char *tok;
	size_t tok_len, n = 0;
	bool seen[4] = {false};

	while (procfs_next_token(&p, end, &tok, &tok_len) > 0) {
		for (size_t i = 0; i < 4; i++) {
			if (!procfs_token_is(tok, tok_len, names[i]))
				continue;
			if (seen[i])
				return -EINVAL;
			seen[i] = true;
			idx[i] = base + n;
		}
		n++;
	}
	for (size_t i = 0; i < 4; i++) {
		if (!seen[i])
			return -EINVAL;
	}
	*ret_n = n;
	return 0;
}

/* The second header line: " face |RX names|TX names". */
static int net_dev_header(const char *line, size_t len, size_t *ret_ncols,
			  size_t idx[NET_NCOUNTERS])
{
	const char *end = line + len, *bar1, *bar2, *p, *tok;
	size_t tok_len, nrx, ntx;
	int r;

	bar1 = memchr(line, '|', len);
	if (!bar1)
		return -EINVAL;
	bar2 = memchr(bar1 + 1, '|', (size_t)(end - bar1 - 1));
	if (!bar2 || memchr(bar2 + 1, '|', (size_t)(end - bar2 - 1)))
		return -EINVAL;
	p = line;
	if (procfs_next_token(&p, bar1, &tok, &tok_len) <= 0 ||
	    !procfs_token_is(tok, tok_len, "face") ||
	    procfs_next_token(&p, bar1, &tok, &tok_len) > 0)
		return -EINVAL;
	r = net_dev_section(bar1 + 1, bar2, 0, &nrx, &idx[NET_RX_BYTES]);
	if (r < 0)
		return r;
	r = net_dev_section(bar2 + 1, end, nrx, &ntx, &idx[NET_TX_BYTES]);
	if (r < 0)
		return r;
	*ret_ncols = nrx + ntx;
	return 0;
}

static struct net_iface *net_dev_add(struct net_dev *d)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct net_iface *v;

		if (cap > SIZE_MAX / sizeof(*v))
			return NULL;
		v = realloc(d->v, cap * sizeof(*v));
		if (!v)
			return NULL;
		d->v = v;
		d->cap = cap;
	}
	return &d->v[d->n++];
}

/* A device line: the name right-aligned before the first ':' (names cannot
 * hold ':', '/' or spaces), then ncols numbers. */
static int net_dev_line(struct net_dev *d, const char *line, size_t len, size_t ncols,
			const size_t idx[NET_NCOUNTERS])
{
	const char *colon, *name = line, *p, *end = line + len, *tok;
	size_t name_len, tok_len, col = 0;
	struct net_iface *e;
	int r;

	colon = memchr(line, ':', len);
	if (!colon)
		return -EINVAL;
	while (name < colon && *name == ' ')
		name++;
	name_len = (size_t)(colon - name);
	if (name_len == 0 || name_len >= NET_NAME_MAX || memchr(name, ' ', name_len) ||
	    memchr(name, '/', name_len) || memchr(name, '\0', name_len) ||
	    procfs_token_is(name, name_len, ".") || procfs_token_is(name, name_len, ".."))
		return -EINVAL;
	e = net_dev_add(d);
	if (!e)
		return -ENOMEM;
	memset(e, 0, sizeof(*e));
	memcpy(e->name, name, name_len);
	e->speed_mbps = -1;
	e->state_fd = NET_FD_NONE;
	p = colon + 1;
	while (procfs_next_token(&p, end, &tok, &tok_len) > 0) {
		uint64_t v;

		r = -EINVAL;
		if (col == ncols)
			goto out;
		r = procfs_parse_u64(tok, tok_len, &v);
		if (r < 0)
			goto out;
		for (size_t i = 0; i < NET_NCOUNTERS; i++) {
			if (idx[i] == col)
				e->c[i] = v;
		}
		col++;
	}
	r = col == ncols ? 0 : -EINVAL;
out:
	if (r < 0)
		d->n--;
	return r;
}

int net_dev_parse(const char *text, size_t len, struct net_dev *ret)
{
	const char *p = text, *end = text + len, *line;
	size_t line_len, ncols = 0, idx[NET_NCOUNTERS];
	int r;

	ret->n = 0;
	r = procfs_next_line(&p, end, &line, &line_len);
	if (r <= 0) {
		r = r < 0 ? r : -ENODATA;
		goto out;
	}
	r = -EINVAL;
	if (line_len < 7 || memcmp(line, "Inter-|", 7) != 0)
		goto out;
	r = procfs_next_line(&p, end, &line, &line_len);
	if (r <= 0) {
		r = r < 0 ? r : -ENODATA;
		goto out;
	}
	r = net_dev_header(line, line_len, &ncols, idx);
	if (r < 0)
		goto out;
	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		r = net_dev_line(ret, line, line_len, ncols, idx);
		if (r < 0)
			goto out;
	}
out:
	if (r < 0)
		ret->n = 0;
	return r;
}

void net_dev_free(struct net_dev *d)
{
	if (!d)
		return;
	free(d->v);
	d->v = NULL;
	d->n = 0;
	d->cap = 0;
}

/* --- /proc/net/sockstat --- */

int net_sockstat_parse(const char *text, size_t len, struct net_sockstat *ret)
{
	const char *p = text, *end = text + len, *line;
	size_t line_len;
	struct net_sockstat ss = {0};
	bool seen_line = false;
	unsigned seen = 0;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		const char *q = line, *line_end = line + line_len, *tok, *val;
		size_t tok_len, val_len;

		if (procfs_next_token(&q, line_end, &tok, &tok_len) <= 0 ||
		    !procfs_token_is(tok, tok_len, "TCP:"))
			continue;
		r = -EINVAL;
		if (seen_line)
			goto out;
		seen_line = true;
		while (procfs_next_token(&q, line_end, &tok, &tok_len) > 0) {
			static const char *const keys[] = {"inuse", "orphan", "tw", "alloc", "mem"};
			uint64_t *const dst[] = {&ss.inuse, &ss.orphan, &ss.tw, &ss.alloc, &ss.mem};
			uint64_t v;

			r = -EINVAL;
			if (procfs_next_token(&q, line_end, &val, &val_len) <= 0)
				goto out;
			r = procfs_parse_u64(val, val_len, &v);
			if (r < 0)
				goto out;
			for (unsigned i = 0; i < 5; i++) {
				if (!procfs_token_is(tok, tok_len, keys[i]))
					continue;
				r = -EINVAL;
				if (seen & (1u << i))
					goto out;
				seen |= 1u << i;
				*dst[i] = v;
			}
		}
	}
	if (r < 0)
		goto out;
	r = -ENODATA;
	if (!seen_line)
		goto out;
	/* inuse, orphan and tw are what the topic sends */
	r = -EINVAL;
	if ((seen & 7u) != 7u)
		goto out;
	*ret = ss;
	r = 0;
out:
	return r;
}

/* --- /proc/net/snmp --- */

/* An optionally negative integer, for the columns the topic does not use. */
static bool net_is_integer(const char *s, size_t len)
{
	uint64_t v;

	if (len > 0 && s[0] == '-') {
		s++;
		len--;
	}
	return procfs_parse_u64(s, len, &v) == 0;
}

/* Pairs the header's names with the value line's numbers. */
static int net_snmp_tcp(const char *names, const char *names_end, const char *vals,
			const char *vals_end, struct net_tcp *ret)
{
	static const char *const keys[NET_TCP_NCOUNTERS] = {
	    "ActiveOpens", "PassiveOpens", "InSegs", "OutSegs", "RetransSegs", "InErrs", "OutRsts",
	};
	const char *name, *val;
	size_t name_len, val_len;
	unsigned seen = 0;
	bool seen_estab = false;
	int r;

	while (procfs_next_token(&names, names_end, &name, &name_len) > 0) {
		uint64_t *dst = NULL;

		if (procfs_next_token(&vals, vals_end, &val, &val_len) <= 0)
			return -EINVAL;
		if (procfs_token_is(name, name_len, "CurrEstab")) {
			if (seen_estab)
				return -EINVAL;
			seen_estab = true;
			dst = &ret->curr_estab;
		}
		for (unsigned i = 0; i < NET_TCP_NCOUNTERS; i++) {
			if (!procfs_token_is(name, name_len, keys[i]))
				continue;
			if (seen & (1u << i))
				return -EINVAL;
			seen |= 1u << i;
			dst = &ret->c[i];
		}
		if (dst) {
			r = procfs_parse_u64(val, val_len, dst);
			if (r < 0)
				return r;
		} else if (!net_is_integer(val, val_len)) {
			return -EINVAL;
		}
	}
	if (procfs_next_token(&vals, vals_end, &val, &val_len) > 0)
		return -EINVAL;
	if (!seen_estab || seen != (1u << NET_TCP_NCOUNTERS) - 1)
		return -EINVAL;
	return 0;
}

int net_snmp_parse(const char *text, size_t len, struct net_tcp *ret)
{
	const char *p = text, *end = text + len, *line, *header = NULL, *header_end = NULL;
	size_t line_len;
	struct net_tcp tcp = {0};
	bool done = false;
	int r;

	while ((r = procfs_next_line(&p, end, &line, &line_len)) > 0) {
		const char *q = line, *line_end = line + line_len, *tok;
		size_t tok_len;

		if (procfs_next_token(&q, line_end, &tok, &tok_len) <= 0 ||
		    !procfs_token_is(tok, tok_len, "Tcp:")) {
			r = -EINVAL;
			if (header) /* the value line must follow its header */
				goto out;
			continue;
		}
		r = -EINVAL;
		if (done)
			goto out;
		if (!header) {
			header = q;
			header_end = line_end;
			continue;
		}
		r = net_snmp_tcp(header, header_end, q, line_end, &tcp);
		if (r < 0)
			goto out;
		header = NULL;
		done = true;
	}
	if (r < 0)
		goto out;
	r = header ? -EINVAL : -ENODATA;
	if (!done)
		goto out;
	*ret = tcp;
	r = 0;
out:
	return r;
}

void net_reading_free(struct net_reading *r)
{
	if (!r)
		return;
	net_dev_free(&r->dev);
}

/* --- sysfs attributes --- */

const char *net_operstate_parse(const char *text, size_t len)
{
	if (len == 0 || text[len - 1] != '\n')
		return NULL;
	for (size_t i = 0; i < sizeof(net_operstates) / sizeof(net_operstates[0]); i++) {
		if (procfs_token_is(text, len - 1, net_operstates[i]))
			return net_operstates[i];
	}
	return NULL;
}

int64_t net_speed_parse(const char *text, size_t len)
{
	uint64_t v;

	if (len < 2 || text[len - 1] != '\n')
		return -1;
	if (procfs_parse_u64(text, len - 1, &v) < 0 || v > INT32_MAX)
		return -1;
	return (int64_t)v;
}

/* --- the payload --- */

/* Finds name in d, starting at *hint and wrapping: interfaces keep their
 * order between ticks, so this is one comparison unless one appeared. */
static struct net_iface *net_find(const struct net_dev *d, const char *name, size_t *hint)
{
	for (size_t k = 0; k < d->n; k++) {
		size_t i = (*hint + k) % d->n;

		if (strcmp(d->v[i].name, name) == 0) {
			*hint = i + 1;
			return &d->v[i];
		}
	}
	return NULL;
}

static double net_hundredths(double v)
{
	return floor(v * 100.0 + 0.5) / 100.0;
}

static int net_add_null(cJSON *o, const char *key)
{
	return cJSON_AddNullToObject(o, key) ? 0 : -ENOMEM;
}

/* A counter's rate per second, or null: no previous reading (prev NULL),
 * a clock that did not advance, or a counter that went backwards. */
static int net_add_rate(cJSON *o, const char *key, const uint64_t *prev, uint64_t cur,
			uint64_t dt_ns)
{
	double per_s;

	if (!prev || procfs_rate_hundredths(*prev, cur, dt_ns, &per_s) == 0)
		return net_add_null(o, key);
	return json_num(o, key, per_s);
}

static const struct {
	const char *rate, *total;
	enum net_counter c;
} net_fields[] = {
    {"rx_bytes_per_s", "rx_bytes", NET_RX_BYTES},
    {"tx_bytes_per_s", "tx_bytes", NET_TX_BYTES},
    {"rx_packets_per_s", "rx_packets", NET_RX_PACKETS},
    {"tx_packets_per_s", "tx_packets", NET_TX_PACKETS},
    {"rx_errors_per_s", "rx_errors", NET_RX_ERRORS},
    {"tx_errors_per_s", "tx_errors", NET_TX_ERRORS},
    {"rx_drops_per_s", "rx_drops", NET_RX_DROPS},
    {"tx_drops_per_s", "tx_drops", NET_TX_DROPS},
};

static int net_iface_json(cJSON *arr, const struct net_iface *e, const struct net_iface *p,
			  uint64_t dt_ns)
{
	const size_t nf = sizeof(net_fields) / sizeof(net_fields[0]);
	cJSON *o = cJSON_CreateObject();

	if (!o || !cJSON_AddItemToArray(arr, o)) {
		cJSON_Delete(o);
		return -ENOMEM;
	}
	if (json_str(o, "name", e->name) < 0 || !cJSON_AddBoolToObject(o, "loopback", e->loopback))
		return -ENOMEM;
	if (json_str(o, "operstate", e->operstate) < 0)
		return -ENOMEM;
	if ((e->speed_mbps >= 0 ? json_num(o, "speed_mbps", (double)e->speed_mbps)
				: net_add_null(o, "speed_mbps")) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < nf; i++) {
		enum net_counter c = net_fields[i].c;

		if (net_add_rate(o, net_fields[i].rate, p ? &p->c[c] : NULL, e->c[c], dt_ns) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < nf; i++) {
		if (json_num(o, net_fields[i].total, (double)e->c[net_fields[i].c]) < 0)
			return -ENOMEM;
	}
	return 0;
}

static const struct {
	const char *rate, *total;
	enum net_tcp_counter c;
} net_tcp_fields[] = {
    {"active_opens_per_s", "active_opens", NET_TCP_ACTIVE_OPENS},
    {"passive_opens_per_s", "passive_opens", NET_TCP_PASSIVE_OPENS},
    {"in_segs_per_s", "in_segs", NET_TCP_IN_SEGS},
    {"out_segs_per_s", "out_segs", NET_TCP_OUT_SEGS},
    {"retrans_segs_per_s", "retrans_segs", NET_TCP_RETRANS_SEGS},
    {"in_errs_per_s", "in_errs", NET_TCP_IN_ERRS},
    {"out_rsts_per_s", "out_rsts", NET_TCP_OUT_RSTS},
};

/* Retransmitted segments as percent of segments sent: 0 when none were
 * sent, null without both deltas. */
static int net_add_retrans_pct(cJSON *o, const struct net_tcp *prev, const struct net_tcp *cur,
			       uint64_t dt_ns)
{
	uint64_t d_re, d_out;
	double pct;

	if (!prev || dt_ns == 0 ||
	    procfs_delta(prev->c[NET_TCP_RETRANS_SEGS], cur->c[NET_TCP_RETRANS_SEGS], &d_re) < 0 ||
	    procfs_delta(prev->c[NET_TCP_OUT_SEGS], cur->c[NET_TCP_OUT_SEGS], &d_out) < 0)
		return net_add_null(o, "retrans_pct");
	pct = d_out ? net_hundredths((double)d_re * 100.0 / (double)d_out) : 0.0;
	return json_num(o, "retrans_pct", pct > 100.0 ? 100.0 : pct);
}

static int net_tcp_json(cJSON *payload, const struct net_reading *prev,
			const struct net_reading *cur, uint64_t dt_ns)
{
	const size_t nf = sizeof(net_tcp_fields) / sizeof(net_tcp_fields[0]);
	const struct net_tcp *pt = prev ? &prev->tcp : NULL, *t = &cur->tcp;
	cJSON *o = cJSON_AddObjectToObject(payload, "tcp");

	if (!o)
		return -ENOMEM;
	if (json_num(o, "established", (double)t->curr_estab) < 0 ||
	    json_num(o, "time_wait", (double)cur->sock.tw) < 0 ||
	    json_num(o, "inuse", (double)cur->sock.inuse) < 0 ||
	    json_num(o, "orphan", (double)cur->sock.orphan) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < nf; i++) {
		enum net_tcp_counter c = net_tcp_fields[i].c;

		if (net_add_rate(o, net_tcp_fields[i].rate, pt ? &pt->c[c] : NULL, t->c[c], dt_ns) <
		    0)
			return -ENOMEM;
		if (c == NET_TCP_RETRANS_SEGS && net_add_retrans_pct(o, pt, t, dt_ns) < 0)
			return -ENOMEM;
	}
	for (size_t i = 0; i < nf; i++) {
		if (json_num(o, net_tcp_fields[i].total, (double)t->c[net_tcp_fields[i].c]) < 0)
			return -ENOMEM;
	}
	return 0;
}

int net_build_payload(const struct net_reading *prev, const struct net_reading *cur, int64_t t_ms,
		      cJSON **ret_payload)
{
	cJSON *payload, *arr;
	uint64_t dt_ns = 0;
	size_t hint = 0;
	int r = -ENOMEM;

	*ret_payload = NULL;
	if (prev && procfs_delta(prev->mono_ns, cur->mono_ns, &dt_ns) < 0)
		dt_ns = 0;
	payload = cJSON_CreateObject();
	if (!payload)
		goto out;
	if (json_num(payload, "t", (double)t_ms) < 0)
		goto out;
	arr = cJSON_AddArrayToObject(payload, "interfaces");
	if (!arr)
		goto out;
	for (size_t i = 0; i < cur->dev.n; i++) {
		const struct net_iface *e = &cur->dev.v[i], *p = NULL;

		if (!e->included)
			continue;
		if (prev)
			p = net_find(&prev->dev, e->name, &hint);
		if (net_iface_json(arr, e, p, dt_ns) < 0)
			goto out;
	}
	if (net_tcp_json(payload, prev, cur, dt_ns) < 0)
		goto out;
	*ret_payload = payload;
	payload = NULL;
	r = 0;
out:
	cJSON_Delete(payload);
	return r;
}

/* --- the collector --- */

/* The interface's operstate through its kept fd: one pread a tick. A
 * failing fd (the device went away) is reopened once; a missing attribute
 * (kernels before 2.6.17) is not looked for again. */
static const char *net_read_operstate(int sys_fd, struct net_iface *e)
{
	char path[64], text[32];
	bool fresh = false;

	for (;;) {
		ssize_t n;

		if (e->state_fd == NET_FD_ABSENT)
			return NULL;
		if (e->state_fd < 0) {
			snprintf(path, sizeof(path), "class/net/%s/operstate", e->name);
			e->state_fd = openat(sys_fd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
			if (e->state_fd < 0) {
				e->state_fd = errno == ENOENT ? NET_FD_ABSENT : NET_FD_NONE;
				return NULL;
			}
			fresh = true;
		}
		n = pread(e->state_fd, text, sizeof(text), 0);
		if (n >= 0)
			return net_operstate_parse(text, (size_t)n);
		close(e->state_fd);
		e->state_fd = NET_FD_NONE;
		if (fresh)
			return NULL;
	}
}

static int64_t net_read_speed(int sys_fd, const char *name, struct procfs_buf *buf)
{
	char path[64];

	snprintf(path, sizeof(path), "class/net/%s/speed", name);
	/* virtual devices answer EINVAL, down ones too: unknown */
	if (procfs_read(sys_fd, path, buf, 64) < 0)
		return -1;
	return net_speed_parse(buf->data, buf->len);
}

static void net_close_fds(struct net_dev *d)
{
	for (size_t i = 0; i < d->n; i++) {
		if (d->v[i].state_fd >= 0)
			close(d->v[i].state_fd);
		d->v[i].state_fd = NET_FD_NONE;
	}
}

/* Decides which interfaces the payload carries and reads their link state.
 * fds and the speed move over from the previous reading of the same name;
 * those of vanished interfaces are closed. */
static void net_links(struct net_state *s, const struct collector_env *env, uint64_t mono_ns)
{
	size_t hint = 0;

	if (env->sys_fd != s->sys_fd) {
		net_close_fds(&s->prev.dev);
		for (size_t i = 0; i < s->prev.dev.n; i++)
			s->prev.dev.v[i].speed_next_ns = 0;
		s->sys_fd = env->sys_fd;
	}
	for (size_t i = 0; i < s->cur.dev.n; i++) {
		struct net_iface *e = &s->cur.dev.v[i], *p = NULL;
		const char *was = NULL;

		if (s->have_prev)
			p = net_find(&s->prev.dev, e->name, &hint);
		if (p) {
			e->state_fd = p->state_fd;
			p->state_fd = NET_FD_NONE;
			e->speed_mbps = p->speed_mbps;
			e->speed_next_ns = p->speed_next_ns;
			was = p->operstate;
		}
		e->loopback = strcmp(e->name, "lo") == 0;
		e->included = !s->set || list_match(&s->set->interfaces, e->name, true);
		if (!e->included) {
			if (e->state_fd >= 0)
				close(e->state_fd);
			e->state_fd = NET_FD_NONE;
			continue;
		}
		e->operstate = net_read_operstate(env->sys_fd, e);
		if (!p || e->speed_next_ns == 0 || e->operstate != was ||
		    mono_ns >= e->speed_next_ns) {
			e->speed_mbps = net_read_speed(env->sys_fd, e->name, &s->small);
			e->speed_next_ns = mono_ns + NET_SPEED_REFRESH_NS;
		}
	}
	net_close_fds(&s->prev.dev);
}

/* Reads and parses the three proc files into *ret; on failure names the
 * file and whether parsing failed. */
static int net_read(struct net_state *s, int proc_fd, struct net_reading *ret,
		    const char **ret_path, bool *ret_parsing)
{
	int r;

	*ret_parsing = false;
	*ret_path = "net/dev";
	r = procfs_read_file(&s->dev_file, proc_fd, "net/dev", &s->buf, NET_DEV_MAX);
	if (r < 0)
		return r;
	*ret_parsing = true;
	r = net_dev_parse(s->buf.data, s->buf.len, &ret->dev);
	if (r < 0)
		return r;
	*ret_parsing = false;
	*ret_path = "net/snmp";
	r = procfs_read_file(&s->snmp_file, proc_fd, "net/snmp", &s->buf, NET_SMALL_MAX);
	if (r < 0)
		return r;
	*ret_parsing = true;
	r = net_snmp_parse(s->buf.data, s->buf.len, &ret->tcp);
	if (r < 0)
		return r;
	*ret_parsing = false;
	*ret_path = "net/sockstat";
	r = procfs_read_file(&s->sockstat_file, proc_fd, "net/sockstat", &s->buf, NET_SMALL_MAX);
	if (r < 0)
		return r;
	*ret_parsing = true;
	return net_sockstat_parse(s->buf.data, s->buf.len, &ret->sock);
}

static void net_fini(void *state)
{
	struct net_state *s = state;

	if (!s)
		return;
	net_close_fds(&s->prev.dev);
	net_close_fds(&s->cur.dev);
	net_reading_free(&s->prev);
	net_reading_free(&s->cur);
	procfs_buf_free(&s->buf);
	procfs_buf_free(&s->small);
	procfs_file_close(&s->dev_file);
	procfs_file_close(&s->snmp_file);
	procfs_file_close(&s->sockstat_file);
	free(s);
}

/* Reads and parses the proc files once, so that a missing or foreign file
 * turns the topic off now; sysfs is optional (its values are then null). */
static int net_init(const struct collector_env *env, const void *settings, void **ret_state,
		    char *reason, size_t reason_len)
{
	struct net_state *s;
	const char *path = "net/dev";
	bool parsing = false;
	int r;

	s = calloc(1, sizeof(*s));
	if (!s) {
		r = -ENOMEM;
		procfs_reason(reason, reason_len, path, r, parsing);
		goto out;
	}
	s->sys_fd = env->sys_fd;
	s->set = settings;
	r = net_read(s, env->proc_fd, &s->cur, &path, &parsing);
	if (r < 0) {
		procfs_reason(reason, reason_len, path, r, parsing);
		goto out;
	}
	s->cur.dev.n = 0;
	*ret_state = s;
	s = NULL;
out:
	net_fini(s);
	return r;
}

/* Every tick sends the totals and link state; rates need the previous
 * reading of the same interface. A failed read keeps the previous reading,
 * so the next rates span two intervals. */
static int net_sample(void *state, const struct collector_env *env,
		      const struct collector_tick *tick, cJSON **ret_payload)
{
	struct net_state *s = state;
	struct net_reading tmp;
	const char *path;
	bool parsing;
	int r;

	*ret_payload = NULL;
	r = net_read(s, env->proc_fd, &s->cur, &path, &parsing);
	if (r < 0)
		goto out;
	s->cur.mono_ns = tick->mono_ns;
	net_links(s, env, tick->mono_ns);
	r = net_build_payload(s->have_prev ? &s->prev : NULL, &s->cur, tick->t_ms, ret_payload);
	/* the fds now live in cur: it becomes prev whatever happened */
	tmp = s->prev;
	s->prev = s->cur;
	s->cur = tmp;
	s->cur.dev.n = 0;
	s->have_prev = true;
out:
	return r;
}

/* The page's chart of each device's throughput (see daemon/history.h). */
static const char *const net_history[] = {"interfaces[].name", "interfaces[].rx_bytes_per_s",
					  "interfaces[].tx_bytes_per_s", NULL};

/* node_exporter's netdev families for the interfaces the payload shows,
 * from the last good reading (prev; cur is scratch), and the TCP numbers
 * under sysfeed_ names (node_exporter's node_netstat_Tcp_* are CamelCase). */
static int net_metrics(void *state, struct metrics *m)
{
	const struct net_state *s = state;
	static const struct {
		const char *name, *help;
		enum net_counter c;
	} dev_lines[] = {
	    {"node_network_receive_bytes_total", "Network device statistic receive_bytes.",
	     NET_RX_BYTES},
	    {"node_network_transmit_bytes_total", "Network device statistic transmit_bytes.",
	     NET_TX_BYTES},
	    {"node_network_receive_packets_total", "Network device statistic receive_packets.",
	     NET_RX_PACKETS},
	    {"node_network_transmit_packets_total", "Network device statistic transmit_packets.",
	     NET_TX_PACKETS},
	    {"node_network_receive_errs_total", "Network device statistic receive_errs.",
	     NET_RX_ERRORS},
	    {"node_network_transmit_errs_total", "Network device statistic transmit_errs.",
	     NET_TX_ERRORS},
	    {"node_network_receive_drop_total", "Network device statistic receive_drop.",
	     NET_RX_DROPS},
	    {"node_network_transmit_drop_total", "Network device statistic transmit_drop.",
	     NET_TX_DROPS},
	};
	const struct net_reading *rd = &s->prev;
	const struct {
		const char *name, *type, *help;
		uint64_t v;
	} tcp_lines[] = {
	    {"sysfeed_tcp_established", "gauge",
	     "TCP connections currently established (/proc/net/snmp CurrEstab).",
	     rd->tcp.curr_estab},
	    {"sysfeed_tcp_time_wait", "gauge",
	     "IPv4 TCP sockets in TIME-WAIT (/proc/net/sockstat tw).", rd->sock.tw},
	    {"sysfeed_tcp_retransmitted_segments_total", "counter",
	     "TCP segments retransmitted (/proc/net/snmp RetransSegs).",
	     rd->tcp.c[NET_TCP_RETRANS_SEGS]},
	    {"sysfeed_tcp_active_opens_total", "counter",
	     "TCP active opens (/proc/net/snmp ActiveOpens).", rd->tcp.c[NET_TCP_ACTIVE_OPENS]},
	    {"sysfeed_tcp_passive_opens_total", "counter",
	     "TCP passive opens (/proc/net/snmp PassiveOpens).", rd->tcp.c[NET_TCP_PASSIVE_OPENS]},
	};
	bool any = false, any_speed = false;

	if (!s->have_prev)
		return 0;
	for (size_t i = 0; i < rd->dev.n; i++) {
		any = any || rd->dev.v[i].included;
		any_speed = any_speed || (rd->dev.v[i].included && rd->dev.v[i].speed_mbps >= 0);
	}
	for (size_t k = 0; any && k < sizeof(dev_lines) / sizeof(dev_lines[0]); k++) {
		metrics_family(m, dev_lines[k].name, "counter", dev_lines[k].help);
		for (size_t i = 0; i < rd->dev.n; i++) {
			const struct net_iface *e = &rd->dev.v[i];

			if (e->included)
				metrics_sample(m, dev_lines[k].name,
					       (const char *const[]){"device", e->name, NULL},
					       (double)e->c[dev_lines[k].c]);
		}
	}
	if (any) {
		metrics_family(m, "node_network_up", "gauge",
			       "Value is 1 if operstate is 'up', 0 otherwise.");
		for (size_t i = 0; i < rd->dev.n; i++) {
			const struct net_iface *e = &rd->dev.v[i];

			if (e->included)
				metrics_sample(m, "node_network_up",
					       (const char *const[]){"device", e->name, NULL},
					       e->operstate && strcmp(e->operstate, "up") == 0);
		}
	}
	if (any_speed) {
		metrics_family(m, "node_network_speed_bytes", "gauge",
			       "Network device link speed in bytes per second.");
		for (size_t i = 0; i < rd->dev.n; i++) {
			const struct net_iface *e = &rd->dev.v[i];

			if (e->included && e->speed_mbps >= 0)
				metrics_sample(m, "node_network_speed_bytes",
					       (const char *const[]){"device", e->name, NULL},
					       (double)e->speed_mbps * 125000.0);
		}
	}
	for (size_t i = 0; i < sizeof(tcp_lines) / sizeof(tcp_lines[0]); i++) {
		metrics_family(m, tcp_lines[i].name, tcp_lines[i].type, tcp_lines[i].help);
		metrics_sample(m, tcp_lines[i].name, NULL, (double)tcp_lines[i].v);
	}
	return metrics_error(m);
}

static const struct setting net_keys[] = {
    SETTING("interfaces", SET_LIST, offsetof(struct net_settings, interfaces), 0, LIST_MAX, NULL),
    {0},
};

const struct collector net_collector = {
    .name = "net",
    .settings = net_keys,
    .settings_size = sizeof(struct net_settings),
    .history = net_history,
    .init = net_init,
    .sample = net_sample,
    .metrics = net_metrics,
    .fini = net_fini,
};
