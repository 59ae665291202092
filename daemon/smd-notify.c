/*
 * SecuMailer — the portal's e-mails.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-notify"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "smd-common.h"
#include "smd-error.h"
#include "smd-gmime.h"
#include "smd-i18n.h"
#include "smd-notify.h"

gchar *
smd_notify_link(const SmdConfig *config, const SmdNotice *notice)
{
	const gchar *base =
	    config->portal_public_url != NULL ? config->portal_public_url : "http://127.0.0.1:8080";
	gsize len = strlen(base);
	return g_strdup_printf("%.*s/%s/%s", (int)(len > 0 && base[len - 1] == '/' ? len - 1 : len),
			       base, notice->kind == SMD_NOTICE_INVITATION ? "m" : "r",
			       notice->token);
}

gchar *
smd_notify_from(const SmdConfig *config)
{
	if (config->org_notify_from != NULL)
		return g_strdup(config->org_notify_from);
	return g_strdup_printf("secure-mail@%s", config->smtp_hostname);
}

static const gchar *
smd_notify_org(const SmdConfig *config)
{
	return config->org_name != NULL ? config->org_name : config->smtp_hostname;
}

static GMimePart *
smd_notify_part(const gchar *subtype, const gchar *text)
{
	GMimePart *part = smd_gmime_text_part("text", subtype, text, strlen(text));
	g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "utf-8");
	/* quoted-printable keeps long lines and non-ASCII safe in transit */
	g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
	return part;
}

typedef struct {
	const SmdConfig *config;
	const SmdNotice *notice;
	const gchar *link;
	gboolean html;
} SmdNotifyText;

/* The subject in one language. */
static gchar *
smd_notify_subject(const gchar *lang, gpointer data)
{
	SmdNotifyText *t = data;

	if (t->notice->kind != SMD_NOTICE_INVITATION)
		/* TRANSLATORS: subject of the e-mail to a sender; %s is the recipient */
		return g_strdup_printf(
		    L_(lang, "Mobile number needed to deliver your message to %s"),
		    t->notice->address);
	if (t->notice->subject != NULL)
		/* TRANSLATORS: subject with [portal] show-subject; %1$s organisation,
		 * %2$s the subject of the message */
		return g_strdup_printf(L_(lang, "Secure message from %1$s: %2$s"),
				       smd_notify_org(t->config), t->notice->subject);
	/* TRANSLATORS: subject of the e-mail to a recipient; %s is the organisation */
	return g_strdup_printf(L_(lang, "A secure message from %s is waiting for you"),
			       smd_notify_org(t->config));
}

/* The body in one language, as text or as HTML (escaped). */
static gchar *
smd_notify_body(const gchar *lang, gpointer data)
{
	SmdNotifyText *t = data;
	g_autofree gchar *when = smd_i18n_format_time(lang, t->notice->received_at);
	g_autofree gchar *org = t->html ? g_markup_escape_text(smd_notify_org(t->config), -1)
					: g_strdup(smd_notify_org(t->config));
	g_autofree gchar *sender =
	    t->html ? g_markup_escape_text(t->notice->sender, -1) : g_strdup(t->notice->sender);
	g_autofree gchar *address =
	    t->html ? g_markup_escape_text(t->notice->address, -1) : g_strdup(t->notice->address);
	g_autofree gchar *link = t->html ? g_markup_escape_text(t->link, -1) : g_strdup(t->link);

	if (t->notice->kind == SMD_NOTICE_INVITATION && !t->html)
		/* TRANSLATORS: the invitation e-mail; %1$s organisation, %2$s sender,
		 * %3$s date and time, %4$s the link */
		return g_strdup_printf(
		    L_(lang,
		       "%1$s has a message for you from %2$s, sent on %3$s.\n\n"
		       "Your mail server could not receive it over an encrypted connection, so "
		       "we keep it safe on our website. Open it here:\n\n%4$s\n\n"
		       "You will need your mobile phone: we send you a pin code by SMS. You can "
		       "read the message there and download it to your own mail program.\n\n"
		       "If you did not expect this message, you can ignore this e-mail.\n"),
		    org, sender, when, link);
	if (t->notice->kind == SMD_NOTICE_INVITATION)
		return g_strdup_printf(
		    L_(lang,
		       "<p>%1$s has a message for you from %2$s, sent on %3$s.</p>"
		       "<p>Your mail server could not receive it over an encrypted connection, so "
		       "we keep it safe on our website. Open it here:</p>"
		       "<p><a href=\"%4$s\">%4$s</a></p>"
		       "<p>You will need your mobile phone: we send you a pin code by SMS. You can "
		       "read the message there and download it to your own mail program.</p>"
		       "<p>If you did not expect this message, you can ignore this e-mail.</p>"),
		    org, sender, when, link);
	if (!t->html)
		/* TRANSLATORS: the registration request; %1$s recipient, %2$s date,
		 * %3$s the link, %4$s organisation */
		return g_strdup_printf(
		    L_(lang,
		       "Your message to %1$s of %2$s could not be delivered over an encrypted "
		       "connection, so it is kept safe on the website of %4$s.\n\n"
		       "The recipient can read it there after entering a pin code that we send to "
		       "their mobile phone. We do not have their mobile number yet. Please enter "
		       "it here:\n\n%3$s\n\n"
		       "We remember the number for later messages to this recipient.\n"),
		    address, when, link, org);
	return g_strdup_printf(
	    L_(lang, "<p>Your message to %1$s of %2$s could not be delivered over an encrypted "
		     "connection, so it is kept safe on the website of %4$s.</p>"
		     "<p>The recipient can read it there after entering a pin code that we send "
		     "to their mobile phone. We do not have their mobile number yet. Please "
		     "enter it here:</p><p><a href=\"%3$s\">%3$s</a></p>"
		     "<p>We remember the number for later messages to this recipient.</p>"),
	    address, when, link, org);
}

