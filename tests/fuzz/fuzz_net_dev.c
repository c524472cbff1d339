/* net_dev_parse(): /proc/net/dev. Input: one or two files ("prev\0cur").
 * Checks that names are what the kernel allows (1-15 bytes, no space,
 * '/', ':' or NUL) and that a reused struct parses the same; and the
 * payload between the two (JSON as promised, names made valid UTF-8,
 * rates never negative). net_dev_totals() (the containers topic's) gets
 * both too: what it accepts, net_dev_parse() reads to the same sums. */
#include "fuzz.h"

#include "net.h"

static int parse(const char *text, size_t len, void *ret)
{
	return net_dev_parse(text, len, ret);
}

static void check_dev(const void *parsed, const char *text, size_t len)
{
	const struct net_dev *d = parsed;
	struct net_dev again = {0};

	for (size_t i = 0; i < d->n; i++) {
		size_t n = strnlen(d->v[i].name, NET_NAME_MAX);

		FUZZ_CHECK(n > 0 && n < NET_NAME_MAX);
		FUZZ_CHECK(!strpbrk(d->v[i].name, " /:"));
	}
	/* a struct holding a longer parse gives the same */
	FUZZ_CHECK(net_dev_parse(text, len, &again) == 0 && again.n == d->n);
	FUZZ_CHECK(net_dev_parse(text, len, &again) == 0 && again.n == d->n);
	for (size_t i = 0; i < d->n; i++)
		FUZZ_CHECK(strcmp(again.v[i].name, d->v[i].name) == 0 &&
			   memcmp(again.v[i].c, d->v[i].c, sizeof(d->v[i].c)) == 0);
	net_dev_free(&again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct net_reading prev = {0}, cur = {0};
	struct fuzz_two t;
	cJSON *payload = NULL;

	fuzz_parse_two(data, size, parse, check_dev, &prev.dev, &cur.dev, &t);
	{
		struct net_dev whole = {0};
		uint64_t rx, tx, srx = 0, stx = 0;

		if (net_dev_totals(t.text[0], t.len[0], &rx, &tx) == 0) {
			FUZZ_CHECK(net_dev_parse(t.text[0], t.len[0], &whole) == 0);
			for (size_t i = 0; i < whole.n; i++) {
				if (strcmp(whole.v[i].name, "lo") == 0)
					continue;
				srx += whole.v[i].c[NET_RX_BYTES];
				stx += whole.v[i].c[NET_TX_BYTES];
			}
			FUZZ_CHECK(srx == rx && stx == tx);
		}
		net_dev_free(&whole);
	}
	if (t.r[1] < 0)
		goto out;
	for (size_t i = 0; i < cur.dev.n; i++) {
		cur.dev.v[i].included = true;
		cur.dev.v[i].operstate = i % 2 ? "up" : NULL;
		cur.dev.v[i].speed_mbps = i % 3 ? -1 : 1000;
	}
	prev.mono_ns = 1000000000;
	cur.mono_ns = 2000000000;
	cur.tcp.c[NET_TCP_RETRANS_SEGS] = 5;
	cur.tcp.c[NET_TCP_OUT_SEGS] = 2;
	FUZZ_CHECK(net_build_payload(t.r[0] == 0 ? &prev : NULL, &cur, 1700000000000, &payload) ==
		   0);
	fuzz_check_json(payload);
	fuzz_check_nonneg(payload);
	FUZZ_CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(payload, "interfaces")) ==
		   (int)cur.dev.n);
	cJSON_Delete(payload);
out:
	net_reading_free(&prev);
	net_reading_free(&cur);
	fuzz_two_free(&t);
	return 0;
}
