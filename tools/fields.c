/* Lists, from the collectors' field tables (lib/fields.h), every payload
 * field and every Prometheus family of the topics that have tables, with
 * its type, unit, labels, source and help: what docs/events.md and
 * docs/metrics.md describe. One tab-separated line each (after a header
 * line starting with '#'), or with --markdown a table per topic. Exits 1
 * when a table contradicts itself (see fields_check), so that `make
 * check-docs` fails on it too. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector.h"
#include "fields.h"

enum out { OUT_TSV, OUT_MARKDOWN };

/* One line or table row. type: info, gauge, counter, rate, object or
 * array; NULL columns print empty. */
struct line {
	const char *kind; /* json, prom */
	const char *topic, *name, *type, *unit, *labels, *file, *source, *help;
	bool delta; /* the source's change: a rate */
};

static const char *const type_names[] = {"info", "gauge", "counter"};

static const char *nz(const char *s)
{
	return s ? s : "";
}

/* "file source", "file delta source" for a rate, or nothing: in code
 * quotes for markdown. */
static void print_source(enum out out, const struct line *l)
{
	if (!l->source)
		return;
	printf("%s%s%s%s%s%s", nz(l->file), l->file ? " " : "", l->delta ? "delta " : "",
	       out == OUT_MARKDOWN ? "`" : "", l->source, out == OUT_MARKDOWN ? "`" : "");
}

static void print_line(enum out out, const struct line *l)
{
	if (out == OUT_TSV) {
		printf("%s\t%s\t%s\t%s\t%s\t%s\t", l->kind, l->topic, l->name, l->type, nz(l->unit),
		       nz(l->labels));
		print_source(out, l);
		printf("\t%s\n", nz(l->help));
		return;
	}
	printf("| `%s` | %s | %s | ", l->name, l->type, nz(l->unit));
	if (strcmp(l->kind, "prom") == 0)
		printf("%s | ", nz(l->labels));
	printf("%s | ", nz(l->help));
	print_source(out, l);
	printf(" |\n");
}

/* Calls fn for each expansion of the first {a,b,...} group of pattern
 * (and so on, recursively): "{cpu,io}.{some,full}" gives four paths. */
static void expand(const char *pattern, void (*fn)(const char *path, void *ctx), void *ctx)
{
	const char *open = strchr(pattern, '{'), *close, *alt;
	char buf[256];

	if (!open || !(close = strchr(open, '}'))) {
		fn(pattern, ctx);
		return;
	}
	for (alt = open + 1; alt < close;) {
		size_t n = strcspn(alt, ",}");

		snprintf(buf, sizeof(buf), "%.*s%.*s%s", (int)(open - pattern), pattern, (int)n,
			 alt, close + 1);
		expand(buf, fn, ctx);
		alt += n + 1;
	}
}

struct json_ctx {
	enum out out;
	const char *topic;
	const struct field_table *t;
	const char **seen; /* container paths already printed */
	size_t nseen;
};

/* The containers of path, once each per topic: "cpu" and "cpu.some" for
 * "cpu.some", the array "interfaces" for "interfaces[]". */
static void print_containers(struct json_ctx *c, const char *path)
{
	for (size_t i = 1; path[0] && i <= strlen(path); i++) {
		bool array = i >= 2 && path[i - 2] == '[' && path[i - 1] == ']';
		char buf[256];
		struct line l = {.kind = "json",
				 .topic = c->topic,
				 .name = buf,
				 .type = array ? "array" : "object"};
		bool seen = false;

		if (path[i] != '.' && path[i] != '\0')
			continue;
		snprintf(buf, sizeof(buf), "%.*s", (int)(array ? i - 2 : i), path);
		for (size_t k = 0; k < c->nseen; k++)
			seen = seen || strcmp(c->seen[k], buf) == 0;
		if (seen)
			continue;
		c->seen = realloc(c->seen, (c->nseen + 1) * sizeof(*c->seen));
		if (!c->seen || !(c->seen[c->nseen++] = strdup(buf))) {
			fprintf(stderr, "fields: out of memory\n");
			exit(2);
		}
		print_line(c->out, &l);
	}
}

static void print_json_path(const char *path, void *ctx)
{
	struct json_ctx *c = ctx;
	const struct field_table *t = c->t;
	char name[256];

	print_containers(c, path);
	for (size_t p = 0; p < FIELD_PASSES_MAX && t->passes[p]; p++) {
		for (size_t i = 0; i < t->n; i++) {
			const struct field *f = &t->v[i];
			const char *file = f->file ? f->file : t->file;
			struct line l = {.kind = "json", .topic = c->topic, .name = name};

			if ((t->passes[p] & FIELDS_RATES) && f->rate) {
				l.type = "rate";
				l.unit = f->rate_unit;
				l.help = f->rate_help;
				l.file = file;
				l.source = f->source;
				l.delta = true;
				snprintf(name, sizeof(name), "%s%s%s", path, path[0] ? "." : "",
					 f->rate);
			} else if ((t->passes[p] & (1u << f->type)) && f->json) {
				l.type = type_names[f->type];
				l.unit = f->unit;
				l.help = f->help;
				l.file = f->source ? file : NULL;
				l.source = f->source;
				snprintf(name, sizeof(name), "%s%s%s", path, path[0] ? "." : "",
					 f->json);
			} else {
				continue;
			}
			print_line(c->out, &l);
		}
	}
}

