/*
 * SecuMailer — phone numbers.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-portal"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "smd-error.h"
#include "smd-phone.h"

/* E.164 §6: at most 15 digits including the country code. */
#define SMD_PHONE_MAX_DIGITS 15
#define SMD_PHONE_MIN_DIGITS 8
#define SMD_PHONE_MAX_INPUT 64

/* Countries whose national numbers we expand, with the length of the
 * national significant number (without the trunk prefix 0). */
static const struct {
	const gchar *iso;
	const gchar *cc;
	guint min_len;
	guint max_len;
} smd_phone_countries[] = {
    {"NL", "31", 9, 9},	 {"BE", "32", 8, 9},   {"DE", "49", 6, 13}, {"FR", "33", 9, 9},
    {"GB", "44", 9, 10}, {"LU", "352", 4, 11}, {"AT", "43", 4, 13}, {"CH", "41", 9, 9},
    {"ES", "34", 9, 9},	 {"IT", "39", 6, 11},  {"IE", "353", 7, 9}, {"DK", "45", 8, 8},
    {"SE", "46", 7, 13}, {"NO", "47", 8, 8},   {"PL", "48", 9, 9},  {"PT", "351", 9, 9},
};

static gint
smd_phone_country_index(const gchar *country)
{
	for (guint i = 0; country != NULL && i < G_N_ELEMENTS(smd_phone_countries); i++) {
		if (g_ascii_strcasecmp(country, smd_phone_countries[i].iso) == 0)
			return (gint)i;
	}
	return -1;
}

gboolean
smd_phone_country_known(const gchar *country)
{
	return smd_phone_country_index(country) >= 0;
}

/* Checks the national part of a number with a country code we know. */
static gboolean
smd_phone_check_known(const gchar *digits, GError **error)
{
	for (guint i = 0; i < G_N_ELEMENTS(smd_phone_countries); i++) {
		const gchar *cc = smd_phone_countries[i].cc;
		gsize national;
		if (!g_str_has_prefix(digits, cc))
			continue;
		national = strlen(digits) - strlen(cc);
		if (national < smd_phone_countries[i].min_len ||
		    national > smd_phone_countries[i].max_len || digits[strlen(cc)] == '0') {
			g_set_error_literal(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
					    N_("This number has the wrong length for its country"));
			return FALSE;
		}
		return TRUE;
	}
	return TRUE;
}

/* "+31 (0)6 …", as numbers are often written: the trunk 0 in brackets
 * right after the country code is not dialled from abroad. A copy
 * without it, or NULL when @input has none there. */
static gchar *
smd_phone_drop_trunk(const gchar *input)
{
	const gchar *p = input, *cc, *cc_end;

	while (*p == ' ')
		p++;
	if (*p == '+')
		p++;
	else if (p[0] == '0' && p[1] == '0')
		p += 2;
	else
		return NULL;
	while (*p == ' ')
		p++;
	cc = p;
	while (g_ascii_isdigit(*p) && p - cc < 3)
		p++;
	cc_end = p;
	while (*p == ' ')
		p++;
	if (cc == cc_end || *cc == '0' || !g_str_has_prefix(p, "(0)"))
		return NULL;
	return g_strdup_printf("%.*s %s", (int)(cc_end - input), input, p + 3);
}

gchar *
smd_phone_normalise(const gchar *input, const gchar *default_country, GError **error)
{
	GString *digits = g_string_new(NULL);
	g_autofree gchar *result = NULL;
	gboolean international = FALSE;
	gboolean seen_digit = FALSE;
	gint country;

	g_autofree gchar *written = NULL;

	if (strlen(input) > SMD_PHONE_MAX_INPUT) {
		g_string_free(digits, TRUE);
		g_set_error_literal(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
				    N_("This number is too long"));
		return NULL;
	}
	written = smd_phone_drop_trunk(input);
	for (const gchar *p = written != NULL ? written : input; *p != '\0'; p++) {
		if (g_ascii_isdigit(*p)) {
			g_string_append_c(digits, *p);
			seen_digit = TRUE;
		} else if (*p == '+' && !seen_digit && !international) {
			international = TRUE;
		} else if (strchr(" -./()\t", *p) == NULL) {
			g_string_free(digits, TRUE);
			g_set_error_literal(
			    error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
			    N_("A phone number may only contain digits, spaces, dashes and a "
			       "leading +"));
			return NULL;
		}
	}
	/* 00 is the international call prefix in most of Europe */
	if (!international && g_str_has_prefix(digits->str, "00")) {
		g_string_erase(digits, 0, 2);
		international = TRUE;
	}
	if (!international) {
		country = smd_phone_country_index(default_country);
		if (country < 0 || digits->str[0] != '0') {
			g_string_free(digits, TRUE);
			g_set_error_literal(
			    error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
			    N_("Enter the number with its country code, for example "
			       "+31 6 12345678"));
			return NULL;
		}
		/* trunk prefix 0 → country code */
		g_string_erase(digits, 0, 1);
		g_string_prepend(digits, smd_phone_countries[country].cc);
	}
	if (digits->len < SMD_PHONE_MIN_DIGITS || digits->len > SMD_PHONE_MAX_DIGITS ||
	    digits->str[0] == '0') {
		g_string_free(digits, TRUE);
		g_set_error_literal(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
				    N_("This is not a valid phone number"));
		return NULL;
	}
	if (!smd_phone_check_known(digits->str, error)) {
		g_string_free(digits, TRUE);
		return NULL;
	}
	result = g_strdup_printf("+%s", digits->str);
	g_string_free(digits, TRUE);
	return g_steal_pointer(&result);
}

gchar *
smd_phone_mask(const gchar *e164)
{
	GString *out = g_string_new(NULL);
	gsize len = strlen(e164);
	gsize keep_head = 0;

	/* keep "+", the country code and the first digit after it */
	for (guint i = 0; len > 0 && i < G_N_ELEMENTS(smd_phone_countries); i++) {
		if (g_str_has_prefix(e164 + 1, smd_phone_countries[i].cc))
			keep_head = 1 + strlen(smd_phone_countries[i].cc);
	}
	if (keep_head == 0)
		keep_head = MIN(len, 3);
	g_string_append_len(out, e164, (gssize)keep_head);
	g_string_append_c(out, ' ');
	for (gsize i = keep_head; i < len; i++) {
		if (i == keep_head || i + 2 >= len)
			g_string_append_c(out, e164[i]);
		else
			g_string_append(out, "•");
	}
	return g_string_free(out, FALSE);
}
