/*
 * SecuMailer — unit tests: delivery status notifications.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "smd-config.h"
#include "smd-dsn.h"
#include "smd-gmime.h"

static void
test_status_from_reply(void)
{
	const struct {
		const gchar *reply;
		const gchar *status;
	} cases[] = {
	    {"550 5.1.1 No such user", "5.1.1"}, {"554 5.7.1", "5.7.1"},
	    {"550 No such user", "5.0.0"},	 {"550 5.1.1x", "5.0.0"},
	    {"cannot connect", "5.0.0"},	 {NULL, "5.0.0"},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *s = smd_dsn_status_from_reply(cases[i].reply);
		g_assert_cmpstr(s, ==, cases[i].status);
	}
}

/* the smallest configuration a report needs: its hostname */
#define DSN_CONF                                                                                   \
	"[smtp]\nlisten = 127.0.0.1:2525\nhostname = gw.example\nrelay-networks = "                \
	"127.0.0.0/8\n[store]\ndirectory = /tmp\n"

static void
test_build(void)
{
	const gchar *orig =
	    "Received: from x\r\nSubject: Hello\r\nMessage-ID: <1@x>\r\n\r\nSECRET BODY\r\n";
	g_autoptr(SmdConfig) config =
	    smd_config_load_from_data("t", DSN_CONF, strlen(DSN_CONF), NULL);
	g_autoptr(SmdJob) job =
	    smd_job_new(1, "qid123", "sender@example.org", 1700000000, "dest.example");
	SmdRecipient *r = smd_recipient_new(1, "bob@dest.example", 1);
	g_autoptr(GBytes) original = g_bytes_new_static(orig, strlen(orig));
	g_autoptr(GBytes) dsn = NULL;
	g_autoptr(GMimeStream) stream = NULL;
	g_autoptr(GMimeParser) parser = NULL;
	g_autoptr(GMimeMessage) msg = NULL;
	GMimeObject *part;
	g_autofree gchar *text = NULL;
	gsize len = 0;
	const gchar *data;

	r->reply = g_strdup("550 5.1.1 <bob@dest.example>: no such user");
	r->relay = g_strdup("mx.dest.example[192.0.2.1]:25");
	g_ptr_array_add(job->recipients, r);
	dsn = smd_dsn_build(config, job, original, NULL);
	g_assert_nonnull(dsn);
	data = g_bytes_get_data(dsn, &len);
	text = g_strndup(data, len);

	/* only CRLF line ends: it goes out through our own delivery */
	for (gsize i = 0; i < len; i++) {
		if (data[i] == '\n')
			g_assert_true(i > 0 && data[i - 1] == '\r');
	}
	/* the original headers are there, its body is not */
	g_assert_nonnull(strstr(text, "Subject: Hello"));
	g_assert_null(strstr(text, "SECRET BODY"));
	g_assert_nonnull(strstr(text, "Final-Recipient: rfc822; bob@dest.example"));
	g_assert_nonnull(strstr(text, "Status: 5.1.1"));
	g_assert_nonnull(strstr(text, "Last-Attempt-Date: "));
	g_assert_nonnull(strstr(text, "Remote-MTA: dns; mx.dest.example"));
	g_assert_nonnull(strstr(text, "Diagnostic-Code: smtp; 550 5.1.1"));
	g_assert_nonnull(strstr(text, "Auto-Submitted: auto-replied"));

	stream = g_mime_stream_mem_new_with_buffer(data, len);
	parser = g_mime_parser_new_with_stream(stream);
	msg = g_mime_parser_construct_message(parser, NULL);
	g_assert_nonnull(msg);
	part = g_mime_message_get_mime_part(msg);
	g_assert_true(GMIME_IS_MULTIPART(part));
	g_assert_true(g_mime_content_type_is_type(g_mime_object_get_content_type(part), "multipart",
						  "report"));
	g_assert_cmpstr(g_mime_object_get_content_type_parameter(part, "report-type"), ==,
			"delivery-status");
	g_assert_cmpint(g_mime_multipart_get_count(GMIME_MULTIPART(part)), ==, 3);
	g_assert_true(g_mime_content_type_is_type(
	    g_mime_object_get_content_type(g_mime_multipart_get_part(GMIME_MULTIPART(part), 1)),
	    "message", "delivery-status"));
	g_assert_cmpstr(internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(
			    internet_address_list_get_address(g_mime_message_get_to(msg), 0))),
			==, "sender@example.org");
}

/* max-queue-lifetime: RFC 3463's "delivery time expired", whatever the last
 * attempt said (here a 4xx, which alone would read as a temporary state) */
static void
test_expired(void)
{
	const gchar *orig = "Subject: Hello\r\n\r\nbody\r\n";
	g_autoptr(SmdConfig) config =
	    smd_config_load_from_data("t", DSN_CONF, strlen(DSN_CONF), NULL);
	g_autoptr(SmdJob) job =
	    smd_job_new(1, "qid124", "sender@example.org", 1700000000, "dest.example");
	SmdRecipient *r = smd_recipient_new(1, "bob@dest.example", 9);
	g_autoptr(GBytes) original = g_bytes_new_static(orig, strlen(orig));
	g_autoptr(GBytes) dsn = NULL;
	g_autofree gchar *text = NULL;

	r->reply = g_strdup("gave up after the maximal queue lifetime: 451 4.4.3 try later");
	r->expired = TRUE;
	g_ptr_array_add(job->recipients, r);
	dsn = smd_dsn_build(config, job, original, NULL);
	text = g_strndup(g_bytes_get_data(dsn, NULL), g_bytes_get_size(dsn));
	g_assert_nonnull(strstr(text, "Action: failed\r\nStatus: 4.4.7\r\n"));
	g_assert_nonnull(strstr(text, "451 4.4.3 try later"));
}

int
main(int argc, char **argv)
{
	g_mime_init();
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/dsn/status-from-reply", test_status_from_reply);
	g_test_add_func("/secumailer/dsn/build", test_build);
	g_test_add_func("/secumailer/dsn/expired", test_expired);
	return g_test_run();
}
