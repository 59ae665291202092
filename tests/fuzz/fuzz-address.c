/*
 * SecuMailer — fuzz target: mailbox and domain syntax
 * (smd_address_validate, smd_domain_validate). The input is one or more
 * candidates separated by NUL bytes. An address in <> must read the same
 * through smd_path_parse() as on its own.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "smd-smtp-parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_CANDIDATES 16

static void
check_domain(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *lower = g_ascii_strdown(text, -1);
	gboolean ok = smd_domain_validate(text, &error);
	gsize len = strlen(text);

	g_assert_true(ok == (error == NULL));
	/* the case of a domain does not matter */
	g_assert_true(smd_domain_validate(lower, NULL) == ok);
	if (!ok)
		return;
	g_assert_cmpuint(len, >=, 1);
	g_assert_cmpuint(len, <=, 253);
	g_assert_true(text[0] != '.');
	g_assert_true(text[len - 1] != '.');
	g_assert_null(strstr(text, ".."));
	for (gsize i = 0; i < len; i++)
		g_assert_true(g_ascii_isalnum(text[i]) || text[i] == '-' || text[i] == '.');
}

static void
check_address(const gchar *text)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *domain = NULL;
	gboolean ok = smd_address_validate(text, &domain, &error);

	g_assert_true(ok == (error == NULL));
	g_assert_true(smd_address_validate(text, NULL, NULL) == ok);
	if (ok) {
		const gchar *at = strrchr(text, '@');
		g_autofree gchar *lower = NULL;
		g_assert_nonnull(at);
		g_assert_cmpuint(strlen(text), <=, 254);
		g_assert_nonnull(domain);
		lower = g_ascii_strdown(at + 1, -1);
		g_assert_cmpstr(domain, ==, lower);
		g_assert_true(smd_domain_validate(domain, NULL));
	} else {
		g_assert_null(domain);
	}

	/* the same address as a MAIL/RCPT path */
	if (text[0] != '\0' && strpbrk(text, "<> ") == NULL) {
		g_autofree gchar *arg = g_strdup_printf("<%s>", text);
		g_auto(SmdPath) path = {0};
		g_autoptr(GError) path_error = NULL;
		guint code = 0;
		const gchar *enhanced = NULL;
		gboolean path_ok = smd_path_parse(arg, FALSE, &path, &code, &enhanced, &path_error);

		g_assert_true(path_ok == ok);
		if (path_ok) {
			g_assert_cmpstr(path.address, ==, text);
			g_assert_cmpstr(path.domain, ==, domain);
			g_assert_cmpuint(g_hash_table_size(path.params), ==, 0);
		} else {
			g_assert_cmpuint(code, ==, 553);
		}
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gsize pos = 0;

	for (guint n = 0; n < MAX_CANDIDATES && pos <= size; n++) {
		const guint8 *nul = memchr(data + pos, '\0', size - pos);
		gsize len = nul != NULL ? (gsize)(nul - (data + pos)) : size - pos;
		g_autofree gchar *text = g_strndup((const gchar *)data + pos, len);

		check_address(text);
		check_domain(text);
		if (nul == NULL)
			break;
		pos += len + 1;
	}
	return 0;
}
