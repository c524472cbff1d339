/* The parsers of the `net` topic (/proc/net/dev, snmp and sockstat, the
 * sysfs link attributes) and its field tables, which name the columns the
 * parsers look for. */
#include "array.h"
#include "net.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "procfs.h"

/* IF_OPER_* names as net/core/net-sysfs.c prints them. */
static const char *const net_operstates[] = {
    "unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up",
};

/* --- the field tables --- */

static bool net_derive_up(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	const struct net_iface *e = cur;

	*ret = e->operstate && strcmp(e->operstate, "up") == 0;
	return true;
}

/* A column of /proc/net/dev ("Receive bytes": the column "bytes" of the
 * header's Receive section), its total and rate in the payload, and
 * node_exporter's netdev family. */
#define NET_COUNTER(column, key, family, counter, what, rate_text)                                 \
	FIELD(.source = column, .json = key, .prom = "node_network_" family "_total",              \
	      .type = FIELD_COUNTER, .unit = what, .help = "Network device statistic " family ".", \
	      FIELD_AT(struct net_iface, c[counter]), .rate = key "_per_s",                        \
	      .rate_unit = what "/s", .rate_help = rate_text)

static const struct field net_dev_fields[] = {
    FIELD(.source = "the name before ':'", .json = "name", .type = FIELD_INFO,
	  .help = "The interface's name.", FIELD_CHARS_AT(struct net_iface, name)),
    FIELD(.json = "loopback", .type = FIELD_INFO,
	  .help = "true for lo, the loopback device's fixed name.",
	  FIELD_AT(struct net_iface, loopback)),
    FIELD(.source = "operstate", .file = "/sys/class/net/<if>", .json = "operstate",
	  .type = FIELD_INFO,
	  .help = "RFC 2863 state as the kernel names it (up, down, lowerlayerdown, dormant, "
		  "testing, notpresent, unknown); null when unreadable.",
	  FIELD_STR_AT(struct net_iface, operstate)),
    FIELD(.source = "speed", .file = "/sys/class/net/<if>", .json = "speed_mbps",
	  .type = FIELD_INFO, .unit = "Mbit/s", .help = "Negotiated link speed; null when unknown.",
	  FIELD_AT(struct net_iface, speed_mbps), .flags = FIELD_NEG_UNKNOWN),
    NET_COUNTER("Receive bytes", "rx_bytes", "receive_bytes", NET_RX_BYTES, "bytes",
		"Bytes received per second."),
    NET_COUNTER("Transmit bytes", "tx_bytes", "transmit_bytes", NET_TX_BYTES, "bytes",
		"Bytes sent per second."),
    NET_COUNTER("Receive packets", "rx_packets", "receive_packets", NET_RX_PACKETS, "packets",
		"Packets received per second."),
    NET_COUNTER("Transmit packets", "tx_packets", "transmit_packets", NET_TX_PACKETS, "packets",
		"Packets sent per second."),
    NET_COUNTER("Receive errs", "rx_errors", "receive_errs", NET_RX_ERRORS, "errors",
		"Receive errors per second."),
    NET_COUNTER("Transmit errs", "tx_errors", "transmit_errs", NET_TX_ERRORS, "errors",
		"Transmit errors per second."),
    NET_COUNTER("Receive drop", "rx_drops", "receive_drop", NET_RX_DROPS, "drops",
		"Received packets dropped per second."),
    NET_COUNTER("Transmit drop", "tx_drops", "transmit_drop", NET_TX_DROPS, "drops",
		"Packets to send dropped per second."),
    FIELD(.source = "operstate", .file = "/sys/class/net/<if>", .prom = "node_network_up",
	  .type = FIELD_GAUGE, .help = "Value is 1 if operstate is 'up', 0 otherwise.",
	  FIELD_DERIVE(net_derive_up)),
    FIELD(.source = "speed", .file = "/sys/class/net/<if>", .prom = "node_network_speed_bytes",
	  .type = FIELD_GAUGE, .unit = "bytes/s",
	  .help = "Network device link speed in bytes per second.",
	  FIELD_AT(struct net_iface, speed_mbps), .flags = FIELD_NEG_UNKNOWN, .mul = 125000),
};

