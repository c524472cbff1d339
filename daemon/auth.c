/* The users and tokens files, and checking credentials against them: see
 * auth.h. */
#include "auth.h"

#include <crypt.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"
#include "dl.h"
#include "fmt.h"
#include "secret.h"

#define AUTH_MAX_ENTRIES 4096

struct auth_user {
	char *name, *hash;
	uint8_t cache[SECRET_SHA256]; /* digest of the last password that passed */
	bool cached;
};

struct auth_token {
	char *name;
	uint8_t digest[SECRET_SHA256];
};

struct auth_db {
	unsigned refs;        /* atomic */
	pthread_mutex_t lock; /* the users' login caches */
	struct auth_user *users;
	size_t n_users, cap_users;
	struct auth_token *tokens;
	size_t n_tokens, cap_tokens;
	uint8_t cache_key[SECRET_SHA256]; /* random: cache digests mean nothing elsewhere */
};

/* crypt(3) runs one at a time: yescrypt's default takes 16 MiB and tens
 * of milliseconds each. */
static pthread_mutex_t crypt_lock = PTHREAD_MUTEX_INITIALIZER;

/* libcrypt, loaded with dlopen() by the first users file: a daemon
 * without auth-users never maps it. Debian's libcrypt1, or libxcrypt's
 * newer ABI (Fedora); both have the two calls. */
static struct {
	__typeof__(crypt_checksalt) *checksalt;
	__typeof__(crypt_rn) *rn;
} lc;
static pthread_once_t lc_once = PTHREAD_ONCE_INIT;
static bool lc_loaded;
static char lc_err[160]; /* why it is not loaded */

static void lc_load(void)
{
	static const char *const names[] = {"libcrypt.so.1", "libcrypt.so.2"};
	const struct dl_sym syms[] = {{(void **)&lc.checksalt, "crypt_checksalt"},
				      {(void **)&lc.rn, "crypt_rn"}};

	lc_loaded = dl_load(names, 2, syms, 2, lc_err, sizeof(lc_err)) != NULL;
}

bool auth_name_ok(const char *s, size_t len)
{
	if (len < 1 || len > AUTH_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= '0' && s[i] <= '9') || strchr("._-@+", s[i])) ||
		    !s[i])
			return false;
	return true;
}

struct auth_db *auth_new(void)
{
	struct auth_db *db = calloc(1, sizeof(*db));

	if (!db)
		return NULL;
	if (secret_random(db->cache_key, sizeof(db->cache_key)) < 0) {
		free(db);
		return NULL;
	}
	pthread_mutex_init(&db->lock, NULL);
	db->refs = 1;
	return db;
}

struct auth_db *auth_ref(struct auth_db *db)
{
	if (db)
		__atomic_add_fetch(&db->refs, 1, __ATOMIC_RELAXED);
	return db;
}

void auth_unref(struct auth_db *db)
{
	if (db && __atomic_sub_fetch(&db->refs, 1, __ATOMIC_ACQ_REL) == 0)
		auth_free(db);
}

void auth_free(struct auth_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n_users; i++) {
		free(db->users[i].name);
		secret_free(db->users[i].hash, strlen(db->users[i].hash));
	}
	for (size_t i = 0; i < db->n_tokens; i++)
		free(db->tokens[i].name);
	secret_free(db->users, db->cap_users * sizeof(*db->users));
	secret_free(db->tokens, db->cap_tokens * sizeof(*db->tokens));
	pthread_mutex_destroy(&db->lock);
	explicit_bzero(db->cache_key, sizeof(db->cache_key));
	free(db);
}

bool auth_has_users(const struct auth_db *db)
{
	return db && db->n_users > 0;
}

bool auth_has_tokens(const struct auth_db *db)
{
	return db && db->n_tokens > 0;
}

/* Calls fn on each line that is not blank or a comment, with its number,
 * the line cut at its end (trailing blanks and \r gone); stops at the
 * first error. */
