/* psi_file_parse(): /proc/pressure/{cpu,memory,io,irq}. Input: one or two
 * files ("prev\0cur"), each parsed as every resource. Checks what each
 * resource requires, that an accepted file reads back from the kernel's
 * spelling of what was parsed, and the payload (JSON as promised, stall
 * shares 0-100). */
#include "fuzz.h"

#include <inttypes.h>

#include "psi.h"

static int print_line(char *out, size_t size, const char *kind, const struct psi_line *l)
{
	return snprintf(out, size,
			"%s avg10=%u.%02u avg60=%u.%02u avg300=%u.%02u total=%" PRIu64 "\n", kind,
			l->avg10 / 100, l->avg10 % 100, l->avg60 / 100, l->avg60 % 100,
			l->avg300 / 100, l->avg300 % 100, l->total_us);
}

static void check_file(enum psi_resource res, const struct psi_file *f)
{
	struct psi_file back;
	char text[512];
	int n = 0;

	FUZZ_CHECK(res != PSI_CPU || f->has_some);
	FUZZ_CHECK((res != PSI_MEMORY && res != PSI_IO) || (f->has_some && f->has_full));
	FUZZ_CHECK(res != PSI_IRQ || f->has_full);
	if (f->has_some)
		n += print_line(text + n, sizeof(text) - (size_t)n, "some", &f->some);
	if (f->has_full)
		n += print_line(text + n, sizeof(text) - (size_t)n, "full", &f->full);
	FUZZ_CHECK(psi_file_parse(res, text, (size_t)n, &back) == 0);
	FUZZ_CHECK(back.has_some == f->has_some && back.has_full == f->has_full);
	FUZZ_CHECK(!f->has_some || memcmp(&back.some, &f->some, sizeof(f->some)) == 0);
	FUZZ_CHECK(!f->has_full || memcmp(&back.full, &f->full, sizeof(f->full)) == 0);
}

static void check_shares(const cJSON *o)
{
	if (cJSON_IsObject(o) || cJSON_IsArray(o)) {
		for (const cJSON *c = o->child; c; c = c->next)
			check_shares(c);
		return;
	}
	if (o->string && strcmp(o->string, "stall_pct") == 0 && cJSON_IsNumber(o))
		FUZZ_CHECK(o->valuedouble >= 0 && o->valuedouble <= 100);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_in in = {data, size};
	struct psi_reading prev = {0}, cur = {0};
	char *a = NULL, *b = NULL;
	size_t a_len = 0, b_len = 0;
	cJSON *payload = NULL;

	fuzz_take_two(&in, &a, &a_len, &b, &b_len);
	for (int r = 0; r < PSI_NRES; r++) {
		prev.present[r] = psi_file_parse(r, a, a_len, &prev.res[r]) == 0;
		cur.present[r] = psi_file_parse(r, b, b_len, &cur.res[r]) == 0;
		if (prev.present[r])
			check_file(r, &prev.res[r]);
		if (cur.present[r])
			check_file(r, &cur.res[r]);
	}
	prev.mono_ns = 1000000000;
	cur.mono_ns = 2000000000;
	FUZZ_CHECK(psi_build_payload(&prev, &cur, 1700000000000, &payload) == 0);
	fuzz_check_json(payload);
	check_shares(payload);
	cJSON_Delete(payload);
	free(a);
	free(b);
	return 0;
}
