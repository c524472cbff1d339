/* The flat collectors' shared init, sample, metrics and fini: reads the
 * described files into one reading per tick and keeps the last good one. */
#include "flat.h"

#include <errno.h>
#include <stdlib.h>

/* n rounded up so that what follows it in one allocation is aligned. */
static size_t flat_align(size_t n)
{
	const size_t a = _Alignof(max_align_t);

	return (n + a - 1) / a * a;
}

/* Reads the i-th file into f->files.buf, or through env->read_shared
 * (one read a tick for every collector that reads it), and sets its text. */
static int flat_read_one(struct flat *f, const struct collector_env *env, size_t i,
			 const char **ret_text, size_t *ret_len)
{
	const struct flat_file *ff = &f->d->files[i];
	struct procfs_set *set = &f->files;
	int r;

	if (ff->shared && env->read_shared) {
		set->path = ff->path; /* for the reason, as procfs_set_read has it */
		set->parsing = false;
		return env->read_shared(env, ff->path, ret_text, ret_len);
	}
	r = procfs_set_read(set, i, env->proc_fd, ff->path, ff->max);
	*ret_text = set->buf.data;
	*ret_len = set->buf.len;
	return r;
}

/* Reads and parses the watched files into f->cur; f->files says which one
 * failed. At init (first), a file that may be left out and cannot be read
 * is no longer watched. */
static int flat_read(struct flat *f, const struct collector_env *env, bool first)
{
	struct procfs_set *set = &f->files;
	const int proc_fd = env->proc_fd;
	int r = 0;

	procfs_set_begin(set, proc_fd, env->proc_st);
	for (size_t i = 0; i < f->d->n_files; i++) {
		const struct flat_file *ff = &f->d->files[i];
		const char *text;
		size_t len;

		if (!f->watched[i] || (ff->instead && ff->instead(f, env, f->cur)))
			continue;
		r = flat_read_one(f, env, i, &text, &len);
		if (r < 0 && first &&
		    (ff->need == FLAT_IF_READABLE ||
		     (ff->need == FLAT_IF_PRESENT && r == -ENOENT))) {
			f->watched[i] = false;
			r = 0;
			continue;
		}
		if (r < 0)
			break;
		r = procfs_set_parsed(set, ff->parse(text, len, f->cur, i));
		if (r < 0)
			break;
	}
	procfs_set_end(set);
	return r;
}

void flat_fini(void *state)
{
	struct flat *f = state;

	if (!f)
		return;
	if (f->d->reading_free) {
		f->d->reading_free(f->cur);
		f->d->reading_free(f->prev);
	}
	if (f->d->own_free)
		f->d->own_free(f->own);
	procfs_set_done(&f->files);
	free(f);
}

int flat_init(const struct flat_desc *d, const struct collector_env *env, const void *settings,
	      void **ret_state, char *reason, size_t reason_len)
{
	const size_t head = flat_align(sizeof(struct flat)), rd = flat_align(d->reading_size);
	struct flat *f;
	int r;

	f = calloc(1, head + 2 * rd + d->own_size);
	if (!f) {
		r = -ENOMEM;
		procfs_set_reason(NULL, d->files[0].path, r, reason, reason_len);
		goto out;
	}
	f->d = d;
	f->settings = settings;
	f->cur = (char *)f + head;
	f->prev = (char *)f + head + rd;
	f->own = d->own_size ? (char *)f + head + 2 * rd : NULL;
	for (size_t i = 0; i < d->n_files; i++) {
		f->watched[i] = true;
		f->files.files[i].record_max = d->files[i].record_max;
	}
	r = flat_read(f, env, true);
	if (r < 0) {
		if (d->reason)
			d->reason(f, env, r, reason, reason_len);
		else
			procfs_set_reason(&f->files, d->files[0].path, r, reason, reason_len);
		goto out;
	}
	if (d->reset)
		d->reset(f->cur);
	*ret_state = f;
	f = NULL;
out:
	flat_fini(f);
	return r;
}

/* A failed read or parse sends nothing and keeps the last good reading,
 * so that the next rates span two intervals. A good one becomes the last
 * good reading even when its payload could not be built. */
int flat_sample(void *state, const struct collector_env *env, const struct collector_tick *tick,
		cJSON **ret_payload)
{
	struct flat *f = state;
	void *tmp;
	int r;

	*ret_payload = NULL;
	r = flat_read(f, env, false);
	if (r < 0)
		return r;
	if (f->d->prepare)
		f->d->prepare(f, env, tick);
	r = f->d->payload(f, f->have_prev ? f->prev : NULL, tick, ret_payload);
	tmp = f->prev;
	f->prev = f->cur;
	f->cur = tmp;
	f->prev_ns = tick->mono_ns;
	f->have_prev = true;
	if (f->d->reset)
		f->d->reset(f->cur);
	return r;
}

int flat_metrics(void *state, struct metrics *m)
{
	const struct flat *f = state;

	if (!f->have_prev)
		return 0;
	return f->d->metrics(f, m);
}
