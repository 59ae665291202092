/*
 * SecuMailer — pure parser for replies of a remote SMTP server.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-smtp"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "smd-error.h"
#include "smd-smtp-reply.h"

void
smd_reply_init(SmdReply *reply)
{
	reply->code = 0;
	reply->lines = g_ptr_array_new_with_free_func(g_free);
	reply->complete = FALSE;
}

void
smd_reply_clear(SmdReply *reply)
{
	g_clear_pointer(&reply->lines, g_ptr_array_unref);
	reply->code = 0;
	reply->complete = FALSE;
}

gboolean
smd_reply_feed_line(SmdReply *reply, const gchar *line, gsize len, GError **error)
{
	guint code;

	if (reply->complete) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_PROTOCOL,
			    _("Reply line after the last one"));
		return FALSE;
	}
	if (len > SMD_SMTP_MAX_REPLY_LINE) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_PROTOCOL, _("Reply line too long"));
		return FALSE;
	}
	if (reply->lines->len >= SMD_SMTP_MAX_REPLY_LINES) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_PROTOCOL, _("Reply has too many lines"));
		return FALSE;
	}
	/* "NNN" then ' ', '-' or the end of the line */
	if (len < 3 || line[0] < '2' || line[0] > '5' || !g_ascii_isdigit(line[1]) ||
	    !g_ascii_isdigit(line[2]) || (len > 3 && line[3] != ' ' && line[3] != '-')) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_PROTOCOL, _("Malformed reply line"));
		return FALSE;
	}
	for (gsize i = 0; i < len; i++) {
		if (line[i] == '\0' || line[i] == '\r' || line[i] == '\n') {
			g_set_error(error, SMD_ERROR, SMD_ERROR_PROTOCOL,
				    _("Control character in reply line"));
			return FALSE;
		}
	}
	code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
	if (reply->code != 0 && code != reply->code) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_PROTOCOL,
			    _("Reply code changed within a multi-line reply"));
		return FALSE;
	}
	reply->code = code;
	g_ptr_array_add(reply->lines, g_strndup(len > 4 ? line + 4 : "", len > 4 ? len - 4 : 0));
	if (len == 3 || line[3] == ' ')
		reply->complete = TRUE;
	return TRUE;
}

gchar *
smd_reply_to_string(const SmdReply *reply)
{
	GString *str = g_string_new(NULL);
	g_string_append_printf(str, "%03u", reply->code);
	/* bounded: it is stored, logged and quoted in DSNs */
	for (guint i = 0; reply->lines != NULL && i < reply->lines->len; i++) {
		const gchar *text = g_ptr_array_index(reply->lines, i);
		g_string_append_c(str, ' ');
		/* keep it printable ASCII: it ends up in logs and DSNs */
		for (const gchar *p = text; *p != '\0'; p++)
			g_string_append_c(str, (guchar)*p >= 32 && (guchar)*p < 127 ? *p : '?');
		if (str->len > SMD_SMTP_MAX_REPLY_TEXT) {
			g_string_truncate(str, SMD_SMTP_MAX_REPLY_TEXT - 3);
			g_string_append(str, "...");
			break;
		}
	}
	return g_string_free(str, FALSE);
}

gboolean
smd_reply_has_extension(const SmdReply *reply, const gchar *keyword)
{
	gsize kw_len = strlen(keyword);
	/* the first line is the greeting, extensions follow */
	for (guint i = 1; reply->lines != NULL && i < reply->lines->len; i++) {
		const gchar *text = g_ptr_array_index(reply->lines, i);
		if (g_ascii_strncasecmp(text, keyword, kw_len) == 0 &&
		    (text[kw_len] == '\0' || text[kw_len] == ' '))
			return TRUE;
	}
	return FALSE;
}
