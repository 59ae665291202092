/*
 * SecuMailer — fuzz target: a message as the portal shows it
 * (smd-mime-view.h, GMime underneath): the view, the HTML with its
 * inline images, every attachment's content; and the subject as the
 * notifications read it, and the stripping of our own Received: header.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "smd-gmime.h"
#include "smd-mime-view.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check_attachment(const SmdMimeView *view, guint index)
{
	SmdAttachment *a = g_ptr_array_index(view->attachments, index);
	g_autoptr(GBytes) content = smd_mime_view_attachment_content(view, index);

	g_assert_nonnull(a->part);
	g_assert_nonnull(a->content_type);
	/* a file name, never a path */
	g_assert_nonnull(a->name);
	g_assert_true(g_utf8_validate(a->name, -1, NULL));
	g_assert_null(strpbrk(a->name, "/\\\r\n\t"));
	/* the size shown is the size downloaded */
	g_assert_nonnull(content);
	g_assert_cmpuint(g_bytes_get_size(content), ==, a->size);
}

static void
check_subject(GBytes *message)
{
	g_autofree gchar *subject = smd_gmime_subject(message);

	if (subject == NULL)
		return;
	/* decoded, valid UTF-8, on one line, bounded */
	g_assert_true(g_utf8_validate(subject, -1, NULL));
	g_assert_cmpuint(g_utf8_strlen(subject, -1), <=, SMD_GMIME_SUBJECT_MAX);
	g_assert_null(strpbrk(subject, "\r\n"));
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static gsize initialised = 0;
	g_autoptr(GBytes) message = NULL;
	g_autoptr(SmdMimeView) view = NULL;
	g_autoptr(GBytes) stripped = NULL;
	g_autofree gchar *html = NULL;

	if (g_once_init_enter(&initialised)) {
		g_mime_init();
		g_once_init_leave(&initialised, 1);
	}

	message = g_bytes_new(data, size);
	view = smd_mime_view_new(message);
	g_assert_nonnull(view);
	g_assert_nonnull(view->attachments);
	g_assert_nonnull(view->inline_parts);
	if (view->text != NULL)
		g_assert_true(g_utf8_validate(view->text, -1, NULL));
	if (view->html != NULL) {
		g_assert_true(g_utf8_validate(view->html, -1, NULL));
		g_assert_true(view->has_html);
	}
	html = smd_mime_view_html_with_inline_images(view);
	g_assert_true((html == NULL) == (view->html == NULL));
	for (guint i = 0; i < view->attachments->len; i++)
		check_attachment(view, i);
	g_assert_null(smd_mime_view_attachment_content(view, view->attachments->len));

	/* the download: the message itself or what follows our header */
	stripped = smd_mime_strip_own_received(message, "gateway.example.org");
	g_assert_cmpuint(g_bytes_get_size(stripped), <=, size);
	if (g_bytes_get_size(stripped) > 0)
		g_assert_cmpmem(g_bytes_get_data(stripped, NULL), g_bytes_get_size(stripped),
				data + size - g_bytes_get_size(stripped),
				g_bytes_get_size(stripped));

	/* the engine reads the subject of every message it accepts, which
	 * always starts with our Received: header, so never empty */
	if (size > 0)
		check_subject(message);
	return 0;
}
