/* net_snmp_parse(): /proc/net/snmp. Checks that the counters read are
 * those of the "Tcp:" value line under their names in the header line
 * before it. */
#include "fuzz.h"

#include "net.h"

/* The next space-separated token of [*p, end), NULs and all. */
static size_t token(const char **p, const char *end, const char **ret)
{
	while (*p < end && **p == ' ')
		(*p)++;
	*ret = *p;
	while (*p < end && **p != ' ')
		(*p)++;
	return (size_t)(*p - *ret);
}

/* The value under name in the Tcp: lines of a parsed text. */
static uint64_t tcp_value(const char *text, size_t len, const char *name)
{
	const char *h = NULL, *v = NULL, *p = text, *end = text + len, *tok, *h_end, *v_end;
	size_t n;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *q = p;

		if (token(&q, nl, &tok) == 4 && memcmp(tok, "Tcp:", 4) == 0) {
			if (!h) {
				h = q;
				h_end = nl;
			} else {
				v = q;
				v_end = nl;
				break;
			}
		} else {
			h = NULL;
		}
		p = nl + 1;
	}
	FUZZ_CHECK(h && v);
	for (;;) {
		const char *val;

		FUZZ_CHECK((n = token(&h, h_end, &tok)) > 0);
		FUZZ_CHECK(token(&v, v_end, &val) > 0);
		if (n == strlen(name) && memcmp(tok, name, n) == 0)
			return strtoull(val, NULL, 10);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const names[NET_TCP_NCOUNTERS] = {
	    "ActiveOpens", "PassiveOpens", "InSegs", "OutSegs", "RetransSegs", "InErrs", "OutRsts",
	};
	char *text = fuzz_dup(data, size);
	struct net_tcp tcp;

	if (net_snmp_parse(text, size, &tcp) == 0) {
		FUZZ_CHECK(tcp_value(text, size, "CurrEstab") == tcp.curr_estab);
		for (size_t i = 0; i < NET_TCP_NCOUNTERS; i++)
			FUZZ_CHECK(tcp_value(text, size, names[i]) == tcp.c[i]);
	}
	free(text);
	return 0;
}
