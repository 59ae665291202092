/*
 * SecuMailer — delivery status notifications.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-dsn"

#include "config.h"

#include <glib/gi18n.h>
#include <gmime/gmime.h>
#include <string.h>

#include "smd-common.h"
#include "smd-dsn.h"
#include "smd-error.h"
#include "smd-gmime.h"
#include "smd-i18n.h"

gchar *
smd_dsn_status_from_reply(const gchar *reply)
{
	/* "NNN X.Y.Z text": take X.Y.Z when it is well-formed */
	if (reply != NULL && strlen(reply) >= 9 && reply[3] == ' ' &&
	    (reply[4] == '4' || reply[4] == '5') && reply[5] == '.') {
		const gchar *p = reply + 6;
		gsize n = 0;
		while (g_ascii_isdigit(p[n]) && n < 3)
			n++;
		if (n > 0 && p[n] == '.') {
			gsize m = 0;
			while (g_ascii_isdigit(p[n + 1 + m]) && m < 3)
				m++;
			if (m > 0 && (p[n + 1 + m] == ' ' || p[n + 1 + m] == '\0'))
				return g_strndup(reply + 4, 2 + n + 1 + m);
		}
	}
	return g_strdup("5.0.0");
}

static gchar *
smd_dsn_opening(const gchar *lang, gpointer data)
{
	const SmdConfig *config = data;
	/* TRANSLATORS: the opening of a bounce message to the sender */
	return g_strdup_printf(L_(lang,
				  "This is the mail system at host %s.\n\n"
				  "Your message could not be delivered to one or more "
				  "recipients.\n"
				  "The details are below; the message headers are attached.\n"),
			       config->smtp_hostname);
}

static gchar *
smd_dsn_from_name(const gchar *lang, gpointer data)
{
	/* TRANSLATORS: the display name of the bounce sender */
	return g_strdup(L_(lang, "Mail Delivery System"));
}

static gchar *
smd_dsn_subject(const gchar *lang, gpointer data)
{
	return g_strdup(L_(lang, "Undelivered Mail Returned to Sender"));
}

GBytes *
smd_dsn_build(const SmdConfig *config, const SmdJob *job, GBytes *original, GError **error)
{
	g_autoptr(GMimeMessage) msg = g_mime_message_new(TRUE);
	g_autoptr(GMimeMultipart) report = g_mime_multipart_new_with_subtype("report");
	g_autoptr(GMimePart) human = NULL;
	g_autoptr(GMimePart) status = NULL;
	g_autoptr(GMimePart) headers = NULL;
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autoptr(GDateTime) arrival = g_date_time_new_from_unix_local(job->received_at);
	g_autofree gchar *arrival_str = smd_rfc5322_date(arrival);
	g_autofree gchar *now_str = smd_rfc5322_date(now);
	g_autofree gchar *daemon_addr = g_strdup_printf("MAILER-DAEMON@%s", config->smtp_hostname);
	g_autoptr(GBytes) header_section = smd_message_header_section(original);
	GString *text = g_string_new(NULL);
	GString *fields = g_string_new(NULL);
	g_autofree gchar *text_str = NULL;
	g_autofree gchar *fields_str = NULL;
	g_autofree gchar *msgid = NULL;
	g_autofree gchar *random = smd_random_id();

	{
		/* in the organisation's language(s): the sender works there */
		g_autofree gchar *opening =
		    smd_i18n_join(config->org_language, "\n", smd_dsn_opening, (gpointer)config);
		g_string_append_printf(text, "%s\n", opening);
	}
	g_string_append_printf(fields, "Reporting-MTA: dns; %s\n", config->smtp_hostname);
	g_string_append_printf(fields, "X-SecuMailer-Queue-ID: %s\n", job->queue_id);
	g_string_append_printf(fields, "Arrival-Date: %s\n", arrival_str);
	for (guint i = 0; i < job->recipients->len; i++) {
		const SmdRecipient *r = g_ptr_array_index(job->recipients, i);
		/* RFC 3463 X.4.7, delivery time expired: what the last attempt
		 * said is in the Diagnostic-Code */
		g_autofree gchar *code =
		    r->expired ? g_strdup("4.4.7") : smd_dsn_status_from_reply(r->reply);
		g_string_append_printf(text, "<%s>: %s\n", r->address,
				       r->reply != NULL ? r->reply : "");
		g_string_append_printf(fields, "\nFinal-Recipient: rfc822; %s\n", r->address);
		g_string_append(fields, "Action: failed\n");
		g_string_append_printf(fields, "Status: %s\n", code);
		/* the report follows the last attempt at once */
		g_string_append_printf(fields, "Last-Attempt-Date: %s\n", now_str);
		if (r->relay != NULL) {
			g_autofree gchar *host = g_strdup(r->relay);
			gchar *bracket = strchr(host, '[');
			if (bracket != NULL)
				*bracket = '\0';
			g_string_append_printf(fields, "Remote-MTA: dns; %s\n", host);
		}
		if (r->reply != NULL && g_ascii_isdigit(r->reply[0]))
			g_string_append_printf(fields, "Diagnostic-Code: smtp; %s\n", r->reply);
		else if (r->reply != NULL)
			g_string_append_printf(fields, "Diagnostic-Code: X-SecuMailer; %s\n",
					       r->reply);
	}
	text_str = g_string_free(text, FALSE);
	fields_str = g_string_free(fields, FALSE);

	human = smd_gmime_text_part("text", "plain", text_str, strlen(text_str));
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(human), "charset", "utf-8");
	status = smd_gmime_text_part("message", "delivery-status", fields_str, strlen(fields_str));
	/* RFC 2046 §5.2: message parts are never base64 or QP encoded */
	g_mime_part_set_content_encoding(status, GMIME_CONTENT_ENCODING_8BIT);
	headers =
	    smd_gmime_text_part("text", "rfc822-headers", g_bytes_get_data(header_section, NULL),
				g_bytes_get_size(header_section));
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(report), "report-type",
						 "delivery-status");
	g_mime_multipart_add(report, GMIME_OBJECT(human));
	g_mime_multipart_add(report, GMIME_OBJECT(status));
	g_mime_multipart_add(report, GMIME_OBJECT(headers));
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(report));

	{
		g_autofree gchar *name =
		    smd_i18n_join(config->org_language, " / ", smd_dsn_from_name, NULL);
		g_autofree gchar *subject =
		    smd_i18n_join(config->org_language, " / ", smd_dsn_subject, NULL);
		g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, name, daemon_addr);
		g_mime_message_set_subject(msg, subject, "utf-8");
	}
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, job->sender);
	g_mime_message_set_date(msg, now);
	msgid = g_strdup_printf("%s.dsn@%s", random, config->smtp_hostname);
	g_mime_message_set_message_id(msg, msgid);
	/* RFC 3834: a report, never to be answered automatically */
	g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted", "auto-replied", NULL);

	return smd_gmime_message_to_bytes(msg, error);
}
