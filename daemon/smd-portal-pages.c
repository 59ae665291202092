/*
 * SecuMailer — the portal's pages (HTML, every string translatable and
 * every value escaped).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-portal"

#include "config.h"

#include <glib/gi18n.h>

#include "smd-i18n.h"

#include "smd-phone.h"
#include "smd-portal-private.h"

SmdPage *
smd_page_new(const gchar *lang, guint status, const gchar *title)
{
	SmdPage *page = g_new0(SmdPage, 1);
	page->lang = lang;
	page->status = status;
	page->title = g_strdup(title);
	page->body = g_string_new(NULL);
	return page;
}

void
smd_page_free(SmdPage *page)
{
	g_free(page->title);
	g_string_free(page->body, TRUE);
	g_free(page);
}

/* Appends @format with every %s argument escaped for HTML. */
G_GNUC_PRINTF(2, 3)
static void
smd_page_add(SmdPage *page, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *text = NULL;
	va_start(args, format);
	text = g_markup_vprintf_escaped(format, args);
	va_end(args);
	g_string_append(page->body, text);
}

/* Links to the page in each language we have, the current one marked. */
static gchar *
smd_page_languages(const SmdPage *page, const gchar *path)
{
	static const struct {
		const gchar *lang;
		const gchar *name; /* in its own language, never translated */
	} langs[] = {{"nl", "Nederlands"}, {"en", "English"}};
	GString *nav = g_string_new(NULL);

	for (guint i = 0; i < G_N_ELEMENTS(langs); i++) {
		g_autofree gchar *link = NULL;
		if (!smd_i18n_supported(langs[i].lang))
			continue;
		link = g_markup_printf_escaped(
		    g_strcmp0(langs[i].lang, page->lang) == 0
			? "<a href=\"%s?lang=%s\" lang=\"%s\" hreflang=\"%s\" "
			  "aria-current=\"true\">%s</a>"
			: "<a href=\"%s?lang=%s\" lang=\"%s\" hreflang=\"%s\">%s</a>",
		    path, langs[i].lang, langs[i].lang, langs[i].lang, langs[i].name);
		g_string_append_printf(nav, "%s%s", nav->len > 0 ? " · " : "", link);
	}
	return g_string_free(nav, FALSE);
}

gchar *
smd_page_render(const SmdPage *page, const gchar *org_name, gboolean theme, gboolean logo,
		const gchar *path)
{
	const gchar *lang = page->lang;
	g_autofree gchar *title = g_markup_escape_text(page->title, -1);
	g_autofree gchar *org = g_markup_escape_text(org_name, -1);
	g_autofree gchar *brand =
	    logo ? g_strdup_printf("<img src=\"/static/logo\" alt=\"%s\" class=\"logo\">", org)
		 : g_strdup(org);
	g_autofree gchar *languages = smd_page_languages(page, path);
	/* TRANSLATORS: the accessible name of the portal's language switch */
	g_autofree gchar *nav_label = g_markup_escape_text(L_(lang, "Language"), -1);

	return g_strdup_printf("<!DOCTYPE html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
			       "<meta name=\"viewport\" content=\"width=device-width, "
			       "initial-scale=1\"><title>%s — %s</title>"
			       "<link rel=\"stylesheet\" href=\"/static/portal.css\">%s</head>"
			       "<body><header><p>%s</p><nav class=\"languages\" aria-label=\"%s\">"
			       "%s</nav></header><main><h1>%s</h1>%s</main></body></html>\n",
			       lang, title, org,
			       theme ? "<link rel=\"stylesheet\" href=\"/static/theme.css\">" : "",
			       brand, nav_label, languages, title, page->body->str);
}

/* A page that only says what happened and what to do. */
static SmdPage *
smd_page_notice(const gchar *lang, guint status, const gchar *title, const gchar *text)
{
	SmdPage *page = smd_page_new(lang, status, title);
	smd_page_add(page, "<p>%s</p>", text);
	return page;
}

SmdPage *
smd_page_not_found(const gchar *lang)
{
	/* the same page for an unknown and for a mistyped link */
	return smd_page_notice(
	    lang, 404, L_(lang, "This link does not work"),
	    L_(lang, "This link is not valid. Check that you opened the whole link from the "
		     "e-mail. If it still does not work, ask the sender to send the message "
		     "again."));
}

SmdPage *
smd_page_expired(const gchar *lang)
{
	return smd_page_notice(
	    lang, 410, L_(lang, "This message is no longer available"),
	    L_(lang, "The message behind this link has expired or was withdrawn and has been "
		     "deleted. Ask the sender to send it again if you still need it."));
}

SmdPage *
smd_page_busy(const gchar *lang)
{
	return smd_page_notice(lang, 503, L_(lang, "The portal is busy"),
			       L_(lang,
				  "Many messages are being opened at this moment. Try again in a "
				  "minute: your message is still there."));
}

