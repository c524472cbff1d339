/* Unit tests of collectors/net.c: the /proc/net/dev, /proc/net/snmp and
 * /proc/net/sockstat parsers against captured and constructed fixture
 * trees, malformed and truncated files, sysfs attributes, the payload
 * (interfaces appearing and vanishing, counters going backwards), the
 * `interfaces` filter, the collector over two ticks compared with golden
 * payloads (tests/fixtures/<m>/expected/net{.1,}.json), and operstate read
 * on the kernel's link messages. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "fixture.h"
#include "metrics.h"
#include "net.h"
#include "procfs.h"
#include "prom_check.h"

/* The interface object of that name in a payload, or NULL. */
static const cJSON *iface(const cJSON *p, const char *name)
{
	return list_item(p, "interfaces", name);
}

/* "a,b,c": the interface names of a payload in order. */
static void assert_names(const cJSON *p, const char *want)
{
	assert_list_names(p, "interfaces", want);
}

static int open_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;

	assert_non_null(d);
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

/* --- /proc/net/dev --- */

#define HDR                                                                                        \
	"Inter-|   Receive                                                |  Transmit\n"           \
	" face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs " \
	"drop fifo colls carrier compressed\n"

static int dev_str(const char *text, struct net_dev *d)
{
	return net_dev_parse(text, strlen(text), d);
}

static int parse_dev(const char *text, size_t len, void *ret)
{
	return net_dev_parse(text, len, ret);
}

static int parse_snmp(const char *text, size_t len, void *ret)
{
	return net_snmp_parse(text, len, ret);
}

static int parse_sockstat(const char *text, size_t len, void *ret)
{
	return net_sockstat_parse(text, len, ret);
}

TEST(test_dev_vm2)
{
	struct net_dev d = {0};

	parse_file("vm2", "proc/net/dev", parse_dev, &d);
	assert_int_equal(d.n, 4);
	assert_string_equal(d.v[0].name, "lo");
	assert_string_equal(d.v[3].name, "eth0");
	/* eth0: 92862804    3857    0    0 ... 276607    3316    0    0 */
	assert_counts("d.v[3].c", d.v[3].c,
		      (const struct want_count[]){{NET_RX_BYTES, 92862804},
						  {NET_RX_PACKETS, 3857},
						  {NET_TX_BYTES, 276607},
						  {NET_TX_PACKETS, 3316},
						  {-1, 0}});
	assert_int_equal(d.v[0].c[NET_RX_BYTES], 477205341);
	/* what the collector fills is left alone */
	assert_false(d.v[0].included);
	assert_null(d.v[0].operstate);
	assert_int_equal(d.v[0].speed_mbps, -1);
	assert_int_equal(d.v[0].state_fd, -1);
	net_dev_free(&d);
}

TEST(test_dev_host16)
{
	struct net_dev d = {0};

	parse_file("host16", "proc/net/dev", parse_dev, &d);
	assert_int_equal(d.n, 7);
	/* eno1: 876543210987 654321098 3 1234 ... multicast 456789 | 765432109876 */
	assert_string_equal(d.v[1].name, "eno1");
	assert_counts("d.v[1].c", d.v[1].c,
		      (const struct want_count[]){{NET_RX_BYTES, UINT64_C(876543210987)},
						  {NET_RX_ERRORS, 3},
						  {NET_RX_DROPS, 1234},
						  {NET_TX_BYTES, UINT64_C(765432109876)},
						  {-1, 0}});
	/* a 10-character name pushes the colon to the right */
	assert_string_equal(d.v[5].name, "veth1a2b3c");
	assert_int_equal(d.v[5].c[NET_TX_PACKETS], 1234567);
	net_dev_free(&d);
}

/* 2.6.18 prints "%6s:%8lu": the byte count is glued to the colon. */
TEST(test_dev_linux_2_6_18)
{
	struct net_dev d = {0};

	parse_file("linux-2.6.18", "proc/net/dev", parse_dev, &d);
	assert_int_equal(d.n, 4);
	assert_string_equal(d.v[1].name, "eth0");
	assert_counts("d.v[1].c", d.v[1].c,
		      (const struct want_count[]){{NET_RX_BYTES, UINT64_C(3123456789)},
						  {NET_RX_ERRORS, 12},
						  {NET_RX_DROPS, 34},
						  {NET_TX_BYTES, UINT64_C(2987654321)},
						  {-1, 0}});
	assert_string_equal(d.v[3].name, "sit0");
	net_dev_free(&d);
}

