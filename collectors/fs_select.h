/* Which mounts the `fs` topic shows: real filesystems under the built-in
 * rules (no pseudo filesystems, no container internals, tmpfs only where
 * people keep files) or the `fs-types` and `mounts` lists, each mount
 * point once and each filesystem once. */
#ifndef SYSFEED_FS_SELECT_H
#define SYSFEED_FS_SELECT_H

#include <stdbool.h>
#include <stddef.h>

#include "fs_mountinfo.h"

struct fs_settings;

/* Whether the type is one of the built-in pseudo filesystems (proc, sysfs,
 * cgroup, ...), which have no space to report. */
bool fs_type_is_pseudo(const char *fstype);
/* Whether fstype's statfs() answers from memory (ext4, xfs, btrfs, tmpfs,
 * ...): safe to call on the loop thread. */
bool fs_type_is_local(const char *fstype);

/* Whether a mount is shown under the built-in rules and the `fs-types` and
 * `mounts` lists of cfg (NULL: no lists). See readme-fs.md. */
bool fs_mount_wanted(const struct fs_settings *set, const struct fs_mount *m);

/* Picks the mounts to show, in file order, as indexes into mi->v (ret_idx
 * holds mi->n entries): those fs_mount_wanted() keeps, without the ones
 * another mount hides (a later mount on the same mount point) and counting
 * bind mounts once (same major:minor and root: the shortest mount point
 * stays, the first one on a tie). Returns how many. */
size_t fs_select(const struct fs_mountinfo *mi, const struct fs_settings *set, size_t *ret_idx);

#endif
