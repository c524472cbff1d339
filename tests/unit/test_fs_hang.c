/* The fs collector against real hung mounts: tests/fuse/hangfs (built as
 * <this binary's directory>/hangfs, or $SYSFEED_HANGFS) is mounted on two
 * temporary directories and never answers statfs; a request it has read
 * waits uninterruptibly. The collector is driven directly, as the daemon
 * does it (init, sample every 100 ms on the real clock, fini), and must:
 * mark each hung mount "responding": false once its call is older than
 * fs_timeout_ms; never block a tick; keep reading every other mount each
 * tick (a tmpfs written to between ticks shows the new usage); ask a hung
 * mount once, not once per tick; run no thread; keep one stuck worker
 * process per hung mount, reap it once its call returns (hangfs killed: the
 * mount answers "Transport endpoint is not connected" and responds again),
 * leave no zombie; and return from fini at once with a worker still stuck.
 *
 * As root the test runs in a private mount namespace, so no other process
 * on the machine ever sees the hung mounts, and it mounts the tmpfs there.
 * Skipped only when /dev/fuse is missing. alarm() bounds the whole run: on
 * expiry hangfs is killed (which releases every waiter), the mounts are
 * detached and the test fails. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "fs.h"
#include "fs_select.h"
#include "procfs.h"
#include "fixture.h"

#define TIMEOUT_MS  300
#define INTERVAL_MS 100
#define TICKS       20
#define MS          UINT64_C(1000000)
#define N_HANG      2
/* the collector asks a hung mount again after 10 timeouts */
#define RETRY_MS (10 * TIMEOUT_MS)

static pid_t hang_pid[N_HANG] = {-1, -1};
static int hang_err[N_HANG] = {-1, -1}; /* hangfs's stderr */
static char hang_mnt[N_HANG][64];
static char fresh_mnt[64];
static bool private_ns;

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Detaches a FUSE mount: umount2 as root, fusermount3 -u -z otherwise.
 * Async-signal-safe. */
