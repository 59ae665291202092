/*
 * SecuMailer — unit tests: remote reply parsing and the outbound DATA stream.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "smd-error.h"
#include "smd-smtp-client.h"
#include "smd-smtp-reply.h"

static gboolean
feed(SmdReply *reply, const gchar *line, GError **error)
{
	return smd_reply_feed_line(reply, line, strlen(line), error);
}

static void
test_multiline(void)
{
	g_auto(SmdReply) reply = {0};
	g_autofree gchar *text = NULL;
	smd_reply_init(&reply);
	g_assert_true(feed(&reply, "250-mx.example", NULL));
	g_assert_false(reply.complete);
	g_assert_true(feed(&reply, "250-PIPELINING", NULL));
	g_assert_true(feed(&reply, "250-STARTTLS", NULL));
	g_assert_true(feed(&reply, "250 SIZE 1000", NULL));
	g_assert_true(reply.complete);
	g_assert_cmpuint(reply.code, ==, 250);
	g_assert_true(smd_reply_has_extension(&reply, "starttls"));
	g_assert_true(smd_reply_has_extension(&reply, "SIZE"));
	g_assert_false(smd_reply_has_extension(&reply, "8BITMIME"));
	g_assert_false(smd_reply_has_extension(&reply, "START"));
	text = smd_reply_to_string(&reply);
	g_assert_cmpstr(text, ==, "250 mx.example PIPELINING STARTTLS SIZE 1000");
}

static void
test_bare_code(void)
{
	g_auto(SmdReply) reply = {0};
	smd_reply_init(&reply);
	g_assert_true(feed(&reply, "354", NULL));
	g_assert_true(reply.complete);
	g_assert_cmpuint(reply.code, ==, 354);
}

static void
test_malformed(void)
{
	const gchar *bad[] = {"25", "abc def", "250x", "650 nope", "2500 x", "", NULL};
	for (guint i = 0; bad[i] != NULL; i++) {
		g_auto(SmdReply) reply = {0};
		g_autoptr(GError) error = NULL;
		smd_reply_init(&reply);
		g_assert_false(feed(&reply, bad[i], &error));
		g_assert_error(error, SMD_ERROR, SMD_ERROR_PROTOCOL);
	}
}

static void
test_code_change_and_limits(void)
{
	g_auto(SmdReply) reply = {0};
	g_auto(SmdReply) many = {0};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *long_line = NULL;

	smd_reply_init(&reply);
	g_assert_true(feed(&reply, "250-first", NULL));
	g_assert_false(feed(&reply, "550 second", &error));
	g_clear_error(&error);

	smd_reply_init(&many);
	for (guint i = 0; i < SMD_SMTP_MAX_REPLY_LINES; i++)
		g_assert_true(feed(&many, "250-x", NULL));
	g_assert_false(feed(&many, "250-x", &error));
	g_clear_error(&error);

	smd_reply_clear(&reply);
	smd_reply_init(&reply);
	long_line = g_strnfill(SMD_SMTP_MAX_REPLY_LINE + 1, '2');
	g_assert_false(feed(&reply, long_line, &error));
}

static void
test_dot_stuff(void)
{
	const gchar *in = ".start\r\nmid\r\n..two\nbare lf\rbare cr\r\n.";
	const gchar *expect = "..start\r\nmid\r\n...two\r\nbare lf\r\nbare cr\r\n..\r\n.\r\n";
	g_autoptr(GBytes) msg = g_bytes_new_static(in, strlen(in));
	g_autoptr(GBytes) out = smd_smtp_dot_stuff(msg);
	g_assert_cmpmem(g_bytes_get_data(out, NULL), g_bytes_get_size(out), expect, strlen(expect));
}

static void
test_dot_stuff_empty(void)
{
	g_autoptr(GBytes) msg = g_bytes_new_static("", 0);
	g_autoptr(GBytes) out = smd_smtp_dot_stuff(msg);
	g_assert_cmpmem(g_bytes_get_data(out, NULL), g_bytes_get_size(out), ".\r\n", 3);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/reply/multiline", test_multiline);
	g_test_add_func("/secumailer/reply/bare-code", test_bare_code);
	g_test_add_func("/secumailer/reply/malformed", test_malformed);
	g_test_add_func("/secumailer/reply/code-change-and-limits", test_code_change_and_limits);
	g_test_add_func("/secumailer/reply/dot-stuff", test_dot_stuff);
	g_test_add_func("/secumailer/reply/dot-stuff-empty", test_dot_stuff_empty);
	return g_test_run();
}