SmdPage *
smd_page_restarting(const gchar *lang)
{
	return smd_page_notice(
	    lang, 503, L_(lang, "The portal is restarting"),
	    L_(lang, "The portal is being restarted. Try again in a minute: your message "
		     "is still there."));
}

SmdPage *
smd_page_registration_closed(const gchar *lang)
{
	return smd_page_notice(
	    lang, 403, L_(lang, "Registration is not possible from here"),
	    L_(lang, "Mobile numbers can only be registered from the organisation's own "
		     "network. Open this link at work, or ask a colleague to enter the number "
		     "in the SecuMailer admin app."));
}

SmdPage *
smd_page_withdrawn(const gchar *lang)
{
	return smd_page_notice(
	    lang, 410, L_(lang, "This message was withdrawn"),
	    L_(lang, "The sender's organisation has withdrawn this message and deleted it. "
		     "Contact the sender if you have questions."));
}

SmdPage *
smd_page_locked(const gchar *lang)
{
	return smd_page_notice(
	    lang, 403, L_(lang, "This link is locked"),
	    L_(lang, "A wrong pin code was entered too many times, so this link has been "
		     "locked to protect the message. Contact the sender to have it unlocked."));
}

SmdPage *
smd_page_no_number(const gchar *lang)
{
	return smd_page_notice(
	    lang, 409, L_(lang, "No mobile number is known for you"),
	    L_(lang, "The pin code for this message is sent by SMS, and no mobile number is "
		     "registered for you now. Contact the sender of the message."));
}

SmdPage *
smd_page_forbidden(const gchar *lang)
{
	return smd_page_notice(
	    lang, 403, L_(lang, "The form has expired"),
	    L_(lang, "This form could not be accepted. Go back, reload the page and try "
		     "again."));
}

/* What a request the portal refuses before any page of its own is asked
 * for gets: an address libsoup cannot read (a %00 in it), a method no
 * page takes, a body larger than any form or of another kind. */
static const struct {
	guint status;
	const gchar *title;
	const gchar *text;
} smd_page_refusals[] = {
    {405, N_("This request is not possible"),
     N_("The portal only opens pages and takes its own forms. Open the link from the e-mail "
	"again.")},
    {413, N_("What was sent is too large"),
     N_("The portal takes only its own small forms. Go back, reload the page and try again.")},
    {415, N_("What was sent is not a form of this portal"),
     N_("The portal takes only its own forms. Go back, reload the page and try again.")},
    {400, N_("This address is not valid"),
     N_("The address of this page could not be read. Check that you opened the whole link "
	"from the e-mail.")},
};

SmdPage *
smd_page_refused(const gchar *lang, guint status)
{
	guint i = 0;

	if (status == 404)
		return smd_page_not_found(lang);
	/* any other refusal is read as a bad request, the last entry */
	while (i + 1 < G_N_ELEMENTS(smd_page_refusals) && smd_page_refusals[i].status != status)
		i++;
	return smd_page_notice(lang, smd_page_refusals[i].status,
			       L_(lang, smd_page_refusals[i].title),
			       L_(lang, smd_page_refusals[i].text));
}

static void
smd_page_form_start(SmdPage *page, const gchar *action, const gchar *csrf)
{
	smd_page_add(page,
		     "<form method=\"post\" action=\"%s\"><input type=\"hidden\" name=\"csrf\" "
		     "value=\"%s\">",
		     action, csrf);
}

SmdPage *
smd_page_registration(const gchar *lang, const SmdLink *link, const gchar *action,
		      const gchar *csrf, const gchar *phone, const gchar *error)
{
	SmdPage *page = smd_page_new(lang, error != NULL ? 400 : 200,
				     L_(lang, "Mobile number of the recipient"));

	smd_page_add(page, "<p>%s <strong>%s</strong>.</p>",
		     L_(lang, "Messages are waiting on this portal for"), link->address);
	if (link->waiting != NULL && link->waiting->len > 0) {
		smd_page_add(page, "<p>%s</p><ul>", L_(lang, "Waiting messages:"));
		for (guint i = 0; i < link->waiting->len; i++) {
			g_auto(GStrv) f = g_strsplit(g_ptr_array_index(link->waiting, i), "\t", 2);
			g_autofree gchar *when =
			    smd_i18n_format_time(lang, g_ascii_strtoll(f[1], NULL, 10));
			/* TRANSLATORS: "from <sender>, <date>" in the list of waiting messages */
			smd_page_add(page, "<li>%s %s, <span class=\"nowrap\">%s</span></li>",
				     L_(lang, "from"), f[0], when);
		}
		g_string_append(page->body, "</ul>");
	}
	smd_page_add(page, "<p>%s</p>",
		     L_(lang,
			"The recipient reads them after entering a pin code that we send by SMS. "
			"Enter their mobile number; we remember it for later messages."));
	smd_page_form_start(page, action, csrf);
	smd_page_add(page, "<label for=\"phone\">%s</label>", L_(lang, "Mobile number"));
	if (error != NULL)
		smd_page_add(page, "<p class=\"error\" id=\"phone-error\" role=\"alert\">%s</p>",
			     error);
	smd_page_add(page,
		     error != NULL
			 ? "<input type=\"tel\" id=\"phone\" name=\"phone\" "
			   "autocomplete=\"off\" inputmode=\"tel\" required value=\"%s\" "
			   "aria-invalid=\"true\" aria-describedby=\"phone-error\">"
			 : "<input type=\"tel\" id=\"phone\" name=\"phone\" "
			   "autocomplete=\"off\" inputmode=\"tel\" required value=\"%s\">",
		     phone != NULL ? phone : "");
	/* TRANSLATORS: button label, keep it in line with DESIGN.md */
	smd_page_add(page, "<p><button type=\"submit\">%s</button></p></form>", L_(lang, "Submit"));
	return page;
}

