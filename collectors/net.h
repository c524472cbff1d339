/* The `net` topic: per-interface counters from /proc/net/dev, link state
 * and speed from /sys/class/net/<if>/{operstate,speed}, and a TCP summary
 * from /proc/net/snmp and /proc/net/sockstat. */
#ifndef SYSFEED_NET_H
#define SYSFEED_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "fields.h"
#include "settings.h"

#define NET_NAME_MAX 16 /* IFNAMSIZ, with the NUL */

/* The keys of the `net` topic (net_collector.settings). */
struct net_settings {
	struct list interfaces; /* interface names or patterns; empty: all */
};

/* The columns of /proc/net/dev the topic uses, found by name in its second
 * header line ("errs" and "drop" there). */
enum net_counter {
	NET_RX_BYTES,
	NET_RX_PACKETS,
	NET_RX_ERRORS,
	NET_RX_DROPS,
	NET_TX_BYTES,
	NET_TX_PACKETS,
	NET_TX_ERRORS,
	NET_TX_DROPS,
	NET_NCOUNTERS,
};

struct net_iface {
	char name[NET_NAME_MAX];
	uint64_t c[NET_NCOUNTERS]; /* since boot (or since the device was made) */
	/* Set by the collector from the config and sysfs, not by the parser
	 * (which leaves included false, operstate NULL, speed -1, fd -1). */
	bool included;          /* passes the `interfaces` list: in the payload */
	bool loopback;          /* named "lo" */
	const char *operstate;  /* "up", "down", ... (static), NULL: unknown */
	int64_t speed_mbps;     /* -1: unknown */
	int state_fd;           /* operstate kept open, or: */
#define NET_FD_NONE   -1        /* not open yet */
#define NET_FD_ABSENT -2        /* no such attribute */
	uint64_t speed_next_ns; /* when to read speed again */
};

/* One parse of /proc/net/dev, in file order. Zero-initialise, reuse across
 * parses (the array is kept), release with net_dev_free() (which does not
 * close state_fd: the collector owns those). */
struct net_dev {
	struct net_iface *v;
	size_t n, cap;
};

/* Parses /proc/net/dev: two header lines, the second naming the receive
 * and transmit columns between '|'s ("face |bytes packets errs drop ...|
 * bytes packets errs drop ..."), then "name: N N ..." with exactly as many
 * numbers as columns (2.6 kernels glue the name to the first: "eth0:123").
 * Returns 0, -EINVAL or -ERANGE on a malformed file, -ENODATA without the
 * header, -ENOMEM. On error *ret holds no interfaces. */
int net_dev_parse(const char *text, size_t len, struct net_dev *ret);
void net_dev_free(struct net_dev *d);

/* The bytes received and sent over every interface but "lo" of a
 * /proc/PID/net/dev with the header of kernels since 2.6.24 (16 columns
 * after "name:"), without a table: what the containers topic reads for
 * each container every tick. Returns 0, -EINVAL or -ERANGE. */
int net_dev_totals(const char *text, size_t len, uint64_t *ret_rx, uint64_t *ret_tx);

/* The "TCP:" line of /proc/net/sockstat. inuse counts IPv4 sockets only;
 * orphan and tw cover both families. */
struct net_sockstat {
	uint64_t inuse, orphan, tw, alloc, mem;
};

/* Parses /proc/net/sockstat: its "TCP: inuse N orphan N tw N alloc N mem
 * N" line as key/value pairs (inuse, orphan and tw required, unknown keys
 * ignored); other lines are not read. Returns 0, -EINVAL or -ERANGE,
 * -ENODATA without a TCP line. */
int net_sockstat_parse(const char *text, size_t len, struct net_sockstat *ret);

/* Columns of the "Tcp:" lines of /proc/net/snmp the topic uses. */
enum net_tcp_counter {
	NET_TCP_ACTIVE_OPENS,
	NET_TCP_PASSIVE_OPENS,
	NET_TCP_IN_SEGS,
	NET_TCP_OUT_SEGS,
	NET_TCP_RETRANS_SEGS,
	NET_TCP_IN_ERRS,
	NET_TCP_OUT_RSTS,
	NET_TCP_NCOUNTERS,
};

struct net_tcp {
	uint64_t curr_estab; /* a gauge: ESTABLISHED, IPv4 and IPv6 (Linux leaves out CLOSE-WAIT) */
	uint64_t c[NET_TCP_NCOUNTERS];
};

/* Parses /proc/net/snmp: the "Tcp:" header line and the "Tcp:" value line
 * after it, columns found by name (CurrEstab, ActiveOpens, PassiveOpens,
 * InSegs, OutSegs, RetransSegs, InErrs, OutRsts required; others must be
 * integers, MaxConn is -1). Returns 0, -EINVAL or -ERANGE, -ENODATA
 * without Tcp lines. */
int net_snmp_parse(const char *text, size_t len, struct net_tcp *ret);

/* Everything the topic reads at one tick. */
struct net_reading {
	struct net_dev dev;
	struct net_sockstat sock;
	struct net_tcp tcp;
	uint64_t mono_ns;
};

void net_reading_free(struct net_reading *r);

/* The `net` payload of cur, taken at t_ms: included interfaces in file
 * order, then "tcp". Rates (per second, hundredths) need prev (NULL on the
 * first tick) and the same interface in it; without one, or for a counter
 * that went backwards, the rate is null. Returns 0 or -ENOMEM. */
int net_build_payload(const struct net_reading *prev, const struct net_reading *cur, int64_t t_ms,
		      cJSON **ret_payload);

/* The operstate string of sysfs's text ("up\n"), as a static string, or
 * NULL for anything else. */
const char *net_operstate_parse(const char *text, size_t len);

/* The speed attribute's text in Mbit/s; -1 for "-1" (SPEED_UNKNOWN) and
 * anything unparsable. */
int64_t net_speed_parse(const char *text, size_t len);

/* The field tables of the interfaces (instances: struct net_iface) and
 * of the TCP summary (instance: struct net_reading), in net_parse.c: the
 * parsers find their columns by the rows' sources. */
extern const struct field_table net_dev_table, net_tcp_table;

extern const struct collector net_collector;

#endif
