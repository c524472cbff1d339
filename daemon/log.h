/* Logging, to stderr, one line per message. Only daemon/ logs. */
#ifndef SYSFEED_LOG_H
#define SYSFEED_LOG_H

/* log_warn appends ": strerror(errno)"; log_warnx does not. */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