TEST(test_dev_shapes)
{
	struct net_dev d = {0};

	/* no devices at all (a fresh network namespace has lo, but still) */
	assert_int_equal(dev_str(HDR, &d), 0);
	assert_int_equal(d.n, 0);
	/* columns are found by name, wherever they are */
	assert_int_equal(dev_str("Inter-|   Receive |  Transmit\n"
				 " face |packets bytes extra drop errs|drop errs bytes packets\n"
				 "  e0: 1 2 3 4 5 6 7 8 9\n",
				 &d),
			 0);
	assert_int_equal(d.n, 1);
	assert_counts("d.v[0].c", d.v[0].c,
		      (const struct want_count[]){{NET_RX_PACKETS, 1},
						  {NET_RX_BYTES, 2},
						  {NET_RX_DROPS, 4},
						  {NET_RX_ERRORS, 5},
						  {NET_TX_DROPS, 6},
						  {NET_TX_ERRORS, 7},
						  {NET_TX_BYTES, 8},
						  {NET_TX_PACKETS, 9},
						  {-1, 0}});
	/* a 15-character name (IFNAMSIZ - 1) and huge counters */
	assert_int_equal(dev_str(HDR "abcdefghijklmno: 18446744073709551615 0 0 0 0 0 0 0 "
				     "0 0 0 0 0 0 0 0\n",
				 &d),
			 0);
	assert_string_equal(d.v[0].name, "abcdefghijklmno");
	assert_true(d.v[0].c[NET_RX_BYTES] == UINT64_MAX);
	/* 19 and 20 digits in columns stored and not, spaces at the end */
	assert_int_equal(dev_str(HDR "e0: 1 2 3 1234567890123456789 18446744073709551615 0 0 0 "
				     "9 10 11 12 0 0 0 18446744073709551615   \n",
				 &d),
			 0);
	assert_counts("d.v[0].c", d.v[0].c,
		      (const struct want_count[]){{NET_RX_BYTES, 1},
						  {NET_RX_PACKETS, 2},
						  {NET_RX_ERRORS, 3},
						  {NET_RX_DROPS, UINT64_C(1234567890123456789)},
						  {NET_TX_BYTES, 9},
						  {NET_TX_PACKETS, 10},
						  {NET_TX_ERRORS, 11},
						  {NET_TX_DROPS, 12},
						  {-1, 0}});
	/* many devices: the array grows */
	{
		char *big = malloc(200 * 100 + sizeof(HDR));
		size_t off;

		assert_non_null(big);
		off = (size_t)sprintf(big, "%s", HDR);
		for (int i = 0; i < 200; i++)
			off += (size_t)sprintf(big + off,
					       "veth%d: %d 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n", i, i);
		assert_int_equal(net_dev_parse(big, off, &d), 0);
		assert_int_equal(d.n, 200);
		assert_string_equal(d.v[199].name, "veth199");
		assert_int_equal(d.v[199].c[NET_RX_BYTES], 199);
		free(big);
	}
	net_dev_free(&d);
	net_dev_free(&d);
	net_dev_free(NULL);
}

TEST(test_dev_malformed)
{
	static const struct parse_case cases[] = {
	    {"", -ENODATA},
	    {"Inter-|   Receive |  Transmit\n", -ENODATA},
	    {"Inter-|   Receive |  Transmit", -EINVAL},
	    {"Interface\n face |bytes packets errs drop|bytes packets errs drop\n", -EINVAL},
	    {"Inter-|\n face |bytes packets errs drop|bytes packets errs\n", -EINVAL},
	    {"Inter-|\n face |bytes packets errs drop|bytes packets errs drop|x\n", -EINVAL},
	    {"Inter-|\n face |bytes packets errs drop bytes packets errs drop\n", -EINVAL},
	    {"Inter-|\n iface |bytes packets errs drop|bytes packets errs drop\n", -EINVAL},
	    {"Inter-|\n face x |bytes packets errs drop|bytes packets errs drop\n", -EINVAL},
	    {"Inter-|\n face |bytes bytes packets errs drop|bytes packets errs drop\n", -EINVAL},
	    {HDR "  eth0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", -EINVAL},     /* no colon */
	    {HDR "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15\n", -EINVAL},       /* 15 columns */
	    {HDR "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17\n", -EINVAL}, /* 17 */
	    {HDR "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 99999999999999999999\n", -EINVAL},
	    {HDR "  eth0: 1 2 3 4 99999999999999999999 6 7 8 9 10 11 12 13 14 15 16\n", -ERANGE},
	    {HDR "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 -16\n", -EINVAL},
	    {HDR "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 1x\n", -EINVAL},
	    {HDR "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 1.0\n", -EINVAL},
	    {HDR "  eth0: 18446744073709551616 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", -ERANGE},
	    {HDR "  eth0:\t1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", -EINVAL},
	    {HDR "      : 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", -EINVAL}, /* no name */
	    {HDR "abcdefghijklmnop: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", -EINVAL},
	    {HDR "  et h0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", -EINVAL},
	    {HDR " ../x: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", -EINVAL},
	    {HDR "    ..: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n", -EINVAL},
	    {HDR "  eth0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n  eth1: 1 2", -EINVAL},
	    {HDR "\n", -EINVAL},
	};
	struct net_dev d = {0};

	parse_cases_empty(cases, sizeof(cases) / sizeof(cases[0]), parse_dev, &d,
			  offsetof(struct net_dev, n));
	{
		static const char nul[] = HDR "  et\0h0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";

		assert_int_equal(net_dev_parse(nul, sizeof(nul) - 1, &d), -EINVAL);
	}
	net_dev_free(&d);
}

/* --- /proc/net/snmp and sockstat --- */

