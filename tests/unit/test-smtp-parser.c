/*
 * SecuMailer — unit tests: SMTP command-line parsing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "smd-error.h"
#include "smd-smtp-parser.h"

static SmdLineStatus
scan(const gchar *s, gsize max, gsize *len)
{
	return smd_line_scan((const guint8 *)s, strlen(s), max, len);
}

static void
test_line_scan(void)
{
	gsize len = 0;
	g_assert_cmpint(scan("EHLO x\r\nMAIL", 100, &len), ==, SMD_LINE_COMPLETE);
	g_assert_cmpuint(len, ==, 8);
	g_assert_cmpint(scan("EHLO x", 100, &len), ==, SMD_LINE_INCOMPLETE);
	g_assert_cmpint(scan("EHLO x\r", 100, &len), ==, SMD_LINE_INCOMPLETE);
	g_assert_cmpint(scan("", 100, &len), ==, SMD_LINE_INCOMPLETE);
}

static void
test_bare_lf_rejected(void)
{
	gsize len = 0;
	g_assert_cmpint(scan("EHLO x\nMAIL", 100, &len), ==, SMD_LINE_BARE_LF);
	g_assert_cmpint(scan("\n", 100, &len), ==, SMD_LINE_BARE_LF);
}

static void
test_bare_cr_rejected(void)
{
	gsize len = 0;
	g_assert_cmpint(scan("EHLO x\rMAIL\r\n", 100, &len), ==, SMD_LINE_BARE_CR);
}

static void
test_nul_rejected(void)
{
	gsize len = 0;
	const guint8 buf[] = {'N', 'O', 0, 'P', '\r', '\n'};
	g_assert_cmpint(smd_line_scan(buf, sizeof(buf), 100, &len), ==, SMD_LINE_NUL);
}

static void
test_line_too_long(void)
{
	gsize len = 0;
	/* exactly at the limit (content + CRLF = 8) is fine, one more is not */
	g_assert_cmpint(scan("123456\r\n", 8, &len), ==, SMD_LINE_COMPLETE);
	g_assert_cmpint(scan("1234567\r\n", 8, &len), ==, SMD_LINE_TOO_LONG);
	g_assert_cmpint(scan("1234567", 8, &len), ==, SMD_LINE_TOO_LONG);
	g_assert_cmpint(scan("123456", 8, &len), ==, SMD_LINE_INCOMPLETE);
	g_assert_cmpint(scan("123456\r", 8, &len), ==, SMD_LINE_INCOMPLETE);
	g_assert_cmpint(scan("1234567\r", 8, &len), ==, SMD_LINE_TOO_LONG);
}

