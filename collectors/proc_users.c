/* The `proc` topic's user names: /etc/passwd parsed into a uid table, and
 * kept in step with the proc root's ../etc/passwd. */
#include "proc_users.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <unistd.h>

#include "array.h"

/* A passwd file larger than this is not read: no names then. */
#define PROC_PASSWD_MAX (16u << 20)
/* What may replace or change passwd in its directory (useradd writes a
 * new file and renames it over), and the ends of the watch. */
#define PROC_PASSWD_EVENTS                                                                         \
	(IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_CLOSE_WRITE | IN_MODIFY |        \
	 IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR)

static int proc_user_cmp(const void *a, const void *b)
{
	const struct proc_user *x = a, *y = b;

	if (x->uid != y->uid)
		return x->uid < y->uid ? -1 : 1;
	/* the first line wins: names point into one text, in line order */
	return x->name < y->name ? -1 : x->name > y->name;
}

/* Splits "name:pw:uid:..." in place; returns false for a line to skip. */
static bool proc_passwd_line(char *line, size_t len, struct proc_user *ret)
{
	char *c1, *c2, *c3;
	uint32_t uid;

	if (len == 0 || line[0] == '+' || line[0] == '-' || line[0] == '#')
		return false;
	c1 = memchr(line, ':', len);
	if (!c1 || c1 == line)
		return false;
	c2 = memchr(c1 + 1, ':', len - (size_t)(c1 + 1 - line));
	if (!c2)
		return false;
	c3 = memchr(c2 + 1, ':', len - (size_t)(c2 + 1 - line));
	if (!c3 || procfs_parse_u32(c2 + 1, (size_t)(c3 - c2 - 1), &uid) < 0)
		return false;
	*c1 = '\0';
	ret->uid = uid;
	ret->name = line;
	return true;
}

int proc_passwd_parse(const char *text, size_t len, struct proc_users *users)
{
	struct proc_users u = {0};
	size_t cap = 0;
	char *p, *end;
	int r = -ENOMEM;

	u.text = malloc(len + 1);
	if (!u.text)
		goto out;
	memcpy(u.text, text, len);
	u.text[len] = '\0';
	for (p = u.text, end = u.text + len; p < end;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t line_len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		struct proc_user pu;

		if (memchr(p, '\0', line_len) == NULL && proc_passwd_line(p, line_len, &pu)) {
			if (ARRAY_GROW(u.v, cap, u.n, 64) < 0)
				goto out;
			u.v[u.n++] = pu;
		}
		p += line_len + 1;
	}
	if (u.n > 1) {
		size_t k = 1;

		qsort(u.v, u.n, sizeof(*u.v), proc_user_cmp);
		for (size_t i = 1; i < u.n; i++) {
			if (u.v[i].uid != u.v[k - 1].uid)
				u.v[k++] = u.v[i];
		}
		u.n = k;
	}
	proc_users_free(users);
	*users = u;
	u = (struct proc_users){0};
	r = 0;
out:
	proc_users_free(&u);
	return r;
}