const struct field_table net_dev_table = {
    .path = "interfaces[]",
    .file = "/proc/net/dev",
    .labels = "device",
    .passes = {FIELDS_INFO, FIELDS_RATES, FIELDS_COUNTERS},
    FIELD_ROWS(net_dev_fields),
};

#define NET_DEV_ROWS (sizeof(net_dev_fields) / sizeof(net_dev_fields[0]))

/* Retransmitted segments as percent of segments sent: 0 when none were
 * sent, null without both deltas. */
static bool net_derive_retrans_pct(const void *cur, const void *prev, uint64_t dt_ns, double *ret)
{
	const struct net_reading *c = cur, *p = prev;
	uint64_t d_re, d_out;

	if (!p || dt_ns == 0 ||
	    procfs_delta(p->tcp.c[NET_TCP_RETRANS_SEGS], c->tcp.c[NET_TCP_RETRANS_SEGS], &d_re) <
		0 ||
	    procfs_delta(p->tcp.c[NET_TCP_OUT_SEGS], c->tcp.c[NET_TCP_OUT_SEGS], &d_out) < 0)
		return false;
	*ret = d_out ? floor((double)d_re * 100.0 / (double)d_out * 100.0 + 0.5) / 100.0 : 0.0;
	if (*ret > 100.0)
		*ret = 100.0;
	return true;
}

/* A column of the Tcp: lines of /proc/net/snmp: its total and rate. */
#define NET_TCP(column, key, counter, what, rate_text, ...)                                        \
	FIELD(.source = column, .json = key, .type = FIELD_COUNTER, .unit = what,                  \
	      FIELD_AT(struct net_reading, tcp.c[counter]), .rate = key "_per_s",                  \
	      .rate_unit = what "/s", .rate_help = rate_text, __VA_ARGS__)
/* A key of the TCP: line of /proc/net/sockstat. */
#define NET_SOCKS(key, json_key, text, ...)                                                        \
	FIELD(.source = #key, .file = "/proc/net/sockstat", .json = json_key, .type = FIELD_GAUGE, \
	      .unit = "sockets", .help = text, FIELD_AT(struct net_reading, sock.key),             \
	      __VA_ARGS__)

/* The TCP summary, and sysfeed_ families for some of it (node_exporter's
 * node_netstat_Tcp_* are CamelCase). */
static const struct field net_tcp_fields[] = {
    FIELD(.source = "CurrEstab", .json = "established", .prom = "sysfeed_tcp_established",
	  .type = FIELD_GAUGE, .unit = "connections",
	  .help = "TCP connections currently established (/proc/net/snmp CurrEstab).",
	  FIELD_AT(struct net_reading, tcp.curr_estab)),
    NET_SOCKS(tw, "time_wait", "IPv4 TCP sockets in TIME-WAIT (/proc/net/sockstat tw).",
	      .prom = "sysfeed_tcp_time_wait"),
    NET_SOCKS(inuse, "inuse", "IPv4 TCP sockets in use, listening or connected."),
    NET_SOCKS(orphan, "orphan", "TCP sockets no longer attached to a process."),
    NET_TCP("ActiveOpens", "active_opens", NET_TCP_ACTIVE_OPENS, "connections",
	    "Outgoing connections started per second.", .prom = "sysfeed_tcp_active_opens_total",
	    .help = "TCP active opens (/proc/net/snmp ActiveOpens)."),
    NET_TCP("PassiveOpens", "passive_opens", NET_TCP_PASSIVE_OPENS, "connections",
	    "Incoming connections accepted per second.", .prom = "sysfeed_tcp_passive_opens_total",
	    .help = "TCP passive opens (/proc/net/snmp PassiveOpens)."),
    NET_TCP("InSegs", "in_segs", NET_TCP_IN_SEGS, "segments", "Segments received per second.",
	    .help = "TCP segments received."),
    NET_TCP("OutSegs", "out_segs", NET_TCP_OUT_SEGS, "segments", "Segments sent per second.",
	    .help = "TCP segments sent."),
    NET_TCP("RetransSegs", "retrans_segs", NET_TCP_RETRANS_SEGS, "segments",
	    "Segments retransmitted per second.",
	    .prom = "sysfeed_tcp_retransmitted_segments_total",
	    .help = "TCP segments retransmitted (/proc/net/snmp RetransSegs).",
	    .prom_before = "ActiveOpens"),
    FIELD(.rate = "retrans_pct", .rate_unit = "%",
	  .rate_help = "Retransmitted segments per segment sent; 0 when nothing was sent.",
	  FIELD_DERIVE(net_derive_retrans_pct)),
    NET_TCP("InErrs", "in_errs", NET_TCP_IN_ERRS, "segments",
	    "Segments received in error per second.", .help = "TCP segments received in error."),
    NET_TCP("OutRsts", "out_rsts", NET_TCP_OUT_RSTS, "segments", "Resets sent per second.",
	    .help = "TCP segments sent with RST."),
};

