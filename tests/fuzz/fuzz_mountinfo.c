/* fs_mountinfo_parse(): /proc/self/mountinfo. Checks that every string
 * lies in the arena and is not empty, that a reused struct parses the
 * same, that fs_select() picks mounts in file order none of which a later
 * mount hides, and each chosen mount's JSON (valid UTF-8 whatever the
 * path's bytes). */
#include "fuzz.h"

#include "fs.h"
#include "fs_mountinfo.h"
#include "fs_select.h"

static bool in_arena(const struct fs_mountinfo *mi, const char *s)
{
	return s >= mi->arena && s + strlen(s) < mi->arena + mi->arena_cap;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fs_mountinfo mi = {0}, again = {0};
	char *text = fuzz_dup(data, size);
	size_t *idx, n;

	/* a struct that held another parse first */
	FUZZ_CHECK(fs_mountinfo_parse("1 0 8:1 / / rw - ext4 /dev/sda1 rw\n", 35, &again) == 0);
	if (fs_mountinfo_parse(text, size, &mi) < 0) {
		FUZZ_CHECK(mi.n == 0);
		goto out;
	}
	FUZZ_CHECK(fs_mountinfo_parse(text, size, &again) == 0 && again.n == mi.n);
	for (size_t i = 0; i < mi.n; i++) {
		const struct fs_mount *m = &mi.v[i], *o = &again.v[i];

		FUZZ_CHECK(in_arena(&mi, m->root) && in_arena(&mi, m->mount_point) &&
			   in_arena(&mi, m->fstype) && in_arena(&mi, m->source));
		FUZZ_CHECK(*m->root && *m->mount_point && *m->fstype);
		FUZZ_CHECK(strcmp(m->root, o->root) == 0 &&
			   strcmp(m->mount_point, o->mount_point) == 0 &&
			   strcmp(m->fstype, o->fstype) == 0 && strcmp(m->source, o->source) == 0);
		FUZZ_CHECK(m->mount_id == o->mount_id && m->major == o->major &&
			   m->minor == o->minor && m->read_only == o->read_only);
	}
	idx = calloc(mi.n + 1, sizeof(*idx));
	FUZZ_CHECK(idx);
	n = fs_select(&mi, NULL, idx);
	FUZZ_CHECK(n <= mi.n);
	for (size_t k = 0; k < n; k++) {
		const struct fs_mount *m = &mi.v[idx[k]];
		struct fs_usage u = {size, size / 3, size / 4, 4096, size, size / 2};
		cJSON *o = NULL;

		FUZZ_CHECK(idx[k] < mi.n && (k == 0 || idx[k - 1] < idx[k]));
		for (size_t j = idx[k] + 1; j < mi.n; j++)
			FUZZ_CHECK(strcmp(mi.v[j].mount_point, m->mount_point) != 0);
		FUZZ_CHECK(fs_mount_json(m, k % 2 ? &u : NULL, true, k % 3 ? 0 : 5, &o) == 0);
		fuzz_check_json(o);
		cJSON_Delete(o);
	}
	free(idx);
out:
	fs_mountinfo_free(&mi);
	fs_mountinfo_free(&again);
	free(text);
	return 0;
}
