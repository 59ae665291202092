/*
 * SecuMailer — fuzz target: phone numbers as senders and staff type
 * them (smd-phone.h): normalised with several default countries, every
 * result masked for display.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "smd-phone.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_e164(const gchar *number)
{
	gsize len = strlen(number);
	g_autofree gchar *again = NULL;
	g_autofree gchar *masked = NULL;

	/* "+" and 8 to 15 digits, no trunk 0 */
	g_assert_true(number[0] == '+');
	g_assert_cmpuint(len, >=, 1 + 8);
	g_assert_cmpuint(len, <=, 1 + 15);
	g_assert_true(number[1] != '0');
	for (gsize i = 1; i < len; i++)
		g_assert_true(g_ascii_isdigit(number[i]));

	/* normalised once is normalised for good, whatever the country */
	again = smd_phone_normalise(number, NULL, NULL);
	g_assert_cmpstr(again, ==, number);

	/* enough to recognise, not to use: the end shows, something is hidden */
	masked = smd_phone_mask(number);
	g_assert_nonnull(masked);
	g_assert_true(g_utf8_validate(masked, -1, NULL));
	g_assert_true(g_str_has_prefix(masked, "+"));
	g_assert_true(g_str_has_suffix(masked, number + len - 2));
	g_assert_nonnull(strstr(masked, "•"));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const gchar *const countries[] = {"NL", "BE", "DE", "GB", "LU",
						 "IE", "nl", "XX", ""};
	g_autofree gchar *input = g_strndup((const gchar *)data, size);
	g_autofree gchar *international = smd_phone_normalise(input, NULL, NULL);

	if (international != NULL)
		check_e164(international);
	for (guint i = 0; i < G_N_ELEMENTS(countries); i++) {
		g_autoptr(GError) error = NULL;
		g_autofree gchar *number = smd_phone_normalise(input, countries[i], &error);

		if (number == NULL) {
			g_assert_nonnull(error);
			/* a number with its country code needs no default country */
			g_assert_null(international);
			continue;
		}
		g_assert_no_error(error);
		check_e164(number);
		/* ... and the default country changes nothing about it */
		if (international != NULL)
			g_assert_cmpstr(number, ==, international);
		else
			g_assert_true(smd_phone_country_known(countries[i]));
	}
	return 0;
}
