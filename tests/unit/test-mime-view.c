/*
 * SecuMailer — unit tests: what the portal shows of a message.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "smd-gmime.h"
#include "smd-mime-view.h"

static SmdMimeView *
view_of(const gchar *text)
{
	g_autoptr(GBytes) bytes = g_bytes_new(text, strlen(text));
	return smd_mime_view_new(bytes);
}

static void
test_headers_and_charsets(void)
{
	g_autoptr(SmdMimeView) v = view_of("From: =?iso-8859-1?q?Jos=E9?= <jose@example.org>\r\n"
					   "To: a@example.org, b@example.org\r\n"
					   "Cc: c@example.org\r\n"
					   "Subject: =?utf-8?b?UsOpc3VsdGF0cw==?=\r\n"
					   "Date: Sun, 29 Nov 2026 10:00:00 +0100\r\n"
					   "Content-Type: text/plain; charset=iso-8859-1\r\n"
					   "Content-Transfer-Encoding: quoted-printable\r\n"
					   "\r\n"
					   "Caf=E9\r\n");
	g_assert_cmpstr(v->subject, ==, "Résultats");
	g_assert_nonnull(strstr(v->from, "José"));
	g_assert_nonnull(strstr(v->to, "b@example.org"));
	g_assert_nonnull(strstr(v->cc, "c@example.org"));
	g_assert_cmpint(v->date, ==, 1795942800); /* 09:00 UTC */
	g_assert_cmpstr(v->text, ==, "Café\n");
	g_assert_cmpuint(v->attachments->len, ==, 0);
}

static void
test_related_inline_image(void)
{
	g_autoptr(SmdMimeView) v =
	    view_of("Subject: x\r\nContent-Type: multipart/related; boundary=B\r\n\r\n"
		    "--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n"
		    "<p>Hi</p><img src=\"cid:logo@x\"><img src=\"cid:missing@x\">\r\n"
		    "--B\r\nContent-Type: image/png\r\nContent-ID: <logo@x>\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n--B--\r\n");
	g_autofree gchar *html = smd_mime_view_html_with_inline_images(v);
	g_assert_true(v->has_html);
	g_assert_nonnull(strstr(html, "src=\"data:image/png;base64,iVBORw0KGgo=\""));
	/* an unknown cid loads nothing */
	g_assert_null(strstr(html, "cid:"));
	g_assert_cmpuint(v->attachments->len, ==, 0);
}

/* One image named thousands of times: inlined until the bound of all
 * inlined images together (16 MiB), then left out, never a page of
 * thousands of copies. */
static void
test_inline_images_bounded(void)
{
	GString *raw = g_string_new("Subject: x\r\nContent-Type: multipart/related; boundary=B\r\n"
				    "\r\n--B\r\nContent-Type: text/html; charset=utf-8\r\n\r\n");
	g_autofree gchar *image = g_malloc0(1024 * 1024);
	g_autofree gchar *b64 = g_base64_encode((const guchar *)image, 1024 * 1024);
	g_autoptr(SmdMimeView) v = NULL;
	g_autofree gchar *html = NULL;
	guint copies = 0;

	for (guint i = 0; i < 1000; i++)
		g_string_append(raw, "<img src=\"cid:big@x\">");
	g_string_append_printf(raw,
			       "\r\n--B\r\nContent-Type: image/png\r\nContent-ID: <big@x>\r\n"
			       "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--B--\r\n",
			       b64);
	v = view_of(raw->str);
	html = smd_mime_view_html_with_inline_images(v);
	for (const gchar *p = html; (p = strstr(p, "data:image/png")) != NULL; p++)
		copies++;
	/* a 1 MiB image is 1 398 126 bytes as a data: URI: 11 fit in 16 MiB */
	g_assert_cmpuint(copies, ==, 11);
	g_assert_cmpuint(strlen(html), <, 17 * 1024 * 1024);
	g_assert_null(strstr(html, "cid:"));
	g_string_free(raw, TRUE);
}

