/* Heap trimming for the housekeeping. malloc_trim(0) hands the whole
 * free pages inside free chunks back with madvise, which leaves them in
 * malloc's free lists: a tick that allocates and frees a few hundred KiB
 * (JSON text, cJSON trees) faults the same pages in again (measured: ~50
 * page faults and ~6 madvise calls a second, idle, 290 processes). So the
 * heap is trimmed only when the anonymous RSS grew since the last trim by
 * more than HEAP_TRIM_FREE_BYTES: what the churn takes back stays
 * resident, what a burst (a journal flood, many clients, a snapshot)
 * leaves is given back. (Trimming every 30 s with 512 KiB free instead
 * left 0.5-1 MB of RSS on average after such bursts; a trim costs ~80 us
 * on a 4 MB heap.) */
#include "heap.h"

#include <fcntl.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>

#include "json.h"
#include "procfs.h"

#define MMAP_THRESHOLD (128 << 10) /* malloc's default, kept fixed */

static int statm_fd = -1;
static bool statm_tried;
static uint64_t trim_rss; /* the anonymous RSS just after the last trim */
static uint64_t trims;

/* The daemon's anonymous resident bytes (resident - shared of
 * /proc/self/statm: the daemon's own /proc whatever --proc-root says),
 * or 0 when unknown. Parsed by hand: sscanf was most of the housekeeping's
 * instructions (callgrind: 2.7 k a second, 1.1 % of the idle daemon's
 * samples in perf with its read_int). */
static uint64_t heap_anon_rss(void)
{
	const char *p, *end, *tok;
	uint64_t v[3]; /* size resident shared (text lib data dt), in pages */
	char buf[160];
	size_t len;
	ssize_t n;

	if (!statm_tried) {
		statm_tried = true;
		statm_fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC | O_NOCTTY);
	}
	if (statm_fd < 0 || (n = procfs_pread(statm_fd, buf, sizeof(buf))) <= 0)
		return 0;
	p = buf;
	end = buf + n;
	for (size_t i = 0; i < 3; i++)
		if (procfs_next_token(&p, end, &tok, &len) <= 0 ||
		    procfs_parse_u64(tok, len, &v[i]) < 0)
			return 0;
	if (v[2] > v[1])
		return 0;
	return (v[1] - v[2]) * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* mallinfo2 walks every free chunk, cold ones, a cache miss each (perf:
 * ~2.5 % of an idle daemon's CPU, once a second): the RSS is read first
 * (one small pread), and while it stays above the last trim's by what is
 * in use (the ring filling, the log backlog), mallinfo2 is asked only
 * every HEAP_LOOK_EVERY housekeepings. */
#define HEAP_LOOK_EVERY 8
static unsigned look_wait;

void heap_housekeep(void)
{
	uint64_t rss = heap_anon_rss();

	if (rss != 0 && rss < trim_rss)
		trim_rss = rss; /* (mmap'd blocks went back meanwhile) */
	if (rss != 0 && rss <= trim_rss + HEAP_TRIM_FREE_BYTES)
		return;
	if (look_wait > 0) {
		look_wait--;
		return;
	}
	if (mallinfo2().fordblks <= HEAP_TRIM_FREE_BYTES) {
		look_wait = HEAP_LOOK_EVERY - 1;
		return;
	}
	malloc_trim(0);
	trims++;
	trim_rss = heap_anon_rss();
}

uint64_t heap_trims(void)
{
	return trims;
}

void heap_setup(void)
{
	/* One malloc arena for every thread: the HTTP threads' and the history
	 * writer's own arenas kept megabytes that malloc_trim could not give
	 * back (measured: +5.8 MiB of RSS with two, +1.3 MiB with one). */
	mallopt(M_ARENA_MAX, 1);
	/* Blocks of 128 KiB and more (the log backlog's piece, large texts)
	 * from mmap, given back when freed. By default malloc raises this
	 * threshold to the largest block freed, and they then came from the
	 * heap, whose free part grew to 4 MB, resident, with 100 stalled
	 * streams held 20 s while the heap in use stayed at 3.2 MB
	 * (tests/bench/abuse stalled: +3.2-4.7 MiB of RSS; 1.1-2.0 with this). */
	mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD);
	json_pool_start();
}

void heap_done(void)
{
	json_pool_done();
}