GBytes *
smd_notify_build(const SmdConfig *config, const SmdNotice *notice, GError **error)
{
	g_autoptr(GMimeMessage) msg = g_mime_message_new(TRUE);
	g_autoptr(GMimeMultipart) alt = g_mime_multipart_new_with_subtype("alternative");
	g_autoptr(GMimePart) text = NULL;
	g_autoptr(GMimePart) html = NULL;
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree gchar *link = smd_notify_link(config, notice);
	g_autofree gchar *from = smd_notify_from(config);
	g_autofree gchar *random = smd_random_id();
	g_autofree gchar *msgid = NULL;
	SmdNotifyText t = {.config = config, .notice = notice, .link = link};
	/* one language, or both in one message ("nl+en"), the first first */
	g_autofree gchar *subject =
	    smd_i18n_join(config->org_language, " / ", smd_notify_subject, &t);
	g_autofree gchar *body =
	    smd_i18n_join(config->org_language, "\n----------------------------------------\n\n",
			  smd_notify_body, &t);
	g_autofree gchar *body_html = NULL;
	g_autofree gchar *first_lang = NULL;

	t.html = TRUE;
	body_html = smd_i18n_join(config->org_language, "<hr>", smd_notify_body, &t);
	{
		g_auto(GStrv) langs = smd_i18n_split(config->org_language);
		first_lang = g_strdup(langs[0]);
	}
	{
		g_autofree gchar *page =
		    g_strdup_printf("<!DOCTYPE html><html lang=\"%s\"><head><meta "
				    "charset=\"utf-8\"></head><body>%s</body></html>",
				    first_lang, body_html);
		text = smd_notify_part("plain", body);
		html = smd_notify_part("html", page);
	}
	g_mime_multipart_add(alt, GMIME_OBJECT(text));
	g_mime_multipart_add(alt, GMIME_OBJECT(html));
	g_mime_message_set_mime_part(msg, GMIME_OBJECT(alt));
	{
		/* Content-Language (RFC 3282): "nl, en" */
		g_auto(GStrv) langs = smd_i18n_split(config->org_language);
		g_autofree gchar *content_language = g_strjoinv(", ", langs);
		g_mime_object_set_header(GMIME_OBJECT(msg), "Content-Language", content_language,
					 NULL);
	}

	/* GMime encodes names and subjects (RFC 2047) and folds: no header
	 * can be injected through a display name or an address */
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_FROM, smd_notify_org(config), from);
	g_mime_message_add_mailbox(msg, GMIME_ADDRESS_TYPE_TO, NULL, notice->to);
	g_mime_message_set_subject(msg, subject, "utf-8");
	g_mime_message_set_date(msg, now);
	msgid = g_strdup_printf("%s.portal@%s", random, config->smtp_hostname);
	g_mime_message_set_message_id(msg, msgid);
	/* RFC 3834: sent by a program, not to be answered by one */
	g_mime_object_set_header(GMIME_OBJECT(msg), "Auto-Submitted", "auto-generated", NULL);

	return smd_gmime_message_to_bytes(msg, error);
}