static void
test_attachments(void)
{
	g_autoptr(SmdMimeView) v =
	    view_of("Subject: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
		    "--B\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
		    "--B\r\nContent-Type: application/pdf\r\n"
		    "Content-Disposition: attachment; filename*=UTF-8''r%C3%A9sultat.pdf\r\n"
		    "Content-Transfer-Encoding: base64\r\n\r\naGVsbG8=\r\n"
		    "--B\r\nContent-Type: application/octet-stream\r\n"
		    "Content-Disposition: attachment; filename=\"../../etc/passwd\"\r\n\r\nx\r\n"
		    "--B\r\nContent-Type: message/rfc822\r\n\r\n"
		    "Subject: Inner\r\n\r\ninner body\r\n--B--\r\n");
	SmdAttachment *a;
	g_autoptr(GBytes) content = NULL;

	g_assert_cmpstr(v->text, ==, "body"); /* the CRLF before a boundary is the boundary's */
	g_assert_cmpuint(v->attachments->len, ==, 3);
	a = g_ptr_array_index(v->attachments, 0);
	g_assert_cmpstr(a->name, ==, "résultat.pdf");
	g_assert_cmpuint(a->size, ==, 5);
	content = smd_mime_view_attachment_content(v, 0);
	g_assert_cmpmem(g_bytes_get_data(content, NULL), g_bytes_get_size(content), "hello", 5);
	a = g_ptr_array_index(v->attachments, 1);
	g_assert_cmpstr(a->name, ==, "passwd"); /* never a path */
	a = g_ptr_array_index(v->attachments, 2);
	g_assert_cmpstr(a->name, ==, "Inner.eml");
	g_clear_pointer(&content, g_bytes_unref);
	content = smd_mime_view_attachment_content(v, 2);
	g_assert_nonnull(
	    g_strstr_len(g_bytes_get_data(content, NULL), g_bytes_get_size(content), "inner body"));
	g_assert_null(smd_mime_view_attachment_content(v, 3));
}

/* Controls that reorder text cannot make a name or subject read as
 * something it is not ("invoice<RLO>fdp.exe" would show "invoiceexe.pdf"). */
static void
test_bidi_controls_removed(void)
{
	g_autoptr(SmdMimeView) v = view_of(
	    "From: =?utf-8?q?Bank=E2=80=AE?= <a@example.org>\r\n"
	    "Subject: =?utf-8?q?pay=E2=81=A6me=E2=80=8F?=\r\n"
	    "Content-Type: multipart/mixed; boundary=B\r\n\r\n"
	    "--B\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
	    "--B\r\nContent-Type: application/octet-stream\r\n"
	    "Content-Disposition: attachment; filename*=UTF-8''invoice%E2%80%AEfdp.exe\r\n\r\n"
	    "x\r\n--B--\r\n");
	SmdAttachment *a = g_ptr_array_index(v->attachments, 0);

	g_assert_cmpstr(a->name, ==, "invoicefdp.exe");
	g_assert_cmpstr(v->subject, ==, "payme");
	g_assert_null(strstr(v->from, "\xe2\x80\xae"));
	g_assert_nonnull(strstr(v->from, "Bank"));
}

/* A part without a usable name gets one that says what it is. */
static void
test_fallback_names(void)
{
	g_autoptr(SmdMimeView) v =
	    view_of("Subject: x\r\nContent-Type: multipart/mixed; boundary=B\r\n\r\n"
		    "--B\r\nContent-Type: text/plain\r\n\r\nbody\r\n"
		    "--B\r\nContent-Type: text/plain\r\n\r\na second text part\r\n"
		    "--B\r\nContent-Type: application/pdf\r\n"
		    "Content-Disposition: attachment; filename=\"..\"\r\n\r\nx\r\n"
		    "--B\r\nContent-Type: application/x-unknown\r\n"
		    "Content-Disposition: attachment; filename=\"\"\r\n\r\nx\r\n--B--\r\n");

	g_assert_cmpuint(v->attachments->len, ==, 3);
	g_assert_cmpstr(((SmdAttachment *)g_ptr_array_index(v->attachments, 0))->name, ==,
			"attachment.txt");
	g_assert_cmpstr(((SmdAttachment *)g_ptr_array_index(v->attachments, 1))->name, ==,
			"attachment.pdf");
	g_assert_cmpstr(((SmdAttachment *)g_ptr_array_index(v->attachments, 2))->name, ==,
			"attachment");
}

/* What is not shown in full is said to be so (the page then says so). */
static void
test_truncated(void)
{
	GString *text = g_string_new("Subject: long\r\nContent-Type: text/plain\r\n\r\n");
	g_autoptr(SmdMimeView) v = NULL;
	g_autoptr(SmdMimeView) small = view_of("Subject: x\r\n\r\nshort\r\n");

	for (guint i = 0; i < 3 * 1024 * 16; i++)
		g_string_append(
		    text, "0123456789012345678901234567890123456789012345678901234567890\r\n");
	v = view_of(text->str);
	g_string_free(text, TRUE);
	g_assert_true(v->truncated);
	g_assert_cmpuint(strlen(v->text), <=, 2 * 1024 * 1024);
	g_assert_false(small->truncated);
	g_assert_false(small->unreadable);
}

static void
test_malformed(void)
{
	const gchar *inputs[] = {"", "\r\n\r\n", "garbage without headers",
				 "Content-Type: multipart/mixed; boundary=\r\n\r\n--\r\n",
				 "Subject: =?utf-8?b?////?=\r\n\r\n\xff\xfe body"};
	for (guint i = 0; i < G_N_ELEMENTS(inputs); i++) {
		g_autoptr(SmdMimeView) v = view_of(inputs[i]);
		g_assert_nonnull(v);
		g_assert_true(v->text == NULL || g_utf8_validate(v->text, -1, NULL));
	}
}

