/* Logging: see log.h. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <systemd/sd-daemon.h>

static bool journal, verbose;

void log_init(void)
{
	const char *s = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	/* "DEV:INO" of the stream the service manager connected stderr to */
	journal = s && sscanf(s, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
		  st.st_dev == (dev_t)dev && st.st_ino == (ino_t)ino;
}

void log_set_verbose(bool v)
{
	verbose = v;
}

__attribute__((format(printf, 2, 0))) static void vlog(int level, const char *fmt, va_list ap,
						       int err)
{
	static const char *const prefix[] = {SD_EMERG,   SD_ALERT,  SD_CRIT, SD_ERR,
					     SD_WARNING, SD_NOTICE, SD_INFO, SD_DEBUG};
	char line[1024];

	if (level == 7 && !verbose)
		return;
	vsnprintf(line, sizeof(line), fmt, ap);
	fprintf(stderr, "%s%s%s%s\n", journal ? prefix[level] : "sysfeed: ", line, err ? ": " : "",
		err ? strerror(err) : "");
}

#define LOG_FN(name, level, with_errno)                                                            \
	void name(const char *fmt, ...)                                                            \
	{                                                                                          \
		int err = (with_errno) ? errno : 0;                                                \
		va_list ap;                                                                        \
                                                                                                   \
		va_start(ap, fmt);                                                                 \
		vlog(level, fmt, ap, err);                                                         \
		va_end(ap);                                                                        \
	}

LOG_FN(log_err, 3, false)
LOG_FN(log_warn, 4, true)
LOG_FN(log_warnx, 4, false)
LOG_FN(log_info, 6, false)
LOG_FN(log_debug, 7, false)