const struct field_table net_tcp_table = {
    .path = "tcp",
    .file = "/proc/net/snmp",
    .passes = {FIELDS_GAUGES, FIELDS_RATES, FIELDS_COUNTERS},
    FIELD_ROWS(net_tcp_fields),
};

/* --- /proc/net/dev --- */

/* Finds the columns of one direction ("Receive", "Transmit") among the
 * names of one '|' section: col[i] gets the position of row i's column,
 * offset by base. Every column a row names must be there, once. */
static int net_dev_section(const char *p, const char *end, const char *dir, size_t base,
			   size_t *ret_n, size_t col[NET_DEV_ROWS])
{
	size_t dir_len = strlen(dir), tok_len, n = 0, nrows = 0, rows[NET_DEV_ROWS];
	const char *tok, *names[NET_DEV_ROWS];

	/* the rows of this direction, and the name of the column of each */
	for (size_t i = 0; i < NET_DEV_ROWS; i++) {
		const char *src = net_dev_fields[i].source;

		if (net_dev_fields[i].kind != FIELD_U64 || strncmp(src, dir, dir_len) != 0)
			continue;
		if (src[dir_len] != ' ')
			return -EINVAL; /* (not a row of the table) */
		rows[nrows] = i;
		names[nrows++] = src + dir_len + 1;
	}
	while (procfs_next_token(&p, end, &tok, &tok_len) > 0) {
		for (size_t k = 0; k < nrows; k++) {
			if (names[k][0] != tok[0] || !procfs_token_is(tok, tok_len, names[k]))
				continue;
			if (col[rows[k]] != SIZE_MAX)
				return -EINVAL;
			col[rows[k]] = base + n;
		}
		n++;
	}
	for (size_t k = 0; k < nrows; k++) {
		if (col[rows[k]] == SIZE_MAX)
			return -EINVAL;
	}
	*ret_n = n;
	return 0;
}

/* The second header line: " face |RX names|TX names". */
static int net_dev_header(const char *line, size_t len, size_t *ret_ncols, size_t col[NET_DEV_ROWS])
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
	for (size_t i = 0; i < NET_DEV_ROWS; i++)
		col[i] = SIZE_MAX;
	r = net_dev_section(bar1 + 1, bar2, "Receive", 0, &nrx, col);
	if (r < 0)
		return r;
	r = net_dev_section(bar2 + 1, end, "Transmit", nrx, &ntx, col);
	if (r < 0)
		return r;
	*ret_ncols = nrx + ntx;
	return 0;
}

static struct net_iface *net_dev_add(struct net_dev *d)
{
	if (ARRAY_GROW(d->v, d->cap, d->n, 16) < 0)
		return NULL;
	return &d->v[d->n++];
}

