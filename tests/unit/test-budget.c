/*
 * SecuMailer — unit tests: the bound on the memory that messages take.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "smd-budget.h"

typedef struct {
	GString *log; /* "name+" granted, "name-" refused, in order */
	SmdBudget *budget;
} Fixture;

typedef struct {
	Fixture *f;
	const gchar *name;
} Asker;

static void
granted_cb(gboolean granted, gboolean waited, gpointer user_data)
{
	Asker *a = user_data;
	/* "+" granted, "-" refused; "~" after waiting, as opposed to at once */
	g_string_append_printf(a->f->log, "%s%s%c ", a->name, waited ? "~" : "",
			       granted ? '+' : '-');
}

static void
take(SmdBudget *b, Asker *a, guint64 bytes)
{
	smd_budget_take(b, bytes, granted_cb, a);
}

static void
test_fits_and_waits_in_order(void)
{
	Fixture f = {g_string_new(NULL), NULL};
	Asker a = {&f, "a"}, b = {&f, "b"}, c = {&f, "c"}, d = {&f, "d"};
	SmdBudget *budget = smd_budget_new(100, 30);

	take(budget, &a, 60);
	take(budget, &b, 30);
	g_assert_cmpstr(f.log->str, ==, "a+ b+ ");
	g_assert_cmpuint(smd_budget_in_use(budget), ==, 90);
	take(budget, &c, 50); /* does not fit: waits */
	take(budget, &d, 5);  /* would fit, but c came first */
	g_assert_cmpstr(f.log->str, ==, "a+ b+ ");
	smd_budget_release(budget, 30); /* b done: 60 + 50 > 100 still */
	g_assert_cmpstr(f.log->str, ==, "a+ b+ ");
	smd_budget_release(budget, 20); /* a keeps 40 of its 60 */
	g_assert_cmpstr(f.log->str, ==, "a+ b+ c~+ d~+ ");
	g_assert_cmpuint(smd_budget_in_use(budget), ==, 95);
	smd_budget_free(budget);
	g_string_free(f.log, TRUE);
}

/* A message larger than the limit can still be opened, alone. */
static void
test_larger_than_limit_alone(void)
{
	Fixture f = {g_string_new(NULL), NULL};
	Asker a = {&f, "a"}, b = {&f, "b"}, c = {&f, "c"};
	SmdBudget *budget = smd_budget_new(100, 30);

	take(budget, &a, 10);
	take(budget, &b, 500);
	g_assert_cmpstr(f.log->str, ==, "a+ ");
	smd_budget_release(budget, 10);
	g_assert_cmpstr(f.log->str, ==, "a+ b~+ ");
	take(budget, &c, 1);
	g_assert_cmpstr(f.log->str, ==, "a+ b~+ ");
	smd_budget_release(budget, 500);
	g_assert_cmpstr(f.log->str, ==, "a+ b~+ c~+ ");
	smd_budget_release(budget, 1);
	g_assert_cmpuint(smd_budget_in_use(budget), ==, 0);
	smd_budget_free(budget);
	g_string_free(f.log, TRUE);
}

static void
test_too_many_waiting(void)
{
	Fixture f = {g_string_new(NULL), NULL};
	Asker first = {&f, "a"}, waiter = {&f, "w"}, late = {&f, "z"};
	SmdBudget *budget = smd_budget_new(100, 30);

	take(budget, &first, 100);
	for (guint i = 0; i < SMD_BUDGET_MAX_WAITING; i++)
		take(budget, &waiter, 1);
	g_assert_cmpstr(f.log->str, ==, "a+ ");
	take(budget, &late, 1); /* refused at once, nothing held */
	g_assert_cmpstr(f.log->str, ==, "a+ z- ");
	g_assert_cmpuint(smd_budget_in_use(budget), ==, 100);
	/* shutdown: the waiting are told no, not forgotten (nor let in) */
	smd_budget_refuse_waiting(budget);
	{
		g_autoptr(GString) expected = g_string_new("a+ z- ");
		for (guint i = 0; i < SMD_BUDGET_MAX_WAITING; i++)
			g_string_append(expected, "w~- ");
		g_assert_cmpstr(f.log->str, ==, expected->str);
	}
	g_assert_cmpuint(smd_budget_in_use(budget), ==, 100);
	smd_budget_free(budget);
	g_string_free(f.log, TRUE);
}