static int each_line(char *text, const char *name, char *err, size_t err_len,
		     int (*fn)(struct auth_db *, char *, char *, size_t), struct auth_db *db)
{
	unsigned lineno = 0;
	char reason[256];

	for (char *line = text, *next; line && *line; line = next) {
		char *end;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		end = line + strlen(line);
		while (end > line && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			*--end = '\0';
		while (*line == ' ' || *line == '\t')
			line++;
		if (!*line || *line == '#')
			continue;
		if (fn(db, line, reason, sizeof(reason)) < 0) {
			fmt_err(err, err_len, "%s:%u: %s", name, lineno, reason);
			return -EINVAL;
		}
	}
	return 0;
}

/* Whether hash looks whole: a method crypt(3) knows and recommends, and a
 * last part of that method's length in its alphabet (crypt_checksalt
 * only looks at the settings; a cut hash would never match). */
static bool hash_whole(const char *hash)
{
	static const struct {
		const char *prefix;
		size_t last;
	} methods[] = {
	    {"$y$", 43},  {"$gy$", 43}, {"$7$", 43}, {"$2b$", 53},
	    {"$2y$", 53}, {"$2a$", 53}, {"$6$", 86}, {"$5$", 43},
	};
	const char *last = strrchr(hash, '$') + 1;

	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strncmp(hash, methods[i].prefix, strlen(methods[i].prefix)) != 0)
			continue;
		if (strlen(last) != methods[i].last ||
		    last - hash <= (ptrdiff_t)strlen(methods[i].prefix))
			return false;
		for (const char *p = last; *p; p++)
			if (!strchr(
				"./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
				*p))
				return false;
		return true;
	}
	return false;
}

static int user_line(struct auth_db *db, char *line, char *why, size_t why_len)
{
	char *colon = strchr(line, ':');
	const char *hash;
	struct auth_user *u;
	int ok;

	if (!colon) {
		fmt_err(why, why_len, "expected USER:HASH");
		return -EINVAL;
	}
	*colon = '\0';
	hash = colon + 1;
	if (!auth_name_ok(line, strlen(line))) {
		fmt_err(why, why_len, "bad user name: 1 to %d of A-Z a-z 0-9 . _ - @ +",
			AUTH_NAME_MAX);
		return -EINVAL;
	}
	if (hash[0] != '$') {
		fmt_err(why, why_len,
			"user %s: not a crypt(3) hash (a plain password?); make one with "
			"`mkpasswd -m yescrypt` or `openssl passwd -6`",
			line);
		return -EINVAL;
	}
	pthread_once(&lc_once, lc_load);
	if (!lc_loaded) {
		fmt_err(why, why_len, "user %s: cannot check hashes: %s", line, lc_err);
		return -EINVAL;
	}
	ok = lc.checksalt(hash);
	if (ok == CRYPT_SALT_METHOD_LEGACY || ok == CRYPT_SALT_METHOD_DISABLED ||
	    strncmp(hash, "$1$", 3) == 0) {
		fmt_err(why, why_len,
			"user %s: hash method too weak; use yescrypt ($y$), bcrypt ($2b$) or "
			"sha512crypt ($6$)",
			line);
		return -EINVAL;
	}
	if (ok != CRYPT_SALT_OK || strlen(hash) >= CRYPT_OUTPUT_SIZE || !hash_whole(hash)) {
		fmt_err(why, why_len, "user %s: not a hash crypt(3) knows", line);
		return -EINVAL;
	}
	for (size_t i = 0; i < db->n_users; i++)
		if (strcmp(db->users[i].name, line) == 0) {
			fmt_err(why, why_len, "user %s: listed twice", line);
			return -EINVAL;
		}
	if (db->n_users >= AUTH_MAX_ENTRIES) {
		fmt_err(why, why_len, "more than %d users", AUTH_MAX_ENTRIES);
		return -EINVAL;
	}
	if (ARRAY_GROW(db->users, db->cap_users, db->n_users, 8) < 0)
		goto nomem;
	u = &db->users[db->n_users];
	memset(u, 0, sizeof(*u));
	if (!(u->name = strdup(line)) || !(u->hash = strdup(hash))) {
		free(u->name);
		goto nomem;
	}
	db->n_users++;
	return 0;
nomem:
	fmt_err(why, why_len, "out of memory");
	return -ENOMEM;
}