const char *proc_users_name(const struct proc_users *users, uint32_t uid)
{
	size_t lo = 0, hi = users->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (users->v[mid].uid == uid)
			return users->v[mid].name;
		if (users->v[mid].uid < uid)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void proc_users_free(struct proc_users *users)
{
	if (!users)
		return;
	free(users->v);
	free(users->text);
	*users = (struct proc_users){0};
}

/* Whether a change of the file shows as an event of its directory: not
 * when it is a symlink (its target may be elsewhere) or a mount of its own
 * (a file bind-mounted over it, written through another path), nor when
 * the kernel cannot say the latter (before 5.8). A missing file: one made
 * there shows. */
static bool proc_passwd_in_dir(int proc_fd)
{
	struct statx stx;

	if (statx(proc_fd, "../etc/passwd", AT_SYMLINK_NOFOLLOW, STATX_TYPE, &stx) < 0)
		return errno == ENOENT;
	return !S_ISLNK(stx.stx_mode) && (stx.stx_attributes_mask & STATX_ATTR_MOUNT_ROOT) &&
	       !(stx.stx_attributes & STATX_ATTR_MOUNT_ROOT);
}

int proc_passwd_watch(struct proc_passwd *pw, int proc_fd)
{
	char link[64];
	int dir;

	proc_passwd_unwatch(pw);
	pw->inotify_fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (pw->inotify_fd < 0)
		return -1;
	/* inotify takes a path: the directory's through its fd */
	dir = openat(proc_fd, "../etc", O_PATH | O_DIRECTORY | O_CLOEXEC);
	snprintf(link, sizeof(link), "/proc/self/fd/%d", dir);
	/* looked at once watched: a change after this shows */
	if (dir < 0 || inotify_add_watch(pw->inotify_fd, link, PROC_PASSWD_EVENTS) < 0 ||
	    !proc_passwd_in_dir(proc_fd)) {
		if (dir >= 0)
			close(dir);
		close(pw->inotify_fd);
		return -1;
	}
	close(dir);
	pw->has_watch = pw->watching = true;
	return pw->inotify_fd;
}

void proc_passwd_unwatch(struct proc_passwd *pw)
{
	if (pw->has_watch)
		close(pw->inotify_fd);
	pw->has_watch = pw->watching = false;
}

/* Reads every event of the watch: whether there was one (a lost one
 * counts); one that ends the watch clears pw->watching. */
static bool proc_passwd_drain(struct proc_passwd *pw)
{
	char buf[4096] __attribute__((aligned(__alignof__(struct inotify_event))));
	bool any = false;
	ssize_t n;

	while ((n = read(pw->inotify_fd, buf, sizeof(buf))) > 0) {
		any = true;
		for (ssize_t off = 0; off < n;) {
			const struct inotify_event *ev = (const struct inotify_event *)(buf + off);

			off += (ssize_t)(sizeof(*ev) + ev->len);
			if (ev->mask & (IN_IGNORED | IN_UNMOUNT | IN_DELETE_SELF | IN_MOVE_SELF))
				pw->watching = false;
		}
	}
	return any;
}

/* The file is relative to the proc root: the same code reads the host's
 * and a fixture tree's. */
void proc_passwd_refresh(struct proc_passwd *pw, int proc_fd, struct procfs_buf *buf, bool ready)
{
	bool events = pw->watching && ready && proc_passwd_drain(pw);
	struct stat st;

	if (pw->watching && !events && pw->loaded)
		return; /* nothing changed in its directory */
	if (events && pw->watching && !proc_passwd_in_dir(proc_fd))
		pw->watching = false; /* it became a symlink or a mount */
	if (fstatat(proc_fd, "../etc/passwd", &st, 0) < 0)
		goto fail;
	if (pw->loaded && st.st_dev == pw->st.st_dev && st.st_ino == pw->st.st_ino &&
	    st.st_size == pw->st.st_size && st.st_mtim.tv_sec == pw->st.st_mtim.tv_sec &&
	    st.st_mtim.tv_nsec == pw->st.st_mtim.tv_nsec)
		return;
	if (procfs_read(proc_fd, "../etc/passwd", buf, PROC_PASSWD_MAX) < 0 ||
	    proc_passwd_parse(buf->data, buf->len, &pw->users) < 0)
		goto fail;
	pw->st = st;
	pw->loaded = true;
	pw->gen++;
	return;
fail:
	if (pw->loaded || pw->users.n > 0)
		pw->gen++;
	proc_users_free(&pw->users);
	pw->loaded = false;
}

const char *proc_passwd_name(const struct proc_passwd *pw, uint32_t uid)
{
	return pw->loaded ? proc_users_name(&pw->users, uid) : NULL;
}

void proc_passwd_free(struct proc_passwd *pw)
{
	if (!pw)
		return;
	proc_passwd_unwatch(pw);
	proc_users_free(&pw->users);
	pw->loaded = false;
}