TEST(test_snmp_fixtures)
{
	struct net_tcp t;

	/* Tcp: 1 200 120000 -1 1896 1753 0 301 22 57080 56521 11 0 297 0 */
	parse_file("vm2", "proc/net/snmp", parse_snmp, &t);
	assert_int_equal(t.curr_estab, 22);
	assert_counts("t.c", t.c,
		      (const struct want_count[]){{NET_TCP_ACTIVE_OPENS, 1896},
						  {NET_TCP_PASSIVE_OPENS, 1753},
						  {NET_TCP_IN_SEGS, 57080},
						  {NET_TCP_OUT_SEGS, 56521},
						  {NET_TCP_RETRANS_SEGS, 11},
						  {NET_TCP_IN_ERRS, 0},
						  {NET_TCP_OUT_RSTS, 297},
						  {-1, 0}});
	/* 2.6.18: no InCsumErrors column */
	parse_file("linux-2.6.18", "proc/net/snmp", parse_snmp, &t);
	assert_int_equal(t.curr_estab, 17);
	assert_int_equal(t.c[NET_TCP_RETRANS_SEGS], 45678);
	assert_int_equal(t.c[NET_TCP_OUT_RSTS], 5678);
	parse_file("host16", "proc/net/snmp", parse_snmp, &t);
	assert_true(t.c[NET_TCP_IN_SEGS] == UINT64_C(9876543210));
}

TEST(test_snmp_shapes)
{
	struct net_tcp t;
	const char *text;

	/* columns by name, in any order, unknown ones skipped */
	text = "Ip: Forwarding\nIp: 1\n"
	       "Tcp: OutRsts Future InErrs RetransSegs OutSegs InSegs CurrEstab PassiveOpens "
	       "ActiveOpens MaxConn\n"
	       "Tcp: 1 -5 2 3 4 5 6 7 8 -1\n"
	       "Udp: InDatagrams\nUdp: 9\n";
	assert_int_equal(net_snmp_parse(text, strlen(text), &t), 0);
	assert_counts("t.c", t.c,
		      (const struct want_count[]){{NET_TCP_OUT_RSTS, 1},
						  {NET_TCP_IN_ERRS, 2},
						  {NET_TCP_RETRANS_SEGS, 3},
						  {NET_TCP_OUT_SEGS, 4},
						  {NET_TCP_IN_SEGS, 5},
						  {-1, 0}});
	assert_int_equal(t.curr_estab, 6);
	assert_int_equal(t.c[NET_TCP_PASSIVE_OPENS], 7);
	assert_int_equal(t.c[NET_TCP_ACTIVE_OPENS], 8);
}

TEST(test_snmp_malformed)
{
	static const char *const cols = "Tcp: ActiveOpens PassiveOpens CurrEstab InSegs OutSegs "
					"RetransSegs InErrs OutRsts\n";
	static const struct {
		const char *val;
		int err;
	} vals[] = {
	    {"Tcp: 1 2 3 4 5 6 7 8\n", 0},
	    {"Tcp: 1 2 3 4 5 6 7\n", -EINVAL},
	    {"Tcp: 1 2 3 4 5 6 7 8 9\n", -EINVAL},
	    {"Tcp: 1 2 -3 4 5 6 7 8\n", -EINVAL},
	    {"Tcp: 1 2 x 4 5 6 7 8\n", -EINVAL},
	    {"Tcp: 1 2 3 4 5 6 7 18446744073709551616\n", -ERANGE},
	    {"Udp: 1 2 3 4 5 6 7 8\n", -EINVAL},
	    {"", -EINVAL},
	    {"Tcp: 1 2 3 4 5 6 7 8", -EINVAL},
	    {"Tcp: 1 2 3 4 5 6 7 8\nTcp: 1 2 3 4 5 6 7 8\n", -EINVAL},
	};
	static const struct parse_case cases[] = {
	    {"", -ENODATA},
	    {"Ip: Forwarding\nIp: 1\n", -ENODATA},
	    {"Tcp: ActiveOpens PassiveOpens CurrEstab InSegs OutSegs RetransSegs InErrs\n"
	     "Tcp: 1 2 3 4 5 6 7\n",
	     -EINVAL}, /* no OutRsts */
	    {"Tcp: ActiveOpens ActiveOpens PassiveOpens CurrEstab InSegs OutSegs RetransSegs "
	     "InErrs OutRsts\nTcp: 1 1 2 3 4 5 6 7 8\n",
	     -EINVAL},
	    {"Tcp: CurrEstab CurrEstab ActiveOpens PassiveOpens InSegs OutSegs RetransSegs "
	     "InErrs OutRsts\nTcp: 1 1 2 3 4 5 6 7 8\n",
	     -EINVAL},
	    {"Tcp: ActiveOpens PassiveOpens CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts "
	     "MaxConn\nTcp: 1 2 3 4 5 6 7 8 -\n",
	     -EINVAL},
	};
	struct net_tcp t;
	char text[512];

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		int r;

		snprintf(text, sizeof(text), "%s%s", cols, vals[i].val);
		r = net_snmp_parse(text, strlen(text), &t);
		assert_case(i, text, r, vals[i].err);
	}
	parse_cases(cases, sizeof(cases) / sizeof(cases[0]), parse_snmp, &t, NULL);
}

