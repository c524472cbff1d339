/* proc_passwd_parse(): /etc/passwd for uid -> name. Checks that the table
 * is sorted by uid without repeats, that each name is the first one the
 * file gives for its uid (as getpwuid answers), and that lookups find
 * exactly the uids of the table. */
#include "fuzz.h"

#include "proc_users.h"

/* Whether [s, s + n) is a uid as nss_files takes it: digits only, at
 * most UINT32_MAX (leading zeros allowed). */
static bool uid_is(const char *s, size_t n, uint32_t uid)
{
	uint64_t v = 0;

	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return false;
		v = v * 10 + (uint64_t)(s[i] - '0');
		if (v > UINT32_MAX)
			return false;
	}
	return v == uid;
}

/* The name of the first well-formed line for uid ("name:pw:uid:..."),
 * into out; false when there is none. */
static bool first_name(const char *text, size_t len, uint32_t uid, char *out, size_t size)
{
	const char *p = text, *end = text + len;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p)), *f[3];
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p), k = 0;

		for (const char *q = p; q < p + n && k < 3; q++)
			if (*q == ':')
				f[k++] = q;
		if (k == 3 && !memchr(p, '\0', n) && *p != '+' && *p != '-' && *p != '#' &&
		    f[0] != p && uid_is(f[1] + 1, (size_t)(f[2] - f[1] - 1), uid)) {
			snprintf(out, size, "%.*s", (int)(f[0] - p), p);
			return true;
		}
		p += n + 1;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proc_users users = {0};
	char *text = fuzz_dup(data, size), name[4096];

	FUZZ_CHECK(proc_passwd_parse(text, size, &users) == 0);
	for (size_t i = 0; i < users.n; i++) {
		FUZZ_CHECK(i == 0 || users.v[i - 1].uid < users.v[i].uid);
		FUZZ_CHECK(proc_users_name(&users, users.v[i].uid) == users.v[i].name);
		FUZZ_CHECK(first_name(text, size, users.v[i].uid, name, sizeof(name)));
		FUZZ_CHECK(strncmp(name, users.v[i].name, sizeof(name) - 1) == 0);
		if (i == 0 || users.v[i - 1].uid + 1 < users.v[i].uid)
			FUZZ_CHECK(!proc_users_name(&users, users.v[i].uid - 1));
	}
	proc_users_free(&users);
	free(text);
	return 0;
}
