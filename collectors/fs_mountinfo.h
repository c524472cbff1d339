/* /proc/<pid>/mountinfo parsed: the mounts of a mount namespace with their
 * ids, devices, roots, mount points, types, sources and read-only state.
 * Pure: bytes in, struct out. The `fs` topic lists filesystems from it;
 * `host` looks at the root mount. */
#ifndef SYSFEED_FS_MOUNTINFO_H
#define SYSFEED_FS_MOUNTINFO_H

#include <stdbool.h>
#include <stddef.h>

/* One line of mountinfo. The strings are unescaped (\040 is a space) and
 * point into the fs_mountinfo's arena. */
struct fs_mount {
	unsigned mount_id; /* field 1 */
	unsigned major;    /* field 3, "major:minor" of st_dev */
	unsigned minor;
	const char *root;        /* field 4: the mount's root inside its filesystem */
	const char *mount_point; /* field 5 */
	const char *fstype;      /* after " - ": "type[.subtype]" */
	const char *source;      /* after the type: device or "none"; may be "" */
	bool read_only;          /* "ro" in the mount or the super block options */
	bool mount_ro;           /* "ro" in the mount options (field 6) */
	bool super_ro;           /* "ro" in the super block options (the last field) */
};

/* One parse of mountinfo. Zero-initialise, reuse across parses, release
 * with fs_mountinfo_free(). */
struct fs_mountinfo {
	struct fs_mount *v;
	size_t n;
	size_t cap;
	char *arena; /* the unescaped strings */
	size_t arena_cap;
};

/* Parses the text of /proc/<pid>/mountinfo (Documentation/filesystems/
 * proc.rst, 3.5): fields separated by one space, optional fields up to a
 * lone "-", then exactly type, source and super options. Octal escapes
 * \ooo are decoded; any other backslash, a decoded NUL, a missing field or
 * a line without '\n' is an error. Returns 0, -EINVAL, -ERANGE or -ENOMEM;
 * on error mi->n is 0. */
int fs_mountinfo_parse(const char *text, size_t len, struct fs_mountinfo *mi);
void fs_mountinfo_free(struct fs_mountinfo *mi);

#endif
