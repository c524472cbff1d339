/* The command line: flags that set configuration keys, the config file,
 * and the modes that check or print the configuration. */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alerts.h"
#include "http.h"
#include "log.h"
#include "token.h"

static void usage(FILE *f)
{
	fprintf(
	    f,
	    "usage: sysfeed [options]\n"
	    "       sysfeed token [--config FILE | --file TOKENS] add NAME | list | remove NAME\n"
	    "Streams this host's /proc and /sys samples to browsers and scripts as\n"
	    "Server-Sent Events: open http://127.0.0.1:8390/ or curl -N .../events.\n"
	    "\n"
	    "  --listen ADDR:PORT  listen here (repeatable; default 127.0.0.1:8390 and\n"
	    "                      [::1]:8390; port 0 picks a free port); https://ADDR:PORT\n"
	    "                      for TLS (tls-cert, tls-key), which addresses beyond\n"
	    "                      loopback need, with auth-users or auth-tokens\n"
	    "  --interval MS       sampling interval, 100 to 60000 (default 1000)\n"
	    "  --config FILE       read `key = value` settings from FILE; flags win\n"
	    "  --proc-root DIR     read /proc from DIR (default /proc)\n"
	    "  --sys-root DIR      read /sys from DIR (default /sys)\n"
	    "  --web-root DIR      serve the page from DIR instead of the embedded copy\n"
	    "  --journal-dir DIR   follow the journal files in DIR, not the system journal\n"
	    "  --state-dir DIR     keep history on disk in DIR/history.db (default: systemd's\n"
	    "                      $STATE_DIRECTORY; none: history only in memory)\n"
	    "  --check-config      check the configuration and exit (0 if good, 2 if not)\n"
	    "  --print-config      print every key as the configuration sets it and exit\n"
	    "  --test-alert        send a test notification to the journal and every\n"
	    "                      alert-webhook, alert-ntfy and alert-exec, print what\n"
	    "                      each answered and exit (0 if all took it, 1 if not)\n"
	    "  --verbose           log debug lines too\n"
	    "  --version           print the version and exit\n"
	    "  --help              print this help and exit\n"
	    "\n"
	    "Alert rules: `alert = NAME: RULE` lines in the config file (docs/alerts.md).\n"
	    "Signals: TERM or INT stop it, HUP reloads the config file and the TLS,\n"
	    "users and tokens files.\n"
	    "See sysfeed(8) and sysfeed.conf(5).\n");
}

int cli_parse(int argc, char **argv, struct config_source *src, int *ret_mode)
{
	/* the first seven set the configuration key of their name (val: their
	 * index + 1) */
	static const struct option opts[] = {
	    {"listen", required_argument, NULL, 1},
	    {"interval", required_argument, NULL, 2},
	    {"proc-root", required_argument, NULL, 3},
	    {"sys-root", required_argument, NULL, 4},
	    {"web-root", required_argument, NULL, 5},
	    {"journal-dir", required_argument, NULL, 6},
	    {"state-dir", required_argument, NULL, 7},
	    {"config", required_argument, NULL, 'c'},
	    {"check-config", no_argument, NULL, 'C'},
	    {"print-config", no_argument, NULL, 'P'},
	    {"test-alert", no_argument, NULL, 'T'},
	    {"verbose", no_argument, NULL, 'v'},
	    {"version", no_argument, NULL, 'V'},
	    {"help", no_argument, NULL, 'h'},
	    {0},
	};
	int c;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c >= 1 && c <= 7) {
			if (src->n_flags == CONFIG_MAX_FLAGS) {
				log_err("too many options");
				return -EINVAL;
			}
			src->flags[src->n_flags][0] = opts[c - 1].name; /* the config key */
			src->flags[src->n_flags++][1] = optarg;
		} else if (c == 'c') {
			src->path = optarg;
		} else if (c == 'C' || c == 'P' || c == 'T') {
			*ret_mode = c == 'C' ? CLI_CHECK : c == 'P' ? CLI_PRINT : CLI_TEST_ALERT;
		} else if (c == 'v') {
			log_set_verbose(true);
		} else if (c == 'V' || c == 'h') {
			if (c == 'V')
				printf("sysfeed %s\n", SYSFEED_VERSION);
			else
				usage(stdout);
			exit(0);
		} else {
			usage(stderr);
			return -EINVAL;
		}
	}
	if (optind < argc) {
		log_err("unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

int cli_start(int argc, char **argv, struct config_source *src, struct config *cfg)
{
	char err[CONFIG_ERR_LEN];
	int mode = CLI_RUN, status = 0;

	if (argc > 1 && strcmp(argv[1], "token") == 0)
		return token_main(argc - 1, argv + 1);
	if (cli_parse(argc, argv, src, &mode) < 0)
		return 2;
	if (config_build(cfg, src, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 2;
	}
	if (mode == CLI_RUN)
		return -1;
	if (mode == CLI_CHECK && http_check(cfg, err, sizeof(err)) < 0) {
		log_err("%s", err);
		status = 2;
	} else if (mode == CLI_TEST_ALERT) {
		status = alerts_test(cfg, stdout);
	} else if (mode == CLI_PRINT) {
		config_print(stdout, cfg);
	} else {
		printf("%s: ok\n", src->path ? src->path : "(defaults)");
	}
	config_free(cfg);
	return status;
}
