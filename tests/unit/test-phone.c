/*
 * SecuMailer — unit tests: phone numbers.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "smd-error.h"
#include "smd-phone.h"

static void
test_normalise(void)
{
	const struct {
		const gchar *input;
		const gchar *country;
		const gchar *expect;
	} good[] = {
	    {"06 12345678", "NL", "+31612345678"},
	    {"06-1234 5678", "nl", "+31612345678"},
	    {"+31 6 12345678", NULL, "+31612345678"},
	    /* the trunk 0 in brackets after the country code, as often written */
	    {"0031 (0)6 1234 5678", "NL", "+31612345678"},
	    {"+31 (0)6 12345678", NULL, "+31612345678"},
	    {"+31(0)612345678", NULL, "+31612345678"},
	    {"+44 (0)7700 900123", NULL, "+447700900123"},
	    {"06 (0)12345678", "NL", NULL}, /* elsewhere a bracket is only a bracket */
	    {"0031612345678", NULL, "+31612345678"},
	    {"+32 470 12 34 56", "NL", "+32470123456"},
	    {"0470 12 34 56", "BE", "+32470123456"},
	    {"+44 7700 900123", NULL, "+447700900123"},
	    {"+1 202 555 0143", NULL, "+12025550143"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(good); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = smd_phone_normalise(good[i].input, good[i].country, &error);
		if (good[i].expect == NULL) {
			g_assert_null(out);
			continue;
		}
		if (out == NULL)
			g_error("%s: %s", good[i].input, error->message);
		g_assert_cmpstr(out, ==, good[i].expect);
	}
}

static void
test_invalid(void)
{
	const gchar *bad[] = {
	    "",
	    "hello",
	    "06 1234",		   /* too short for NL */
	    "06 123456789",	   /* too long for NL */
	    "+31 06 12345678",	   /* trunk 0 after the country code */
	    "0612345678; DROP",	   /* letters and punctuation */
	    "+1234567890123456",   /* more than 15 digits */
	    "06 12345678\r\nX: y", /* header injection attempt */
	    "++31612345678",
	    "31+612345678",
	    NULL,
	};
	for (guint i = 0; bad[i] != NULL; i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = smd_phone_normalise(bad[i], "NL", &error);
		if (out != NULL)
			g_error("%s should be refused, got %s", bad[i], out);
		g_assert_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA);
	}
	/* a national number needs a default country */
	{
		g_autoptr(GError) error = NULL;
		g_autofree gchar *out = smd_phone_normalise("0612345678", NULL, &error);
		g_assert_null(out);
		g_assert_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA);
	}
}

static void
test_mask(void)
{
	g_autofree gchar *nl = smd_phone_mask("+31612345678");
	g_autofree gchar *us = smd_phone_mask("+12025550143");
	g_assert_cmpstr(nl, ==, "+31 6••••••78");
	g_assert_null(g_strstr_len(nl, -1, "345"));
	g_assert_true(g_str_has_suffix(us, "43"));
	{
		/* never read before the string (fuzz-phone) */
		g_autofree gchar *empty = smd_phone_mask("");
		g_assert_nonnull(empty);
	}
	g_assert_true(smd_phone_country_known("nl"));
	g_assert_false(smd_phone_country_known("XX"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/phone/normalise", test_normalise);
	g_test_add_func("/secumailer/phone/invalid", test_invalid);
	g_test_add_func("/secumailer/phone/mask", test_mask);
	return g_test_run();
}
