/* Unit tests of collectors/file_pending.c: inotify masks to actions, the
 * changes of one path merged into one entry, moves paired by cookie, the
 * order and deadlines entries come out in, the oldest evicted past
 * FILE_PENDING_MAX, and an entry's JSON. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>

#include "file_pending.h"
#include "fixture.h"

/* What the list evicted, in order. */
struct evicted {
	char paths[4][32];
	size_t n;
};

static void on_evict(void *ctx, struct file_pending *p)
{
	struct evicted *ev = ctx;

	assert_null(p->prev);
	assert_null(p->next);
	if (ev->n < 4)
		snprintf(ev->paths[ev->n], sizeof(ev->paths[0]), "%s", p->path);
	ev->n++;
	file_pending_free(p);
}

static char *json_of(const struct file_pending *p)
{
	return json_text(file_pending_json(p));
}

/* The next entry of l due at now (all: whatever the deadline) prints as
 * want; it is taken off l and freed. */
static void assert_next_due(struct file_pending_list *l, uint64_t now, bool all, const char *want)
{
	struct file_pending *p = file_pending_next_due(l, now, all);
	char *s;

	assert_non_null(p);
	s = json_of(p);
	assert_string_equal(s, want);
	free(s);
	file_pending_free(p);
}

TEST(test_actions)
{
	assert_int_equal(file_mask_action(IN_CREATE | IN_ISDIR), FILE_CREATED);
	assert_int_equal(file_mask_action(IN_MODIFY), FILE_MODIFIED);
	assert_int_equal(file_mask_action(IN_MOVED_TO), FILE_MOVED);
	assert_int_equal(file_mask_action(IN_ATTRIB), FILE_ATTRIB);
	assert_int_equal(file_mask_action(IN_DELETE), FILE_DELETED);
	assert_int_equal(file_mask_action(IN_IGNORED), -1);
	assert_int_equal(file_mask_action(IN_Q_OVERFLOW), -1);
	assert_string_equal(file_action_name(FILE_MOVED), "moved");
	assert_null(file_action_name(FILE_NACTIONS));
}

/* Changes of one path merge; each action once in "actions", the last one
 * in "action"; entries come out oldest first, once due. */
TEST(test_merge)
{
	struct file_pending_list l = {0};
	struct file_pending *p;

	assert_int_equal(file_pending_add(&l, "/w/a", FILE_CREATED, false, T1, 0), 0);
	assert_int_equal(file_pending_add(&l, "/w/b", FILE_MODIFIED, false, T1 + 1, 0), 0);
	assert_int_equal(file_pending_add(&l, "/w/a", FILE_MODIFIED, false, T1 + 2, 0), 0);
	assert_int_equal(file_pending_add(&l, "/w/a", FILE_CREATED, true, T1 + 3, 0), 0);
	assert_int_equal(l.n, 2);
	assert_null(file_pending_next_due(&l, 0, false)); /* not due at time 0 */
	assert_true(file_pending_deadline(&l) > 0);
	assert_next_due(&l, UINT64_MAX, false,
			"{\"t\":1700000000000,\"path\":\"/w/a\",\"action\":\"created\","
			"\"actions\":[\"created\",\"modified\"],\"dir\":true,\"count\":3}");
	p = file_pending_next_due(&l, 0, true); /* `all`: whatever the deadline */
	assert_non_null(p);
	assert_string_equal(p->path, "/w/b");
	file_pending_free(p);
	assert_null(file_pending_next_due(&l, UINT64_MAX, true));
	assert_int_equal(file_pending_deadline(&l), 0);
	assert_int_equal(l.n, 0);
}

/* A MOVED_TO closes the open move of its cookie; one without its other
 * half, or with cookie 0, opens a move of its own. */
TEST(test_moves)
{
	struct file_pending_list l = {0};
	struct file_pending *p;
	const char *from = NULL;

	assert_int_equal(
	    file_pending_move(&l, "/w/old", IN_MOVED_FROM | IN_ISDIR, 7, T1, 100, &from), 0);
	assert_int_equal(file_pending_move(&l, "/w/x", IN_MOVED_TO, 8, T1, 100, &from), 0);
	assert_int_equal(file_pending_move(&l, "/w/new", IN_MOVED_TO | IN_ISDIR, 7, T1, 100, &from),
			 1);
	assert_string_equal(from, "/w/old");
	/* a path's changes do not merge into a move */
	assert_int_equal(file_pending_add(&l, "/w/new", FILE_MODIFIED, false, T1, 100), 0);
	assert_int_equal(l.n, 3);

	assert_next_due(&l, 0, true,
			"{\"t\":1700000000000,\"path\":\"/w/new\",\"action\":\"moved\","
			"\"actions\":[\"moved\"],\"dir\":true,\"count\":1,"
			"\"from\":\"/w/old\",\"to\":\"/w/new\"}");
	assert_next_due(&l, 0, true,
			"{\"t\":1700000000000,\"path\":\"/w/x\",\"action\":\"moved\","
			"\"actions\":[\"moved\"],\"dir\":false,\"count\":1,"
			"\"from\":null,\"to\":\"/w/x\"}");
	p = file_pending_next_due(&l, 0, true);
	assert_false(p->move);
	assert_string_equal(p->path, "/w/new");
	file_pending_free(p);
	assert_int_equal(l.n, 0);
}

/* Past FILE_PENDING_MAX the oldest goes out first, through evict. */
TEST(test_evict)
{
	struct evicted ev = {0};
	struct file_pending_list l = {.evict = on_evict, .ctx = &ev};
	char path[32];

	for (unsigned i = 0; i < FILE_PENDING_MAX + 2; i++) {
		snprintf(path, sizeof(path), "/w/%u", i);
		assert_int_equal(file_pending_add(&l, path, FILE_CREATED, false, T1, 100), 0);
	}
	assert_int_equal(l.n, FILE_PENDING_MAX);
	assert_int_equal(ev.n, 2);
	assert_string_equal(ev.paths[0], "/w/0");
	assert_string_equal(ev.paths[1], "/w/1");
	assert_string_equal(l.head->path, "/w/2");
	file_pending_clear(&l);
	assert_int_equal(l.n, 0);
	assert_null(l.head);
	assert_null(l.tail);
	file_pending_free(NULL);
}
