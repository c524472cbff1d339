/* The service manager's side: see service.h. */
#include "service.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <pthread.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <systemd/sd-daemon.h>

#include "log.h"

void service_process_setup(sigset_t *sigs)
{
	struct rlimit rl;

	sigemptyset(sigs);
	sigaddset(sigs, SIGTERM);
	sigaddset(sigs, SIGINT);
	sigaddset(sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, sigs, NULL);
	signal(SIGPIPE, SIG_IGN);
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int service_listen_fds(int *fds, size_t max, char *err, size_t err_len)
{
	int n = sd_listen_fds(1);

	if (n < 0) {
		snprintf(err, err_len, "sockets from the service manager: %s", strerror(-n));
		return n;
	}
	if ((size_t)n > max) {
		snprintf(err, err_len, "more than %zu sockets from the service manager", max);
		return -EINVAL;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;

		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) <= 0) {
			snprintf(err, err_len,
				 "fd %d from the service manager is not a listening stream socket",
				 fd);
			return -EINVAL;
		}
		fcntl(fd, F_SETFD, FD_CLOEXEC);
		fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
		fds[i] = fd;
	}
	return n;
}

unsigned service_watchdog_ms(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0 || usec == 0)
		return 0;
	usec /= 2; /* pinged from the loop at half the period */
	if (usec < 1000)
		return 1;
	return usec / 1000 > UINT_MAX ? UINT_MAX : (unsigned)(usec / 1000);
}

int service_open_root(const char *path, const char *what)
{
	int fd = open(path, O_PATH | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		log_warn("%s %s", what, path);
	return fd;
}