static void
test_strip_own_received(void)
{
	const gchar *ours = "Received: from client ([127.0.0.1])\r\n"
			    "\tby gw.example (SecuMailer) with ESMTPS id q1\r\n"
			    "\t(version=TLSv1.3 cipher=X);\r\n"
			    "\tSun, 29 Nov 2026 10:00:00 +0000\r\n"
			    "Subject: hi\r\n\r\nbody\r\n";
	const gchar *theirs =
	    "Received: from a by b.example; Sun, 29 Nov 2026\r\nSubject: hi\r\n\r\n";
	g_autoptr(GBytes) a = g_bytes_new_static(ours, strlen(ours));
	g_autoptr(GBytes) b = g_bytes_new_static(theirs, strlen(theirs));
	g_autoptr(GBytes) sa = smd_mime_strip_own_received(a, "gw.example");
	g_autoptr(GBytes) sb = smd_mime_strip_own_received(b, "gw.example");
	g_autoptr(GBytes) sc = smd_mime_strip_own_received(a, "other.example");
	g_assert_cmpmem(g_bytes_get_data(sa, NULL), g_bytes_get_size(sa),
			"Subject: hi\r\n\r\nbody\r\n", 21);
	g_assert_true(g_bytes_equal(sb, b)); /* someone else's header stays */
	g_assert_true(g_bytes_equal(sc, a));
}

static gchar *
subject_of(const gchar *text)
{
	g_autoptr(GBytes) bytes = g_bytes_new(text, strlen(text));
	return smd_gmime_subject(bytes);
}

/* The deliveries list's subject: decoded, one line, bounded, from the
 * header block only. */
static void
test_subject(void)
{
	g_autofree gchar *plain = subject_of("Subject: Lab results\r\n\r\nSubject: body\r\n");
	g_autofree gchar *encoded = subject_of("Subject: =?utf-8?q?Uitslag_f=C3=BCr?=\r\n"
					       " =?utf-8?q?_u?=\r\n\r\nx\r\n");
	g_autofree gchar *none = subject_of("From: a@example.org\r\n\r\nSubject: no\r\n");
	g_autofree gchar *control = subject_of("Subject: a =?utf-8?q?=0D=0Ab?=\r\n\r\n");
	g_autofree gchar *bad = subject_of("Subject: caf\xe9\r\n\r\n");
	g_autoptr(GString) big = g_string_new("Subject: ");
	g_autofree gchar *longest = NULL;

	g_assert_cmpstr(plain, ==, "Lab results");
	g_assert_cmpstr(encoded, ==, "Uitslag für u");
	g_assert_null(none);
	g_assert_null(strpbrk(control, "\r\n"));
	g_assert_true(g_utf8_validate(bad, -1, NULL));
	for (guint i = 0; i < 1000; i++)
		g_string_append(big, "ë ");
	g_string_append(big, "\r\n\r\n");
	longest = subject_of(big->str);
	g_assert_cmpint(g_utf8_strlen(longest, -1), ==, SMD_GMIME_SUBJECT_MAX);
}

static void
test_after_doctype(void)
{
	static const struct {
		const gchar *html;
		gsize at;
	} cases[] = {
	    {"<p>no doctype</p>", 0},
	    {"<!DOCTYPE html><html>", 15},
	    {"<!doctype HTML PUBLIC \"-//W3C//DTD HTML 4.01//EN\">\n<html>", 50},
	    {"\xef\xbb\xbf  <!-- from Outlook --> \n<!DOCTYPE html>x", 43},
	    {"<!-- unterminated <!DOCTYPE html>", 0},
	    {"<!DOCTYPE html", 0},
	    {"", 0},
	    {"<html><!DOCTYPE html>", 0},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++)
		g_assert_cmpuint(smd_html_after_doctype(cases[i].html), ==, cases[i].at);
}

int
main(int argc, char **argv)
{
	g_mime_init();
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/mime/headers-and-charsets", test_headers_and_charsets);
	g_test_add_func("/secumailer/mime/related-inline-image", test_related_inline_image);
	g_test_add_func("/secumailer/mime/inline-images-bounded", test_inline_images_bounded);
	g_test_add_func("/secumailer/mime/attachments", test_attachments);
	g_test_add_func("/secumailer/mime/bidi-controls-removed", test_bidi_controls_removed);
	g_test_add_func("/secumailer/mime/fallback-names", test_fallback_names);
	g_test_add_func("/secumailer/mime/truncated", test_truncated);
	g_test_add_func("/secumailer/mime/malformed", test_malformed);
	g_test_add_func("/secumailer/mime/strip-own-received", test_strip_own_received);
	g_test_add_func("/secumailer/mime/subject", test_subject);
	g_test_add_func("/secumailer/mime/after-doctype", test_after_doctype);
	return g_test_run();
}