TEST(test_sockstat)
{
	static const struct parse_case cases[] = {
	    {"", -ENODATA},
	    {"sockets: used 1\nUDP: inuse 0 mem 0\n", -ENODATA},
	    {"TCP: inuse 1 orphan 2\n", -EINVAL},                    /* no tw */
	    {"TCP: inuse 1 orphan 2 tw\n", -EINVAL},                 /* no value */
	    {"TCP: inuse 1 orphan 2 tw x\n", -EINVAL},               /* not a number */
	    {"TCP: inuse 1 orphan 2 tw -3\n", -EINVAL},              /* negative */
	    {"TCP: inuse 1 orphan 2 tw 3 tw 4\n", -EINVAL},          /* twice */
	    {"TCP: inuse 1 orphan 2 tw 3\nTCP: inuse 1\n", -EINVAL}, /* two lines */
	    {"TCP: inuse 1 orphan 2 tw 3", -EINVAL},                 /* truncated */
	    {"TCP: inuse 1 orphan 2 tw 99999999999999999999\n", -ERANGE},
	};
	struct net_sockstat ss;

	/* TCP: inuse 26 orphan 0 tw 1426 alloc 27 mem 9991 */
	parse_file("vm2", "proc/net/sockstat", parse_sockstat, &ss);
	assert_int_equal(ss.inuse, 26);
	assert_int_equal(ss.orphan, 0);
	assert_int_equal(ss.tw, 1426);
	assert_int_equal(ss.alloc, 27);
	assert_int_equal(ss.mem, 9991);
	parse_file("linux-2.6.18", "proc/net/sockstat", parse_sockstat, &ss);
	assert_int_equal(ss.inuse, 21);
	assert_int_equal(ss.tw, 3);
	/* unknown keys are skipped, alloc and mem are optional */
	assert_int_equal(net_sockstat_parse("TCP: inuse 1 future 9 orphan 2 tw 3\n", 36, &ss), 0);
	assert_int_equal(ss.tw, 3);
	assert_int_equal(ss.alloc, 0);
	parse_cases(cases, sizeof(cases) / sizeof(cases[0]), parse_sockstat, &ss, NULL);
}

/* /proc/net/dev into a struct of its own, freed. */
static int parse_dev_fresh(const char *text, size_t len, void *unused)
{
	struct net_dev d = {0};
	int r = net_dev_parse(text, len, &d);

	net_dev_free(&d);
	return r;
}

/* A cut of a real file: the whole file parses, a cut line is an error, a
 * prefix of whole lines parses, lacks data or is an error. */
static void cut_net(int r, const char *text, size_t n, size_t len)
{
	if (n == len)
		assert_int_equal(r, 0);
	else if (n > 0 && text[n - 1] != '\n')
		assert_true(r == -EINVAL);
	else
		assert_true(r == 0 || r == -ENODATA || r == -EINVAL);
}

/* The same, but a cut line of sockstat may parse: its keys are optional
 * past tw. */
static void cut_sockstat(int r, const char *text, size_t n, size_t len)
{
	if (n == len)
		assert_int_equal(r, 0);
	else if (n > 0 && text[n - 1] != '\n')
		assert_true(r == -EINVAL || r == 0);
	else
		assert_true(r == 0 || r == -ENODATA || r == -EINVAL);
}

/* Every prefix of each real file, in a buffer of exactly that size; then
 * every byte replaced by garbage: an error or a parse, never a crash. */
TEST(test_truncated)
{
	struct net_tcp t;
	struct net_sockstat ss;

	check_cuts_proc("proc/net/dev", parse_dev_fresh, NULL, cut_net, 'x');
	check_cuts_proc("proc/net/snmp", parse_snmp, &t, cut_net, 'x');
	check_cuts_proc("proc/net/sockstat", parse_sockstat, &ss, cut_sockstat, 'x');
}

/* --- sysfs attributes --- */

TEST(test_sysfs_values)
{
	assert_string_equal(net_operstate_parse("up\n", 3), "up");
	assert_string_equal(net_operstate_parse("lowerlayerdown\n", 15), "lowerlayerdown");
	assert_string_equal(net_operstate_parse("unknown\n", 8), "unknown");
	assert_null(net_operstate_parse("up", 2));
	assert_null(net_operstate_parse("", 0));
	assert_null(net_operstate_parse("\n", 1));
	assert_null(net_operstate_parse("sideways\n", 9));
	assert_null(net_operstate_parse("up \n", 4));
	assert_null(net_operstate_parse("UP\n", 3));

	assert_int_equal(net_speed_parse("25000\n", 6), 25000);
	assert_int_equal(net_speed_parse("0\n", 2), 0);
	assert_int_equal(net_speed_parse("-1\n", 3), -1);
	assert_int_equal(net_speed_parse("4294967295\n", 11), -1);
	assert_int_equal(net_speed_parse("1000", 4), -1);
	assert_int_equal(net_speed_parse("\n", 1), -1);
	assert_int_equal(net_speed_parse("", 0), -1);
	assert_int_equal(net_speed_parse("10G\n", 4), -1);
}