SmdPage *
smd_page_stored(const gchar *lang, const gchar *address, const gchar *masked)
{
	/* TRANSLATORS: title shown after a number was saved */
	SmdPage *page = smd_page_new(lang, 200, L_(lang, "Stored"));
	smd_page_add(page, "<p>%s <strong>%s</strong>: %s</p>", L_(lang, "The mobile number of"),
		     address, masked);
	smd_page_add(page, "<p>%s</p>",
		     L_(lang, "The recipient now gets an e-mail with a link to read the message."));
	smd_page_add(page, "<p>%s</p>",
		     L_(lang, "This link cannot change the number. To change it, ask someone who "
			      "manages SecuMailer."));
	return page;
}

SmdPage *
smd_page_recipient(const gchar *lang, const SmdLink *link, const gchar *token, const gchar *csrf)
{
	SmdPage *page = smd_page_new(lang, 200, L_(lang, "A secure message is waiting for you"));
	g_autofree gchar *when = smd_i18n_format_time(lang, link->received_at);
	g_autofree gchar *action = g_strdup_printf("/m/%s/pin", token);
	g_autofree gchar *masked = link->number != NULL ? smd_phone_mask(link->number) : NULL;

	smd_page_add(page, "<p>%s <strong>%s</strong>, <span class=\"nowrap\">%s</span>.</p>",
		     L_(lang, "A message from"), link->sender != NULL ? link->sender : "", when);
	if (masked == NULL) {
		/* staff removed the number: nothing to send a pin to */
		smd_page_add(page, "<p>%s</p>",
			     L_(lang, "The pin code for this message is sent by SMS, and no mobile "
				      "number is registered for you now. Contact the sender of the "
				      "message."));
		return page;
	}
	smd_page_add(page, "<p>%s <span class=\"nowrap\">%s</span>.</p>",
		     L_(lang, "To open it, we send a pin code by SMS to your mobile number"),
		     masked);
	smd_page_form_start(page, action, csrf);
	/* TRANSLATORS: button label, keep it in line with DESIGN.md */
	smd_page_add(page, "<button type=\"submit\">%s</button></form>",
		     L_(lang, "Request pin code"));
	return page;
}

SmdPage *
smd_page_pin(const gchar *lang, const gchar *token, const gchar *csrf, const gchar *masked,
	     const gchar *notice, const gchar *error)
{
	SmdPage *page =
	    smd_page_new(lang, error != NULL ? 400 : 200, L_(lang, "Enter your pin code"));
	g_autofree gchar *action = g_strdup_printf("/m/%s/login", token);
	g_autofree gchar *again = g_strdup_printf("/m/%s/pin", token);

	if (notice != NULL)
		smd_page_add(page, "<p class=\"notice\">%s</p>", notice);
	else
		smd_page_add(page, "<p>%s %s.</p>", L_(lang, "We sent a pin code by SMS to"),
			     masked);
	smd_page_form_start(page, action, csrf);
	smd_page_add(page, "<label for=\"pin\">%s</label>", L_(lang, "Pin code"));
	if (error != NULL)
		smd_page_add(page, "<p class=\"error\" id=\"pin-error\" role=\"alert\">%s</p>",
			     error);
	g_string_append(page->body,
			error != NULL
			    ? "<input type=\"text\" id=\"pin\" name=\"pin\" inputmode=\"numeric\" "
			      "autocomplete=\"one-time-code\" pattern=\"[0-9]{6}\" maxlength=\"6\" "
			      "required aria-invalid=\"true\" aria-describedby=\"pin-error\">"
			    : "<input type=\"text\" id=\"pin\" name=\"pin\" inputmode=\"numeric\" "
			      "autocomplete=\"one-time-code\" pattern=\"[0-9]{6}\" maxlength=\"6\" "
			      "required>");
	smd_page_add(page, "<p><button type=\"submit\">%s</button></p></form>", L_(lang, "Submit"));
	smd_page_form_start(page, again, csrf);
	smd_page_add(page, "<button type=\"submit\">%s</button></form>",
		     L_(lang, "Send a new pin code"));
	return page;
}

