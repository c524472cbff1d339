/* Who may ask: the users file (`user:HASH` lines, any hash crypt(3)
 * verifies: yescrypt, bcrypt, sha512crypt) for HTTP Basic, and the
 * tokens file (`NAME:sha256:HEX` lines) for bearer tokens. A loaded pair
 * of files is one immutable database (its login cache aside), replaced
 * whole on reload. Never logs: reasons come back as "FILE:LINE: reason". */
#ifndef SYSFEED_AUTH_H
#define SYSFEED_AUTH_H

#include <stdbool.h>
#include <stddef.h>

#define AUTH_NAME_MAX  64
#define AUTH_TOKEN_PFX "sysfeed_"
#define AUTH_TOKEN_LEN (sizeof(AUTH_TOKEN_PFX) - 1 + 64) /* prefix + 32 random bytes in hex */

struct auth_db;

enum auth_result {
	AUTH_OK = 0,
	AUTH_UNKNOWN,  /* no such user or token */
	AUTH_BAD,      /* the user exists, the password is wrong */
	AUTH_NO_CHECK, /* not checked: it would need a crypt(3) run (see auth_basic) */
};

/* Loads the users file and the tokens file (either NULL: none). Both must
 * not be readable by others. Returns the database or NULL with the reason
 * in err. */
struct auth_db *auth_load(const char *users_path, const char *tokens_path, char *err,
			  size_t err_len);
/* References: auth_load and auth_new give the first; the last unref (or
 * auth_free) frees. NULL is fine for both. */
struct auth_db *auth_ref(struct auth_db *db);
void auth_unref(struct auth_db *db);
void auth_free(struct auth_db *db);
bool auth_has_users(const struct auth_db *db);
bool auth_has_tokens(const struct auth_db *db);

/* Parsers, for tests and `sysfeed token`: the text of a file named name.
 * Each returns 0 or -EINVAL with "NAME:LINE: reason". */
int auth_parse_users(struct auth_db *db, const char *name, const char *text, char *err,
		     size_t err_len);
int auth_parse_tokens(struct auth_db *db, const char *name, const char *text, char *err,
		      size_t err_len);
struct auth_db *auth_new(void);

/* HTTP Basic: user and password. A password that this user's last
 * successful login had is accepted at once; any other costs a crypt(3)
 * run (one at a time in the process), done only when `may_crypt`, else
 * AUTH_NO_CHECK. An unknown user costs the same run as a known one. On
 * AUTH_OK and AUTH_BAD, *ret_user names the user (the database's). */
enum auth_result auth_basic(struct auth_db *db, const char *user, const char *pass, bool may_crypt,
			    const char **ret_user);
/* A bearer token: compared with every token's digest in constant time.
 * On AUTH_OK, *ret_name is the token's name. */
enum auth_result auth_bearer(const struct auth_db *db, const char *token, const char **ret_name);

/* Whether s is a good user or token name: 1 to 64 of A-Z a-z 0-9 . _ - @ +. */
bool auth_name_ok(const char *s, size_t len);

#endif
