/* proc_drm_parse(): a DRM /proc/<pid>/fdinfo/<fd>. Input: one or two files
 * ("prev\0cur"). Checks what a parse promises (a driver name, engine and
 * name bounds, capacities of at least one, unique engine names, memory
 * only from a memory key, a final '\n'), that a struct reused from a
 * longer parse gives the same, and the busy share and fold between two
 * readings of an engine (a share never negative, never NaN; the fold
 * keeps each counter's larger value). */
#include "fuzz.h"

#include <errno.h>
#include <math.h>

#include "proc_drm.h"

static void check_client(const struct proc_drm_client *c, const char *text, size_t len)
{
	char *s = fuzz_str((const uint8_t *)text, len);
	struct proc_drm_client again;

	FUZZ_CHECK(len > 0 && text[len - 1] == '\n');
	FUZZ_CHECK(c->driver[0] && strlen(c->driver) < PROC_DRM_NAME_MAX);
	FUZZ_CHECK(strlen(c->pdev) < PROC_DRM_NAME_MAX);
	FUZZ_CHECK(c->n_engines <= PROC_DRM_ENGINES);
	FUZZ_CHECK(!c->has_mem || strstr(s, "drm-total-") || strstr(s, "drm-resident-") ||
		   strstr(s, "drm-memory-") || strlen(s) < len);
	for (size_t i = 0; i < c->n_engines; i++) {
		const struct proc_drm_engine *e = &c->engines[i];

		FUZZ_CHECK(e->name[0] && strlen(e->name) < PROC_DRM_NAME_MAX);
		FUZZ_CHECK(e->capacity >= 1);
		for (size_t j = 0; j < i; j++)
			FUZZ_CHECK(strcmp(e->name, c->engines[j].name) != 0);
	}
	memset(&again, 0xa5, sizeof(again));
	FUZZ_CHECK(proc_drm_parse(text, len, &again) == 0);
	FUZZ_CHECK(memcmp(&again, c, offsetof(struct proc_drm_client, engines)) == 0);
	FUZZ_CHECK(memcmp(again.engines, c->engines, c->n_engines * sizeof(c->engines[0])) == 0);
	free(s);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct proc_drm_client a, b;
	char *ta, *tb;
	size_t la, lb;
	int ra, rb;

	fuzz_take_two(&in, &ta, &la, &tb, &lb);
	ra = proc_drm_parse(ta, la, &a);
	rb = proc_drm_parse(tb, lb, &b);
	FUZZ_CHECK(ra == 0 || ra == -ENODATA || ra == -EINVAL || ra == -ERANGE);
	FUZZ_CHECK(rb == 0 || rb == -ENODATA || rb == -EINVAL || rb == -ERANGE);
	if (ra == 0)
		check_client(&a, ta, la);
	if (rb == 0)
		check_client(&b, tb, lb);
	for (size_t i = 0; ra == 0 && rb == 0 && i < a.n_engines; i++) {
		for (size_t j = 0; j < b.n_engines; j++) {
			struct proc_drm_engine prev = a.engines[i];
			const struct proc_drm_engine *cur = &b.engines[j];
			double share;

			if (strcmp(prev.name, cur->name) != 0)
				continue;
			if (proc_drm_busy(&prev, cur, 1000000000, &share))
				FUZZ_CHECK(share >= 0 && !isnan(share));
			proc_drm_fold(&prev, cur);
			FUZZ_CHECK(prev.busy_ns >= cur->busy_ns &&
				   prev.busy_ns >= a.engines[i].busy_ns);
			FUZZ_CHECK(prev.cycles >= cur->cycles &&
				   prev.total_cycles >= cur->total_cycles);
			/* after the fold, a reading as old as cur is no progress */
			if (proc_drm_busy(&prev, cur, 1000000000, &share))
				FUZZ_CHECK(share == 0);
		}
	}
	free(ta);
	free(tb);
	return 0;
}