static gboolean
quit_cb(gpointer user_data)
{
	g_main_loop_quit(user_data);
	return G_SOURCE_REMOVE;
}

static void
test_waits_no_longer_than_its_time(void)
{
	Fixture f = {g_string_new(NULL), NULL};
	Asker a = {&f, "a"}, b = {&f, "b"};
	SmdBudget *budget = smd_budget_new(100, 1);
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);

	take(budget, &a, 100);
	take(budget, &b, 1);
	g_timeout_add(2500, quit_cb, loop); /* whole seconds may come up to 1 s late */
	g_main_loop_run(loop);
	g_assert_cmpstr(f.log->str, ==, "a+ b~- ");
	smd_budget_release(budget, 100); /* b is gone: nothing granted */
	g_assert_cmpstr(f.log->str, ==, "a+ b~- ");
	g_assert_cmpuint(smd_budget_in_use(budget), ==, 0);
	smd_budget_free(budget);
	g_string_free(f.log, TRUE);
}

/* A granted callback that gives its bytes back at once (a request that
 * fails early) lets the next waiter in, in the same turn. */
static void
release_at_once_cb(gboolean granted, gboolean waited, gpointer user_data)
{
	Asker *a = user_data;
	granted_cb(granted, waited, a);
	if (granted)
		smd_budget_release(a->f->budget, 60);
}

static void
test_release_inside_callback(void)
{
	Fixture f = {g_string_new(NULL), NULL};
	Asker a = {&f, "a"}, b = {&f, "b"}, c = {&f, "c"};

	f.budget = smd_budget_new(100, 30);
	take(f.budget, &a, 60);
	smd_budget_take(f.budget, 60, release_at_once_cb, &b);
	take(f.budget, &c, 60);
	smd_budget_release(f.budget, 60);
	g_assert_cmpstr(f.log->str, ==, "a+ b~+ c~+ ");
	g_assert_cmpuint(smd_budget_in_use(f.budget), ==, 60);
	smd_budget_free(f.budget);
	g_string_free(f.log, TRUE);
}

/* A reload may raise the limit: who waits for it goes at once. */
static void
test_raised_limit(void)
{
	Fixture f = {g_string_new(NULL), NULL};
	Asker a = {&f, "a"}, b = {&f, "b"};
	SmdBudget *budget = smd_budget_new(100, 30);

	take(budget, &a, 80);
	take(budget, &b, 80);
	smd_budget_set_limit(budget, 200);
	g_assert_cmpstr(f.log->str, ==, "a+ b~+ ");
	smd_budget_free(budget);
	g_string_free(f.log, TRUE);
}

/* The SMTP intake's way: what fits, or no at once. */
static void
test_try_take(void)
{
	SmdBudget *budget = smd_budget_new(100, 30);

	g_assert_true(smd_budget_try_take(budget, 0, 70));
	g_assert_false(smd_budget_try_take(budget, 0, 31));
	g_assert_true(smd_budget_try_take(budget, 0, 30));
	smd_budget_release(budget, 100);
	g_assert_true(smd_budget_try_take(budget, 0, 1000)); /* alone, anything goes */
	g_assert_false(smd_budget_try_take(budget, 0, 1));
	/* and who holds it all may grow: a message coming in */
	g_assert_true(smd_budget_try_take(budget, 1000, 500));
	g_assert_false(smd_budget_try_take(budget, 1000, 1)); /* not alone */
	smd_budget_release(budget, 1500);
	g_assert_cmpuint(smd_budget_in_use(budget), ==, 0);
	smd_budget_free(budget);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/budget/order", test_fits_and_waits_in_order);
	g_test_add_func("/secumailer/budget/larger-alone", test_larger_than_limit_alone);
	g_test_add_func("/secumailer/budget/too-many", test_too_many_waiting);
	g_test_add_func("/secumailer/budget/timeout", test_waits_no_longer_than_its_time);
	g_test_add_func("/secumailer/budget/raised", test_raised_limit);
	g_test_add_func("/secumailer/budget/try-take", test_try_take);
	g_test_add_func("/secumailer/budget/release-inside-callback", test_release_inside_callback);
	return g_test_run();
}
