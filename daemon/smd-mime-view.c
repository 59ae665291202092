/*
 * SecuMailer — what the portal shows of a message.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-portal"

#include "config.h"

#include <string.h>

#include "smd-gmime.h"
#include "smd-mime-view.h"

/* bound what one message can make us decode and render */
#define SMD_VIEW_MAX_TEXT (2 * 1024 * 1024)
#define SMD_VIEW_MAX_ATTACHMENTS 200

/* Removes the Unicode controls that reorder text (U+061C, U+200E/F,
 * U+202A–202E, U+2066–2069): shown in a page they make
 * "invoice<U+202E>fdp.exe" read as "invoiceexe.pdf". Takes @s, returns
 * it (or a valid UTF-8 copy of it). */
static gchar *
smd_mime_strip_bidi(gchar *s)
{
	gchar *out;

	if (s == NULL)
		return NULL;
	if (!g_utf8_validate(s, -1, NULL)) {
		gchar *valid = g_utf8_make_valid(s, -1);
		g_free(s);
		s = valid;
	}
	out = s;
	for (const gchar *p = s; *p != '\0'; p = g_utf8_next_char(p)) {
		gunichar c = g_utf8_get_char(p);
		gsize n = (gsize)(g_utf8_next_char(p) - p);
		if (c == 0x061C || c == 0x200E || c == 0x200F || (c >= 0x202A && c <= 0x202E) ||
		    (c >= 0x2066 && c <= 0x2069))
			continue;
		memmove(out, p, n);
		out += n;
	}
	*out = '\0';
	return s;
}

static void
smd_attachment_free(SmdAttachment *a)
{
	g_clear_object(&a->part);
	g_free(a->name);
	g_free(a->content_type);
	g_free(a);
}

void
smd_mime_view_free(SmdMimeView *view)
{
	g_free(view->from);
	g_free(view->to);
	g_free(view->cc);
	g_free(view->subject);
	g_free(view->text);
	g_free(view->html);
	g_clear_pointer(&view->inline_parts, g_hash_table_unref);
	g_clear_pointer(&view->attachments, g_ptr_array_unref);
	g_free(view);
}

static gsize
smd_mime_decoded_size(GMimePart *part)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	g_autoptr(GMimeStream) null = g_mime_stream_null_new();
	if (content == NULL)
		return 0;
	g_mime_data_wrapper_write_to_stream(content, null);
	return (gsize)g_mime_stream_length(null);
}

/* The part's text in UTF-8, at most SMD_VIEW_MAX_TEXT of it (then
 * @view->truncated says so). */
static gchar *
smd_mime_part_text(SmdMimeView *view, GMimePart *part)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	g_autoptr(GMimeStream) mem = g_mime_stream_mem_new();
	g_autoptr(GMimeStream) filtered = NULL;
	const gchar *charset =
	    g_mime_object_get_content_type_parameter(GMIME_OBJECT(part), "charset");
	GByteArray *bytes;

	if (content == NULL)
		return NULL;
	filtered = g_mime_stream_filter_new(mem);
	/* any declared charset to UTF-8; unknown ones are read as Latin-1 */
	if (charset != NULL && g_ascii_strcasecmp(charset, "utf-8") != 0 &&
	    g_ascii_strcasecmp(charset, "us-ascii") != 0) {
		GMimeFilter *conv = g_mime_filter_charset_new(charset, "utf-8");
		if (conv != NULL) {
			g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), conv);
			g_object_unref(conv);
		}
	}
	{
		/* shown in a browser: plain LF line ends */
		GMimeFilter *unix_lines = g_mime_filter_dos2unix_new(FALSE);
		g_mime_stream_filter_add(GMIME_STREAM_FILTER(filtered), unix_lines);
		g_object_unref(unix_lines);
	}
	g_mime_data_wrapper_write_to_stream(content, filtered);
	g_mime_stream_flush(filtered);
	bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
	if (bytes->len > SMD_VIEW_MAX_TEXT) {
		g_byte_array_set_size(bytes, SMD_VIEW_MAX_TEXT);
		view->truncated = TRUE;
	}
	/* an empty body has no buffer at all (fuzz-mime-view found it) */
	if (bytes->len == 0)
		return g_strdup("");
	return g_utf8_make_valid((const gchar *)bytes->data, bytes->len);
}

