/*
 * SecuMailer — fuzz target: what a remote SMTP server answers, read as
 * the delivery client reads it (smd-smtp-reply.h): lines cut at LF with
 * an optional CR before it, fed until a reply is complete, then the next
 * reply. A last line without its line end, a reply whose final line never
 * comes, and lines at and over the length limit are read too.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "smd-smtp-reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const gchar *const keywords[] = {
    "STARTTLS", "SIZE", "8BITMIME", "PIPELINING", "SMTPUTF8", "CHUNKING", "AUTH", "",
};

static void
check_reply(const SmdReply *reply)
{
	g_autofree gchar *text = smd_reply_to_string(reply);
	gsize len = strlen(text);

	/* bounded, printable ASCII, the code first */
	g_assert_cmpuint(len, >=, 3);
	g_assert_cmpuint(len, <=, SMD_SMTP_MAX_REPLY_TEXT);
	for (gsize i = 0; i < len; i++)
		g_assert_true(text[i] >= 32 && text[i] < 127);
	g_assert_true(g_ascii_isdigit(text[0]) && g_ascii_isdigit(text[1]) &&
		      g_ascii_isdigit(text[2]));
	if (reply->code != 0) {
		g_assert_cmpuint(reply->code, >=, 200);
		g_assert_cmpuint(reply->code, <=, 599);
		g_assert_cmpuint(reply->code, ==, (guint)g_ascii_strtoull(text, NULL, 10));
		g_assert_cmpuint(reply->lines->len, >=, 1);
	}
	g_assert_cmpuint(reply->lines->len, <=, SMD_SMTP_MAX_REPLY_LINES);
	for (guint i = 0; i < G_N_ELEMENTS(keywords); i++)
		smd_reply_has_extension(reply, keywords[i]);
	/* every line after the greeting is an extension of its own name
	 * (the first few: each call reads every line) */
	for (guint i = 1; i < reply->lines->len && i < 16; i++)
		g_assert_true(smd_reply_has_extension(reply, g_ptr_array_index(reply->lines, i)));
}

static void
feed(SmdReply *reply, const gchar *line, gsize len)
{
	g_autoptr(GError) error = NULL;
	guint before = reply->lines->len;

	if (!smd_reply_feed_line(reply, line, len, &error)) {
		g_assert_nonnull(error);
		g_assert_cmpuint(reply->lines->len, ==, before);
		/* the client gives up on the connection; read on with a new reply */
		check_reply(reply);
		smd_reply_clear(reply);
		smd_reply_init(reply);
		return;
	}
	g_assert_no_error(error);
	g_assert_cmpuint(len, <=, SMD_SMTP_MAX_REPLY_LINE);
	g_assert_cmpuint(reply->lines->len, ==, before + 1);
	if (reply->complete) {
		check_reply(reply);
		smd_reply_clear(reply);
		smd_reply_init(reply);
	}
}

/* A line of exactly @len bytes: "250 " or "250-", then the input. */
static void
check_length_limit(const guint8 *data, size_t size, gsize len, gboolean last)
{
	g_auto(SmdReply) reply = {0};
	g_autoptr(GError) error = NULL;
	g_autofree gchar *line = g_malloc(len);
	gboolean ok;

	/* a line is its bytes and length, without a NUL, as the client has it */
	memcpy(line, last ? "250 " : "250-", 4); /* NOLINT(bugprone-not-null-terminated-result) */
	for (gsize i = 4; i < len; i++) {
		guint8 c = size > 0 ? data[(i - 4) % size] : 'x';
		line[i] = (gchar)(c == '\0' || c == '\r' || c == '\n' ? ' ' : c);
	}
	smd_reply_init(&reply);
	ok = smd_reply_feed_line(&reply, line, len, &error);
	if (len > SMD_SMTP_MAX_REPLY_LINE) {
		g_assert_false(ok);
		g_assert_nonnull(error);
		g_assert_cmpuint(reply.lines->len, ==, 0);
	} else {
		g_assert_no_error(error);
		g_assert_true(ok);
		g_assert_true(reply.complete == last);
	}
	check_reply(&reply);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_auto(SmdReply) reply = {0};
	gsize pos = 0;

	smd_reply_init(&reply);
	while (pos < size) {
		const guint8 *start = data + pos;
		const guint8 *nl = memchr(start, '\n', size - pos);
		gsize len;

		if (nl == NULL) {
			/* the last line without its line end (the client would wait
			 * for more, or refuse it past the limit); fed all the same */
			feed(&reply, (const gchar *)start, size - pos);
			break;
		}
		len = (gsize)(nl - start);
		feed(&reply, (const gchar *)start, len > 0 && nl[-1] == '\r' ? len - 1 : len);
		pos += len + 1;
	}
	/* a reply whose final line never came */
	check_reply(&reply);

	/* lines right at and over the limit, made of the input: 12 KiB of
	 * work, so for one input in eight (by its size: the same every run) */
	if (size % 8 == 0) {
		check_length_limit(data, size, SMD_SMTP_MAX_REPLY_LINE, TRUE);
		check_length_limit(data, size, SMD_SMTP_MAX_REPLY_LINE, FALSE);
		check_length_limit(data, size, SMD_SMTP_MAX_REPLY_LINE + 1, TRUE);
	}
	return 0;
}