/* --- payloads --- */

static void reading_of(struct net_reading *r, const char *dev, uint64_t mono_ns, uint64_t retrans,
		       uint64_t out_segs)
{
	assert_int_equal(dev_str(dev, &r->dev), 0);
	for (size_t i = 0; i < r->dev.n; i++) {
		r->dev.v[i].included = true;
		r->dev.v[i].loopback = strcmp(r->dev.v[i].name, "lo") == 0;
	}
	memset(&r->tcp, 0, sizeof(r->tcp));
	r->tcp.c[NET_TCP_RETRANS_SEGS] = retrans;
	r->tcp.c[NET_TCP_OUT_SEGS] = out_segs;
	r->sock = (struct net_sockstat){.inuse = 1, .orphan = 2, .tw = 3};
	r->mono_ns = mono_ns;
}

TEST(test_payload)
{
	struct net_reading a = {0}, b = {0}, c = {0};
	const cJSON *e;
	cJSON *p;

	reading_of(&a,
		   HDR "    lo: 100 10 0 0 0 0 0 0 100 10 0 0 0 0 0 0\n"
		       "  eth0: 1000 10 5 5 0 0 0 0 2000 20 0 0 0 0 0 0\n"
		       " veth0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n",
		   5 * SEC, 10, 1000);
	/* veth0 vanished, veth1 appeared, eth0's errors went backwards */
	reading_of(&b,
		   HDR "    lo: 300 12 0 0 0 0 0 0 300 12 0 0 0 0 0 0\n"
		       " veth1: 7 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n"
		       "  eth0: 4000 15 4 6 0 0 0 0 2500 21 0 0 0 0 0 0\n",
		   7 * SEC, 13, 1400);
	b.dev.v[2].operstate = "up";
	b.dev.v[2].speed_mbps = 1000;

	/* the first tick: totals and link state, every rate null */
	assert_int_equal(net_build_payload(NULL, &a, T1, &p), 0);
	assert_names(p, "lo,eth0,veth0");
	e = iface(p, "eth0");
	assert_true(is_null(e, "rx_bytes_per_s"));
	assert_true(num(e, "rx_bytes") == 1000);
	assert_true(num(e, "rx_errors") == 5);
	assert_true(is_null(e, "operstate"));
	assert_true(is_null(e, "speed_mbps"));
	assert_true(cJSON_IsTrue(get(iface(p, "lo"), "loopback")));
	assert_true(cJSON_IsFalse(get(e, "loopback")));
	assert_true(is_null(get(p, "tcp"), "retrans_pct"));
	assert_true(num(get(p, "tcp"), "time_wait") == 3);
	cJSON_Delete(p);

	/* two seconds later */
	assert_int_equal(net_build_payload(&a, &b, T2, &p), 0);
	assert_names(p, "lo,veth1,eth0");
	e = iface(p, "lo");
	assert_true(num(e, "rx_bytes_per_s") == 100);
	assert_true(num(e, "rx_packets_per_s") == 1);
	e = iface(p, "veth1");
	assert_true(is_null(e, "rx_bytes_per_s"));
	assert_true(is_null(e, "tx_drops_per_s"));
	assert_true(num(e, "rx_bytes") == 7);
	e = iface(p, "eth0");
	assert_string_equal(get(e, "operstate")->valuestring, "up");
	assert_true(num(e, "speed_mbps") == 1000);
	assert_true(num(e, "rx_bytes_per_s") == 1500);
	assert_true(num(e, "tx_bytes_per_s") == 250);
	assert_true(num(e, "rx_packets_per_s") == 2.5);
	assert_true(is_null(e, "rx_errors_per_s"));
	assert_true(num(e, "rx_drops_per_s") == 0.5);
	assert_true(num(e, "tx_packets_per_s") == 0.5);
	/* 3 of 400 segments retransmitted */
	assert_true(num(get(p, "tcp"), "retrans_segs_per_s") == 1.5);
	assert_true(num(get(p, "tcp"), "retrans_pct") == 0.75);
	assert_true(num(get(p, "tcp"), "out_segs_per_s") == 200);
	cJSON_Delete(p);

	/* excluded interfaces are left out; order is kept */
	b.dev.v[0].included = false;
	assert_int_equal(net_build_payload(&a, &b, T2, &p), 0);
	assert_names(p, "veth1,eth0");
	cJSON_Delete(p);

	/* no segments sent: 0%, a clock that did not move: no rates */
	b.tcp.c[NET_TCP_RETRANS_SEGS] = 10;
	b.tcp.c[NET_TCP_OUT_SEGS] = 1000;
	assert_int_equal(net_build_payload(&a, &b, T2, &p), 0);
	assert_true(num(get(p, "tcp"), "retrans_pct") == 0);
	cJSON_Delete(p);
	b.mono_ns = a.mono_ns;
	assert_int_equal(net_build_payload(&a, &b, T2, &p), 0);
	assert_true(is_null(iface(p, "eth0"), "tx_bytes_per_s"));
	assert_true(is_null(get(p, "tcp"), "retrans_pct"));
	cJSON_Delete(p);
	/* backwards out_segs: no ratio */
	b.mono_ns = 9 * SEC;
	b.tcp.c[NET_TCP_OUT_SEGS] = 999;
	assert_int_equal(net_build_payload(&a, &b, T2, &p), 0);
	assert_true(is_null(get(p, "tcp"), "retrans_pct"));
	assert_true(is_null(get(p, "tcp"), "out_segs_per_s"));
	cJSON_Delete(p);

	/* a new order does not lose matches: eth0 first, lo last */
	reading_of(&c,
		   HDR "  eth0: 4200 15 4 6 0 0 0 0 2500 21 0 0 0 0 0 0\n"
		       " veth1: 7 1 0 0 0 0 0 0 7 1 0 0 0 0 0 0\n"
		       "    lo: 500 12 0 0 0 0 0 0 300 12 0 0 0 0 0 0\n",
		   11 * SEC, 0, 0);
	b.mono_ns = 9 * SEC;
	assert_int_equal(net_build_payload(&b, &c, T2, &p), 0);
	assert_names(p, "eth0,veth1,lo");
	assert_true(num(iface(p, "eth0"), "rx_bytes_per_s") == 100);
	assert_true(num(iface(p, "veth1"), "rx_bytes_per_s") == 0);
	assert_true(num(iface(p, "lo"), "rx_bytes_per_s") == 100);
	/* the TCP counters went backwards (a new network namespace) */
	assert_true(is_null(get(p, "tcp"), "retrans_segs_per_s"));
	cJSON_Delete(p);
	net_reading_free(&c);
	net_reading_free(&a);
	net_reading_free(&b);
}