/* A name for a part that has none: "attachment" with the extension of
 * its type, so that a phone knows what opens it. */
static gchar *
smd_mime_fallback_name(const gchar *content_type)
{
	static const struct {
		const gchar *type;
		const gchar *ext;
	} known[] = {
	    {"text/plain", ".txt"},	   {"text/html", ".html"},	{"text/calendar", ".ics"},
	    {"text/csv", ".csv"},	   {"application/pdf", ".pdf"}, {"application/zip", ".zip"},
	    {"image/png", ".png"},	   {"image/jpeg", ".jpg"},	{"image/gif", ".gif"},
	    {"message/rfc822", ".eml"},	   {"application/xml", ".xml"}, {"text/xml", ".xml"},
	    {"application/json", ".json"}, {"text/vcard", ".vcf"}};

	for (guint i = 0; i < G_N_ELEMENTS(known); i++)
		if (g_ascii_strcasecmp(content_type, known[i].type) == 0)
			return g_strconcat("attachment", known[i].ext, NULL);
	return g_strdup("attachment");
}

static void
smd_mime_view_walk(GMimeObject *parent, GMimeObject *part, gpointer user_data)
{
	SmdMimeView *view = user_data;
	GMimeContentType *type = g_mime_object_get_content_type(part);
	GMimePart *leaf;
	const gchar *name;

	if (GMIME_IS_MESSAGE_PART(part)) {
		/* a forwarded message: offered as its own .eml */
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(part));
		if (inner != NULL && view->attachments->len < SMD_VIEW_MAX_ATTACHMENTS) {
			SmdAttachment *a = g_new0(SmdAttachment, 1);
			const gchar *subject = g_mime_message_get_subject(inner);
			g_autofree gchar *base = g_strdup_printf(
			    "%s.eml", subject != NULL && subject[0] != '\0' ? subject : "message");
			g_autoptr(GMimeStream) null = g_mime_stream_null_new();
			a->name = smd_mime_strip_bidi(
			    g_strdelimit(g_utf8_make_valid(base, -1), "\r\n\t\\/", '_'));
			a->content_type = g_strdup("message/rfc822");
			a->part = g_object_ref(part);
			g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, null);
			a->size = (gsize)g_mime_stream_length(null);
			g_ptr_array_add(view->attachments, a);
		}
		return;
	}
	if (!GMIME_IS_PART(part))
		return;
	leaf = GMIME_PART(part);
	name = g_mime_part_get_filename(leaf);
	if (name == NULL && !g_mime_part_is_attachment(leaf)) {
		if (view->text == NULL && g_mime_content_type_is_type(type, "text", "plain")) {
			view->text = smd_mime_part_text(view, leaf);
			return;
		}
		if (g_mime_content_type_is_type(type, "text", "html")) {
			if (view->html == NULL)
				view->html = smd_mime_part_text(view, leaf);
			view->has_html = TRUE;
			return;
		}
		/* inline images of an HTML body and the like */
		if (g_mime_object_get_content_id(part) != NULL) {
			if (g_hash_table_size(view->inline_parts) < SMD_VIEW_MAX_ATTACHMENTS)
				g_hash_table_insert(view->inline_parts,
						    g_strdup(g_mime_object_get_content_id(part)),
						    g_object_ref(leaf));
			return;
		}
	}
	if (view->attachments->len < SMD_VIEW_MAX_ATTACHMENTS) {
		SmdAttachment *a = g_new0(SmdAttachment, 1);
		/* only the last path component, no control characters */
		g_autofree gchar *base = g_path_get_basename(name != NULL ? name : "");
		a->content_type = g_mime_content_type_get_mime_type(type);
		a->name = smd_mime_strip_bidi(
		    g_strdelimit(g_utf8_make_valid(base, -1), "\r\n\t\\/", '_'));
		if (a->name[strspn(a->name, ". ")] == '\0') {
			/* no name, or "." or "..": one that says what it is */
			g_free(a->name);
			a->name = smd_mime_fallback_name(a->content_type);
		}
		a->size = smd_mime_decoded_size(leaf);
		a->part = g_object_ref(leaf);
		g_ptr_array_add(view->attachments, a);
	}
}

