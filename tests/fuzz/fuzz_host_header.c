/* config_host_allowed(): the Host header, the DNS-rebinding defence.
 * Input: an allowed-hosts value, NUL, a Host header. Checks that an
 * accepted header is a loopback name or an allowed one (ASCII case aside),
 * with at most a ":digits" port after it. */
#include "fuzz.h"

#include <strings.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const loopback[] = {"localhost", "127.0.0.1", "[::1]"};
	struct fuzz_in in = {data, size};
	char *hosts = fuzz_take_str(&in, NULL), *header = fuzz_take_str(&in, NULL);
	char err[CONFIG_ERR_LEN];
	struct config cfg;
	bool ok, named = false;
	size_t name_len;

	config_defaults(&cfg);
	if (*hosts && config_set(&cfg, "allowed-hosts", hosts, err, sizeof(err)) < 0)
		goto out;
	ok = config_host_allowed(&cfg, header);
	if (!ok)
		goto out;
	/* the name: up to the port, or up to and with "]" for [IPv6] */
	if (header[0] == '[')
		name_len = (size_t)(strchr(header, ']') - header) + 1;
	else
		name_len = strcspn(header, ":");
	if (header[name_len]) {
		FUZZ_CHECK(header[name_len] == ':' && header[name_len + 1]);
		for (const char *p = header + name_len + 1; *p; p++)
			FUZZ_CHECK(*p >= '0' && *p <= '9');
	}
	for (size_t i = 0; i < 3; i++)
		named |= strlen(loopback[i]) == name_len &&
			 strncasecmp(header, loopback[i], name_len) == 0;
	for (size_t i = 0; i < cfg.allowed_hosts.n; i++)
		named |= strlen(cfg.allowed_hosts.v[i]) == name_len &&
			 strncasecmp(header, cfg.allowed_hosts.v[i], name_len) == 0;
	FUZZ_CHECK(named);
out:
	config_free(&cfg);
	free(hosts);
	free(header);
	return 0;
}