/* --- the collector over fixture trees --- */

/* Tick 1 reads proc/ and sys/, tick 2 proc.2/ and sys.2/ (or sys/). */
static void test_collector(void **state)
{
	const char *machine = *state;
	int fds = open_fds();
	struct run r;
	cJSON *p;

	run_start(&r, &net_collector, machine);
	run_golden(&r, T1, 5 * SEC, "net.1.json");
	run_trees(&r, 1);
	if (r.fd[3] >= 0)
		r.env.sys_fd = r.fd[3];
	run_golden(&r, T2, 6 * SEC, "net.json");
	run_metrics(&r, "net.prom");
	/* the same files again a second later: no change, rates 0 */
	p = run_tick(&r, T2, 7 * SEC);
	assert_true(num(cJSON_GetArrayItem(get(p, "interfaces"), 0), "rx_bytes_per_s") == 0);
	cJSON_Delete(p);
	run_end(&r);
	/* every kept operstate fd was closed */
	assert_int_equal(open_fds(), fds);
}

MACHINE_TEST(test_collector, "vm2");
MACHINE_TEST(test_collector, "host16");
MACHINE_TEST(test_collector, "linux-2.6.18");

/* The `interfaces` list, read at every tick. */
TEST(test_collector_filter)
{
	int p1 = open_dir("host16", "proc"), s1 = open_dir("host16", "sys");
	struct config cfg;
	struct collector_env env = {.proc_fd = p1, .sys_fd = s1};
	struct collector_tick t = {.t_ms = T1, .mono_ns = 5 * SEC};
	char reason[256], err[CONFIG_ERR_LEN];
	void *st = NULL;
	cJSON *p = NULL;

	config_defaults(&cfg);
	assert_int_equal(net_collector.init(&env, cfg.col[collector_topic(net_collector.name)], &st,
					    reason, sizeof(reason)),
			 0);
	assert_int_equal(net_collector.sample(st, &env, &t, &p), 0);
	assert_names(p, "lo,eno1,eno2,bond0,docker0,veth1a2b3c,virbr0");
	cJSON_Delete(p);

	assert_int_equal(config_set(&cfg, "interfaces", "!veth*, !lo", err, sizeof(err)), 0);
	t.mono_ns += SEC;
	assert_int_equal(net_collector.sample(st, &env, &t, &p), 0);
	assert_names(p, "eno1,eno2,bond0,docker0,virbr0");
	/* still a rate: the counters were kept while hidden or not */
	assert_true(num(iface(p, "eno1"), "rx_bytes_per_s") == 0);
	cJSON_Delete(p);

	/* a reload changes the collector's settings in place */
	COLSET(&cfg, net)->interfaces.dflt = true; /* the next value replaces the list */
	assert_int_equal(config_set(&cfg, "interfaces", "eno* bond0", err, sizeof(err)), 0);
	t.mono_ns += SEC;
	assert_int_equal(net_collector.sample(st, &env, &t, &p), 0);
	assert_names(p, "eno1,eno2,bond0");
	assert_string_equal(get(iface(p, "eno2"), "operstate")->valuestring, "down");
	assert_true(is_null(iface(p, "eno2"), "speed_mbps"));
	assert_true(num(iface(p, "bond0"), "speed_mbps") == 25000);
	cJSON_Delete(p);
	net_collector.fini(st);
	config_free(&cfg);
	close(p1);
	close(s1);
}

/* Link state is read at every tick through a kept fd; speed when the
 * state changes (and every 30 s), not at every tick. */