SmdPage *
smd_page_sms_failed(const gchar *lang, const gchar *token, const gchar *csrf)
{
	SmdPage *page = smd_page_new(lang, 503, L_(lang, "The pin code could not be sent"));
	g_autofree gchar *action = g_strdup_printf("/m/%s/pin", token);
	smd_page_add(
	    page, "<p>%s</p>",
	    L_(lang, "We could not send the SMS just now. Please try again in a few minutes."));
	smd_page_form_start(page, action, csrf);
	smd_page_add(page, "<button type=\"submit\">%s</button></form>",
		     L_(lang, "Request pin code"));
	return page;
}

SmdPage *
smd_page_message(const gchar *lang, const SmdMimeView *view, const gchar *token, const gchar *csrf)
{
	g_autofree gchar *logout = g_strdup_printf("/m/%s/logout", token);
	SmdPage *page = smd_page_new(lang, 200,
				     view->subject != NULL && view->subject[0] != '\0'
					 ? view->subject
					 : L_(lang, "(no subject)"));
	g_autofree gchar *date = view->date != 0 ? smd_i18n_format_time(lang, view->date) : NULL;
	const struct {
		const gchar *label;
		const gchar *value;
	} fields[] = {{L_(lang, "From"), view->from},
		      {L_(lang, "To"), view->to},
		      {L_(lang, "Cc"), view->cc},
		      {L_(lang, "Date"), date}};

	g_string_append(page->body, "<dl class=\"headers\">");
	for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
		if (fields[i].value != NULL)
			smd_page_add(page, "<dt>%s</dt><dd>%s</dd>", fields[i].label,
				     fields[i].value);
	}
	g_string_append(page->body, "</dl>");
	/* TRANSLATORS: button label, keep it in line with DESIGN.md */
	smd_page_add(page, "<p><a class=\"button\" href=\"/m/%s/download\">%s</a></p>", token,
		     L_(lang, "Download"));
	if (view->unreadable ||
	    (view->text == NULL && view->html == NULL && view->attachments->len == 0))
		smd_page_add(page, "<p class=\"notice\">%s</p>",
			     L_(lang, "This message cannot be shown here. Download it to open it "
				      "in your mail program."));
	else if (view->truncated)
		smd_page_add(page, "<p class=\"notice\">%s</p>",
			     L_(lang, "This message is too long to show here in full. Download it "
				      "to read all of it."));
	if (view->attachments->len > 0) {
		smd_page_add(page, "<h2>%s</h2><ul class=\"attachments\">",
			     L_(lang, "Attachments"));
		for (guint i = 0; i < view->attachments->len; i++) {
			SmdAttachment *a = g_ptr_array_index(view->attachments, i);
			g_autofree gchar *size = g_format_size(a->size);
			g_autofree gchar *href = g_strdup_printf("/m/%s/attachment/%u", token, i);
			smd_page_add(page,
				     "<li><a href=\"%s\">%s</a> <span "
				     "class=\"nowrap\">(%s)</span></li>",
				     href, a->name, size);
		}
		g_string_append(page->body, "</ul>");
	}
	if (view->html != NULL) {
		/* no allow-scripts, no allow-same-origin: an opaque, inert
		 * document; its links open in a tab of their own */
		g_autofree gchar *src = g_strdup_printf("/m/%s/html", token);
		smd_page_add(page,
			     "<iframe class=\"html\" sandbox=\"allow-popups "
			     "allow-popups-to-escape-sandbox\" src=\"%s\" title=\"%s\" "
			     "referrerpolicy=\"no-referrer\"></iframe>"
			     "<p><a href=\"%s\">%s</a></p>",
			     src, L_(lang, "The message"), src,
			     L_(lang, "Open the message on a page of its own"));
		/* the text of a multipart/alternative says the same: on request */
		if (view->text != NULL)
			smd_page_add(page,
				     "<details class=\"alternative\"><summary>%s</summary>"
				     "<pre class=\"body\">%s</pre></details>",
				     L_(lang, "Plain-text version"), view->text);
	} else if (view->text != NULL) {
		smd_page_add(page, "<pre class=\"body\">%s</pre>", view->text);
	}
	/* on a shared computer: closed now, not when the browser is */
	smd_page_form_start(page, logout, csrf);
	smd_page_add(page, "<button type=\"submit\" class=\"secondary\">%s</button></form>",
		     L_(lang, "Log out"));
	return page;
}
