/* The token subcommands: a new random token is printed once and only its
 * SHA-256 digest is kept, in the file `auth-tokens` names (or --file);
 * the file is rewritten whole (a temporary, then rename) with its owner
 * and mode, and never readable by others. */
#include "token.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "secret.h"

#define TOKEN_DEFAULT_CONFIG "/etc/sysfeed/sysfeed.conf"

static void token_usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: sysfeed token [--config FILE | --file TOKENS] add NAME | list | remove NAME\n"
	    "  add NAME     print a new token once; keep its SHA-256 digest under NAME\n"
	    "  list         print the names of the tokens\n"
	    "  remove NAME  forget the token called NAME\n"
	    "The tokens file is --file, else auth-tokens of the config file (--config,\n"
	    "default " TOKEN_DEFAULT_CONFIG "). Reload sysfeed afterwards (SIGHUP).\n");
}

/* The tokens file: --file, or auth-tokens of the config file. */
static int tokens_path(const char *file, const char *config, char **ret)
{
	char err[CONFIG_ERR_LEN];
	struct config cfg;
	struct config_source src = {.path = config ? config : TOKEN_DEFAULT_CONFIG};

	if (file) {
		*ret = strdup(file);
		return *ret ? 0 : -ENOMEM;
	}
	if (config_build(&cfg, &src, err, sizeof(err)) < 0) {
		fprintf(stderr, "sysfeed: %s\n", err);
		return -EINVAL;
	}
	*ret = cfg.auth_tokens ? strdup(cfg.auth_tokens) : NULL;
	config_free(&cfg);
	if (!*ret) {
		fprintf(stderr, "sysfeed: %s sets no auth-tokens (or give --file)\n", src.path);
		return -ENOENT;
	}
	return 0;
}

/* Writes text as the new content of path, keeping the old file's owner
 * and mode (new files: 0600), never readable by others. */
static int write_atomic(const char *path, const char *text, size_t len)
{
	char tmp[4096];
	struct stat st;
	mode_t mode = 0600;
	int fd, r = 0;
	bool had = stat(path, &st) == 0;

	if (had)
		mode = st.st_mode & 0770;
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return -errno;
	if ((had && fchown(fd, st.st_uid, st.st_gid) < 0 && errno != EPERM) ||
	    fchmod(fd, mode) < 0 || write(fd, text, len) != (ssize_t)len || fsync(fd) < 0)
		r = -errno ? -errno : -EIO;
	if (close(fd) < 0 && !r)
		r = -errno;
	if (!r && rename(tmp, path) < 0)
		r = -errno;
	if (r)
		unlink(tmp);
	return r;
}

/* The current file's text ("" when it does not exist yet), checked. */
static int read_tokens(const char *path, char **ret, size_t *ret_len, struct auth_db **ret_db)
{
	char err[CONFIG_ERR_LEN];
	int r = secret_read_file(path, true, ret, ret_len, err, sizeof(err));

	if (r == -ENOENT) {
		*ret = strdup("");
		*ret_len = 0;
		r = *ret ? 0 : -ENOMEM;
	} else if (r < 0) {
		fprintf(stderr, "sysfeed: %s\n", err);
		return r;
	}
	if (r == 0 && (!(*ret_db = auth_new()) ||
		       (r = auth_parse_tokens(*ret_db, path, *ret, err, sizeof(err))) < 0)) {
		fprintf(stderr, "sysfeed: %s\n", r < 0 ? err : "out of memory");
		return r < 0 ? r : -ENOMEM;
	}
	return r;
}

/* Whether line (up to its newline) is the entry of name. */
static bool line_is(const char *line, const char *name)
{
	size_t n = strlen(name);

	while (*line == ' ' || *line == '\t')
		line++;
	return strncmp(line, name, n) == 0 && line[n] == ':';
}