TEST(test_collector_links)
{
	struct scratch proc, sys;
	struct collector_env env;
	struct collector_tick t = {.t_ms = T1, .mono_ns = SEC};
	void *st = NULL;
	cJSON *p = NULL;
	int fds = open_fds();

	scratch_make(&proc, "net");
	scratch_make(&sys, "net");
	env = (struct collector_env){.proc_fd = proc.fd, .sys_fd = sys.fd};
	scratch_write(&proc, "net/dev", HDR "  eth0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n");
	scratch_write(&proc, "net/snmp",
		      "Tcp: ActiveOpens PassiveOpens CurrEstab InSegs OutSegs RetransSegs "
		      "InErrs OutRsts\nTcp: 1 2 3 4 5 6 7 8\n");
	scratch_write(&proc, "net/sockstat", "TCP: inuse 1 orphan 0 tw 2 alloc 1 mem 1\n");
	st = init_check(&net_collector, &env, 0, NULL);

	/* no sysfs entry: nulls */
	assert_int_equal(net_collector.sample(st, &env, &t, &p), 0);
	assert_true(is_null(iface(p, "eth0"), "operstate"));
	assert_true(is_null(iface(p, "eth0"), "speed_mbps"));
	cJSON_Delete(p);

	/* an interface that appears again is looked up afresh */
	scratch_write(&sys, "class/net/eth0/operstate", "down\n");
	scratch_write(&sys, "class/net/eth0/speed", "-1\n");
	scratch_write(&proc, "net/dev", HDR);
	t.mono_ns += SEC;
	assert_int_equal(net_collector.sample(st, &env, &t, &p), 0);
	assert_names(p, "");
	cJSON_Delete(p);
	scratch_write(&proc, "net/dev", HDR "  eth0: 1 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n");
	t.mono_ns += SEC;
	assert_int_equal(net_collector.sample(st, &env, &t, &p), 0);
	assert_string_equal(get(iface(p, "eth0"), "operstate")->valuestring, "down");
	assert_true(is_null(iface(p, "eth0"), "speed_mbps"));
	cJSON_Delete(p);

	/* speed changes alone are seen only after 30 s */
	scratch_write(&sys, "class/net/eth0/speed", "100\n");
	t.mono_ns += SEC;
	assert_int_equal(net_collector.sample(st, &env, &t, &p), 0);
	assert_true(is_null(iface(p, "eth0"), "speed_mbps"));
	cJSON_Delete(p);
	/* the link comes up: the kept fd sees the new state, speed is read */
	scratch_write(&sys, "class/net/eth0/operstate", "up\n");
	scratch_write(&sys, "class/net/eth0/speed", "1000\n");
	t.mono_ns += SEC;
	assert_int_equal(net_collector.sample(st, &env, &t, &p), 0);
	assert_string_equal(get(iface(p, "eth0"), "operstate")->valuestring, "up");
	assert_true(num(iface(p, "eth0"), "speed_mbps") == 1000);
	cJSON_Delete(p);
	scratch_write(&sys, "class/net/eth0/speed", "10000\n");
	t.mono_ns += SEC;
	assert_int_equal(net_collector.sample(st, &env, &t, &p), 0);
	assert_true(num(iface(p, "eth0"), "speed_mbps") == 1000);
	cJSON_Delete(p);
	t.mono_ns += 31 * SEC;
	assert_int_equal(net_collector.sample(st, &env, &t, &p), 0);
	assert_true(num(iface(p, "eth0"), "speed_mbps") == 10000);
	cJSON_Delete(p);

	/* garbage in sysfs: null, not an error */
	scratch_write(&sys, "class/net/eth0/operstate", "sideways\n");
	t.mono_ns += SEC;
	assert_int_equal(net_collector.sample(st, &env, &t, &p), 0);
	assert_true(is_null(iface(p, "eth0"), "operstate"));
	cJSON_Delete(p);

	/* a failing proc file fails the tick; the next good one has rates
	 * against the last good reading */
	scratch_write(&proc, "net/snmp", "Tcp: ActiveOpens\nTcp: 1\n");
	tick_fails(&net_collector, st, &env, &t, -EINVAL);
	scratch_write(&proc, "net/snmp",
		      "Tcp: ActiveOpens PassiveOpens CurrEstab InSegs OutSegs RetransSegs "
		      "InErrs OutRsts\nTcp: 3 2 3 4 5 6 7 8\n");
	scratch_write(&proc, "net/dev", HDR "  eth0: 5 1 0 0 0 0 0 0 1 1 0 0 0 0 0 0\n");
	t.mono_ns += 2 * SEC;
	assert_int_equal(net_collector.sample(st, &env, &t, &p), 0);
	assert_true(num(iface(p, "eth0"), "rx_bytes_per_s") == 2);
	assert_true(num(get(p, "tcp"), "active_opens_per_s") == 1);
	cJSON_Delete(p);

	net_collector.fini(st);
	scratch_remove(&proc);
	scratch_remove(&sys);
	assert_int_equal(open_fds(), fds);
}

