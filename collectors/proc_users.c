/* The `proc` topic's user names: /etc/passwd parsed into a uid table, and
 * kept in step with the proc root's ../etc/passwd. */
#include "proc_users.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "array.h"

/* A passwd file larger than this is not read: no names then. */
#define PROC_PASSWD_MAX (16u << 20)

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

/* The file is relative to the proc root: the same code reads the host's
 * and a fixture tree's. */
void proc_passwd_refresh(struct proc_passwd *pw, int proc_fd, struct procfs_buf *buf)
{
	struct stat st;

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
	proc_users_free(&pw->users);
	pw->loaded = false;
}