static gchar *
smd_mime_addresses(GMimeMessage *msg, GMimeAddressType type)
{
	InternetAddressList *list = g_mime_message_get_addresses(msg, type);
	if (list == NULL || internet_address_list_length(list) == 0)
		return NULL;
	return internet_address_list_to_string(list, NULL, FALSE);
}

SmdMimeView *
smd_mime_view_new(GBytes *message)
{
	SmdMimeView *view = g_new0(SmdMimeView, 1);
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(message, &len);
	g_autoptr(GMimeStream) stream = smd_gmime_stream_new((const gchar *)data, len);
	g_autoptr(GMimeParser) parser = NULL;
	g_autoptr(GMimeMessage) msg = NULL;
	GDateTime *date;

	view->attachments = g_ptr_array_new_with_free_func((GDestroyNotify)smd_attachment_free);
	view->inline_parts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_object_unref);
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, NULL);
	if (msg == NULL) {
		view->unreadable = TRUE; /* shows nothing, downloads as it is */
		return view;
	}
	view->from = smd_mime_strip_bidi(smd_mime_addresses(msg, GMIME_ADDRESS_TYPE_FROM));
	view->to = smd_mime_strip_bidi(smd_mime_addresses(msg, GMIME_ADDRESS_TYPE_TO));
	view->cc = smd_mime_strip_bidi(smd_mime_addresses(msg, GMIME_ADDRESS_TYPE_CC));
	view->subject = smd_mime_strip_bidi(g_strdup(g_mime_message_get_subject(msg)));
	date = g_mime_message_get_date(msg);
	if (date != NULL)
		view->date = g_date_time_to_unix(date); /* shown in the reader's language */
	g_mime_message_foreach(msg, smd_mime_view_walk, view);
	/* a message that is only a text part */
	if (view->text == NULL && GMIME_IS_PART(g_mime_message_get_mime_part(msg)) &&
	    view->attachments->len == 0 && !view->has_html)
		view->text =
		    smd_mime_part_text(view, GMIME_PART(g_mime_message_get_mime_part(msg)));
	return view;
}

/* What was written to the memory stream @mem, taken over rather than
 * copied: an attachment can be tens of MB, and downloads run at once. */
static GBytes *
smd_mime_stream_take(GMimeStream *mem)
{
	GByteArray *bytes = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));

	g_mime_stream_mem_set_owner(GMIME_STREAM_MEM(mem), FALSE);
	return g_byte_array_free_to_bytes(bytes);
}

static GBytes *
smd_mime_decode(GMimePart *part)
{
	GMimeDataWrapper *content = g_mime_part_get_content(part);
	g_autoptr(GMimeStream) mem = g_mime_stream_mem_new();
	if (content == NULL)
		return g_bytes_new(NULL, 0);
	g_mime_data_wrapper_write_to_stream(content, mem);
	return smd_mime_stream_take(mem);
}

/* only images, and not too big, become data: URIs; and all of them
 * together stay within a bound: a message that names one image a thousand
 * times must not make the page a thousand times its size */
#define SMD_VIEW_MAX_INLINE_IMAGE (5 * 1024 * 1024)
#define SMD_VIEW_MAX_INLINE_TOTAL (16 * 1024 * 1024)