/* Every payload field of the topic's tables, in payload order. */
static void print_json(enum out out, const struct collector *col)
{
	struct json_ctx c = {.out = out, .topic = col->name};
	struct line t = {.kind = "json",
			 .topic = col->name,
			 .name = "t",
			 .type = "info",
			 .unit = "ms since the epoch",
			 .help = "When the sample was taken."};

	if (out == OUT_MARKDOWN)
		printf("\n#### `%s` payload\n\n| field | type | unit | meaning | source "
		       "|\n|---|---|---|---|---|\n",
		       col->name);
	print_line(out, &t);
	for (size_t i = 0; col->fields[i]; i++) {
		c.t = col->fields[i];
		if (c.t->path)
			expand(c.t->path, print_json_path, &c);
	}
	for (size_t i = 0; i < c.nseen; i++)
		free((char *)c.seen[i]);
	free(c.seen);
}

struct prom_ctx {
	enum out out;
	const struct collector *col;
	const struct field_table *t;
	bool header;
};

static void print_family(const struct field *f, void *ctx)
{
	struct prom_ctx *c = ctx;
	struct line l = {.kind = "prom",
			 .topic = c->col->name,
			 .name = f->prom,
			 .type = type_names[f->type],
			 .unit = f->unit,
			 .labels = f->labels ? f->labels : c->t->labels,
			 .file = f->file ? f->file : c->t->file,
			 .source = f->source,
			 .help = f->help};

	if (c->out == OUT_MARKDOWN && !c->header)
		printf("\n#### `%s` families\n\n| metric | type | unit | labels | help | source "
		       "|\n|---|---|---|---|---|---|\n",
		       c->col->name);
	c->header = true;
	print_line(c->out, &l);
}

/* Every family of the topic's tables, in /metrics order. */
static void print_prom(enum out out, const struct collector *col)
{
	struct prom_ctx c = {.out = out, .col = col};

	for (size_t k = 0; col->fields[k]; k++) {
		c.t = col->fields[k];
		fields_each_family(c.t, print_family, &c);
	}
}

/* Rows a writer could not write as meant: a family without help or type,
 * a prom_before no row answers, a rate on a value that is no counter, a
 * derived row with both a value and a rate, a key twice in one table. Returns how many it found
 * (and says them). */
static int fields_check(const struct collector *col, const struct field_table *t)
{
	int bad = 0;

	for (size_t i = 0; i < t->n; i++) {
		const struct field *f = &t->v[i];
		const char *what = f->json ? f->json : f->prom ? f->prom : nz(f->rate);
		bool found = !f->prom_before;

		for (size_t j = 0; j < t->n; j++) {
			const struct field *e = &t->v[j];

			found = found || (e->source && strcmp(e->source, f->prom_before) == 0);
			if (j != i && f->json && e->json && strcmp(f->json, e->json) == 0) {
				fprintf(stderr, "%s: key %s twice\n", col->name, f->json);
				bad++;
			}
		}
		if (!found || (f->prom && (!f->help || f->type == FIELD_INFO)) ||
		    (f->rate && f->kind != FIELD_DERIVED && f->type != FIELD_COUNTER) ||
		    (f->rate && !f->rate_help) || (f->json && !f->help) ||
		    (f->kind == FIELD_DERIVED && (!f->derive || (f->json && f->rate)))) {
			fprintf(stderr, "%s: row %s contradicts itself\n", col->name, what);
			bad++;
		}
	}
	return bad;
}

int main(int argc, char **argv)
{
	enum out out = OUT_TSV;
	int bad = 0;

	if (argc > 2 || (argc == 2 && strcmp(argv[1], "--markdown") != 0)) {
		fprintf(stderr, "usage: %s [--markdown]\n", argv[0]);
		return 2;
	}
	if (argc == 2)
		out = OUT_MARKDOWN;
	if (out == OUT_TSV)
		printf("# kind\ttopic\tname\ttype\tunit\tlabels\tsource\thelp\n");
	for (size_t i = 0; collector_registry[i]; i++) {
		const struct collector *col = collector_registry[i];

		if (!col->fields)
			continue;
		for (size_t k = 0; col->fields[k]; k++)
			bad += fields_check(col, col->fields[k]);
		print_json(out, col);
		print_prom(out, col);
	}
	return bad ? 1 : 0;
}
