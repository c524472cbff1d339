/* The `log` topic's reader of the systemd journal through sd-journal: the
 * system's journal or journal-dir, followed through its active files only
 * (the archived ones stay closed, their pages unmapped), reopened at the
 * last cursor when journald rotates or restarts (an inotify watch on the
 * journal directories tells), read forward one entry at a time and, at
 * start, backwards for the backlog. Entries come out filtered (log-priority,
 * log-units, log-match), in `raw`. */
#ifndef SYSFEED_JOURNAL_READER_H
#define SYSFEED_JOURNAL_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <systemd/sd-journal.h>

#include "journal_entry.h"
#include "procfs.h"

struct journal_settings;

struct journal_reader {
	sd_journal *j;
	int jfd;    /* j's fd, in epfd under tag once watched */
	int events; /* the poll events sd-journal wants on it */
	int epfd;   /* the collector's epoll set (not owned), or -1 */
	uint32_t tag;
	int dirs_fd;      /* inotify on the journal directories: new active files */
	bool following;   /* j holds the active files only */
	bool skip_cursor; /* the next entry may be the one at `cursor`, read already */
	bool moved;       /* next() moved since the cursor was last kept */
	/* entries read since the pages were last given back (a reopen counts
	 * as JOURNAL_RELEASE_ENTRIES), and ticks since then */
	unsigned touched, release_ticks;
	struct procfs_buf maps; /* /proc/self/maps, read to find the windows */
	char *cursor;           /* of the newest entry read, for reopening */
	unsigned read_since_open;
	const struct journal_settings *set;
	struct journal_raw raw; /* the entry next() stopped on */
};

/* Opens every file of the journal (journal-dir, or the system's: a host
 * without /run/log/journal nor /var/log/journal has none). Returns 0, or
 * -errno with a one-line reason. */
int journal_reader_open(struct journal_reader *rd, const struct journal_settings *set, char *reason,
			size_t reason_len);
/* Adds the journal's fd to epfd under tag (and again at each reopen), and
 * an inotify fd on the journal directories under dirs_tag. Returns 0 or
 * -errno. */
int journal_reader_watch(struct journal_reader *rd, int epfd, uint32_t tag, uint32_t dirs_tag);
void journal_reader_close(struct journal_reader *rd);

/* The newest entries that pass the filters, at most cap of them and about
 * log-backlog-bytes, encoded, newest first, in a malloc'd array (NULL when
 * cap is 0) of *ret_n; following then starts after the newest entry of the
 * journal. Returns 0 or -errno. */
int journal_reader_tail(struct journal_reader *rd, unsigned cap, char ***ret_found,
			unsigned *ret_n);

/* Reopens the journal after the entry last read: the follower (active
 * files), or with `all` every file; on failure the old handle stays.
 * Returns 0 or -errno. */
int journal_reader_reopen(struct journal_reader *rd, bool all);

/* Moves to the next entry. Returns 1 when there was one (*ret_pass: it was
 * not read before a reopen and passes the filters; then it is in rd->raw),
 * 0 at the end, or -errno. */
int journal_reader_next(struct journal_reader *rd, bool *ret_pass);
/* After a run of next(): keeps the position for the next reopen. */
void journal_reader_keep_cursor(struct journal_reader *rd);
/* Called at each tick: gives back the pages of the journal files that
 * reading or a reopen put into the process's page tables: sd-journal
 * keeps the windows it read mapped, and every page it touched counts in
 * the RSS until the window goes (about 1 MB on a busy host; a reopen alone
 * walks the file's entry-array chain, 0.8 MB of a 16 MB file). They stay
 * in the page cache: sd-journal faults in again only what it reads next.
 * At once after JOURNAL_RELEASE_ENTRIES entries or a reopen; a trickle's
 * few pages wait JOURNAL_RELEASE_TICKS ticks (finding the windows in
 * /proc/self/maps, and the faults after, cost more than a tick of a
 * quiet daemon when done at each). */
#define JOURNAL_RELEASE_ENTRIES 64
#define JOURNAL_RELEASE_TICKS   8
void journal_reader_release(struct journal_reader *rd);
/* The current entry (read and filtered) as encoded JSON, its cursor
 * included; NULL when out of memory. */
char *journal_reader_encode(struct journal_reader *rd);

/* The journal's fd was readable: sd_journal_process(). Rotation, vacuum
 * and a restarted journald come back as SD_JOURNAL_INVALIDATE: the files
 * changed, the position holds, so reading on is all there is to do. */
void journal_reader_process(struct journal_reader *rd);
/* Whether the directories saw an active file appear (journald rotated or
 * restarted): then the follower is to be reopened. Drains the inotify fd. */
bool journal_reader_dirs_changed(struct journal_reader *rd);
/* When sd-journal asks to be woken (network file systems): CLOCK_MONOTONIC
 * µs, or 0 for never. */
uint64_t journal_reader_timeout(struct journal_reader *rd);

#endif
