/* What the service manager hands over and asks for: listening sockets
 * (socket activation), the watchdog's period. */
#ifndef SYSFEED_SERVICE_H
#define SYSFEED_SERVICE_H

#include <signal.h>
#include <stddef.h>

/* The process's own settings, before any thread starts: SIGTERM, SIGINT
 * and SIGHUP blocked (they go to a signalfd; *sigs is set to them),
 * SIGPIPE ignored, the open-files limit raised to its hard limit. */
void service_process_setup(sigset_t *sigs);

/* The listening sockets systemd passed, made non-blocking and close-on-exec,
 * into fds (at most max). Returns how many (0: none), or -errno with a
 * one-line reason in err. */
int service_listen_fds(int *fds, size_t max, char *err, size_t err_len);
/* Half the watchdog period (WatchdogSec=) in ms, the loop's ping period; 0
 * when there is no watchdog. */
unsigned service_watchdog_ms(void);

/* Opens the directory path (O_PATH) as a root to read below; logs why not
 * with what (the option's name). Returns the fd or -1. */
int service_open_root(const char *path, const char *what);

#endif
