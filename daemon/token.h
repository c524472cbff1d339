/* `sysfeed token add NAME | list | remove NAME`: the bearer tokens file. */
#ifndef SYSFEED_TOKEN_H
#define SYSFEED_TOKEN_H

/* argv[0] is "token". Returns the exit status: 0, 1 (failed: said on
 * stderr) or 2 (bad usage). */
int token_main(int argc, char **argv);

#endif