/* What the header says of the device lines: ncols numbers each, the
 * column of each row (SIZE_MAX: none), and the rows that have one in the
 * order of their columns; d is the table they go into. */
struct net_dev_cols {
	struct net_dev *d;
	size_t ncols, col[NET_DEV_ROWS];
	size_t order[NET_DEV_ROWS], n_order;
};

/* Fills h->order from h->col. */
static void net_dev_order(struct net_dev_cols *h)
{
	h->n_order = 0;
	for (size_t i = 0; i < NET_DEV_ROWS; i++) {
		size_t k = h->n_order++;

		if (h->col[i] == SIZE_MAX) {
			h->n_order--;
			continue;
		}
		for (; k > 0 && h->col[h->order[k - 1]] > h->col[i]; k--)
			h->order[k] = h->order[k - 1];
		h->order[k] = i;
	}
}

/* A device line (procfs_each_line, ctx a struct net_dev_cols): the name
 * right-aligned before the first ':' (names cannot hold ':', '/' or
 * spaces), then ncols numbers, stored by the rows whose column they are. */
static int net_dev_line(void *ctx, const char *line, size_t len)
{
	const struct net_dev_cols *h = ctx;
	const char *colon, *name = line, *p, *end = line + len, *tok;
	size_t name_len, tok_len, c = 0, k = 0;
	struct net_dev *d = h->d;
	uint64_t v;
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
	r = 0;
	while (c < h->ncols && (r = procfs_next_u64(&p, end, &v)) > 0) {
		for (; k < h->n_order && h->col[h->order[k]] == c; k++)
			fields_store(&net_dev_fields[h->order[k]], e, v);
		c++;
	}
	if (r < 0)
		goto out;
	r = c == h->ncols && procfs_next_token(&p, end, &tok, &tok_len) == 0 ? 0 : -EINVAL;
out:
	if (r < 0)
		d->n--;
	return r;
}

/* The next line of [*p, end), which the file must have: 0, -ENODATA at
 * its end, or -EINVAL for a cut line. */
static int net_dev_head_line(const char **p, const char *end, const char **ret_line,
			     size_t *ret_len)
{
	int r = procfs_next_line(p, end, ret_line, ret_len);

	return r < 0 ? r : r > 0 ? 0 : -ENODATA;
}

int net_dev_parse(const char *text, size_t len, struct net_dev *ret)
{
	const char *p = text, *end = text + len, *line;
	struct net_dev_cols h = {.d = ret};
	size_t line_len;
	int r;

	ret->n = 0;
	r = net_dev_head_line(&p, end, &line, &line_len);
	if (r < 0)
		goto out;
	r = -EINVAL;
	if (line_len < 7 || memcmp(line, "Inter-|", 7) != 0)
		goto out;
	r = net_dev_head_line(&p, end, &line, &line_len);
	if (r < 0)
		goto out;
	r = net_dev_header(line, line_len, &h.ncols, h.col);
	if (r < 0)
		goto out;
	net_dev_order(&h);
	r = procfs_each_line(p, end, net_dev_line, &h);
out:
	if (r < 0)
		ret->n = 0;
	return r;
}