static int token_add(const char *path, const char *name, const char *text, size_t len)
{
	uint8_t raw[32], digest[SECRET_SHA256];
	char token[AUTH_TOKEN_LEN + 1], hex[2 * SECRET_SHA256 + 1], *out = NULL;
	int n, r;

	for (const char *p = text; p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (line_is(p, name)) {
			fprintf(stderr, "sysfeed: %s already has a token called %s\n", path, name);
			return -EEXIST;
		}
	if ((r = secret_random(raw, sizeof(raw))) < 0) {
		fprintf(stderr, "sysfeed: getrandom: %s\n", strerror(-r));
		return r;
	}
	memcpy(token, AUTH_TOKEN_PFX, sizeof(AUTH_TOKEN_PFX) - 1);
	secret_hex(raw, sizeof(raw), token + sizeof(AUTH_TOKEN_PFX) - 1);
	if (secret_sha256(token, strlen(token), digest) < 0)
		return -EIO;
	secret_hex(digest, sizeof(digest), hex);
	n = asprintf(&out, "%s%s%s:sha256:%s\n", text, len && text[len - 1] != '\n' ? "\n" : "",
		     name, hex);
	if (n < 0)
		return -ENOMEM;
	if ((r = write_atomic(path, out, (size_t)n)) < 0)
		fprintf(stderr, "sysfeed: cannot write %s: %s\n", path, strerror(-r));
	else
		printf("%s\n", token);
	free(out);
	explicit_bzero(token, sizeof(token));
	explicit_bzero(raw, sizeof(raw));
	return r;
}

static int token_remove(const char *path, const char *name, const char *text, size_t len)
{
	char *out = malloc(len + 1);
	size_t n = 0;
	bool found = false;
	int r;

	if (!out)
		return -ENOMEM;
	for (const char *p = text; *p;) {
		const char *nl = strchr(p, '\n');
		size_t l = nl ? (size_t)(nl - p) + 1 : strlen(p);

		if (line_is(p, name))
			found = true;
		else
			memcpy(out + n, p, l), n += l;
		p += l;
	}
	if (!found) {
		fprintf(stderr, "sysfeed: %s has no token called %s\n", path, name);
		free(out);
		return -ENOENT;
	}
	if ((r = write_atomic(path, out, n)) < 0)
		fprintf(stderr, "sysfeed: cannot write %s: %s\n", path, strerror(-r));
	free(out);
	return r;
}

static void token_list(const char *text)
{
	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		const char *q = p + strspn(p, " \t"), *colon = strchr(q, ':');

		if (*q != '#' && *q != '\n' && colon)
			printf("%.*s\n", (int)(colon - q), q);
	}
}

int token_main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"config", required_argument, NULL, 'c'},
	    {"file", required_argument, NULL, 'f'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	const char *config = NULL, *file = NULL, *verb, *name = NULL;
	char *path = NULL, *text = NULL;
	struct auth_db *db = NULL;
	size_t len = 0;
	int c, r, status = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		if (c == 'c')
			config = optarg;
		else if (c == 'f')
			file = optarg;
		else {
			token_usage(c == 'h' ? stdout : stderr);
			return c == 'h' ? 0 : 2;
		}
	}
	verb = optind < argc ? argv[optind] : "";
	if (strcmp(verb, "list") == 0                                 ? optind + 1 != argc
	    : strcmp(verb, "add") == 0 || strcmp(verb, "remove") == 0 ? optind + 2 != argc
								      : true) {
		token_usage(stderr);
		return 2;
	}
	if (optind + 1 < argc)
		name = argv[optind + 1];
	if (name && !auth_name_ok(name, strlen(name))) {
		fprintf(stderr, "sysfeed: bad token name '%s': 1 to %d of A-Z a-z 0-9 . _ - @ +\n",
			name, AUTH_NAME_MAX);
		return 2;
	}
	if (tokens_path(file, config, &path) < 0 || read_tokens(path, &text, &len, &db) < 0)
		goto out;
	if (strcmp(verb, "list") == 0) {
		token_list(text);
		r = 0;
	} else if (strcmp(verb, "add") == 0) {
		r = token_add(path, name, text, len);
	} else {
		r = token_remove(path, name, text, len);
	}
	if (r == 0 && strcmp(verb, "list") != 0)
		fprintf(stderr, "sysfeed: %s %s (%s); reload sysfeed to apply it\n",
			strcmp(verb, "add") == 0 ? "added" : "removed", name, path);
	status = r == 0 ? 0 : 1;
out:
	auth_free(db);
	free(path);
	free(text);
	return status;
}
