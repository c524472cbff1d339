/* Unit tests of daemon/auth.c and daemon/secret.c: the users and tokens
 * files (every refusal with its line), Basic checks with the login cache
 * and the crypt(3) gate, bearer tokens, and secret files' permissions. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <crypt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "secret.h"
#include "unit.h"

/* A hash of pw by crypt(3) with a fresh salt of the method `prefix`. */
static char *hash_of(const char *pw, const char *prefix)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data cd = {0};
	const char *out;

	assert_non_null(crypt_gensalt_rn(prefix, 0, NULL, 0, salt, sizeof(salt)));
	out = crypt_r(pw, salt, &cd);
	assert_non_null(out);
	return strdup(out);
}

static void users_error(const char *text, const char *want)
{
	struct auth_db *db = auth_new();
	char err[512] = "";

	assert_non_null(db);
	assert_int_not_equal(auth_parse_users(db, "u", text, err, sizeof(err)), 0);
	if (!strstr(err, want))
		fail_msg("for %s: got '%s', want '%s'", text, err, want);
	auth_free(db);
}

TEST(test_users_refused)
{
	users_error("alice:hunter2\n", "u:1: user alice: not a crypt(3) hash (a plain password?)");
	users_error("# c\n\nalice:$1$abc$defghijklmnopqrstuv\n",
		    "u:3: user alice: hash method too weak");
	users_error("alice:$y$garbage\n", "u:1: user alice: not a hash crypt(3) knows");
	users_error("alice:$6$abcdefgh$cut\n", "u:1: user alice: not a hash crypt(3) knows");
	users_error("alice:$2b$05$ObyN5/sXZf/6mlm.Rl.18unzEFzf2qvfSiCQ/wzoUky21Ru90ayO\n",
		    "u:1: user alice: not a hash crypt(3) knows");
	users_error("alice\n", "u:1: expected USER:HASH");
	users_error(":$6$a$b\n", "u:1: bad user name");
	users_error("a b:$6$a$b\n", "u:1: bad user name");
	users_error("# nobody\n", "u: no user in the file");
#define SHA512                                                                                     \
	"$6$abcdefgh$ltjgWl6579NluT/Vi1nwEvcil.G5Nbc4NiXZaNGStk8PSwGfQv72N2CKPPrVACtLtip/"         \
	"cZ/1GM/O6IND4WQhG."
	users_error("alice:" SHA512 "\nalice:" SHA512 "\n", "u:2: user alice: listed twice");
}

TEST(test_basic)
{
	char *y = hash_of("pw-a", "$y$"), *b = hash_of("pw-b", "$2b$"), *s = hash_of("pw-c", "$6$");
	char text[1024], err[256];
	struct auth_db *db = auth_new();
	const char *who = NULL;

	snprintf(text, sizeof(text), "  alice:%s  \r\n#x\nbob:%s\ncarol:%s", y, b, s);
	assert_int_equal(auth_parse_users(db, "u", text, err, sizeof(err)), 0);
	assert_true(auth_has_users(db));
	assert_false(auth_has_tokens(db));
	/* the first check of a password needs a crypt(3) run */
	assert_int_equal(auth_basic(db, "alice", "pw-a", false, &who), AUTH_NO_CHECK);
	assert_int_equal(auth_basic(db, "alice", "pw-a", true, &who), AUTH_OK);
	assert_string_equal(who, "alice");
	/* then it is remembered, and only that password */
	assert_int_equal(auth_basic(db, "alice", "pw-a", false, &who), AUTH_OK);
	assert_int_equal(auth_basic(db, "alice", "pw-b", false, &who), AUTH_NO_CHECK);
	assert_int_equal(auth_basic(db, "alice", "pw-b", true, &who), AUTH_BAD);
	assert_int_equal(auth_basic(db, "alice", "pw-a", false, &who), AUTH_OK);
	assert_int_equal(auth_basic(db, "bob", "pw-b", true, &who), AUTH_OK);
	assert_int_equal(auth_basic(db, "carol", "pw-c", true, &who), AUTH_OK);
	assert_int_equal(auth_basic(db, "carol", "pw-c\n", true, &who), AUTH_BAD);
	assert_int_equal(auth_basic(db, "carol", "", true, &who), AUTH_BAD);
	assert_int_equal(auth_basic(db, "dave", "pw-a", true, &who), AUTH_UNKNOWN);
	assert_int_equal(auth_basic(db, "Alice", "pw-a", true, &who), AUTH_UNKNOWN);
	/* a database without users knows nobody */
	auth_free(db);
	db = auth_new();
	assert_int_equal(auth_basic(db, "alice", "pw-a", true, &who), AUTH_UNKNOWN);
	assert_int_equal(auth_basic(NULL, "alice", "pw-a", true, &who), AUTH_UNKNOWN);
	auth_free(db);
	free(y);
	free(b);
	free(s);
}