static void detach_fuse(const char *mnt)
{
	pid_t pid;

	if (!mnt[0])
		return;
	if (umount2(mnt, MNT_DETACH) == 0 || private_ns)
		return;
	pid = fork();
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", mnt, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

static void on_alarm(int sig)
{
	static const char msg[] = "test_fs_hang: timed out; killing hangfs\n";

	(void)sig;
	if (write(STDERR_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* nothing to do */
	}
	for (int i = 0; i < N_HANG; i++) {
		if (hang_pid[i] > 0)
			kill(hang_pid[i], SIGKILL);
	}
	for (int i = 0; i < N_HANG; i++)
		detach_fuse(hang_mnt[i]);
	_exit(1);
}

static void kill_hangfs(int i)
{
	if (hang_pid[i] > 0) {
		kill(hang_pid[i], SIGKILL);
		waitpid(hang_pid[i], NULL, 0);
		hang_pid[i] = -1;
	}
}

/* Runs after the test, passed or failed, and at exit: hangfs dies first,
 * which releases the stuck workers. */
static void cleanup(void)
{
	for (int i = 0; i < N_HANG; i++)
		kill_hangfs(i);
	for (int i = 0; i < N_HANG; i++) {
		detach_fuse(hang_mnt[i]);
		if (hang_mnt[i][0])
			rmdir(hang_mnt[i]);
		hang_mnt[i][0] = '\0';
		if (hang_err[i] >= 0)
			close(hang_err[i]);
		hang_err[i] = -1;
	}
	if (fresh_mnt[0]) {
		umount2(fresh_mnt, MNT_DETACH);
		rmdir(fresh_mnt);
		fresh_mnt[0] = '\0';
	}
}

static int teardown(void **state)
{
	cleanup();
	return 0;
}

/* --- statfs, counted per path ---
 *
 * The calls run in the collector's worker processes: the counters live in
 * a MAP_SHARED mapping, one entry per path the test watches (set before
 * init), counted with atomics. */

struct call {
	char path[96];
	unsigned n;
	uint64_t first_ns;
};

enum { C_ROOT, C_FRESH, C_HANG0, C_HANG1, C_N };

static struct call *calls;

static int counting_statfs(const char *path, struct fs_usage *ret)
{
	struct statfs sf;

	for (int i = 0; i < C_N; i++) {
		uint64_t zero = 0, t = now_ns();

		if (!calls[i].path[0] || strcmp(calls[i].path, path) != 0)
			continue;
		__atomic_compare_exchange_n(&calls[i].first_ns, &zero, t, false, __ATOMIC_SEQ_CST,
					    __ATOMIC_SEQ_CST);
		__atomic_add_fetch(&calls[i].n, 1, __ATOMIC_SEQ_CST);
	}
	if (statfs(path, &sf) < 0)
		return -errno;
	ret->blocks = (uint64_t)sf.f_blocks;
	ret->bfree = (uint64_t)sf.f_bfree;
	ret->bavail = (uint64_t)sf.f_bavail;
	ret->frsize = (uint64_t)sf.f_frsize;
	ret->files = (uint64_t)sf.f_files;
	ret->ffree = (uint64_t)sf.f_ffree;
	return 0;
}

static struct call get_call(int i)
{
	struct call c;

	c.n = __atomic_load_n(&calls[i].n, __ATOMIC_SEQ_CST);
	c.first_ns = __atomic_load_n(&calls[i].first_ns, __ATOMIC_SEQ_CST);
	return c;
}

/* --- helpers --- */

static const cJSON *find_mount(const cJSON *payload, const char *mount)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(payload, "filesystems"), *fs;

	cJSON_ArrayForEach(fs, arr)
	{
		const cJSON *m = cJSON_GetObjectItemCaseSensitive(fs, "mount");

		if (cJSON_IsString(m) && strcmp(m->valuestring, mount) == 0)
			return fs;
	}
	return NULL;
}

static bool mounted(const char *mnt, const char *fstype)
{
	struct procfs_buf buf = {0};
	char needle[160];
	bool found;

	snprintf(needle, sizeof(needle), " %s ", mnt);
	if (procfs_read(AT_FDCWD, "/proc/self/mountinfo", &buf, 16 << 20) < 0)
		return false;
	found = strstr(buf.data, needle) && strstr(buf.data, fstype);
	procfs_buf_free(&buf);
	return found;
}

static void hangfs_path(char *path, size_t len)
{
	const char *env = getenv("SYSFEED_HANGFS");
	char self[PATH_MAX];
	ssize_t n;

	if (env && *env) {
		snprintf(path, len, "%s", env);
		return;
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	assert_true(n > 0);
	self[n] = '\0';
	snprintf(path, len, "%s/hangfs", dirname(self));
}

static void write_file(const char *dir, const char *name, size_t bytes)
{
	char path[160], block[4096];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	memset(block, 'x', sizeof(block));
	for (size_t done = 0; done < bytes; done += sizeof(block))
		assert_int_equal(write(fd, block, sizeof(block)), (ssize_t)sizeof(block));
	close(fd);
}

/* Threads of this process, from /proc/self/status. */
static unsigned thread_count(void)
{
	struct procfs_buf buf = {0};
	const char *p;
	unsigned n = 0;

	if (procfs_read(AT_FDCWD, "/proc/self/status", &buf, 1 << 20) < 0)
		return 0;
	p = strstr(buf.data, "\nThreads:");
	if (p)
		n = (unsigned)strtoul(p + 9, NULL, 10);
	procfs_buf_free(&buf);
	return n;
}

/* Children of this process other than hangfs: how many, how many are
 * zombies, how many wait uninterruptibly (D). */
static unsigned workers(unsigned *ret_zombies, unsigned *ret_d)
{
	return children_of_us(hang_pid, N_HANG, ret_zombies, ret_d);
}

/* Lines "statfs" hangfs i wrote so far: requests the kernel delivered. */
static unsigned statfs_lines(int i)
{
	static unsigned seen[N_HANG];
	char line[4096];
	ssize_t n;

	while ((n = read(hang_err[i], line, sizeof(line))) > 0) {
		for (ssize_t k = 0; k + 6 <= n; k++)
			seen[i] += memcmp(line + k, "statfs", 6) == 0;
	}
	return seen[i];
}

static void start_hangfs(int i, const char *hangfs)
{
	int errpipe[2];
	uint64_t t0;

	strcpy(hang_mnt[i], "/tmp/sysfeed-hang-XXXXXX");
	assert_non_null(mkdtemp(hang_mnt[i]));
	assert_int_equal(pipe2(errpipe, O_CLOEXEC), 0);
	hang_pid[i] = fork();
	assert_true(hang_pid[i] >= 0);
	if (hang_pid[i] == 0) {
		dup2(errpipe[1], STDERR_FILENO);
		execl(hangfs, "hangfs", "-f", "-o", "fsname=hangfs,subtype=hangfs", hang_mnt[i],
		      (char *)NULL);
		_exit(127);
	}
	close(errpipe[1]);
	hang_err[i] = errpipe[0];
	assert_int_equal(fcntl(hang_err[i], F_SETFL, O_NONBLOCK), 0);
	t0 = now_ns();
	while (!mounted(hang_mnt[i], " fuse.hangfs ")) {
		assert_true(now_ns() - t0 < 5000 * MS);
		assert_int_equal(waitpid(hang_pid[i], NULL, WNOHANG), 0); /* hangfs died */
		usleep(10000);
	}
}

static cJSON *tick_now(void *st, struct collector_env *env, uint64_t *ret_start, uint64_t *ret_end)
{
	struct collector_tick tick;
	struct timespec ts;
	uint64_t start, end;
	cJSON *p = NULL;

	clock_gettime(CLOCK_REALTIME, &ts);
	tick.t_ms = (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
	tick.mono_ns = now_ns();
	start = now_ns();
	assert_int_equal(fs_collector.sample(st, env, &tick, &p), 0);
	end = now_ns();
	/* sampling never blocks, and publishes every tick */
	assert_true(end - start < 50 * MS);
	assert_non_null(p);
	if (ret_start)
		*ret_start = start;
	if (ret_end)
		*ret_end = end;
	return p;
}

static bool responding(const cJSON *fs)
{
	return cJSON_IsTrue(cJSON_GetObjectItem(fs, "responding"));
}

TEST_WITH(test_hung_mount, NULL, teardown)
{
	struct config cfg;
	struct collector_env env = {.sys_fd = -1};
	char hangfs[PATH_MAX], reason[256] = "";
	void *st = NULL;
	uint64_t t0, all_false_ns = 0, last_root_n = 0;
	unsigned zombies, dstate;
	bool fresh_seen = false, remote = false;
	cJSON *p;

	if (access("/dev/fuse", F_OK) != 0)
		skip();
	hangfs_path(hangfs, sizeof(hangfs));
	if (access(hangfs, X_OK) != 0)
		fail_msg("%s: %s (build it from tests/fuse/hangfs.c, or set SYSFEED_HANGFS)",
			 hangfs, strerror(errno));
	calls = mmap(NULL, C_N * sizeof(*calls), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		     -1, 0);
	assert_true(calls != MAP_FAILED);

	if (geteuid() == 0) {
		assert_int_equal(unshare(CLONE_NEWNS), 0);
		assert_int_equal(mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL), 0);
		private_ns = true;
		strcpy(fresh_mnt, "/tmp/sysfeed-fresh-XXXXXX");
		assert_non_null(mkdtemp(fresh_mnt));
		assert_int_equal(mount("sysfeed-fresh", fresh_mnt, "tmpfs", 0, "size=64m"), 0);
		snprintf(calls[C_FRESH].path, sizeof(calls[C_FRESH].path), "%s", fresh_mnt);
	}
	for (int i = 0; i < N_HANG; i++) {
		start_hangfs(i, hangfs);
		snprintf(calls[C_HANG0 + i].path, sizeof(calls[0].path), "%s", hang_mnt[i]);
	}
	strcpy(calls[C_ROOT].path, "/");

	config_defaults(&cfg);
	COLSET(&cfg, fs)->timeout_ms = TIMEOUT_MS;
	env.proc_fd = open("/proc", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	assert_true(env.proc_fd >= 0);
	fs_set_statfs(counting_statfs);

	/* init waits for the first round at most fs_timeout_ms */
	t0 = now_ns();
	assert_int_equal(fs_collector.init(&env, cfg.col[collector_topic(fs_collector.name)], &st,
					   reason, sizeof(reason)),
			 0);
	assert_true(now_ns() - t0 < (TIMEOUT_MS + 200) * MS);

	/* phase 1: both hang, one after the other */
	for (int i = 0; i < TICKS; i++) {
		struct call root;
		const cJSON *f, *r;
		bool all_false = true;
		uint64_t start, end;

		usleep(INTERVAL_MS * 1000);
		/* the round the last tick asked for is done by now */
		root = get_call(C_ROOT);
		p = tick_now(st, &env, &start, &end);

		for (int k = 0; k < N_HANG; k++) {
			struct call hang = get_call(C_HANG0 + k);
			const cJSON *h = find_mount(p, hang_mnt[k]);

			assert_non_null(h);
			assert_string_equal(cJSON_GetObjectItem(h, "fstype")->valuestring,
					    "fuse.hangfs");
			assert_true(hang.n <= 1); /* one call, stuck, never repeated */
			assert_true(cJSON_IsNull(cJSON_GetObjectItem(h, "size")));
			assert_true(cJSON_IsNull(cJSON_GetObjectItem(h, "error")));
			/* the collector's clock is read between start and end, and
			 * counts from when the call was asked (a few ms before it
			 * began, at most) */
			if (!hang.n || end + 10 * MS < hang.first_ns + TIMEOUT_MS * MS)
				assert_true(responding(h));
			else if (start > hang.first_ns + (TIMEOUT_MS + 5) * MS)
				assert_false(responding(h));
			all_false = all_false && !responding(h);
		}
		/* the others keep being read every tick once the stuck workers
		 * were replaced */
		r = find_mount(p, "/");
		assert_non_null(r);
		assert_true(responding(r));
		if (all_false_ns && all_false_ns < start) {
			assert_true(root.n > last_root_n);
			assert_true(cJSON_IsNumber(cJSON_GetObjectItem(r, "size")));
			assert_int_equal(fs_stuck_workers(st), N_HANG);
		}
		if (all_false && !all_false_ns)
			all_false_ns = start;
		last_root_n = root.n;
		/* a main worker only for the mounts whose statfs is not local
		 * (on the loop thread): the hung ones have stuck workers */
		cJSON_ArrayForEach(f, cJSON_GetObjectItem(p, "filesystems"))
		{
			const char *mnt = cJSON_GetObjectItem(f, "mount")->valuestring;

			remote = remote ||
				 (strcmp(mnt, hang_mnt[0]) != 0 && strcmp(mnt, hang_mnt[1]) != 0 &&
				  !fs_type_is_local(cJSON_GetObjectItem(f, "fstype")->valuestring));
		}

		if (private_ns) {
			f = find_mount(p, fresh_mnt);
			assert_non_null(f);
			assert_true(responding(f));
			if (i == 12)
				write_file(fresh_mnt, "data", 8u << 20);
			/* the round after the write lands in the tick after it */
			if (i >= 14 && cJSON_GetObjectItem(f, "used")->valuedouble >= 8u << 20)
				fresh_seen = true;
		}
		cJSON_Delete(p);
	}
	assert_true(all_false_ns != 0);
	if (private_ns)
		assert_true(fresh_seen);
	/* no thread; the worker (when a mount needs one) and one stuck worker
	 * per hung mount, waiting uninterruptibly; no zombie */
	assert_int_equal(thread_count(), 1);
	assert_int_equal(workers(&zombies, &dstate), (remote ? 1 : 0) + N_HANG);
	assert_int_equal(zombies, 0);
	assert_int_equal(dstate, N_HANG);
	for (int k = 0; k < N_HANG; k++)
		assert_int_equal(statfs_lines(k), 1); /* the kernel delivered one request */

	/* phase 2: hangfs 1 dies, which aborts its connection: its stuck
	 * worker ends and is reaped; the mount is asked again (after 10
	 * timeouts) and answers ENOTCONN: it responds, with an error */
	kill_hangfs(1);
	t0 = now_ns();
	for (int i = 0;; i++) {
		const cJSON *h1, *h0;
		const char *err;
		bool done;

		assert_true(now_ns() - t0 < (RETRY_MS + 3000) * MS);
		usleep(INTERVAL_MS * 1000);
		p = tick_now(st, &env, NULL, NULL);
		h0 = find_mount(p, hang_mnt[0]);
		h1 = find_mount(p, hang_mnt[1]);
		assert_non_null(h0);
		assert_non_null(h1);
		assert_false(responding(h0));
		assert_true(responding(find_mount(p, "/")));
		err = cJSON_IsString(cJSON_GetObjectItem(h1, "error"))
			  ? cJSON_GetObjectItem(h1, "error")->valuestring
			  : NULL;
		done = responding(h1);
		if (done)
			assert_string_equal(err, "Transport endpoint is not connected");
		cJSON_Delete(p);
		if (now_ns() - t0 > 3 * INTERVAL_MS * MS)
			assert_int_equal(fs_stuck_workers(st), 1);
		if (done)
			break;
	}
	assert_int_equal(get_call(C_HANG0).n, 1);
	/* the stuck call and the probe's; then it is back in the rounds */
	assert_true(get_call(C_HANG1).n >= 2);
	/* two more ticks: the probe that asked is reaped too */
	for (int i = 0; i < 2; i++) {
		usleep(INTERVAL_MS * 1000);
		cJSON_Delete(tick_now(st, &env, NULL, NULL));
	}
	assert_int_equal(workers(&zombies, &dstate), 2);
	assert_int_equal(zombies, 0);
	assert_int_equal(dstate, 1);

	/* phase 3: fini does not wait for the stuck worker */
	t0 = now_ns();
	fs_collector.fini(st);
	assert_true(now_ns() - t0 < 300 * MS);
	assert_int_equal(workers(NULL, &dstate), 1); /* the stuck one, left behind */
	assert_int_equal(dstate, 1);
	assert_int_equal(statfs_lines(0), 1);

	/* phase 4: killing hangfs 0 releases it; as its parent, reap it */
	kill_hangfs(0);
	t0 = now_ns();
	while (workers(NULL, NULL) > 0) {
		assert_true(now_ns() - t0 < 2000 * MS);
		while (waitpid(-1, NULL, WNOHANG) > 0)
			;
		usleep(10000);
	}

	for (int i = 0; i < N_HANG; i++) {
		detach_fuse(hang_mnt[i]);
		rmdir(hang_mnt[i]);
		hang_mnt[i][0] = '\0';
	}
	if (private_ns) {
		assert_int_equal(umount2(fresh_mnt, MNT_DETACH), 0);
		rmdir(fresh_mnt);
		fresh_mnt[0] = '\0';
	}
	fs_set_statfs(NULL);
	close(env.proc_fd);
	config_free(&cfg);
}

/* hangfs is killed at exit whatever happens, and by an alarm if the test
 * hangs. */
static int arm(void **state)
{
	atexit(cleanup);
	signal(SIGALRM, on_alarm);
	alarm(60);
	return 0;
}

TEST_GROUP(arm, NULL);
