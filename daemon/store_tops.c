/* The history store's top lists in a blob: see store_tops.h. Each list
 * is five streams, which zlib compresses better apart: the entities of
 * each row (an index into the list's processes in order of first
 * appearance), the new processes (pid, name), nulls, CPU and memory, each
 * a delta from the same process's last value. */
#include "store_tops.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

#include "array.h"

/* Tops' memory in pages of 4 KiB, to three significant digits. */
static int64_t mem_pages(double mem)
{
	int64_t p = to_i64(mem / 4096), unit = 1;

	while (p / unit >= 1000)
		unit *= 10;
	return wmul(wadd(p, unit / 2) / unit, unit);
}

/* One top list's entity: a process or service as it recurs in the rows. */
struct entity {
	int64_t id;
	uint32_t name;
	int64_t cpu, mem; /* the last values written: the next is a delta */
};

/* The entity of (id, name) among n; n when new. */
static size_t entity_of(const struct entity *e, size_t n, int64_t id, uint32_t name)
{
	size_t i;

	for (i = n; i-- > 0;)
		if (e[i].id == id && e[i].name == name)
			return i;
	return n;
}

static void put_stream(struct wbuf *b, struct wbuf *s)
{
	put_uv(b, s->len);
	put(b, s->p, s->len);
	b->oom |= s->oom;
	free(s->p);
	*s = (struct wbuf){0};
}

void store_tops_put(struct wbuf *b, const struct store_chunk *c, size_t l)
{
	struct wbuf sidx = {0}, snew = {0}, snull = {0}, scpu = {0}, smem = {0};
	struct entity *ent = NULL;
	size_t n_ent = 0, cap = 0;
	int64_t last_id = 0;

	for (size_t r = 0; r < c->n; r++) {
		size_t n;
		const struct store_top *e = store_chunk_tops(c, r, l, &n);

		put_u8(&sidx, (unsigned)n);
		for (size_t k = 0; k < n; k++) {
			size_t i = entity_of(ent, n_ent, e[k].id, e[k].name);
			unsigned nulls = (isnan(e[k].cpu) ? STORE_TOP_NO_CPU : 0) |
					 (isnan(e[k].mem) ? STORE_TOP_NO_MEM : 0);

			put_uv(&sidx, i);
			if (i == n_ent) {
				if (array_reserve(&ent, &cap, n_ent + 1, sizeof(*ent), 16) < 0) {
					b->oom = true;
					goto out;
				}
				ent[n_ent++] = (struct entity){.id = e[k].id, .name = e[k].name};
				put_u8(&snew, e[k].id < 0 ? STORE_TOP_NO_ID : 0);
				if (e[k].id >= 0) {
					put_sv(&snew, wsub(e[k].id, last_id));
					last_id = e[k].id;
				}
				put_uv(&snew, e[k].name);
			}
			put_u8(&snull, nulls);
			if (!(nulls & STORE_TOP_NO_CPU)) {
				int64_t v = to_i64(e[k].cpu * 10);

				put_sv(&scpu, wsub(v, ent[i].cpu));
				ent[i].cpu = v;
			}
			if (!(nulls & STORE_TOP_NO_MEM)) {
				int64_t v = mem_pages(e[k].mem);

				put_sv(&smem, wsub(v, ent[i].mem));
				ent[i].mem = v;
			}
		}
	}
out:
	put_stream(b, &sidx);
	put_stream(b, &snew);
	put_stream(b, &snull);
	put_stream(b, &scpu);
	put_stream(b, &smem);
	free(ent);
}

/* A stream of a list (see put_list): a view of its bytes. */
static struct rbuf get_stream(struct rbuf *b)
{
	uint64_t n = get_uv(b);
	struct rbuf s = {0};

	if (b->bad || n > b->len - b->pos) {
		b->bad = true;
		return (struct rbuf){.bad = true};
	}
	s = (struct rbuf){.p = b->p + b->pos, .len = n};
	b->pos += n;
	return s;
}

/* One list's rows back (see put_list). */
int store_tops_get(struct store_chunk *c, struct rbuf *b, size_t l)
{
	struct rbuf sidx = get_stream(b), snew = get_stream(b), snull = get_stream(b),
		    scpu = get_stream(b), smem = get_stream(b);
	struct entity *ent = NULL;
	size_t n_ent = 0, cap = 0;
	int64_t last_id = 0;
	int r = 0;

	for (size_t row = 0; row < c->n && r == 0 && !b->bad; row++) {
		size_t n = get_u8(&sidx);

		if (n > STORE_TOP_N)
			r = -EBADMSG;
		for (size_t k = 0; k < n && r == 0; k++) {
			uint64_t i = get_uv(&sidx);
			unsigned nulls = get_u8(&snull);
			double cpu = NAN, mem = NAN;

			if (i == n_ent) {
				unsigned flags = get_u8(&snew);
				int64_t id = -1;
				uint64_t name;

				if (!(flags & STORE_TOP_NO_ID))
					id = last_id = wadd(last_id, get_sv(&snew));
				name = get_uv(&snew);
				if (flags & ~STORE_TOP_NO_ID || name >= c->n_strs ||
				    array_reserve(&ent, &cap, n_ent + 1, sizeof(*ent), 16) < 0) {
					r = -EBADMSG;
					break;
				}
				ent[n_ent++] = (struct entity){.id = id, .name = (uint32_t)name};
			}
			if (i >= n_ent ||
			    nulls & ~(unsigned)(STORE_TOP_NO_CPU | STORE_TOP_NO_MEM)) {
				r = -EBADMSG;
				break;
			}
			if (!(nulls & STORE_TOP_NO_CPU))
				cpu = (double)(ent[i].cpu = wadd(ent[i].cpu, get_sv(&scpu))) / 10;
			if (!(nulls & STORE_TOP_NO_MEM))
				mem = (double)(ent[i].mem = wadd(ent[i].mem, get_sv(&smem))) * 4096;
			store_chunk_add_top_at(c, row, l, ent[i].id, ent[i].name, cpu, mem);
		}
	}
	if (r == 0 && (sidx.bad || snew.bad || snull.bad || scpu.bad || smem.bad ||
		       sidx.pos != sidx.len || snew.pos != snew.len || snull.pos != snull.len ||
		       scpu.pos != scpu.len || smem.pos != smem.len))
		r = -EBADMSG;
	free(ent);
	return r;
}