TEST(test_tokens)
{
	const char *tok = "sysfeed_0123", *who = NULL;
	uint8_t d[SECRET_SHA256];
	char hex[2 * SECRET_SHA256 + 1], text[512], err[256];
	struct auth_db *db = auth_new();

	assert_int_equal(secret_sha256(tok, strlen(tok), d), 0);
	secret_hex(d, sizeof(d), hex);
	/* the digest of "abc" is a known value */
	assert_int_equal(secret_sha256("abc", 3, d), 0);
	secret_hex(d, sizeof(d), text);
	assert_string_equal(text,
			    "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	snprintf(text, sizeof(text), "# tokens\nprom:sha256:%s\nci:sha256:%064d\n", hex, 0);
	assert_int_equal(auth_parse_tokens(db, "t", text, err, sizeof(err)), 0);
	assert_int_equal(auth_bearer(db, tok, &who), AUTH_OK);
	assert_string_equal(who, "prom");
	assert_int_equal(auth_bearer(db, "sysfeed_0124", &who), AUTH_UNKNOWN);
	assert_int_equal(auth_bearer(db, "", &who), AUTH_UNKNOWN);
	assert_int_equal(auth_bearer(db, hex, &who), AUTH_UNKNOWN); /* the digest is no token */
	auth_free(db);

	static const char *const bad[][2] = {
	    {"prom:sysfeed_0123\n", "t:1: expected NAME:sha256:HEX"},
	    {"prom:sha256:abc\n", "t:1: token prom: the digest is not 64 hex digits"},
	    {"prom:sha256:BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD\n",
	     "t:1: token prom: the digest is not lowercase hex"},
	    {"p m:sha256:x\n", "t:1: bad token name"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		db = auth_new();
		assert_int_not_equal(auth_parse_tokens(db, "t", bad[i][0], err, sizeof(err)), 0);
		if (!strstr(err, bad[i][1]))
			fail_msg("got '%s', want '%s'", err, bad[i][1]);
		auth_free(db);
	}
	snprintf(text, sizeof(text), "a:sha256:%s\na:sha256:%s\n", hex, hex);
	db = auth_new();
	assert_int_not_equal(auth_parse_tokens(db, "t", text, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "t:2: token a: listed twice"));
	auth_free(db);
}

TEST(test_names_and_compare)
{
	assert_true(auth_name_ok("a", 1));
	assert_true(auth_name_ok("erin@example.org", 16));
	assert_false(auth_name_ok("", 0));
	assert_false(auth_name_ok("a:b", 3));
	assert_false(auth_name_ok("a\nb", 3));
	assert_false(auth_name_ok("a\0b", 3));
	char long_name[66];
	memset(long_name, 'x', 65);
	long_name[65] = '\0';
	assert_true(auth_name_ok(long_name, 64));
	assert_false(auth_name_ok(long_name, 65));
	assert_true(secret_equal("abcd", "abcd", 4));
	assert_false(secret_equal("abcd", "abce", 4));
	assert_false(secret_equal("xbcd", "abcd", 4));
	assert_true(secret_equal("", "", 0));
}

TEST(test_files)
{
	char dir[] = "/tmp/sysfeed-auth-XXXXXX", users[64], tokens[64], err[512], *text;
	char *h = hash_of("pw", "$6$");
	struct auth_db *db;
	size_t len;
	FILE *f;

	assert_non_null(mkdtemp(dir));
	snprintf(users, sizeof(users), "%s/users", dir);
	snprintf(tokens, sizeof(tokens), "%s/tokens", dir);
	assert_non_null(f = fopen(users, "w"));
	fprintf(f, "alice:%s\n", h);
	fclose(f);
	assert_non_null(f = fopen(tokens, "w"));
	fclose(f);
	chmod(users, 0640);
	chmod(tokens, 0600);
	db = auth_load(users, tokens, err, sizeof(err));
	assert_non_null(db);
	assert_true(auth_has_users(db));
	assert_false(auth_has_tokens(db));
	auth_unref(auth_ref(db));
	auth_unref(db);
	/* others may read: refused, for secrets only */
	chmod(users, 0644);
	assert_null(auth_load(users, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "others may read or write it (mode 0644)"));
	assert_int_equal(secret_read_file(users, false, &text, &len, err, sizeof(err)), 0);
	assert_int_equal(strlen(text), len);
	secret_free(text, len);
	chmod(users, 0602);
	assert_null(auth_load(users, NULL, err, sizeof(err)));
	/* not a regular file, missing */
	assert_null(auth_load(dir, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "not a regular file"));
	unlink(tokens);
	assert_null(auth_load(NULL, tokens, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot open"));
	unlink(users);
	rmdir(dir);
	free(h);
}
