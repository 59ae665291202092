/*
 * SecuMailer — autoptr cleanups for GMime, which does not declare them.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gmime/gmime.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMessage, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeMultipart, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimePart, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeStream, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeDataWrapper, g_object_unref)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(GMimeParser, g_object_unref)

G_BEGIN_DECLS

/* A memory stream with a copy of @data (which may be empty). */
GMimeStream *smd_gmime_stream_new(const gchar *data, gsize len);
/* A leaf part holding @text. */
GMimePart *smd_gmime_text_part(const gchar *type, const gchar *subtype, const gchar *text,
			       gsize len);
/* The whole message as bytes, CRLF line ends. */
GBytes *smd_gmime_message_to_bytes(GMimeMessage *msg, GError **error);

#define SMD_GMIME_SUBJECT_MAX 200
gchar *smd_gmime_subject(GBytes *message);

G_END_DECLS
