/* A statfs worker process of the `fs` topic: what runs in the fork, with
 * async-signal-safe calls only, and the statfs function it calls. */
#include "fs_child.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "clock.h"

/* Runs in the worker: statfs(2) rather than statvfs(3), which may read
 * /proc/mounts with stdio on old kernels. */
static int fs_statfs_default(const char *path, struct fs_usage *ret)
{
	struct statfs sf;

	if (statfs(path, &sf) < 0)
		return -errno;
	ret->blocks = (uint64_t)sf.f_blocks;
	ret->bfree = (uint64_t)sf.f_bfree;
	ret->bavail = (uint64_t)sf.f_bavail;
	ret->frsize = (uint64_t)(sf.f_frsize ? sf.f_frsize : sf.f_bsize);
	ret->files = (uint64_t)sf.f_files;
	ret->ffree = (uint64_t)sf.f_ffree;
	return 0;
}

static fs_statfs_fn fs_statfs_current = fs_statfs_default;

void fs_set_statfs(fs_statfs_fn fn)
{
	fs_statfs_current = fn ? fn : fs_statfs_default;
}

fs_statfs_fn fs_child_statfs(void)
{
	return fs_statfs_current;
}

/* Closes [first, last]: close_range() where the kernel has it (5.9),
 * otherwise one close() per possible fd below RLIMIT_NOFILE (at most
 * fs.nr_open's default, 2^20). */
static void fs_close_fds(unsigned first, unsigned last)
{
	unsigned limit = 1u << 20;
	struct rlimit rl;

	if (first > last || close_range(first, last, 0) == 0)
		return;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < limit)
		limit = (unsigned)rl.rlim_cur;
	for (unsigned fd = first; fd <= last && fd < limit; fd++)
		close((int)fd);
}

/* The requests as they come: one read takes all the pipe holds (a
 * tick's round is one write), where reading each request's header and
 * path on its own took two reads a mount. */
struct fs_inbuf {
	char data[PIPE_BUF];
	size_t off, len;
};

/* Takes exactly len bytes from the pipe through b; 0, or -1 on EOF or
 * error. */
static int fs_take(int fd, struct fs_inbuf *b, void *p, size_t len)
{
	char *c = p;

	while (len > 0) {
		size_t k;

		if (b->off == b->len) {
			ssize_t n = read(fd, b->data, sizeof(b->data));

			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return -1;
			b->off = 0;
			b->len = (size_t)n;
		}
		k = b->len - b->off < len ? b->len - b->off : len;
		memcpy(c, b->data + b->off, k);
		b->off += k;
		c += k;
		len -= k;
	}
	return 0;
}

/* The worker's life, in a fork of a multi-threaded process: it keeps only
 * its two pipe ends (no listening socket, no log stream stays open in a
 * stuck worker) and calls nothing but read, write, the statfs function,
 * clock_gettime and _exit: no allocation, no lock, no stdio. It ends when
 * the request pipe closes or the answer pipe breaks. */
_Noreturn void fs_child_run(int req_fd, int res_fd, fs_statfs_fn fn)
{
	char path[FS_PATH_MAX + 1];
	struct fs_inbuf in = {.off = 0, .len = 0};
	unsigned lo = (unsigned)(req_fd < res_fd ? req_fd : res_fd);
	unsigned hi = (unsigned)(req_fd < res_fd ? res_fd : req_fd);

	if (lo > 0)
		fs_close_fds(0, lo - 1);
	fs_close_fds(lo + 1, hi - 1);
	fs_close_fds(hi + 1, ~0u);
	prctl(PR_SET_NAME, "sysfeed-statfs", 0, 0, 0);
	for (;;) {
		struct fs_request req;
		struct fs_answer ans;
		int r;

		if (fs_take(req_fd, &in, &req, sizeof(req)) < 0 || req.len > FS_PATH_MAX ||
		    fs_take(req_fd, &in, path, req.len) < 0)
			_exit(0);
		path[req.len] = '\0';
		memset(&ans, 0, sizeof(ans));
		ans.key = req.key;
		r = fn(path, &ans.usage);
		ans.err = r < 0 ? -r : 0;
		ans.end_ns = clock_mono_ns();
		if (write(res_fd, &ans, sizeof(ans)) != (ssize_t)sizeof(ans))
			_exit(0);
	}
}
