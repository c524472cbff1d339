/* The command line (see cli.c). */
#ifndef SYSFEED_CLI_H
#define SYSFEED_CLI_H

#include "config.h"

enum cli_mode {
	CLI_RUN = 0,
	CLI_CHECK,      /* --check-config */
	CLI_PRINT,      /* --print-config */
	CLI_TEST_ALERT, /* --test-alert */
};

/* Parses argv into src (the config file, and the flags that set keys, in
 * their order) and *ret_mode (left alone without a mode flag). --help and
 * --version print and exit 0; a bad argument is said on stderr with the
 * usage, and gives -EINVAL. */
int cli_parse(int argc, char **argv, struct config_source *src, int *ret_mode);
/* The process's start: `sysfeed token ...`, the command line, the
 * configuration it names into cfg, and the modes that only check, print
 * or test it. Returns -1 when the daemon is to run (cfg and src are set),
 * else the exit status (cfg freed; a reason said on stderr). */
int cli_start(int argc, char **argv, struct config_source *src, struct config *cfg);

#endif