TEST(test_collector_errors)
{
	struct scratch s;
	struct collector_env env;

	scratch_env(&s, "net", false, &env);
	/* a bad sockstat from the start: it is read after dev and snmp */
	scratch_write(&s, "net/sockstat", "TCP: inuse 1\n");
	init_fails(&net_collector, &s, &env,
		   (const struct init_fail[]){
		       {NULL, NULL, -ENOENT, "/proc/net/dev: No such file or directory"},
		       {"net/dev", HDR, -ENOENT, "/proc/net/snmp: No such file or directory"},
		       {"net/snmp", "Ip: Forwarding\nIp: 1\n", -ENODATA,
			"/proc/net/snmp: unexpected contents (No data available)"},
		       {"net/snmp",
			"Tcp: ActiveOpens PassiveOpens CurrEstab InSegs OutSegs RetransSegs "
			"InErrs OutRsts\nTcp: 1 2 3 4 5 6 7 8\n",
			-EINVAL, "/proc/net/sockstat: unexpected contents (Invalid argument)"},
		       {"net/dev", "garbage\n", -EINVAL,
			"/proc/net/dev: unexpected contents (Invalid argument)"},
		       {NULL}});
	net_collector.fini(NULL);
	scratch_remove(&s);
}

/* The live host: lo is there, marked, with some state. */
TEST(test_collector_live)
{
	struct run r;
	cJSON *p;

	run_live(&r, &net_collector, true, false);
	for (int i = 0; i < 2; i++) {
		const cJSON *lo;

		p = run_tick(&r, T1, clock_mono_ns());
		lo = iface(p, "lo");
		assert_non_null(lo);
		assert_true(cJSON_IsTrue(get(lo, "loopback")));
		assert_true(cJSON_IsString(get(lo, "operstate")));
		assert_true(is_null(lo, "speed_mbps")); /* EINVAL */
		assert_true(i == 0 ? is_null(lo, "rx_bytes_per_s")
				   : num(lo, "rx_bytes_per_s") >= 0);
		assert_true(num(get(p, "tcp"), "established") >= 0);
		cJSON_Delete(p);
	}
	run_end(&r);
}

LIVE_COST(&net_collector, true, false);

/* The collector's syscr over n ticks of st on env, one second apart from
 * *mono (advanced). */
static uint64_t ticks_syscr(void *st, struct collector_env *env, int n, uint64_t *mono)
{
	uint64_t before = proc_io("self", "syscr");

	for (int i = 0; i < n; i++) {
		struct collector_tick tick = {.t_ms = T1 + (int64_t)*mono / 1000000,
					      .mono_ns = *mono};
		cJSON *p = NULL;

		assert_int_equal(net_collector.sample(st, env, &tick, &p), 0);
		cJSON_Delete(p);
		*mono += 1000000000ull;
	}
	return proc_io("self", "syscr") - before;
}

/* On the live /sys, an interface's operstate is read when the kernel's
 * link messages say something changed, not at every tick: in a network
 * namespace of its own (lo down), quiet ticks read as much with 21
 * interfaces as with one (at every tick, 20 veths cost 20 reads more),
 * and lo brought up shows at the next tick. Last in this file: the test
 * stays in those namespaces. */
TEST(test_link_messages)
{
	struct collector_env env = {0};
	struct collector_tick tick;
	uint64_t mono = SEC, quiet1, quiet2;
	char cmd[128];
	void *st;
	cJSON *p = NULL;

	if (geteuid() != 0 || unshare(CLONE_NEWNET | CLONE_NEWNS) != 0)
		skip();
	assert_int_equal(mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL), 0);
	assert_int_equal(mount("sysfs", "/sys", "sysfs", 0, NULL), 0); /* this namespace's */
	env = (struct collector_env){.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC),
				     .sys_fd = open("/sys", O_RDONLY | O_DIRECTORY | O_CLOEXEC)};
	st = init_check(&net_collector, &env, 0, NULL);
	ticks_syscr(st, &env, 2, &mono);
	quiet1 = ticks_syscr(st, &env, 4, &mono);
	for (int i = 0; i < 10; i++) {
		snprintf(cmd, sizeof(cmd), "ip link add sfa%d type veth peer name sfb%d", i, i);
		if (system(cmd) != 0)
			skip(); /* no veth driver */
	}
	ticks_syscr(st, &env, 2, &mono); /* new ones: read */
	quiet2 = ticks_syscr(st, &env, 4, &mono);
	print_message("net: %" PRIu64 " reads in 4 quiet ticks with lo, %" PRIu64
		      " with 20 veths\n",
		      quiet1, quiet2);
	assert_true(quiet2 < quiet1 + 20);

	tick = (struct collector_tick){.t_ms = T2, .mono_ns = mono};
	assert_int_equal(net_collector.sample(st, &env, &tick, &p), 0);
	assert_string_equal(get(iface(p, "lo"), "operstate")->valuestring, "down");
	cJSON_Delete(p);
	assert_int_equal(system("ip link set lo up"), 0);
	tick.mono_ns += SEC;
	assert_int_equal(net_collector.sample(st, &env, &tick, &p), 0);
	assert_string_equal(get(iface(p, "lo"), "operstate")->valuestring, "unknown");
	cJSON_Delete(p);
	net_collector.fini(st);
	close(env.proc_fd);
	close(env.sys_fd);
}
