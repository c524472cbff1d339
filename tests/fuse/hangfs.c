/* hangfs: a FUSE filesystem whose statfs never answers, for the fs
 * collector's hang test (tests/unit/test_fs_hang.c). The root directory
 * answers getattr normally, so the mount looks healthy until someone asks
 * for its size; that request is read from the kernel and never replied
 * to, exactly like a hung network or FUSE server. Killing hangfs aborts
 * the connection and releases every waiter.
 *
 *   hangfs -f [-o fsname=hangfs,subtype=hangfs] MOUNTPOINT
 *
 * Each statfs request it swallows is reported as a line "statfs" on
 * stderr. Build: cc hangfs.c $(pkg-config --cflags --libs fuse3). */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#define FUSE_USE_VERSION 34

#include <errno.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void hangfs_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	memset(&st, 0, sizeof(st));
	st.st_ino = FUSE_ROOT_ID;
	st.st_mode = S_IFDIR | 0755;
	st.st_nlink = 2;
	st.st_uid = getuid();
	st.st_gid = getgid();
	fuse_reply_attr(req, &st, 1.0);
}

static void hangfs_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent;
	(void)name;
	fuse_reply_err(req, ENOENT);
}

/* Never replies: the caller waits until hangfs dies. The request is
 * deliberately leaked. */
static void hangfs_statfs(fuse_req_t req, fuse_ino_t ino)
{
	static const char line[] = "statfs\n";

	(void)req;
	(void)ino;
	if (write(STDERR_FILENO, line, sizeof(line) - 1) < 0) {
		/* nothing to do */
	}
}

static const struct fuse_lowlevel_ops hangfs_ops = {
    .lookup = hangfs_lookup,
    .getattr = hangfs_getattr,
    .statfs = hangfs_statfs,
};

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts opts;
	struct fuse_session *se = NULL;
	int r = 1;

	memset(&opts, 0, sizeof(opts));
	if (fuse_parse_cmdline(&args, &opts) != 0)
		goto out;
	if (opts.show_help || !opts.mountpoint) {
		fprintf(stderr, "usage: %s -f [-o fsname=hangfs,subtype=hangfs] MOUNTPOINT\n",
			argv[0]);
		goto out;
	}
	se = fuse_session_new(&args, &hangfs_ops, sizeof(hangfs_ops), NULL);
	if (!se)
		goto out;
	if (fuse_set_signal_handlers(se) != 0)
		goto out;
	if (fuse_session_mount(se, opts.mountpoint) != 0)
		goto out_signals;
	if (fuse_daemonize(opts.foreground) != 0)
		goto out_unmount;
	/* single-threaded: statfs returns at once without a reply, so the
	 * loop keeps answering getattr */
	r = fuse_session_loop(se) != 0;
out_unmount:
	fuse_session_unmount(se);
out_signals:
	fuse_remove_signal_handlers(se);
out:
	if (se)
		fuse_session_destroy(se);
	free(opts.mountpoint);
	fuse_opt_free_args(&args);
	return r;
}
