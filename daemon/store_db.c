/* The history store's SQLite file: its schema and checks (ours, intact,
 * in WAL mode), chunks written, read, merged and evicted, the events and a
 * few counters. Every function runs on the connection's own thread. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dl.h"
#include "store_codec.h"
#include "store_impl.h"

#define APP_ID       0x73666864 /* "sfhd" */
#define FORMAT       1
#define OPEN_MERGE   32 /* chunks of an open period before they are merged */
#define CACHE_KIB_RW 1024
#define CACHE_KIB_RO 256

const int64_t store_period_ms[STORE_TIERS] = {STORE_HOUR_MS, 24 * STORE_HOUR_MS,
					      30 * 24 * STORE_HOUR_MS};
const int64_t store_step_ms[STORE_TIERS] = {0, STORE_MINUTE_MS, STORE_HOUR_MS};

/* The spans each tier keeps before the bound's eviction touches the next:
 * 14 days, 90 days, 2 years. */
static const int64_t keep_ms[STORE_TIERS] = {14 * 24 * STORE_HOUR_MS, 90 * 24 * STORE_HOUR_MS,
					     731 * 24 * STORE_HOUR_MS};

static const char schema[] =
    "CREATE TABLE IF NOT EXISTS chunk (tier INTEGER NOT NULL, t0 INTEGER NOT NULL,"
    " t1 INTEGER NOT NULL, rows INTEGER NOT NULL, merged INTEGER NOT NULL, data BLOB NOT NULL);"
    "CREATE INDEX IF NOT EXISTS chunk_tier_t0 ON chunk (tier, t0);"
    "CREATE TABLE IF NOT EXISTS event (t INTEGER NOT NULL, kind TEXT NOT NULL,"
    " key TEXT NOT NULL, count INTEGER NOT NULL, detail TEXT);"
    "CREATE INDEX IF NOT EXISTS event_t ON event (t);"
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER) WITHOUT ROWID;";

struct store_sql store_sql;
static pthread_once_t sql_once = PTHREAD_ONCE_INIT;
static bool sql_loaded;
static char sql_err[160]; /* why it is not loaded */

/* Fills store_sql from the library (once: a failure is not retried, the
 * library will not appear while we run). */
static void sql_load(void)
{
	static const char *const names[] = {"libsqlite3.so.0"};
	const struct dl_sym syms[] = {
#define SYM(name) {(void **)&store_sql.name, "sqlite3_" #name},
	    STORE_SQL_FNS(SYM)
#undef SYM
	};

	sql_loaded = dl_load(names, 1, syms, sizeof(syms) / sizeof(syms[0]), sql_err,
			     sizeof(sql_err)) != NULL;
}

int store_db_errno(sqlite3 *db, int rc)
{
	int sys = db ? store_sql.system_errno(db) : 0;

	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return 0;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
		return -EROFS;
	case SQLITE_PERM:
	case SQLITE_AUTH:
		return -EACCES;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CORRUPT:
		return -EUCLEAN;
	case SQLITE_NOTADB:
		return -EMEDIUMTYPE;
	case SQLITE_CANTOPEN:
		return sys == EROFS || sys == EACCES || sys == ENOENT ? -sys : -EACCES;
	case SQLITE_IOERR:
		return sys == ENOSPC || sys == EDQUOT ? -ENOSPC : sys == EROFS ? -EROFS : -EIO;
	default:
		return -EIO;
	}
}

int store_db_exec(sqlite3 *db, const char *sql)
{
	return store_db_errno(db, store_sql.exec(db, sql, NULL, NULL, NULL));
}

/* Prepares sql into *ret; 0 or -errno (store_db_errno). */
static int prepare(sqlite3 *db, const char *sql, sqlite3_stmt **ret)
{
	return store_db_errno(db, store_sql.prepare_v2(db, sql, -1, ret, NULL));
}

