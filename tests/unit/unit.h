/* Unit tests that register themselves, so that a test cannot be written
 * and left out of a list: TEST(name) { ... } defines the test and adds it
 * to its binary's list from a constructor; the one main
 * (tests/unit/unit.c, linked into every unit test binary) runs the list in
 * the order of the file as one cmocka group named after the binary.
 * Include after cmocka.h. */
#ifndef SYSFEED_TEST_UNIT_H
#define SYSFEED_TEST_UNIT_H

/* Adds a copy of t to the list; line is where the file registered it,
 * which orders the list. */
void unit_register(const struct CMUnitTest *t, int line);

/* Sets the group's setup and teardown (run once, around all the tests). */
void unit_group(CMFixtureFunction setup, CMFixtureFunction teardown);

#define UNIT_CAT_(a, b) a##b
#define UNIT_CAT(a, b)  UNIT_CAT_(a, b)

/* Registers the test f under name, with its own setup and teardown (may be
 * NULL) and state as its initial *state (static storage). At file scope,
 * one a line; it ends in a declaration so that the use takes a ';'. */
#define UNIT_ENTRY(name, f, setup, teardown, state)                                                \
	__attribute__((constructor)) static void UNIT_CAT(unit_register_, __LINE__)(void)          \
	{                                                                                          \
		unit_register(                                                                     \
		    &(const struct CMUnitTest){(name), (f), (setup), (teardown), (void *)(state)}, \
		    __LINE__);                                                                     \
	}                                                                                          \
	void unit_register(const struct CMUnitTest *, int)

/* Defines and registers the test f with a setup and teardown of its own:
 * TEST_WITH(test_x, setup, teardown) { ...body using state... }. */
#define TEST_WITH(f, setup, teardown)                                                              \
	static void f(void **state);                                                               \
	UNIT_ENTRY(#f, f, setup, teardown, NULL);                                                  \
	static void f(void **state)

/* Defines and registers the test f: TEST(test_x) { ... }. */
#define TEST(f) TEST_WITH(f, NULL, NULL)

/* The group's setup and teardown, once a binary: TEST_GROUP(setup,
 * teardown) at file scope after both are defined. */
#define TEST_GROUP(setup, teardown)                                                                \
	__attribute__((constructor)) static void unit_group_register(void)                         \
	{                                                                                          \
		unit_group((setup), (teardown));                                                   \
	}                                                                                          \
	void unit_group(CMFixtureFunction, CMFixtureFunction)

#endif
