/* /proc/mdstat parsed: each md array's state, level, members, the [n/m]
 * count of its disks and the progress of a resync, recovery, reshape or
 * check, as drivers/md/md.c (md_seq_show, status_resync) prints them.
 * Pure: bytes in, struct out. */
#ifndef SYSFEED_HEALTH_MD_H
#define SYSFEED_HEALTH_MD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MD_NAME_MAX 32

struct md_array {
	char name[MD_NAME_MAX]; /* md0, md127, md_d0 */
	bool active;            /* "active" (else "inactive") */
	bool read_only;         /* "(read-only)" or "(auto-read-only)" */
	char level[16];         /* raid1, raid5, linear, ...; "" for an inactive array */
	unsigned members;       /* member devices listed */
	unsigned failed;        /* members marked (F) */
	unsigned spares;        /* members marked (S) */
	bool has_disks;         /* the status line has "[n/m]" (not raid0, linear) */
	unsigned disks;         /* n: devices the array should have */
	unsigned disks_up;      /* m: devices working */
	char sync_action[12];   /* resync, recovery, reshape, check, repair; "" for none */
	bool sync_running;      /* a progress line; false for =DELAYED, =PENDING */
	unsigned sync_permille; /* done, in tenths of a percent */
	uint64_t sync_done_kb, sync_total_kb; /* 1 KiB blocks */
	uint64_t finish_ds;                   /* estimated time left, tenths of a minute */
	uint64_t speed_kbs;                   /* KiB/s */
};

/* Zero-initialise, reuse across parses, release with md_stat_free(). */
struct md_stat {
	struct md_array *v;
	size_t n, cap;
};

/* Parses /proc/mdstat. Lines of an array that it does not know (bitmap:,
 * new kernels' additions) are skipped; a malformed header, [n/m] or
 * progress line is an error. Returns 0, -EINVAL, -ERANGE or -ENOMEM; on
 * error st->n is 0. */
int md_stat_parse(const char *text, size_t len, struct md_stat *st);
void md_stat_free(struct md_stat *st);

#endif
