/* Logging, to stderr, one line per message, with its level. Only daemon/
 * logs. When stderr is the journal (systemd's JOURNAL_STREAM names it),
 * each line starts with the sd-daemon prefix of its level ("<4>"), so that
 * `journalctl -p warning` finds the warnings; on a terminal it starts with
 * "sysfeed: ". Debug lines are printed only after log_set_verbose(true). */
#ifndef SYSFEED_LOG_H
#define SYSFEED_LOG_H

#include <stdbool.h>

/* Looks at stderr once: the journal or not. */
void log_init(void);
void log_set_verbose(bool verbose);

/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
