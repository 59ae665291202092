/*
 * SecuMailer — what the portal shows of a message, read with GMime:
 * headers decoded (RFC 2047), the text body, attachments by name and
 * size. A malformed message still shows what can be shown.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct {
	gchar *name; /* decoded (RFC 2231), never a path */
	gchar *content_type;
	gsize size;    /* decoded bytes */
	gpointer part; /* GMimePart or GMimeMessagePart, owned */
} SmdAttachment;

typedef struct {
	gchar *from;
	gchar *to;
	gchar *cc;
	gint64 date; /* the Date header, Unix seconds; 0: none */
	gchar *subject;
	gchar *text; /* the text/plain body, UTF-8; NULL if none */
	gboolean has_html;
	gchar *html;		  /* the text/html body, UTF-8; NULL if none */
	GHashTable *inline_parts; /* Content-ID → GMimePart, for cid: images */
	GPtrArray *attachments;	  /* of SmdAttachment */
	gboolean truncated;	  /* a body longer than what is shown */
	gboolean unreadable;	  /* not a message GMime can read */
} SmdMimeView;

SmdMimeView *smd_mime_view_new(GBytes *message);
void smd_mime_view_free(SmdMimeView *view);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdMimeView, smd_mime_view_free)

/* The HTML body with every cid: reference to an inline image of the
 * message turned into a data: URI (the frame loads nothing else). */
gchar *smd_mime_view_html_with_inline_images(const SmdMimeView *view);

/* Where an element may go in @html without putting the browser in quirks
 * mode: after a leading doctype (past a BOM, white space and comments), or
 * at the start when there is none. */
gsize smd_html_after_doctype(const gchar *html);

/* The decoded content of attachment @index, or NULL. */
GBytes *smd_mime_view_attachment_content(const SmdMimeView *view, guint index);

/* @message without the Received: header this gateway put on top (the
 * bytes as the sender's server sent them). */
GBytes *smd_mime_strip_own_received(GBytes *message, const gchar *hostname);

G_END_DECLS
