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

/* Only the header block is parsed: the subject costs microseconds even
 * for a message of many megabytes. Decoded (RFC 2047), valid UTF-8, on one
 * line and at most SMD_GMIME_SUBJECT_MAX characters; NULL when absent. */
gchar *
smd_gmime_subject(GBytes *message)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data(message, &len);
	const gchar *end = g_strstr_len(data, (gssize)len, "\r\n\r\n");
	gsize head_len = end != NULL ? (gsize)(end - data) + 4 : len;
	g_autoptr(GMimeStream) stream = smd_gmime_stream_new(data, head_len);
	g_autoptr(GMimeParser) parser = g_mime_parser_new_with_stream(stream);
	g_autoptr(GMimeMessage) msg = g_mime_parser_construct_message(parser, NULL);
	const gchar *subject = msg != NULL ? g_mime_message_get_subject(msg) : NULL;
	g_autofree gchar *valid = NULL;
	GString *out;

	if (subject == NULL)
		return NULL;
	valid = g_utf8_make_valid(subject, -1);
	out = g_string_new(NULL);
	for (const gchar *p = valid;
	     *p != '\0' && g_utf8_strlen(out->str, -1) < SMD_GMIME_SUBJECT_MAX;
	     p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		g_string_append_unichar(out, g_unichar_iscntrl(c) ? ' ' : c);
	}
	return g_string_free(out, FALSE);
}