static int hex_value(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int token_line(struct auth_db *db, char *line, char *why, size_t why_len)
{
	char *colon = strchr(line, ':');
	const char *hex;
	struct auth_token *t;
	uint8_t digest[SECRET_SHA256];

	if (!colon || strncmp(colon + 1, "sha256:", 7) != 0) {
		fmt_err(why, why_len,
			"expected NAME:sha256:HEX (made by `sysfeed token add NAME`)");
		return -EINVAL;
	}
	*colon = '\0';
	hex = colon + 8;
	if (!auth_name_ok(line, strlen(line))) {
		fmt_err(why, why_len, "bad token name: 1 to %d of A-Z a-z 0-9 . _ - @ +",
			AUTH_NAME_MAX);
		return -EINVAL;
	}
	if (strlen(hex) != 2 * SECRET_SHA256) {
		fmt_err(why, why_len, "token %s: the digest is not 64 hex digits (a plain token?)",
			line);
		return -EINVAL;
	}
	for (size_t i = 0; i < SECRET_SHA256; i++) {
		int hi = hex_value(hex[2 * i]), lo = hex_value(hex[2 * i + 1]);

		if (hi < 0 || lo < 0) {
			fmt_err(why, why_len, "token %s: the digest is not lowercase hex", line);
			return -EINVAL;
		}
		digest[i] = (uint8_t)(hi << 4 | lo);
	}
	for (size_t i = 0; i < db->n_tokens; i++)
		if (strcmp(db->tokens[i].name, line) == 0) {
			fmt_err(why, why_len, "token %s: listed twice", line);
			return -EINVAL;
		}
	if (db->n_tokens >= AUTH_MAX_ENTRIES) {
		fmt_err(why, why_len, "more than %d tokens", AUTH_MAX_ENTRIES);
		return -EINVAL;
	}
	if (ARRAY_GROW(db->tokens, db->cap_tokens, db->n_tokens, 8) < 0 ||
	    !(db->tokens[db->n_tokens].name = strdup(line))) {
		fmt_err(why, why_len, "out of memory");
		return -ENOMEM;
	}
	t = &db->tokens[db->n_tokens++];
	memcpy(t->digest, digest, sizeof(digest));
	return 0;
}

/* Parses a copy of text (wiped afterwards: it may hold hashes) with fn. */
static int parse_text(struct auth_db *db, const char *name, const char *text, char *err,
		      size_t err_len, int (*fn)(struct auth_db *, char *, char *, size_t))
{
	size_t len = strlen(text) + 1;
	char *copy = malloc(len);
	int r;

	if (!copy) {
		fmt_err(err, err_len, "%s: out of memory", name);
		return -ENOMEM;
	}
	memcpy(copy, text, len);
	r = each_line(copy, name, err, err_len, fn, db);
	secret_free(copy, len);
	return r;
}

int auth_parse_users(struct auth_db *db, const char *name, const char *text, char *err,
		     size_t err_len)
{
	int r = parse_text(db, name, text, err, err_len, user_line);

	if (r == 0 && db->n_users == 0) {
		fmt_err(err, err_len, "%s: no user in the file", name);
		r = -EINVAL;
	}
	return r;
}

int auth_parse_tokens(struct auth_db *db, const char *name, const char *text, char *err,
		      size_t err_len)
{
	return parse_text(db, name, text, err, err_len, token_line);
}

/* Reads one file (not readable by others) and parses it. */
static int load_one(struct auth_db *db, const char *path, bool users, char *err, size_t err_len)
{
	char *text = NULL;
	size_t len = 0;
	int r;

	if ((r = secret_read_file(path, true, &text, &len, err, err_len)) < 0)
		return r;
	if (strlen(text) != len) {
		fmt_err(err, err_len, "%s: NUL byte in the file", path);
		r = -EINVAL;
	} else {
		r = users ? auth_parse_users(db, path, text, err, err_len)
			  : auth_parse_tokens(db, path, text, err, err_len);
	}
	secret_free(text, len + 1);
	return r;
}

struct auth_db *auth_load(const char *users_path, const char *tokens_path, char *err,
			  size_t err_len)
{
	struct auth_db *db = auth_new();

	if (!db) {
		fmt_err(err, err_len, "out of memory");
		return NULL;
	}
	if ((users_path && load_one(db, users_path, true, err, err_len) < 0) ||
	    (tokens_path && load_one(db, tokens_path, false, err, err_len) < 0)) {
		auth_free(db);
		return NULL;
	}
	return db;
}

/* The login cache's digest of a user's password. */
static int cache_digest(const struct auth_db *db, const char *user, const char *pass,
			uint8_t out[SECRET_SHA256])
{
	size_t nu = strlen(user), np = strlen(pass), n = sizeof(db->cache_key) + nu + 1 + np;
	uint8_t *buf = malloc(n);
	int r;

	if (!buf)
		return -ENOMEM;
	memcpy(buf, db->cache_key, sizeof(db->cache_key));
	memcpy(buf + sizeof(db->cache_key), user, nu + 1);
	memcpy(buf + sizeof(db->cache_key) + nu + 1, pass, np);
	r = secret_sha256(buf, n, out);
	secret_free(buf, n);
	return r;
}

/* crypt(3) of pass with hash's settings, compared with hash. */
static bool crypt_check(const char *pass, const char *hash)
{
	struct crypt_data *cd = calloc(1, sizeof(*cd));
	const char *out;
	bool ok = false;

	if (!cd)
		return false;
	pthread_mutex_lock(&crypt_lock);
	out = lc.rn(pass, hash, cd, sizeof(*cd)); /* loaded: a user was parsed */
	pthread_mutex_unlock(&crypt_lock);
	if (out && out[0] != '*') {
		size_t n = strlen(hash);

		ok = strlen(out) == n && secret_equal(out, hash, n);
	}
	secret_free(cd, sizeof(*cd));
	return ok;
}

enum auth_result auth_basic(struct auth_db *db, const char *user, const char *pass, bool may_crypt,
			    const char **ret_user)
{
	struct auth_user *u = NULL;
	uint8_t digest[SECRET_SHA256];
	bool hit = false, ok;

	for (size_t i = 0; db && i < db->n_users; i++)
		if (strcmp(db->users[i].name, user) == 0)
			u = &db->users[i];
	if (!db || db->n_users == 0)
		return AUTH_UNKNOWN;
	if (cache_digest(db, user, pass, digest) < 0)
		return AUTH_NO_CHECK;
	if (u) {
		pthread_mutex_lock(&db->lock);
		hit = u->cached && secret_equal(u->cache, digest, sizeof(digest));
		pthread_mutex_unlock(&db->lock);
	}
	if (hit) {
		*ret_user = u->name;
		return AUTH_OK;
	}
	if (!may_crypt)
		return AUTH_NO_CHECK;
	/* an unknown user costs as much as a known one: no timing tells */
	ok = crypt_check(pass, u ? u->hash : db->users[0].hash) && u;
	if (!u)
		return AUTH_UNKNOWN;
	*ret_user = u->name;
	if (!ok)
		return AUTH_BAD;
	pthread_mutex_lock(&db->lock);
	memcpy(u->cache, digest, sizeof(digest));
	u->cached = true;
	pthread_mutex_unlock(&db->lock);
	return AUTH_OK;
}

enum auth_result auth_bearer(const struct auth_db *db, const char *token, const char **ret_name)
{
	uint8_t digest[SECRET_SHA256];
	const struct auth_token *found = NULL;

	if (!db || db->n_tokens == 0 || secret_sha256(token, strlen(token), digest) < 0)
		return AUTH_UNKNOWN;
	/* every entry compared, whichever matches */
	for (size_t i = 0; i < db->n_tokens; i++)
		if (secret_equal(db->tokens[i].digest, digest, sizeof(digest)))
			found = &db->tokens[i];
	if (!found)
		return AUTH_UNKNOWN;
	*ret_name = found->name;
	return AUTH_OK;
}