/* The data: URI of the inline part @id, NULL if it is none or too big. */
static gchar *
smd_mime_view_data_uri(const SmdMimeView *view, const gchar *id)
{
	GMimePart *part = g_hash_table_lookup(view->inline_parts, id);
	GMimeContentType *type;
	g_autoptr(GBytes) data = NULL;
	g_autofree gchar *mime = NULL;
	g_autofree gchar *b64 = NULL;

	if (part == NULL)
		return NULL;
	type = g_mime_object_get_content_type(GMIME_OBJECT(part));
	if (g_strcmp0(g_mime_content_type_get_media_type(type), "image") != 0)
		return NULL;
	data = smd_mime_decode(part);
	if (g_bytes_get_size(data) > SMD_VIEW_MAX_INLINE_IMAGE)
		return NULL;
	mime = g_mime_content_type_get_mime_type(type);
	b64 = g_base64_encode(g_bytes_get_data(data, NULL), g_bytes_get_size(data));
	/* the type is GMime's parse, but keep it to one token */
	return g_strdup_printf("data:%s;base64,%s", g_strdelimit(mime, "\"'<> ;", '_'), b64);
}

gchar *
smd_mime_view_html_with_inline_images(const SmdMimeView *view)
{
	/* each part decoded once, however often it is named */
	g_autoptr(GHashTable) uris = NULL;
	gsize inlined = 0;
	GString *out;
	const gchar *p;

	if (view->html == NULL)
		return NULL;
	uris = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	out = g_string_new(NULL);
	for (p = view->html; *p != '\0';) {
		const gchar *cid = strstr(p, "cid:");
		gsize n = 0;
		g_autofree gchar *id = NULL;
		const gchar *uri;

		if (cid == NULL) {
			g_string_append(out, p);
			break;
		}
		g_string_append_len(out, p, cid - p);
		cid += 4;
		while (cid[n] != '\0' && strchr("\"' >)", cid[n]) == NULL)
			n++;
		p = cid + n;
		id = g_uri_unescape_segment(cid, cid + n, NULL);
		if (id == NULL)
			continue;
		if (!g_hash_table_contains(uris, id))
			g_hash_table_insert(uris, g_strdup(id), smd_mime_view_data_uri(view, id));
		uri = g_hash_table_lookup(uris, id);
		if (uri == NULL || inlined + strlen(uri) > SMD_VIEW_MAX_INLINE_TOTAL)
			continue;
		inlined += strlen(uri);
		g_string_append(out, uri);
	}
	return g_string_free(out, FALSE);
}

GBytes *
smd_mime_view_attachment_content(const SmdMimeView *view, guint index)
{
	SmdAttachment *a;
	g_autoptr(GMimeStream) mem = g_mime_stream_mem_new();

	if (index >= view->attachments->len)
		return NULL;
	a = g_ptr_array_index(view->attachments, index);
	if (GMIME_IS_MESSAGE_PART(a->part)) {
		GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(a->part));
		g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem);
		return smd_mime_stream_take(mem);
	}
	return smd_mime_decode(GMIME_PART(a->part));
}

GBytes *
smd_mime_strip_own_received(GBytes *message, const gchar *hostname)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data(message, &len);
	g_autofree gchar *by = g_strdup_printf("\tby %s (SecuMailer) ", hostname);
	gsize end;

	if (len < 10 || strncmp(data, "Received: ", 10) != 0)
		return g_bytes_ref(message);
	/* our header: its first continuation line names us */
	end = 0;
	while (end + 1 < len) {
		const gchar *nl = memchr(data + end, '\n', len - end);
		if (nl == NULL)
			return g_bytes_ref(message);
		end = (gsize)(nl - data) + 1;
		if (end < len && data[end] != ' ' && data[end] != '\t')
			break;
	}
	if (g_strstr_len(data, (gssize)end, by) == NULL)
		return g_bytes_ref(message);
	return g_bytes_new_from_bytes(message, end, len - end);
}

gsize
smd_html_after_doctype(const gchar *html)
{
	const gchar *p = html;

	if (g_str_has_prefix(p, "\xef\xbb\xbf"))
		p += 3;
	for (;;) {
		while (g_ascii_isspace(*p))
			p++;
		if (!g_str_has_prefix(p, "<!--"))
			break;
		p = strstr(p + 4, "-->");
		if (p == NULL)
			return 0;
		p += 3;
	}
	if (g_ascii_strncasecmp(p, "<!doctype", 9) == 0) {
		const gchar *end = strchr(p, '>');
		if (end != NULL)
			return (gsize)(end + 1 - html);
	}
	return 0;
}