void net_dev_free(struct net_dev *d)
{
	if (d)
		ARRAY_FREE(d->v, d->cap, d->n);
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

/* Pairs the header's names with the value line's numbers: the columns the
 * TCP table names (all required, once) are stored, the others must be
 * integers (MaxConn is -1). */
static int net_snmp_tcp(const char *names, const char *names_end, const char *vals,
			const char *vals_end, struct net_reading *ret)
{
	const char *name, *val;
	size_t name_len, val_len;
	uint32_t seen = 0, want = 0;
	struct fields_cursor rows;
	int r;

	fields_cursor_init(&rows, &net_tcp_table);
	while (procfs_next_token(&names, names_end, &name, &name_len) > 0) {
		const struct field *f;

		if (procfs_next_token(&vals, vals_end, &val, &val_len) <= 0)
			return -EINVAL;
		f = fields_find_next(&rows, name, name_len);
		if (f && !f->file) {
			if (seen & (1u << (f - net_tcp_fields)))
				return -EINVAL;
			seen |= 1u << (f - net_tcp_fields);
			r = fields_parse(f, ret, val, val_len);
			if (r < 0)
				return r;
		} else if (!net_is_integer(val, val_len)) {
			return -EINVAL;
		}
	}
	if (procfs_next_token(&vals, vals_end, &val, &val_len) > 0)
		return -EINVAL;
	for (size_t i = 0; i < net_tcp_table.n; i++) {
		if (net_tcp_fields[i].source && !net_tcp_fields[i].file)
			want |= 1u << i;
	}
	return seen == want ? 0 : -EINVAL;
}

int net_snmp_parse(const char *text, size_t len, struct net_tcp *ret)
{
	const char *p = text, *end = text + len, *line, *header = NULL, *header_end = NULL;
	size_t line_len;
	struct net_reading rd = {0};
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
		r = net_snmp_tcp(header, header_end, q, line_end, &rd);
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
	*ret = rd.tcp;
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

/* Skips blanks, then parses a decimal number ending at a blank or end. */
static bool net_next_u64(const char **p, const char *end, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	while (s < end && *s == ' ')
		s++;
	if (s == end || *s < '0' || *s > '9')
		return false;
	for (; s < end && *s >= '0' && *s <= '9'; s++) {
		if (v > (UINT64_MAX - (uint64_t)(*s - '0')) / 10)
			return false;
		v = v * 10 + (uint64_t)(*s - '0');
	}
	if (s < end && *s != ' ')
		return false;
	*p = s;
	*ret = v;
	return true;
}

int net_dev_totals(const char *text, size_t len, uint64_t *ret_rx, uint64_t *ret_tx)
{
	static const char head[] = " face |bytes    packets errs drop fifo frame compressed "
				   "multicast|bytes    packets errs drop fifo colls carrier "
				   "compressed\n";
	const char *p = memchr(text, '\n', len), *end = text + len;
	uint64_t rx = 0, tx = 0;

	if (len < 7 || memcmp(text, "Inter-|", 7) != 0 || !p ||
	    (size_t)(end - ++p) < sizeof(head) - 1 || memcmp(p, head, sizeof(head) - 1) != 0)
		return -EINVAL;
	for (p += sizeof(head) - 1; p < end;) {
		const char *eol = memchr(p, '\n', (size_t)(end - p)), *colon, *name = p;
		uint64_t v[16] = {0};

		if (!eol)
			return -EINVAL;
		colon = memchr(p, ':', (size_t)(eol - p));
		if (!colon)
			return -EINVAL;
		while (name < colon && *name == ' ')
			name++;
		if (colon == name || colon - name >= NET_NAME_MAX ||
		    memchr(name, ' ', (size_t)(colon - name)) ||
		    memchr(name, '/', (size_t)(colon - name)) ||
		    memchr(name, '\0', (size_t)(colon - name)) ||
		    procfs_token_is(name, (size_t)(colon - name), ".") ||
		    procfs_token_is(name, (size_t)(colon - name), ".."))
			return -EINVAL; /* not a name the kernel gives */
		p = colon + 1;
		for (size_t i = 0; i < 16; i++)
			if (!net_next_u64(&p, eol, &v[i]))
				return -EINVAL;
		if (p != eol)
			return -EINVAL;
		if (!(colon - name == 2 && memcmp(name, "lo", 2) == 0)) {
			if (rx > UINT64_MAX - v[0] || tx > UINT64_MAX - v[8])
				return -ERANGE;
			rx += v[0];
			tx += v[8];
		}
		p = eol + 1;
	}
	*ret_rx = rx;
	*ret_tx = tx;
	return 0;
}