/* One integer from a statement's first row (pragmas, counts). */
static int query_int(sqlite3 *db, const char *sql, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int rc = store_sql.prepare_v2(db, sql, -1, &st, NULL);

	if (rc == SQLITE_OK && (rc = store_sql.step(st)) == SQLITE_ROW) {
		*ret = store_sql.column_int64(st, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		*ret = 0;
		rc = SQLITE_OK;
	}
	store_sql.finalize(st);
	return store_db_errno(db, rc);
}

/* The checks and settings of a fresh connection; a new file gets the
 * schema. */
static int setup(sqlite3 *db, bool rw, char *why, size_t len)
{
	int64_t app = 0, ver = 0, tables = 0;
	char pragmas[256];
	sqlite3_stmt *st = NULL;
	int r;

	snprintf(pragmas, sizeof(pragmas),
		 "PRAGMA cache_size=-%d; PRAGMA mmap_size=0; PRAGMA temp_store=MEMORY;",
		 rw ? CACHE_KIB_RW : CACHE_KIB_RO);
	if ((r = store_db_exec(db, pragmas)) < 0 ||
	    (r = query_int(db, "PRAGMA application_id", &app)) < 0 ||
	    (r = query_int(db, "PRAGMA user_version", &ver)) < 0 ||
	    (r = query_int(db, "SELECT count(*) FROM sqlite_schema", &tables)) < 0) {
		snprintf(why, len, "%s", store_sql.errmsg(db));
		return r;
	}
	if (app != APP_ID && (app != 0 || tables != 0)) {
		snprintf(why, len, "not a sysfeed history file (application_id %lld)",
			 (long long)app);
		return -EMEDIUMTYPE;
	}
	if (ver > FORMAT) {
		snprintf(why, len, "written by a newer sysfeed (format %lld)", (long long)ver);
		return -EMEDIUMTYPE;
	}
	if (!rw)
		return app == APP_ID ? 0 : -ENOENT;
	if (app == 0) {
		snprintf(pragmas, sizeof(pragmas),
			 "PRAGMA auto_vacuum=INCREMENTAL; PRAGMA application_id=%d;"
			 " PRAGMA user_version=%d;",
			 APP_ID, FORMAT);
		if ((r = store_db_exec(db, pragmas)) < 0 || (r = store_db_exec(db, schema)) < 0) {
			snprintf(why, len, "cannot make the schema: %s", store_sql.errmsg(db));
			return r;
		}
	}
	/* a damaged file of ours: the caller moves it aside */
	if (store_sql.prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL) == SQLITE_OK &&
	    store_sql.step(st) == SQLITE_ROW &&
	    strcmp((const char *)store_sql.column_text(st, 0), "ok") != 0) {
		const char *what = (const char *)store_sql.column_text(st, 0);

		/* its first line: "*** in database main ***" when there are more */
		if (strncmp(what, "*** ", 4) == 0 && strchr(what, '\n'))
			what = strchr(what, '\n') + 1;
		snprintf(why, len, "damaged: %.*s", (int)strcspn(what, "\n"), what);
		store_sql.finalize(st);
		return -EUCLEAN;
	}
	r = store_db_errno(db, store_sql.finalize(st));
	if (r == 0) {
		store_sql.prepare_v2(db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
		r = store_sql.step(st) == SQLITE_ROW &&
			    strcmp((const char *)store_sql.column_text(st, 0), "wal") == 0
			? 0
			: -EIO;
		store_sql.finalize(st);
	}
	if (r == 0)
		r = store_db_exec(db, "PRAGMA synchronous=NORMAL; PRAGMA wal_autocheckpoint=0;"
				      " PRAGMA journal_size_limit=4194304;");
	if (r < 0)
		snprintf(why, len, "%s", r == -EIO ? "cannot use WAL mode" : store_sql.errmsg(db));
	return r;
}

/* Whether the file at path is empty, a SQLite file, or something else. */
static int sniff(const char *path, char *why, size_t len)
{
	char head[16];
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	ssize_t n;

	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	n = read(fd, head, sizeof(head));
	close(fd);
	if (n == 0)
		return 0;
	if (n != sizeof(head) || memcmp(head, "SQLite format 3", 16) != 0) {
		snprintf(why, len, "not a SQLite database");
		return -EMEDIUMTYPE;
	}
	return 0;
}

int store_db_open(const char *path, bool rw, sqlite3 **ret, char *why, size_t len)
{
	sqlite3 *db = NULL;
	int flags = rw ? SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE : SQLITE_OPEN_READONLY;
	int rc, r;

	*ret = NULL;
	pthread_once(&sql_once, sql_load);
	if (!sql_loaded) {
		snprintf(why, len, "%s", sql_err);
		return -ELIBACC;
	}
	if ((r = sniff(path, why, len)) < 0) {
		if (r != -EMEDIUMTYPE)
			snprintf(why, len, "%s", strerror(-r));
		return r;
	}
	rc = store_sql.open_v2(path, &db, flags | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW, NULL);
	if (rc != SQLITE_OK) {
		r = store_db_errno(db, rc);
		snprintf(why, len, "%s", db ? store_sql.errmsg(db) : "out of memory");
		store_sql.close(db);
		return r;
	}
	store_sql.extended_result_codes(db, 1);
	store_sql.busy_timeout(db, rw ? 1000 : 200);
	if ((r = setup(db, rw, why, len)) < 0) {
		store_sql.close(db);
		return r;
	}
	*ret = db;
	return 0;
}

void store_db_close(sqlite3 *db)
{
	if (db)
		store_sql.close(db);
}

static int64_t period_of(int tier, int64_t t)
{
	int64_t p = store_period_ms[tier], b = t / p * p;

	return b > t ? b - p : b;
}

/* Inserts rows [from, to) of c as one chunk. */
static int put_rows(sqlite3 *db, int tier, const struct store_chunk *c, size_t from, size_t to,
		    unsigned rel, bool merged)
{
	struct store_chunk part;
	sqlite3_stmt *st = NULL;
	uint8_t *blob = NULL;
	size_t len = 0;
	int r;

	store_chunk_init(&part);
	if (from == 0 && to == c->n)
		r = store_chunk_encode(c, rel, &blob, &len);
	else if ((r = store_chunk_append_rows(&part, c, from, to)) == 0)
		r = store_chunk_encode(&part, rel, &blob, &len);
	if (r < 0)
		goto out;
	r = prepare(
	    db, "INSERT INTO chunk (tier, t0, t1, rows, merged, data) VALUES (?, ?, ?, ?, ?, ?)",
	    &st);
	if (r < 0)
		goto out;
	store_sql.bind_int(st, 1, tier);
	store_sql.bind_int64(st, 2, c->t[from]);
	store_sql.bind_int64(st, 3, c->t[to - 1]);
	store_sql.bind_int64(st, 4, (sqlite3_int64)(to - from));
	store_sql.bind_int(st, 5, merged);
	store_sql.bind_blob(st, 6, blob, (int)len, SQLITE_STATIC);
	r = store_db_errno(db, store_sql.step(st));
out:
	store_sql.finalize(st);
	free(blob);
	store_chunk_done(&part);
	return r;
}

int store_db_put(sqlite3 *db, int tier, const struct store_chunk *c, unsigned rel)
{
	size_t from = 0;

	for (size_t i = 1; i <= c->n; i++) {
		int r;

		if (i < c->n && period_of(tier, c->t[i]) == period_of(tier, c->t[from]))
			continue;
		if ((r = put_rows(db, tier, c, from, i, rel, false)) < 0)
			return r;
		from = i;
	}
	return 0;
}

/* Prepares sql with the tier and a time range as its three parameters. */
static int prepare_range(sqlite3 *db, const char *sql, int tier, int64_t a, int64_t b,
			 sqlite3_stmt **ret)
{
	int r = prepare(db, sql, ret);

	if (r == 0) {
		store_sql.bind_int(*ret, 1, tier);
		store_sql.bind_int64(*ret, 2, a);
		store_sql.bind_int64(*ret, 3, b);
	}
	return r;
}

/* Appends the chunks a prepared statement selects (data in column 0). */
static int read_chunks(sqlite3 *db, sqlite3_stmt *st, struct store_chunk *out)
{
	int rc, r = 0;

	while (r == 0 && (rc = store_sql.step(st)) == SQLITE_ROW) {
		struct store_chunk c;

		store_chunk_init(&c);
		r = store_chunk_decode(&c, store_sql.column_blob(st, 0),
				       (size_t)store_sql.column_bytes(st, 0));
		if (r == -EBADMSG)
			r = -EUCLEAN;
		if (r == 0)
			r = store_chunk_append(out, &c);
		store_chunk_done(&c);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_db_errno(db, rc);
	return r < 0 ? r : store_chunk_sort(out);
}

int store_db_read(sqlite3 *db, int tier, int64_t from, int64_t to, struct store_chunk *out)
{
	sqlite3_stmt *st = NULL;
	int r = prepare_range(db,
			      "SELECT data FROM chunk WHERE tier = ?1 AND t0 >= ?2 AND t0 <= ?3"
			      " AND t1 >= ?4 ORDER BY t0",
			      tier, period_of(tier, from), to, &st);

	if (r == 0) {
		store_sql.bind_int64(st, 4, from);
		r = read_chunks(db, st, out);
	}
	store_sql.finalize(st);
	return r;
}

/* Merges every chunk of one period into one. */
static int merge_period(sqlite3 *db, int tier, int64_t p0, bool closed, unsigned rel)
{
	struct store_chunk all, one;
	sqlite3_stmt *st = NULL;
	int64_t p1 = p0 + store_period_ms[tier];
	int r;

	store_chunk_init(&all);
	store_chunk_init(&one);
	if ((r = prepare_range(db,
			       "SELECT data FROM chunk WHERE tier = ? AND t0 >= ? AND t0 < ?"
			       " ORDER BY t0",
			       tier, p0, p1, &st)) < 0 ||
	    (r = read_chunks(db, st, &all)) < 0 || !all.n)
		goto out;
	/* rows of one minute or hour written twice (a restart) become one */
	if (tier > 0 && (r = store_consolidate(&all, store_step_ms[tier], &one)) < 0)
		goto out;
	store_sql.finalize(st);
	st = NULL;
	if ((r = prepare_range(db, "DELETE FROM chunk WHERE tier = ? AND t0 >= ? AND t0 < ?", tier,
			       p0, p1, &st)) < 0 ||
	    (r = store_db_errno(db, store_sql.step(st))) < 0)
		goto out;
	r = put_rows(db, tier, tier > 0 ? &one : &all, 0, tier > 0 ? one.n : all.n, rel, closed);
out:
	store_sql.finalize(st);
	store_chunk_done(&all);
	store_chunk_done(&one);
	return r;
}

int store_db_compact(sqlite3 *db, int tier, int64_t now, unsigned rel)
{
	int64_t periods[16];
	size_t n = 0;
	sqlite3_stmt *st = NULL;
	int64_t open_p = period_of(tier, now);
	int rc, r;

	/* periods with unmerged chunks: closed ones, and the open one if it
	 * has many */
	r = prepare(db,
		    "SELECT t0 - (t0 % ?1) AS p, count(*) FROM chunk"
		    " WHERE tier = ?2 AND merged = 0 GROUP BY p ORDER BY p",
		    &st);
	if (r < 0)
		return r;
	store_sql.bind_int64(st, 1, store_period_ms[tier]);
	store_sql.bind_int(st, 2, tier);
	while ((rc = store_sql.step(st)) == SQLITE_ROW &&
	       n < sizeof(periods) / sizeof(periods[0])) {
		int64_t p = store_sql.column_int64(st, 0), count = store_sql.column_int64(st, 1);

		if (p < open_p || count > OPEN_MERGE)
			periods[n++] = p;
	}
	r = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_errno(db, rc);
	store_sql.finalize(st);
	for (size_t i = 0; i < n && r == 0; i++)
		r = merge_period(db, tier, periods[i], periods[i] < open_p, rel);
	return r;
}

int store_db_span(sqlite3 *db, int tier, int64_t *ret_oldest, int64_t *ret_newest)
{
	char sql[128];
	int r;

	snprintf(sql, sizeof(sql), "SELECT min(t0) FROM chunk WHERE tier = %d", tier);
	if ((r = query_int(db, sql, ret_oldest)) < 0)
		return r;
	snprintf(sql, sizeof(sql), "SELECT max(t1) FROM chunk WHERE tier = %d", tier);
	return query_int(db, sql, ret_newest);
}

int store_db_meta(sqlite3 *db, const char *key, int64_t *ret)
{
	sqlite3_stmt *st = NULL;
	int rc = store_sql.prepare_v2(db, "SELECT value FROM meta WHERE key = ?", -1, &st, NULL);

	*ret = 0;
	if (rc == SQLITE_OK) {
		store_sql.bind_text(st, 1, key, -1, SQLITE_STATIC);
		if ((rc = store_sql.step(st)) == SQLITE_ROW)
			*ret = store_sql.column_int64(st, 0);
	}
	store_sql.finalize(st);
	return store_db_errno(db, rc);
}

int store_db_set_meta(sqlite3 *db, const char *key, int64_t v)
{
	sqlite3_stmt *st = NULL;
	int rc = store_sql.prepare_v2(db, "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
				      -1, &st, NULL);

	if (rc == SQLITE_OK) {
		store_sql.bind_text(st, 1, key, -1, SQLITE_STATIC);
		store_sql.bind_int64(st, 2, v);
		rc = store_sql.step(st);
	}
	store_sql.finalize(st);
	return store_db_errno(db, rc);
}

int store_db_events_put(sqlite3 *db, const struct store_ev *ev, size_t n)
{
	sqlite3_stmt *st = NULL;
	int rc = store_sql.prepare_v2(db,
				      "INSERT INTO event (t, kind, key, count, detail)"
				      " VALUES (?, ?, ?, ?, ?)",
				      -1, &st, NULL);

	for (size_t i = 0; i < n && rc == SQLITE_OK; i++) {
		store_sql.bind_int64(st, 1, ev[i].t);
		store_sql.bind_text(st, 2, ev[i].kind, -1, SQLITE_STATIC);
		store_sql.bind_text(st, 3, ev[i].key, -1, SQLITE_STATIC);
		store_sql.bind_int64(st, 4, ev[i].count);
		if (ev[i].detail)
			store_sql.bind_text(st, 5, ev[i].detail, -1, SQLITE_STATIC);
		else
			store_sql.bind_null(st, 5);
		if ((rc = store_sql.step(st)) == SQLITE_DONE)
			rc = store_sql.reset(st);
	}
	store_sql.finalize(st);
	return store_db_errno(db, rc);
}

/* The tier to take the oldest chunk from: the first that keeps more than
 * its span, else the finest that has any. -1 when all are empty. */
static int evict_tier(sqlite3 *db, int64_t *ret_t0)
{
	int64_t oldest[STORE_TIERS], newest[STORE_TIERS];
	int any = -1;

	for (int t = 0; t < STORE_TIERS; t++) {
		if (store_db_span(db, t, &oldest[t], &newest[t]) < 0)
			return -1;
		if (newest[t] && newest[t] - oldest[t] > keep_ms[t]) {
			*ret_t0 = oldest[t];
			return t;
		}
		if (newest[t] && any < 0)
			any = t;
	}
	if (any >= 0)
		*ret_t0 = oldest[any];
	return any;
}

int store_db_evict(sqlite3 *db, uint64_t max_bytes, uint64_t *ret_bytes, uint64_t *ret_evicted)
{
	int64_t pages, free_pages, page_size;
	int r;

	for (;;) {
		char sql[160];
		int64_t t0;
		int tier;

		if ((r = query_int(db, "PRAGMA page_count", &pages)) < 0 ||
		    (r = query_int(db, "PRAGMA freelist_count", &free_pages)) < 0 ||
		    (r = query_int(db, "PRAGMA page_size", &page_size)) < 0)
			return r;
		if ((uint64_t)((pages - free_pages) * page_size) <= max_bytes)
			break;
		if ((tier = evict_tier(db, &t0)) < 0)
			break;
		snprintf(sql, sizeof(sql),
			 "DELETE FROM chunk WHERE tier = %d AND t0 = %lld;"
			 " DELETE FROM event WHERE t < (SELECT min(t0) FROM chunk);",
			 tier, (long long)t0);
		if ((r = store_db_exec(db, sql)) < 0)
			return r;
		(*ret_evicted)++;
	}
	/* free pages beyond the bound go back to the file system */
	if ((uint64_t)(pages * page_size) > max_bytes && free_pages > 0) {
		char sql[64];

		snprintf(sql, sizeof(sql), "PRAGMA incremental_vacuum(%lld)",
			 (long long)free_pages);
		if ((r = store_db_exec(db, sql)) < 0)
			return r;
		pages -= free_pages;
	}
	*ret_bytes = (uint64_t)(pages * page_size);
	return 0;
}
