/*
 * SecuMailer — small GMime helpers shared by the DSN, notification and
 * portal code.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-gmime"

#include "config.h"

#include <glib/gi18n.h>

#include "smd-error.h"
#include "smd-gmime.h"

GMimeStream *
smd_gmime_stream_new(const gchar *data, gsize len)
{
	/* g_mime_stream_mem_new_with_buffer() refuses an empty buffer */
	GMimeStream *stream = g_mime_stream_mem_new();
	if (len > 0)
		g_mime_stream_write(stream, data, len);
	g_mime_stream_reset(stream);
	return stream;
}

GMimePart *
smd_gmime_text_part(const gchar *type, const gchar *subtype, const gchar *text, gsize len)
{
	GMimePart *part = g_mime_part_new_with_type(type, subtype);
	g_autoptr(GMimeStream) stream = smd_gmime_stream_new(text, len);
	g_autoptr(GMimeDataWrapper) content =
	    g_mime_data_wrapper_new_with_stream(stream, GMIME_CONTENT_ENCODING_DEFAULT);
	g_mime_part_set_content(part, content);
	return part;
}

GBytes *
smd_gmime_message_to_bytes(GMimeMessage *msg, GError **error)
{
	g_autoptr(GMimeStream) out = g_mime_stream_mem_new();
	GMimeFormatOptions *options = g_mime_format_options_new();
	GByteArray *array;
	gssize written;

	/* our own SMTP client sends CRLF only */
	g_mime_format_options_set_newline_format(options, GMIME_NEWLINE_FORMAT_DOS);
	written = g_mime_object_write_to_stream(GMIME_OBJECT(msg), options, out);
	g_mime_format_options_free(options);
	if (written < 0) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_INTERNAL, _("Cannot build the e-mail"));
		return NULL;
	}
	array = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(out));
	return g_bytes_new(array->data, array->len);
}
