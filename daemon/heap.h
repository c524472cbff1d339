/* The daemon's heap: malloc's settings at the start, cJSON's pool on the
 * loop thread, and giving malloc's free memory back to the system, once a
 * second from the housekeeping, and only when the daemon's memory grew
 * since the last time (a burst freed), not at every tick's ordinary
 * churn. */
#ifndef SYSFEED_HEAP_H
#define SYSFEED_HEAP_H

#include <stdint.h>

/* Heap trims when the free lists hold more than this. */
#define HEAP_TRIM_FREE_BYTES (256u << 10)

/* Sets malloc up for a long-running daemon (one arena, a fixed mmap
 * threshold) and pools cJSON's small blocks on the calling thread, the
 * loop's (json_pool_start). Before any other thread starts. */
void heap_setup(void);

/* Frees the calling thread's cJSON pool. */
void heap_done(void);

/* Calls malloc_trim when the free lists hold more than
 * HEAP_TRIM_FREE_BYTES and the anonymous RSS grew by more than that since
 * the last trim (or is unknown); while the RSS stays grown by memory in
 * use, the free lists are looked at every 8th call only. */
void heap_housekeep(void);

/* The trims heap_housekeep made so far. */
uint64_t heap_trims(void);

#endif
