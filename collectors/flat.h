/* The runtime of a flat collector (mem, load, psi, net, disk): a few proc
 * files read at every tick through one procfs_set, each parsed into its
 * part of one reading; the payload is built from this reading and the last
 * good one, the families from the last good one. A collector describes
 * itself in a struct flat_desc and shares init, sample, metrics and fini. */
#ifndef SYSFEED_FLAT_H
#define SYSFEED_FLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collector.h"
#include "procfs.h"

struct flat;

enum flat_need {
	FLAT_NEEDED,
	FLAT_IF_PRESENT,
	FLAT_IF_READABLE,
};

/* One file of a flat collector, under the proc root. */
struct flat_file {
	const char *path;
	size_t max; /* the most bytes it may hold */
	/* Parses the file's text into its part of reading; index is the
	 * file's in flat_desc.files. Returns 0 or -errno. */
	int (*parse)(const char *text, size_t len, void *reading, size_t index);
	/* Whether it may be left out: when it cannot be read at init
	 * (FLAT_IF_READABLE) or is missing then (FLAT_IF_PRESENT), it is not
	 * read again and its part of the readings stays zero. Otherwise a
	 * failure turns the topic off at init and skips the tick later. */
	enum flat_need need;
	/* Its records' most bytes, when it is a seq_file of short lines
	 * (struct procfs_file's record_max), or 0. */
	unsigned record_max;
	/* Fills the file's part of reading from elsewhere when that says the
	 * same (a clock the file shows, on the live proc): returns true, and
	 * the file is not read; false: it is read. May be NULL. */
	bool (*instead)(struct flat *f, const struct collector_env *env, void *reading);
	/* Read through env->read_shared when the daemon offers it (another
	 * collector reads it at every tick too), at most 4 KiB. */
	bool shared;
};

struct flat_desc {
	const struct flat_file *files;
	size_t n_files;      /* at most PROCFS_SET_MAX */
	size_t reading_size; /* the struct the files are parsed into */
	size_t own_size;     /* the collector's own state (f->own), zeroed, or 0 */
	/* After a tick's good read, before the payload: what the proc files
	 * do not hold (sysfs) into f->cur. May be NULL. */
	void (*prepare)(struct flat *f, const struct collector_env *env,
			const struct collector_tick *tick);
	/* The payload of f->cur; prev is the last good reading, NULL on the
	 * first tick. Returns 0 or -ENOMEM. */
	int (*payload)(const struct flat *f, const void *prev, const struct collector_tick *tick,
		       cJSON **ret_payload);
	/* The families of the last good reading, f->prev. */
	int (*metrics)(const struct flat *f, struct metrics *m);
	/* Empties a reading for the next read, keeping its allocations: after
	 * init's read and after each tick. May be NULL. */
	void (*reset)(void *reading);
	/* Frees what a reading and f->own hold. May be NULL. */
	void (*reading_free)(void *reading);
	void (*own_free)(void *own);
	/* The one-line reason of an init that could not read or parse, in
	 * place of procfs_set_reason()'s. May be NULL. */
	void (*reason)(const struct flat *f, const struct collector_env *env, int err, char *reason,
		       size_t reason_len);
};

/* A flat collector's state. */
struct flat {
	const struct flat_desc *d;
	const void *settings; /* as init had them */
	struct procfs_set files;
	bool watched[PROCFS_SET_MAX]; /* the files read at each tick */
	void *cur;                    /* this tick's reading; scratch between ticks */
	void *prev;                   /* the last good reading (valid when have_prev) */
	uint64_t prev_ns;             /* when prev was read (CLOCK_MONOTONIC) */
	bool have_prev;
	void *own;
};

/* The collector's init: reads and parses every file once, so that a
 * missing or foreign file turns the topic off now (optional ones aside).
 * The reading is not kept: the rates start at the second tick. */
int flat_init(const struct flat_desc *d, const struct collector_env *env, const void *settings,
	      void **ret_state, char *reason, size_t reason_len);

/* The members of struct collector that every flat collector shares. */
int flat_sample(void *state, const struct collector_env *env, const struct collector_tick *tick,
		cJSON **ret_payload);
int flat_metrics(void *state, struct metrics *m);
void flat_fini(void *state);

/* Defines prefix_collector over the struct flat_desc prefix_flat, with its
 * own members (name, settings, history, fields) given after the prefix. */
#define FLAT_COLLECTOR(prefix, ...)                                                                \
	static int prefix##_init(const struct collector_env *env, const void *settings,            \
				 void **ret_state, char *reason, size_t reason_len)                \
	{                                                                                          \
		return flat_init(&prefix##_flat, env, settings, ret_state, reason, reason_len);    \
	}                                                                                          \
	const struct collector prefix##_collector = {__VA_ARGS__, .init = prefix##_init,           \
						     .sample = flat_sample,                        \
						     .metrics = flat_metrics, .fini = flat_fini}

#endif
