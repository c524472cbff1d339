/* The connection records' watch fd: readable when a stream's peer went
 * away (reported once by conns_reap) and when a stream joined (so that the
 * loop looks at what the streams follow at once); quiet otherwise. Real
 * sockets (socketpairs), a real epoll set. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conns.h"
#include "unit.h"

static int hangups;

static void on_hangup(void *arg)
{
	hangups++;
	assert_ptr_equal(arg, &hangups);
}

static bool readable(struct conns *c)
{
	struct pollfd p = {.fd = conns_watch_fd(c), .events = POLLIN};

	return poll(&p, 1, 0) == 1 && (p.revents & POLLIN);
}

static struct conns *new_conns(void)
{
	struct conns_limits lim = {
	    .max_waiting = 8, .max_active = 8, .header_ms = 10000, .answer_ms = 10000};
	struct conns *c = conns_new(&lim);

	assert_non_null(c);
	return c;
}

TEST(test_stream_join_wakes_watch)
{
	struct conns *c = new_conns();
	struct conn_rec *r;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	assert_false(readable(c));
	r = conns_open(c, sv[0]);
	assert_non_null(r);
	conns_request(c, r);
	assert_false(readable(c)); /* a plain request: nothing to look at */
	hangups = 0;
	assert_int_equal(conns_stream(c, r, &hangups), 0);
	assert_true(readable(c)); /* a stream joined */
	conns_reap(c, on_hangup);
	assert_int_equal(hangups, 0); /* the news taken, no hangup reported */
	assert_false(readable(c));
	close(sv[1]); /* the peer goes */
	assert_true(readable(c));
	conns_reap(c, on_hangup);
	assert_int_equal(hangups, 1);
	assert_false(readable(c)); /* one-shot: reported once */
	conns_unstream(c, r);
	conns_close(c, r);
	close(sv[0]);
	conns_free(c);
}
