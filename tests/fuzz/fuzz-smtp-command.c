/*
 * SecuMailer — fuzz target: what an SMTP client sends in command mode,
 * read as the intake session reads it: smd_line_scan() cuts lines,
 * smd_command_parse() each line, smd_path_parse() the MAIL/RCPT paths.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "smd-smtp-parser.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_LINES 2000

static void
check_path(const gchar *arg, gboolean allow_null)
{
	g_auto(SmdPath) path = {0};
	g_autoptr(GError) error = NULL;
	guint code = 0;
	const gchar *enhanced = NULL;
	GHashTableIter iter;
	gpointer key, value;

	if (!smd_path_parse(arg, allow_null, &path, &code, &enhanced, &error)) {
		g_assert_nonnull(error);
		g_assert_true(code == 501 || code == 553);
		g_assert_nonnull(enhanced);
		return;
	}
	g_assert_no_error(error);
	g_assert_nonnull(path.address);
	g_assert_nonnull(path.params);
	if (path.address[0] == '\0') {
		/* the null reverse-path <>, for MAIL only */
		g_assert_true(allow_null);
		g_assert_null(path.domain);
	} else {
		g_autofree gchar *domain = NULL;
		g_autofree gchar *lower = NULL;
		g_assert_nonnull(path.domain);
		g_assert_true(smd_address_validate(path.address, &domain, NULL));
		g_assert_cmpstr(path.domain, ==, domain);
		lower = g_ascii_strdown(path.domain, -1);
		g_assert_cmpstr(path.domain, ==, lower);
	}
	/* upper-cased keywords, each with a value (maybe "") */
	g_assert_cmpuint(g_hash_table_size(path.params), <=, 16);
	g_hash_table_iter_init(&iter, path.params);
	while (g_hash_table_iter_next(&iter, &key, &value)) {
		const gchar *kw = key;
		g_assert_true(g_ascii_isalnum(kw[0]));
		for (const gchar *p = kw; *p != '\0'; p++)
			g_assert_true(g_ascii_isupper(*p) || g_ascii_isdigit(*p) || *p == '-');
		g_assert_nonnull(value);
	}
}

static void
check_line(const guint8 *start, gsize len)
{
	/* the session hands over a NUL-terminated copy and its length */
	g_autofree gchar *line = g_strndup((const gchar *)start, len);
	g_auto(SmdCommand) cmd = {0};
	g_autoptr(GError) error = NULL;
	gsize arg_len;

	if (!smd_command_parse(line, len, &cmd, &error)) {
		/* only a MAIL without FROM: or a RCPT without TO: */
		g_assert_nonnull(error);
		g_assert_true(cmd.verb == SMD_VERB_MAIL || cmd.verb == SMD_VERB_RCPT);
		return;
	}
	g_assert_no_error(error);
	g_assert_nonnull(cmd.arg);
	arg_len = strlen(cmd.arg);
	g_assert_cmpuint(arg_len, <=, len);
	/* trimmed */
	if (arg_len > 0) {
		g_assert_true(cmd.arg[0] != ' ');
		g_assert_true(cmd.arg[arg_len - 1] != ' ');
	}
	if (cmd.verb == SMD_VERB_MAIL)
		check_path(cmd.arg, TRUE);
	else if (cmd.verb == SMD_VERB_RCPT)
		check_path(cmd.arg, FALSE);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	gsize pos = 0;

	for (guint n = 0; pos < size && n < MAX_LINES; n++) {
		const guint8 *buf = data + pos;
		gsize line_len = 0;
		const guint8 *nl;

		switch (smd_line_scan(buf, size - pos, SMD_SMTP_MAX_COMMAND_LINE, &line_len)) {
		case SMD_LINE_COMPLETE:
			g_assert_cmpuint(line_len, >=, 2);
			g_assert_cmpuint(line_len, <=, size - pos);
			g_assert_cmpuint(line_len, <=, SMD_SMTP_MAX_COMMAND_LINE);
			g_assert_true(buf[line_len - 2] == '\r' && buf[line_len - 1] == '\n');
			/* no NUL, CR or LF inside the line */
			for (gsize i = 0; i < line_len - 2; i++)
				g_assert_true(buf[i] != '\0' && buf[i] != '\r' && buf[i] != '\n');
			check_line(buf, line_len - 2);
			pos += line_len;
			continue;
		case SMD_LINE_INCOMPLETE:
			/* the session waits for more; there is no more */
			return 0;
		case SMD_LINE_BARE_LF:
			g_assert_nonnull(memchr(buf, '\n', size - pos));
			break;
		case SMD_LINE_NUL:
			g_assert_nonnull(memchr(buf, '\0', size - pos));
			break;
		case SMD_LINE_BARE_CR:
			g_assert_nonnull(memchr(buf, '\r', size - pos));
			break;
		case SMD_LINE_TOO_LONG:
			break;
		default:
			g_assert_not_reached();
		}
		/* the session closes the connection here; to read on, start
		 * again after the next LF */
		nl = memchr(buf, '\n', size - pos);
		if (nl == NULL)
			break;
		pos = (gsize)(nl - data) + 1;
	}
	return 0;
}
