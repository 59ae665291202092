/*
 * SecuMailer — pure parser for replies of a remote SMTP server
 * (RFC 5321 §4.2: "250-first", "250 last"), with hard limits.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SMD_SMTP_MAX_REPLY_LINE 4096
#define SMD_SMTP_MAX_REPLY_LINES 128
#define SMD_SMTP_MAX_REPLY_TEXT 900 /* what smd_reply_to_string() keeps */

typedef struct {
	guint code;	  /* 0 until the first line is parsed */
	GPtrArray *lines; /* texts after "NNN-" / "NNN ", without CRLF */
	gboolean complete;
} SmdReply;

void smd_reply_init(SmdReply *reply);
void smd_reply_clear(SmdReply *reply);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(SmdReply, smd_reply_clear)

/* Feeds one line without its line end. Returns FALSE with @error when
 * the line is not a valid reply line; reply->complete says when done. */
gboolean smd_reply_feed_line(SmdReply *reply, const gchar *line, gsize len, GError **error);

/* "250 2.0.0 Ok" style one-line summary for logs and DSNs. */
gchar *smd_reply_to_string(const SmdReply *reply);

/* TRUE when a (complete, EHLO) reply lists the extension @keyword. */
gboolean smd_reply_has_extension(const SmdReply *reply, const gchar *keyword);

G_END_DECLS