static void
test_command_parse(void)
{
	g_auto(SmdCommand) cmd = {0};
	g_autoptr(GError) error = NULL;

	g_assert_true(smd_command_parse("ehlo  client.example ", 21, &cmd, &error));
	g_assert_cmpint(cmd.verb, ==, SMD_VERB_EHLO);
	g_assert_cmpstr(cmd.arg, ==, "client.example");

	g_assert_true(smd_command_parse("MAIL FROM:<a@b.example> SIZE=10", 31, &cmd, &error));
	g_assert_cmpint(cmd.verb, ==, SMD_VERB_MAIL);
	g_assert_cmpstr(cmd.arg, ==, "<a@b.example> SIZE=10");

	g_assert_true(smd_command_parse("rcpt to: <c@d.example>", 22, &cmd, &error));
	g_assert_cmpint(cmd.verb, ==, SMD_VERB_RCPT);
	g_assert_cmpstr(cmd.arg, ==, "<c@d.example>");

	g_assert_true(smd_command_parse("STARTTLS", 8, &cmd, &error));
	g_assert_cmpint(cmd.verb, ==, SMD_VERB_STARTTLS);
	g_assert_cmpstr(cmd.arg, ==, "");

	g_assert_true(smd_command_parse("XYZZY foo", 9, &cmd, &error));
	g_assert_cmpint(cmd.verb, ==, SMD_VERB_UNKNOWN);

	/* a prefix of a verb is not the verb */
	g_assert_true(smd_command_parse("DATAX", 5, &cmd, &error));
	g_assert_cmpint(cmd.verb, ==, SMD_VERB_UNKNOWN);

	g_assert_false(smd_command_parse("MAIL <a@b.example>", 18, &cmd, &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA);
}

static void
test_path_parse(void)
{
	g_auto(SmdPath) path = {0};
	g_autoptr(GError) error = NULL;
	guint code = 0;
	const gchar *enhanced = NULL;

	g_assert_true(smd_path_parse("<User@Example.ORG> SIZE=100 body=8bitmime", TRUE, &path,
				     &code, &enhanced, &error));
	g_assert_cmpstr(path.address, ==, "User@Example.ORG");
	g_assert_cmpstr(path.domain, ==, "example.org");
	g_assert_cmpstr(g_hash_table_lookup(path.params, "SIZE"), ==, "100");
	g_assert_cmpstr(g_hash_table_lookup(path.params, "BODY"), ==, "8bitmime");

	g_assert_true(smd_path_parse("<>", TRUE, &path, &code, &enhanced, &error));
	g_assert_cmpstr(path.address, ==, "");
	g_assert_null(path.domain);

	g_assert_false(smd_path_parse("<>", FALSE, &path, &code, &enhanced, &error));
	g_assert_cmpuint(code, ==, 553);
	g_clear_error(&error);

	g_assert_false(smd_path_parse("a@b.example", TRUE, &path, &code, &enhanced, &error));
	g_assert_cmpuint(code, ==, 501);
	g_clear_error(&error);

	g_assert_false(smd_path_parse("<a@b.example>x", TRUE, &path, &code, &enhanced, &error));
	g_clear_error(&error);

	g_assert_false(
	    smd_path_parse("<a@b.example> SIZE=1 SIZE=2", TRUE, &path, &code, &enhanced, &error));
	g_clear_error(&error);
}

static void
test_address_forms(void)
{
	const gchar *good[] = {"a@b.example",
			       "first.last+tag@sub.example.org",
			       "\"quoted local\"@b.example",
			       "user%other@b.example",
			       "x@localhost",
			       NULL};
	/* source routes, address literals, bang paths without a domain, bad dots */
	const gchar *bad[] = {"@relay.example:a@b.example",
			      "a@[127.0.0.1]",
			      "a@[IPv6:::1]",
			      "host!user",
			      ".a@b.example",
			      "a..b@b.example",
			      "a.@b.example",
			      "a@b..example",
			      "a@-b.example",
			      "a@b-.example",
			      "a@",
			      "@b.example",
			      "a b@c.example",
			      "a@b_c.example",
			      "\"unterminated@b.example",
			      NULL};

	for (guint i = 0; good[i] != NULL; i++) {
		g_autofree gchar *domain = NULL;
		g_autoptr(GError) error = NULL;
		if (!smd_address_validate(good[i], &domain, &error))
			g_error("%s should be valid: %s", good[i], error->message);
	}
	for (guint i = 0; bad[i] != NULL; i++) {
		g_autoptr(GError) error = NULL;
		if (smd_address_validate(bad[i], NULL, &error))
			g_error("%s should be refused", bad[i]);
	}
	{
		g_autofree gchar *long_local = g_strnfill(65, 'a');
		g_autofree gchar *addr = g_strdup_printf("%s@b.example", long_local);
		g_assert_false(smd_address_validate(addr, NULL, NULL));
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/smtp/line-scan", test_line_scan);
	g_test_add_func("/secumailer/smtp/bare-lf-rejected", test_bare_lf_rejected);
	g_test_add_func("/secumailer/smtp/bare-cr-rejected", test_bare_cr_rejected);
	g_test_add_func("/secumailer/smtp/nul-rejected", test_nul_rejected);
	g_test_add_func("/secumailer/smtp/line-too-long", test_line_too_long);
	g_test_add_func("/secumailer/smtp/command-parse", test_command_parse);
	g_test_add_func("/secumailer/smtp/path-parse", test_path_parse);
	g_test_add_func("/secumailer/smtp/address-forms", test_address_forms);
	return g_test_run();
}
