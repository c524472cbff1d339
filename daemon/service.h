/* What the service manager hands over and asks for: listening sockets
 * (socket activation), the watchdog's period. */
#ifndef SYSFEED_SERVICE_H
#define SYSFEED_SERVICE_H

#include <stddef.h>

/* The listening sockets systemd passed, made non-blocking and close-on-exec,
 * into fds (at most max). Returns how many (0: none), or -errno with a
 * one-line reason in err. */
int service_listen_fds(int *fds, size_t max, char *err, size_t err_len);
/* A timerfd that fires at half the watchdog period (WatchdogSec=), -1 when
 * there is no watchdog, or -errno. */
int service_watchdog_fd(void);

#endif
