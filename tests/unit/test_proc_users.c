/* Unit tests of collectors/proc_users.c: the passwd parser against inline
 * lines of every shape nss_files skips and the captured vm2 tree. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "fixture.h"
#include "proc_users.h"

/* --- passwd --- */

TEST(test_passwd)
{
	static const char text[] = "root:x:0:0:root:/root:/bin/bash\n"
				   "+nisuser::::::\n"
				   "-other::::::\n"
				   "# a comment:x:5:5\n"
				   "\n"
				   "bad:x:notanumber:0::/:/bin/sh\n"
				   "short:x\n"
				   ":x:7:7::/:/bin/sh\n"
				   "toor:x:0:0:second root:/root:/bin/sh\n"
				   "big:x:4294967296:0::/:/bin/sh\n"
				   "daemon:x:1:1::/:/usr/sbin/nologin\n"
				   "nobody:x:65534:65534::/nonexistent:/usr/sbin/nologin\n"
				   "last:x:1000:1000::/home/last:/bin/sh";
	struct proc_users u = {0};
	size_t len;
	char *pw;

	assert_int_equal(proc_passwd_parse(text, sizeof(text) - 1, &u), 0);
	assert_int_equal(u.n, 4);
	assert_string_equal(proc_users_name(&u, 0), "root"); /* the first line wins */
	assert_string_equal(proc_users_name(&u, 1), "daemon");
	assert_string_equal(proc_users_name(&u, 65534), "nobody");
	assert_string_equal(proc_users_name(&u, 1000), "last"); /* no final '\n' */
	assert_null(proc_users_name(&u, 5));
	assert_null(proc_users_name(&u, 7));
	assert_null(proc_users_name(&u, 4242));
	/* reparsing replaces */
	assert_int_equal(proc_passwd_parse("x:x:9:9::/:/bin/sh\n", 19, &u), 0);
	assert_int_equal(u.n, 1);
	assert_null(proc_users_name(&u, 0));
	assert_int_equal(proc_passwd_parse("", 0, &u), 0);
	assert_int_equal(u.n, 0);
	assert_null(proc_users_name(&u, 0));

	pw = slurp("vm2", "etc/passwd", &len);
	assert_int_equal(proc_passwd_parse(pw, len, &u), 0);
	assert_string_equal(proc_users_name(&u, 0), "root");
	assert_string_equal(proc_users_name(&u, 65534), "nobody");
	assert_null(proc_users_name(&u, 4242));
	free(pw);
	proc_users_free(&u);
	proc_users_free(&u);
	proc_users_free(NULL);
}
