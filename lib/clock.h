/* The clocks every module reads: one helper each, not one per file. */
#ifndef SYSFEED_CLOCK_H
#define SYSFEED_CLOCK_H

#include <stdint.h>
#include <time.h>

/* CLOCK_MONOTONIC in ns and ms: rates, ages, deadlines. */
uint64_t clock_mono_ns(void);
uint64_t clock_mono_ms(void);
/* CLOCK_REALTIME in ms since the epoch: the "t" of payloads. */
int64_t clock_real_ms(void);
/* Any clock in seconds (CPU-time clocks too). */
double clock_s(clockid_t clock);

#endif
