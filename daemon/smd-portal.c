/*
 * SecuMailer — the portal: server, routing, cookies, sessions, and the
 * handlers that tie pages to the store.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-portal"

#include "config.h"

#include <glib/gi18n.h>
#include <libsoup/soup.h>
#include <string.h>

#include "smd-common.h"
#include "smd-error.h"
#include "smd-i18n.h"
#include "smd-event.h"
#include "smd-phone.h"
#include "smd-portal-private.h"
#include "smd-budget.h"
#include "smd-portal-reaper.h"
#include "smd-portal-tls.h"
#include "smd-portal-request.h"
#include "smd-resources.h"
#include "smd-sms-provider.h"
#include "smd-store-messages.h"
#include "smd-tls-server.h"
#include "smd-token.h"

#define SMD_SESSION_IDLE (15 * 60)
/* the messages one browser may have open at once, each after its pin */
#define SMD_SESSION_MAX_LINKS 20
#define SMD_MAX_REQUEST_BODY (16 * 1024)

typedef struct {
	GArray *links; /* gint64: the links this session opens */
	gint64 last_used;
} SmdPortalSession;

struct _SmdPortal {
	GObject parent_instance;
	/* owned */
	SmdEngine *engine;
	SoupServer *server;
	SmdPortalReaper *reaper;
	SmdBudget *budget; /* memory for messages being opened */
	SmdPortalTls *tls; /* HTTPS: accepts and handshakes before libsoup */
	SmdSmsProvider *sms;
	GHashTable *sessions;	 /* session id → SmdPortalSession */
	GHashTable *recent;	 /* "kind queue client" → when it was last logged */
	GHashTable *opening;	 /* link id → SmdPortalLinkUse, while it has some */
	const SmdConfig *config; /* a reference, the engine's current one */
	/* borrowed */
	SmdStore *store;
	SmdVault *vault;
	gboolean secure;   /* public-url is https: Secure, __Host- cookies, HSTS */
	gboolean draining; /* smd_portal_drain() */
};

G_DEFINE_TYPE(SmdPortal, smd_portal, G_TYPE_OBJECT)

/* The same visitor on the same page again within minutes adds nothing to
 * the log but a committed write per view (bench/portal). */
#define SMD_PORTAL_REPEAT_SECONDS 600
#define SMD_PORTAL_REPEAT_KEEP 10000

static gboolean
smd_portal_seen_recently(SmdPortal *self, const gchar *kind, const gchar *queue_id,
			 const gchar *client)
{
	g_autofree gchar *key = g_strdup_printf("%s %s %s", kind, queue_id, client);
	gint64 now = g_get_monotonic_time() / G_USEC_PER_SEC;
	gpointer last = g_hash_table_lookup(self->recent, key);

	if (last != NULL && now - GPOINTER_TO_SIZE(last) < SMD_PORTAL_REPEAT_SECONDS)
		return TRUE;
	if (g_hash_table_size(self->recent) >= SMD_PORTAL_REPEAT_KEEP)
		g_hash_table_remove_all(self->recent); /* bounded; forgetting only logs again */
	g_hash_table_insert(self->recent, g_steal_pointer(&key), GSIZE_TO_POINTER((gsize)now));
	return FALSE;
}

static void
smd_portal_session_free(SmdPortalSession *s)
{
	g_array_unref(s->links);
	g_free(s);
}

/* ------------------------------------------------------------ requests */

typedef struct {
	SmdPortal *portal;
	SoupServerMessage *msg;
	gchar *token;
	gchar *action; /* "", "pin", "login", "view", "download" */
	gboolean post;
	gboolean registration; /* /r/ rather than /m/ */
	gint index;	       /* /m/TOKEN/attachment/INDEX, else -1 */
	GHashTable *form;
	gchar *client;
	gchar *csrf; /* the cookie's value (a new one if there was none) */
	gboolean new_csrf;
	SmdLink *link;
	const gchar *lang; /* interned: the visitor's language */
	gchar *path;	   /* where the language switch leads */
	gchar *notice;	   /* ?n= of the pin page: why it was shown again */
} SmdPortalRequest;

static void
smd_portal_request_free(SmdPortalRequest *r)
{
	g_object_unref(r->portal);
	g_object_unref(r->msg);
	g_free(r->token);
	g_free(r->action);
	g_clear_pointer(&r->form, g_hash_table_unref);
	g_free(r->client);
	g_free(r->csrf);
	g_clear_pointer(&r->link, smd_link_free);
	g_free(r->path);
	g_free(r->notice);
	g_free(r);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdPortalRequest, smd_portal_request_free)

static const gchar *
smd_portal_cookie_name(SmdPortal *self, const gchar *base)
{
	/* __Host- needs Secure; a plain-http development setup cannot have it */
	if (g_strcmp0(base, "session") == 0)
		return self->secure ? "__Host-smd_session" : "smd_session";
	return self->secure ? "__Host-smd_csrf" : "smd_csrf";
}

static gchar *
smd_portal_get_cookie(SoupServerMessage *msg, const gchar *name)
{
	return smd_portal_cookie_value(
	    soup_message_headers_get_one(soup_server_message_get_request_headers(msg), "Cookie"),
	    name);
}

/* @same_site: "Strict" for the session; "Lax" for the CSRF token, which
 * must come along when the recipient opens the e-mail's link again in
 * another tab (a top-level GET from the mail program's site): else that
 * tab is given a new token, and the pin form open in the first tab is
 * refused. Lax still keeps it from other sites' POSTs. */
static void
smd_portal_set_cookie(SmdPortal *self, SoupServerMessage *msg, const gchar *name,
		      const gchar *value, gint max_age, const gchar *same_site)
{
	g_autofree gchar *header =
	    g_strdup_printf("%s=%s; Path=/; HttpOnly; SameSite=%s%s%s", name, value, same_site,
			    self->secure ? "; Secure" : "", max_age >= 0 ? "; Max-Age=" : "");
	g_autofree gchar *full =
	    max_age >= 0 ? g_strdup_printf("%s%d", header, max_age) : g_strdup(header);
	soup_message_headers_append(soup_server_message_get_response_headers(msg), "Set-Cookie",
				    full);
}

/* Headers every response carries (DESIGN.md, security model). */
static void
smd_portal_security_headers(SmdPortal *self, SoupServerMessage *msg)
{
	SoupMessageHeaders *h = soup_server_message_get_response_headers(msg);
	soup_message_headers_replace(
	    h, "Content-Security-Policy",
	    "default-src 'none'; style-src 'self'; img-src 'self' data:; "
	    "frame-src 'self'; form-action 'self'; frame-ancestors 'none'; "
	    "base-uri 'none'");
	soup_message_headers_replace(h, "X-Content-Type-Options", "nosniff");
	soup_message_headers_replace(h, "Referrer-Policy", "no-referrer");
	soup_message_headers_replace(h, "X-Frame-Options", "DENY");
	soup_message_headers_replace(h, "Cache-Control", "no-store");
	soup_message_headers_replace(h, "Cross-Origin-Opener-Policy", "same-origin");
	/* libsoup before 3.3 never notices a client closing a kept-alive
	 * connection and keeps it (descriptor, buffers, TLS state) for good
	 * (bench/soak found it; fixed upstream in 3.3): we close after each
	 * answer. Behind a reverse proxy it costs nothing. */
	soup_message_headers_replace(h, "Connection", "close");
	if (self->secure)
		soup_message_headers_replace(h, "Strict-Transport-Security",
					     "max-age=31536000; includeSubDomains");
}

/* Answers @msg with @page; its language switch leads to @path. */
static void
smd_portal_respond(SmdPortal *self, SoupServerMessage *msg, SmdPage *page, const gchar *path)
{
	const gchar *org =
	    self->config->org_name != NULL ? self->config->org_name : self->config->smtp_hostname;
	g_autofree gchar *html = smd_page_render(page, org, self->config->org_colour != NULL,
						 self->config->org_logo != NULL, path);

	smd_portal_security_headers(self, msg);
	soup_server_message_set_status(msg, page->status, NULL);
	soup_server_message_set_response(msg, "text/html; charset=utf-8", SOUP_MEMORY_COPY, html,
					 strlen(html));
}

static void
smd_portal_send_page(SmdPortalRequest *r, SmdPage *page)
{
	if (r->new_csrf)
		smd_portal_set_cookie(r->portal, r->msg, smd_portal_cookie_name(r->portal, "csrf"),
				      r->csrf, -1, "Lax");
	/* an unknown link's page must not differ by its path */
	smd_portal_respond(r->portal, r->msg, page,
			   r->path != NULL && page->status != 404 ? r->path : "/");
}

static void smd_portal_release(SmdPortalRequest *r);

/* Finishes a paused request with @page (taking it) and frees @r. */
static void
smd_portal_finish(SmdPortalRequest *r, SmdPage *page)
{
	g_autoptr(SmdPage) p = page;
	smd_portal_send_page(r, p);
	smd_portal_release(r);
}

/* Finishes a paused request whose response is set, and frees @r. */
static void
smd_portal_release(SmdPortalRequest *r)
{
	soup_server_message_unpause(r->msg);
	smd_portal_request_free(r);
}

/* Finishes a paused request with a 303 to /m/TOKEN@suffix (/r/ for a
 * registration link), frees @r. */
static void
smd_portal_redirect(SmdPortalRequest *r, const gchar *suffix)
{
	/* under public-url, not the request's Host (a proxy may not pass it
	 * on, or a client make it up) nor its plain http */
	const gchar *base = r->portal->config->portal_public_url;
	gsize len = strlen(base);
	g_autofree gchar *location = NULL;

	while (len > 0 && base[len - 1] == '/')
		len--;
	location = g_strdup_printf("%.*s/%s/%s%s", (int)len, base, r->registration ? "r" : "m",
				   r->token, suffix);
	smd_portal_security_headers(r->portal, r->msg);
	soup_server_message_set_redirect(r->msg, SOUP_STATUS_SEE_OTHER, location);
	smd_portal_release(r);
}

static gboolean
smd_portal_csrf_ok(SmdPortalRequest *r)
{
	const gchar *sent = r->form != NULL ? g_hash_table_lookup(r->form, "csrf") : NULL;
	/* double submit: the form field must equal the SameSite=Strict cookie */
	return !r->new_csrf && sent != NULL && smd_secure_equal(sent, r->csrf);
}

/* A portal action's events go to the journal and out as EventAdded once
 * they are stored: the admin app reads an event back when it hears of it. */
static void
smd_portal_marked_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdPortalMark *mark = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error))
		g_warning("portal: cannot record an action: %s", error->message);
	smd_event_log_all(mark->events);
}

static void
smd_portal_record(SmdPortal *self, SmdPortalMark *mark)
{
	smd_store_run_async(self->store, smd_portal_store_mark, mark,
			    (GDestroyNotify)smd_portal_mark_free, smd_portal_marked_cb, NULL);
}

/* What smd_portal_record() stores for one event. */
static SmdPortalMark *
smd_portal_mark_new(SmdEventLevel level, const gchar *kind, const gchar *queue_id,
		    const gchar *recipient, const gchar *detail, const gchar *text)
{
	SmdPortalMark *mark = g_new0(SmdPortalMark, 1);

	mark->events = g_ptr_array_new_with_free_func((GDestroyNotify)smd_event_free);
	g_ptr_array_add(mark->events,
			smd_event_new(level, kind, queue_id, recipient, detail, text));
	return mark;
}

static void
smd_portal_log(SmdPortal *self, SmdEventLevel level, const gchar *kind, const gchar *queue_id,
	       const gchar *recipient, const gchar *detail, const gchar *text)
{
	smd_portal_record(self,
			  smd_portal_mark_new(level, kind, queue_id, recipient, detail, text));
}

/* A portal action on @r's link: its event names the recipient (a message
 * may have several on the portal) and, with @recipient_id, moves the
 * recipient to @state. */
static void
smd_portal_mark(SmdPortalRequest *r, gint64 recipient_id, const gchar *state, const gchar *kind,
		const gchar *queue_id, const gchar *text)
{
	SmdPortalMark *mark =
	    smd_portal_mark_new(SMD_EVENT_INFO, kind, queue_id, r->link->address, r->client, text);

	mark->recipient_id = recipient_id;
	mark->state = state;
	smd_portal_record(r->portal, mark);
}

/* ---------------------------------------------------------- sessions */

/* The session of the request's cookie, if it has not expired (it is
 * forgotten then). */
static SmdPortalSession *
smd_portal_session_lookup(SmdPortalRequest *r, gchar **id_out)
{
	g_autofree gchar *id =
	    smd_portal_get_cookie(r->msg, smd_portal_cookie_name(r->portal, "session"));
	SmdPortalSession *s = id != NULL ? g_hash_table_lookup(r->portal->sessions, id) : NULL;

	if (s != NULL && smd_now() - s->last_used > SMD_SESSION_IDLE) {
		g_hash_table_remove(r->portal->sessions, id);
		s = NULL;
	}
	if (s != NULL && id_out != NULL)
		*id_out = g_steal_pointer(&id);
	return s;
}

static gboolean
smd_portal_session_opens(const SmdPortalSession *s, gint64 link_id)
{
	for (guint i = 0; i < s->links->len; i++)
		if (g_array_index(s->links, gint64, i) == link_id)
			return TRUE;
	return FALSE;
}

/* The session of the request if it opens the request's link; its idle
 * time starts over. */
static SmdPortalSession *
smd_portal_session_get(SmdPortalRequest *r)
{
	SmdPortalSession *s = r->link != NULL ? smd_portal_session_lookup(r, NULL) : NULL;

	if (s == NULL || !smd_portal_session_opens(s, r->link->id))
		return NULL;
	s->last_used = smd_now();
	return s;
}

/* After a right pin: a fresh session id (nothing planted before carries
 * over), which also opens the links the browser's old session opened, so
 * that a second message does not close the first. A browser-session
 * cookie: gone when the browser closes; the server ends it after
 * SMD_SESSION_IDLE without use. */
static void
smd_portal_session_start(SmdPortalRequest *r)
{
	SmdPortalSession *s = g_new0(SmdPortalSession, 1);
	g_autofree gchar *old_id = NULL;
	SmdPortalSession *old = smd_portal_session_lookup(r, &old_id);
	gchar *id = smd_token_new(); /* 192 bits */
	GHashTableIter iter;
	gpointer value;

	s->links = g_array_new(FALSE, FALSE, sizeof(gint64));
	if (old != NULL) {
		for (guint i = 0; i < old->links->len && i + 1 < SMD_SESSION_MAX_LINKS; i++) {
			gint64 link = g_array_index(old->links, gint64, i);
			if (link != r->link->id)
				g_array_append_val(s->links, link);
		}
		g_hash_table_remove(r->portal->sessions, old_id);
	}
	g_array_append_val(s->links, r->link->id);
	s->last_used = smd_now();
	/* sessions nobody came back for go here, not only when presented */
	g_hash_table_iter_init(&iter, r->portal->sessions);
	while (g_hash_table_iter_next(&iter, NULL, &value))
		if (s->last_used - ((SmdPortalSession *)value)->last_used > SMD_SESSION_IDLE)
			g_hash_table_iter_remove(&iter);
	g_hash_table_insert(r->portal->sessions, id, s);
	smd_portal_set_cookie(r->portal, r->msg, smd_portal_cookie_name(r->portal, "session"), id,
			      -1, "Strict");
}

/* Log out: the session ends for every message it opened. */
static void
smd_portal_session_end(SmdPortalRequest *r)
{
	g_autofree gchar *id = NULL;

	if (smd_portal_session_lookup(r, &id) != NULL)
		g_hash_table_remove(r->portal->sessions, id);
	smd_portal_set_cookie(r->portal, r->msg, smd_portal_cookie_name(r->portal, "session"), "",
			      0, "Strict");
}

/* ------------------------------------------------------ registration */

static void
smd_portal_registered_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdPortalRequest *r = user_data;
	SmdRegistration *reg = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		smd_portal_finish(r, g_error_matches(error, SMD_ERROR, SMD_ERROR_NOT_FOUND)
					 ? smd_page_expired(r->lang)
					 : smd_page_sms_failed(r->lang, r->token, r->csrf));
		return;
	}
	smd_event_log_all(reg->events);
	smd_engine_send_notices(r->portal->engine, reg->notices);
	/* the link now shows what was stored: a reload stores nothing again */
	smd_portal_redirect(r, "");
}

/* [portal] registration-networks: numbers only from the organisation */
static gboolean
smd_portal_may_register(SmdPortalRequest *r)
{
	GPtrArray *networks = r->portal->config->registration_networks;
	g_autoptr(GInetAddress) addr = NULL;
	if (networks->len == 0)
		return TRUE;
	addr = g_inet_address_new_from_string(r->client);
	for (guint i = 0; addr != NULL && i < networks->len; i++) {
		if (g_inet_address_mask_matches(g_ptr_array_index(networks, i), addr))
			return TRUE;
	}
	return FALSE;
}

static void
smd_portal_registration(SmdPortalRequest *r)
{
	g_autofree gchar *action = g_strdup_printf("/r/%s", r->token);
	const gchar *phone;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *number = NULL;
	SmdRegistration *reg;

	if (g_strcmp0(r->action, "") != 0) {
		smd_portal_finish(r, smd_page_not_found(r->lang));
		return;
	}
	if (!smd_portal_may_register(r)) {
		smd_portal_finish(r, smd_page_registration_closed(r->lang));
		return;
	}
	/* stored once; a form sent again (or by someone else) changes nothing */
	if (r->link->number != NULL) {
		g_autofree gchar *masked = smd_phone_mask(r->link->number);
		smd_portal_finish(r, smd_page_stored(r->lang, r->link->address, masked));
		return;
	}
	if (!r->post) {
		smd_portal_finish(
		    r, smd_page_registration(r->lang, r->link, action, r->csrf, NULL, NULL));
		return;
	}
	if (!smd_portal_csrf_ok(r)) {
		smd_portal_finish(r, smd_page_forbidden(r->lang));
		return;
	}
	phone = g_hash_table_lookup(r->form, "phone");
	number = smd_phone_normalise(phone != NULL ? phone : "",
				     r->portal->config->portal_default_country, &error);
	if (number == NULL) {
		smd_portal_finish(r, smd_page_registration(r->lang, r->link, action, r->csrf, phone,
							   L_(r->lang, error->message)));
		return;
	}
	reg = g_new0(SmdRegistration, 1);
	reg->token_hash = smd_token_hash(r->token);
	reg->number = g_steal_pointer(&number);
	reg->client_address = g_strdup(r->client);
	reg->retention = r->portal->config->retention;
	smd_store_run_async(r->portal->store, smd_portal_store_register, reg,
			    (GDestroyNotify)smd_registration_free, smd_portal_registered_cb, r);
}

/* --------------------------------------------------------- recipient */

typedef struct {
	SmdPortalRequest *r;
	gchar *pin;
} SmdPinSend;

static void
smd_portal_sms_sent_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdPortalRequest *r = user_data;
	g_autoptr(GError) error = NULL;

	if (!smd_sms_provider_send_finish(SMD_SMS_PROVIDER(source), result, &error)) {
		SmdPortalMark *mark = smd_portal_mark_new(
		    SMD_EVENT_ERROR, "sms-failed", r->link->queue_id, r->link->address,
		    error->message, N_("The SMS could not be sent"));
		/* the pin went nowhere: the pin page must not say it was sent */
		mark->unsent_pin_link = r->link->id;
		smd_portal_record(r->portal, mark);
		smd_portal_finish(r, smd_page_sms_failed(r->lang, r->token, r->csrf));
		return;
	}
	/* POST, redirect, GET: a reload or Back never sends another SMS */
	smd_portal_redirect(r, "/pin");
}

typedef struct {
	const gchar *pin;
	const gchar *org;
} SmdPortalSms;

static gchar *
smd_portal_sms_text(const gchar *lang, gpointer data)
{
	SmdPortalSms *sms = data;
	/* TRANSLATORS: the SMS; %1$s is the pin, %2$s the organisation */
	return g_strdup_printf(
	    L_(lang, "Your pin code is %1$s. It is valid for 10 minutes. — %2$s"), sms->pin,
	    sms->org);
}

/* What a pin request or check the store refused shows: a locked link, no
 * number left to send to (staff removed it), or a store that failed,
 * which is not the recipient's doing (a full disk: try again). */
static SmdPage *
smd_portal_not_sent_page(SmdPortalRequest *r, const GError *error, gboolean no_number)
{
	if (no_number)
		return smd_page_no_number(r->lang);
	if (g_error_matches(error, SMD_ERROR, SMD_ERROR_NOT_FOUND))
		return smd_page_locked(r->lang);
	g_warning("portal: %s", error->message);
	return smd_page_busy(r->lang);
}

static void
smd_portal_pin_stored_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdPinSend *send = user_data;
	SmdPortalRequest *r = send->r;
	SmdPinRequest *req = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *pin = g_steal_pointer(&send->pin);
	g_autofree gchar *text = NULL;

	g_free(send);
	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		if (g_error_matches(error, SMD_ERROR, SMD_ERROR_TEMPORARY))
			smd_portal_redirect(r, req->hourly_limit ? "/pin?n=hour" : "/pin?n=wait");
		else
			smd_portal_finish(r, smd_portal_not_sent_page(r, error, req->no_number));
		return;
	}
	smd_event_log_all(req->events);
	/* in the organisation's language(s), as its e-mails */
	text = smd_i18n_join(r->portal->config->org_language, "\n", smd_portal_sms_text,
			     &(SmdPortalSms){pin, r->portal->config->org_name != NULL
						      ? r->portal->config->org_name
						      : "SecuMailer"});
	smd_sms_provider_send_async(r->portal->sms, req->number, text, NULL, smd_portal_sms_sent_cb,
				    r);
	memset(pin, 0, strlen(pin));
}

static gchar *
smd_portal_pin_mac(SmdPortal *self, gint64 link_id, const gchar *pin)
{
	g_autofree gchar *input = g_strdup_printf("%" G_GINT64_FORMAT ":%s", link_id, pin);
	return smd_vault_mac(self->vault, "pin", input);
}

static void
smd_portal_request_pin(SmdPortalRequest *r)
{
	SmdPinRequest *req = g_new0(SmdPinRequest, 1);
	SmdPinSend *send = g_new0(SmdPinSend, 1);

	send->r = r;
	send->pin = smd_pin_new();
	req->link_id = r->link->id;
	req->pin_mac = smd_portal_pin_mac(r->portal, r->link->id, send->pin);
	req->client_address = g_strdup(r->client);
	smd_store_run_async(r->portal->store, smd_portal_store_pin_request, req,
			    (GDestroyNotify)smd_pin_request_free, smd_portal_pin_stored_cb, send);
}

static void
smd_portal_pin_checked_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdPortalRequest *r = user_data;
	SmdPinCheck *check = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		smd_portal_finish(r, smd_portal_not_sent_page(r, error, FALSE));
		return;
	}
	smd_event_log_all(check->events);
	if (check->verdict == SMD_PIN_LOCKED) {
		smd_portal_finish(r, smd_page_locked(r->lang));
		return;
	}
	if (check->verdict == SMD_PIN_WRONG) {
		/* a reload of the answer must not try the same pin again */
		smd_portal_redirect(r, "/pin?n=wrong");
		return;
	}
	/* a fresh session id after login: nothing from before carries over */
	smd_portal_session_start(r);
	smd_portal_redirect(r, "/view");
}

static void
smd_portal_login(SmdPortalRequest *r)
{
	const gchar *pin = g_hash_table_lookup(r->form, "pin");
	SmdPinCheck *check;
	g_autofree gchar *trimmed = g_strstrip(g_strdup(pin != NULL ? pin : ""));

	/* a typing slip (too short, a letter) uses up none of the tries: it
	 * cannot be the pin, so guessing gains nothing from it */
	if (!smd_pin_is_well_formed(trimmed)) {
		smd_portal_redirect(r, "/pin?n=typo");
		return;
	}
	check = g_new0(SmdPinCheck, 1);
	check->link_id = r->link->id;
	check->pin_mac = smd_portal_pin_mac(r->portal, r->link->id, trimmed);
	check->client_address = g_strdup(r->client);
	smd_store_run_async(r->portal->store, smd_portal_store_pin_check, check,
			    (GDestroyNotify)smd_pin_check_free, smd_portal_pin_checked_cb, r);
}

typedef enum {
	SMD_SHOW_PAGE,	     /* the message page */
	SMD_SHOW_DOWNLOAD,   /* the original .eml */
	SMD_SHOW_HTML,	     /* the HTML body, for the sandboxed frame */
	SMD_SHOW_ATTACHMENT, /* one attachment */
} SmdShowMode;

/* Memory a request holds from smd-budget.h: taken before the body
 * is loaded, down to what is sent once the answer is built, given back
 * when libsoup is done with the message (sent, or the client went). */
typedef struct {
	SmdPortal *portal;
	guint64 bytes;
	gint64 link_id; /* whose share (portal->opening) the bytes are */
} SmdPortalCharge;

/* What one link's requests hold of the budget, and how many of them wait
 * for it: one recipient may hold at most a quarter of [portal]
 * max-message-memory (a request always, when the link holds nothing) and
 * have 6 requests waiting (a browser opens 6 connections to a host), so a
 * few slow downloads cannot keep every other recipient out. */
typedef struct {
	guint64 held;
	guint waiting;
} SmdPortalLinkUse;

#define SMD_PORTAL_WAITING_PER_LINK 6

static SmdPortalLinkUse *
smd_portal_link_use(SmdPortal *self, gint64 link_id)
{
	SmdPortalLinkUse *use = g_hash_table_lookup(self->opening, &link_id);
	gint64 *key;

	if (use != NULL)
		return use;
	key = g_new(gint64, 1);
	*key = link_id;
	use = g_new0(SmdPortalLinkUse, 1);
	g_hash_table_insert(self->opening, key, use);
	return use;
}

/* Forgets a link that holds and waits for nothing. */
static void
smd_portal_link_use_done(SmdPortal *self, gint64 link_id)
{
	SmdPortalLinkUse *use = g_hash_table_lookup(self->opening, &link_id);

	if (use != NULL && use->held == 0 && use->waiting == 0)
		g_hash_table_remove(self->opening, &link_id);
}

/* How long a request waits for memory before it is told to come back. */
#define SMD_PORTAL_OPEN_WAIT_SECONDS 30

/* At the peak of opening a message: the sealed copy, the opened one and
 * the decoded part or page (GMime's tree shares the opened bytes). */
#define SMD_PORTAL_OPEN_COST(size) ((guint64)MAX((size), 0) * 3 + 64 * 1024)

static void
smd_portal_charge_shrink(SmdPortalCharge *c, guint64 keep)
{
	SmdPortalLinkUse *use;

	if (keep >= c->bytes)
		return;
	use = smd_portal_link_use(c->portal, c->link_id);
	use->held -= MIN(use->held, c->bytes - keep);
	smd_budget_release(c->portal->budget, c->bytes - keep);
	c->bytes = keep;
	smd_portal_link_use_done(c->portal, c->link_id);
}

static void
smd_portal_charge_end(SmdPortalCharge *c)
{
	smd_portal_charge_shrink(c, 0);
}

static void
smd_portal_charge_finished_cb(SoupServerMessage *msg, gpointer user_data)
{
	smd_portal_charge_end(user_data);
}

static void
smd_portal_charge_free(gpointer data, GClosure *closure)
{
	SmdPortalCharge *c = data;

	smd_portal_charge_end(c); /* never finished: at shutdown */
	g_object_unref(c->portal);
	g_free(c);
}

typedef struct {
	SmdPortalRequest *r;
	SmdShowMode mode;
	guint index;
	gint64 recipient_id;
	guint64 cost;
	SmdPortalCharge *charge; /* lives as long as r->msg */
} SmdPortalShow;

/* Untrusted HTML mail: scripts, plugins, forms and every remote load are
 * blocked by the sandbox and the CSP even if the frame is opened alone.
 * Its links open in a tab of their own (a link followed inside the frame
 * would only meet frame-src and leave a broken page), with no referrer
 * and not sandboxed there, as from any mail program. */
static void
smd_portal_send_html_body(SmdPortalRequest *r, const gchar *html)
{
	SoupMessageHeaders *h = soup_server_message_get_response_headers(r->msg);
	/* the first <base> counts: the message's own cannot undo it; after
	 * the doctype, or the message renders in quirks mode, not as its
	 * sender's mail program shows it */
	gsize at = smd_html_after_doctype(html);
	gchar *body = g_strdup_printf("%.*s<base target=\"_blank\">%s", (int)at, html, html + at);

	smd_portal_security_headers(r->portal, r->msg);
	soup_message_headers_replace(h, "Content-Security-Policy",
				     "sandbox allow-popups allow-popups-to-escape-sandbox; "
				     "default-src 'none'; img-src data:; style-src "
				     "'unsafe-inline'; font-src data:; form-action 'none'; "
				     "base-uri 'none'; frame-ancestors 'self'");
	soup_message_headers_replace(h, "X-Frame-Options", "SAMEORIGIN");
	soup_server_message_set_status(r->msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(r->msg, "text/html; charset=utf-8", SOUP_MEMORY_TAKE, body,
					 strlen(body));
}

/* A 200 with @content as the body, shared, not copied. */
static void
smd_portal_send_bytes(SmdPortalRequest *r, const gchar *type, GBytes *content)
{
	soup_server_message_set_status(r->msg, SOUP_STATUS_OK, NULL);
	soup_message_headers_set_content_type(soup_server_message_get_response_headers(r->msg),
					      type, NULL);
	soup_message_body_append_bytes(soup_server_message_get_response_body(r->msg), content);
}

static void
smd_portal_send_attachment(SmdPortalRequest *r, const SmdAttachment *a, GBytes *content)
{
	SoupMessageHeaders *h = soup_server_message_get_response_headers(r->msg);
	g_autofree gchar *escaped = g_uri_escape_string(a->name, NULL, FALSE);
	/* RFC 6266: the name only as an encoded parameter: nothing can be
	 * injected through it; never rendered by the browser */
	g_autofree gchar *disposition =
	    g_strdup_printf("attachment; filename=\"attachment\"; filename*=UTF-8''%s", escaped);
	smd_portal_security_headers(r->portal, r->msg);
	soup_message_headers_replace(h, "Content-Disposition", disposition);
	smd_portal_send_bytes(r, "application/octet-stream", content);
}

/* Answers @r from the loaded body; frees @r. */
static void
smd_portal_show_answer(SmdPortalRequest *r, SmdShowMode mode, guint index, gint64 recipient_id,
		       SmdStore *store, GAsyncResult *result)
{
	SmdBodyLoad *load = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) message = NULL;

	if (smd_store_run_finish(store, result, &error))
		message = smd_vault_open(r->portal->vault, load->queue_id, load->wrapped_key,
					 load->envelope, &error);
	if (message == NULL) {
		smd_portal_finish(r, smd_page_expired(r->lang));
		return;
	}
	if (mode == SMD_SHOW_HTML || mode == SMD_SHOW_ATTACHMENT) {
		g_autoptr(SmdMimeView) view = smd_mime_view_new(message);
		g_autoptr(GBytes) content = NULL;
		if (mode == SMD_SHOW_HTML && view->html != NULL) {
			g_autofree gchar *html = smd_mime_view_html_with_inline_images(view);
			smd_portal_send_html_body(r, html);
		} else if (mode == SMD_SHOW_ATTACHMENT &&
			   (content = smd_mime_view_attachment_content(view, index)) != NULL) {
			smd_portal_send_attachment(r, g_ptr_array_index(view->attachments, index),
						   content);
			smd_portal_mark(r, 0, SMD_STATE_OPENED, "attachment-downloaded",
					load->queue_id, N_("Attachment downloaded on the portal"));
		} else {
			smd_portal_finish(r, smd_page_not_found(r->lang));
			return;
		}
		smd_portal_release(r);
		return;
	}
	if (mode == SMD_SHOW_DOWNLOAD) {
		g_autoptr(GBytes) original =
		    smd_mime_strip_own_received(message, r->portal->config->smtp_hostname);
		SoupMessageHeaders *h = soup_server_message_get_response_headers(r->msg);
		smd_portal_security_headers(r->portal, r->msg);
		soup_message_headers_replace(h, "Content-Disposition",
					     "attachment; filename=\"message.eml\"");
		smd_portal_send_bytes(r, "message/rfc822", original);
		smd_portal_mark(r, recipient_id, SMD_STATE_DOWNLOADED, "downloaded", load->queue_id,
				N_("Message downloaded on the portal"));
		smd_portal_release(r);
		return;
	}
	{
		g_autoptr(SmdMimeView) view = smd_mime_view_new(message);
		if (!smd_portal_seen_recently(r->portal, "opened", load->queue_id, r->client))
			smd_portal_mark(r, recipient_id, SMD_STATE_OPENED, "opened", load->queue_id,
					N_("Message opened on the portal"));
		smd_portal_finish(r, smd_page_message(r->lang, view, r->token, r->csrf));
	}
}

static void
smd_portal_body_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdPortalShow *show = user_data;
	/* held past the request, to keep of its memory only what the answer
	 * holds once it is built */
	g_autoptr(SoupServerMessage) msg = g_object_ref(show->r->msg);
	SmdPortalCharge *charge = show->charge;

	smd_portal_show_answer(show->r, show->mode, show->index, show->recipient_id,
			       SMD_STORE(source), result);
	g_free(show);
	smd_portal_charge_shrink(charge,
				 (guint64)soup_server_message_get_response_body(msg)->length);
}

/* A 503 page: come back in a minute (@why goes to the log, at most once a
 * minute). Frees @r. */
static void
smd_portal_busy(SmdPortalRequest *r, const gchar *why)
{
	static gint64 last_logged;
	gint64 now = g_get_monotonic_time();

	if (now - last_logged > 60 * G_USEC_PER_SEC) {
		last_logged = now;
		g_warning("portal: busy: %s (messages being opened hold %" G_GUINT64_FORMAT
			  " bytes of [portal] max-message-memory); a visitor was asked to come "
			  "back",
			  why, smd_budget_in_use(r->portal->budget));
	}
	soup_message_headers_replace(soup_server_message_get_response_headers(r->msg),
				     "Retry-After", "30");
	smd_portal_finish(r, smd_page_busy(r->lang));
}

/* Memory for the message is ours, or the portal is too busy to open it. */
static void
smd_portal_show_admitted_cb(gboolean granted, gboolean waited, gpointer user_data)
{
	SmdPortalShow *show = user_data;
	SmdPortalRequest *r = show->r;
	SmdBodyLoad *load;

	smd_portal_link_use(r->portal, r->link->id)->waiting--;
	smd_portal_link_use_done(r->portal, r->link->id);
	if (!granted) {
		g_free(show);
		smd_portal_busy(r, "no memory within 30 s, or too many waiting");
		return;
	}
	/* who left while waiting gets nothing opened (its turn cost no more) */
	if (waited && smd_portal_reaper_client_gone(r->portal->reaper, r->msg)) {
		smd_budget_release(r->portal->budget, show->cost);
		g_free(show);
		smd_portal_finish(r, smd_page_busy(r->lang));
		return;
	}
	show->charge = g_new0(SmdPortalCharge, 1);
	show->charge->portal = g_object_ref(r->portal);
	show->charge->bytes = show->cost;
	show->charge->link_id = r->link->id;
	smd_portal_link_use(r->portal, r->link->id)->held += show->cost;
	g_signal_connect_data(r->msg, "finished", G_CALLBACK(smd_portal_charge_finished_cb),
			      show->charge, smd_portal_charge_free, 0);
	load = g_new0(SmdBodyLoad, 1);
	load->message_id = r->link->message_id; /* the session opens this link */
	smd_store_run_async(r->portal->store, smd_store_load_body, load,
			    (GDestroyNotify)smd_body_load_free, smd_portal_body_cb, show);
}

static void
smd_portal_show(SmdPortalRequest *r, SmdShowMode mode, guint index)
{
	SmdPortalShow *show;
	SmdPortalLinkUse *use;

	if (smd_portal_session_get(r) == NULL) {
		/* no (or an expired) session: start over with a pin */
		smd_portal_redirect(r, "");
		return;
	}
	use = smd_portal_link_use(r->portal, r->link->id);
	if ((use->held > 0 && use->held >= r->portal->config->portal_max_message_memory / 4) ||
	    use->waiting >= SMD_PORTAL_WAITING_PER_LINK) {
		smd_portal_link_use_done(r->portal, r->link->id);
		smd_portal_busy(r, "one link holds a quarter of the memory or has 6 requests "
				   "waiting");
		return;
	}
	use->waiting++;
	show = g_new0(SmdPortalShow, 1);
	show->r = r;
	show->mode = mode;
	show->index = index;
	show->recipient_id = r->link->recipient_id;
	show->cost = SMD_PORTAL_OPEN_COST(r->link->size);
	smd_budget_take(r->portal->budget, show->cost, smd_portal_show_admitted_cb, show);
}

/* The pin page, and why it is shown (again): after the SMS went, or a
 * redirect from a pin request or a pin that did not work (?n=); NULL when
 * there is no reason: no pin was sent, or it is used up or expired. */
static SmdPage *
smd_portal_pin_page(SmdPortalRequest *r)
{
	g_autofree gchar *masked = r->link->number != NULL ? smd_phone_mask(r->link->number) : NULL;
	const gchar *n = r->notice != NULL ? r->notice : "";
	const gchar *enter = L_(r->lang, "Enter the pin code from the SMS.");

	if (g_strcmp0(n, "wait") == 0)
		return smd_page_pin(r->lang, r->token, r->csrf, masked,
				    L_(r->lang, "A pin code was sent a moment ago. Wait a minute "
						"before you ask for a new one."),
				    NULL);
	if (g_strcmp0(n, "hour") == 0)
		return smd_page_pin(r->lang, r->token, r->csrf, masked,
				    L_(r->lang,
				       "Too many pin codes were asked for in the last hour. "
				       "Try again in an hour, or ask the sender of the "
				       "message for help."),
				    NULL);
	if (g_strcmp0(n, "wrong") == 0)
		return smd_page_pin(r->lang, r->token, r->csrf, masked, enter,
				    L_(r->lang, "That pin code is not right, or it has expired. "
						"Try again, or ask for a new one."));
	if (g_strcmp0(n, "typo") == 0)
		return smd_page_pin(
		    r->lang, r->token, r->csrf, masked, enter,
		    L_(r->lang, "A pin code is the 6 digits from the SMS. Try again."));
	if (r->link->pin_until <= smd_now())
		return NULL;
	return smd_page_pin(r->lang, r->token, r->csrf, masked, NULL, NULL);
}

static void
smd_portal_recipient(SmdPortalRequest *r)
{
	if (r->link->locked) {
		smd_portal_finish(r, smd_page_locked(r->lang));
		return;
	}
	if (g_strcmp0(r->link->recipient_state, "revoked") == 0) {
		smd_portal_finish(r, smd_page_withdrawn(r->lang));
		return;
	}
	if (!r->link->body_present) {
		smd_portal_finish(r, smd_page_expired(r->lang));
		return;
	}
	if (r->post && !smd_portal_csrf_ok(r)) {
		smd_portal_finish(r, smd_page_forbidden(r->lang));
		return;
	}
	if ((g_strcmp0(r->action, "") == 0 || g_strcmp0(r->action, "pin") == 0) &&
	    smd_portal_session_get(r) != NULL) {
		/* already in: no second pin for an open message (the landing
		 * page's form, from a tab opened before the session began, or
		 * from the mail program's link, which the Strict session
		 * cookie does not come along with) */
		smd_portal_redirect(r, "/view");
		return;
	}
	if (!r->post && g_strcmp0(r->action, "pin") == 0) {
		SmdPage *page = smd_portal_pin_page(r);
		/* "We sent a pin code" would not be true: the page to ask for one */
		if (page == NULL)
			smd_portal_redirect(r, "");
		else
			smd_portal_finish(r, page);
		return;
	}
	if (r->post && g_strcmp0(r->action, "logout") == 0) {
		smd_portal_session_end(r);
		smd_portal_redirect(r, "");
		return;
	}
	if (!r->post && g_strcmp0(r->action, "") == 0) {
		/* a GET only shows a page: mail scanners burn nothing */
		if (!smd_portal_seen_recently(r->portal, "page-opened", r->link->queue_id,
					      r->client))
			smd_portal_log(r->portal, SMD_EVENT_INFO, "page-opened", r->link->queue_id,
				       r->link->address, r->client, N_("Portal page opened"));
		smd_portal_finish(r, smd_page_recipient(r->lang, r->link, r->token, r->csrf));
		return;
	}
	if (r->post && g_strcmp0(r->action, "pin") == 0) {
		smd_portal_request_pin(r);
		return;
	}
	if (r->post && g_strcmp0(r->action, "login") == 0) {
		smd_portal_login(r);
		return;
	}
	if (!r->post && g_strcmp0(r->action, "view") == 0) {
		smd_portal_show(r, SMD_SHOW_PAGE, 0);
		return;
	}
	if (!r->post && g_strcmp0(r->action, "download") == 0) {
		smd_portal_show(r, SMD_SHOW_DOWNLOAD, 0);
		return;
	}
	if (!r->post && g_strcmp0(r->action, "html") == 0) {
		smd_portal_show(r, SMD_SHOW_HTML, 0);
		return;
	}
	if (!r->post && g_strcmp0(r->action, "attachment") == 0 && r->index >= 0) {
		smd_portal_show(r, SMD_SHOW_ATTACHMENT, (guint)r->index);
		return;
	}
	smd_portal_finish(r, smd_page_not_found(r->lang));
}

static void
smd_portal_lookup_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdPortalRequest *r = user_data;
	SmdLinkLookup *lookup = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;
	gboolean registration;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_warning("portal lookup failed: %s", error->message);
		smd_portal_finish(r, smd_page_not_found(r->lang));
		return;
	}
	r->link = g_steal_pointer(&lookup->link);
	registration = r->registration;
	if (r->link == NULL ||
	    g_strcmp0(r->link->kind, registration ? "registration" : "recipient") != 0) {
		smd_portal_finish(r, smd_page_not_found(r->lang));
		return;
	}
	if (r->link->expires_at <= smd_now()) {
		smd_portal_finish(r, smd_page_expired(r->lang));
		return;
	}
	if (registration)
		smd_portal_registration(r);
	else
		smd_portal_recipient(r);
}

/* ------------------------------------------------------------ server */

static void
smd_portal_send_static(SmdPortal *self, SoupServerMessage *msg, const gchar *path)
{
	g_autofree gchar *resource = g_strdup_printf("/org/secumailer/portal/%s", path);
	/* looked up in our own bundle: a static library would drop its
	 * self-registering constructor */
	g_autoptr(GBytes) bytes = g_resource_lookup_data(smd_get_resource(), resource,
							 G_RESOURCE_LOOKUP_FLAGS_NONE, NULL);

	smd_portal_security_headers(self, msg);
	if (bytes == NULL || strchr(path, '/') != NULL) {
		soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
		return;
	}
	soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Cache-Control",
				     "public, max-age=3600");
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg, "text/css; charset=utf-8", SOUP_MEMORY_COPY,
					 g_bytes_get_data(bytes, NULL), g_bytes_get_size(bytes));
}

/* The organisation's colour, as a stylesheet (inline styles are not
 * allowed by our CSP). */
static void
smd_portal_send_theme(SmdPortal *self, SoupServerMessage *msg)
{
	g_autofree gchar *css = g_strdup_printf(
	    ":root { --accent: %s; }\n",
	    self->config->org_colour != NULL ? self->config->org_colour : "#1c5d99");
	smd_portal_security_headers(self, msg);
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg, "text/css; charset=utf-8", SOUP_MEMORY_COPY, css,
					 strlen(css));
}

static void
smd_portal_send_logo(SmdPortal *self, SoupServerMessage *msg)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	const gchar *path = self->config->org_logo;
	const gchar *type = g_str_has_suffix(path != NULL ? path : "", ".svg")	 ? "image/svg+xml"
			    : g_str_has_suffix(path != NULL ? path : "", ".png") ? "image/png"
										 : "image/jpeg";

	smd_portal_security_headers(self, msg);
	if (path == NULL || !g_file_get_contents(path, &data, &len, NULL)) {
		soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
		return;
	}
	/* an SVG opened on its own must not run anything either */
	soup_message_headers_replace(soup_server_message_get_response_headers(msg),
				     "Content-Security-Policy",
				     "sandbox; default-src 'none'; "
				     "style-src 'unsafe-inline'");
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg, type, SOUP_MEMORY_COPY, data, len);
}

/* The client's address; behind a trusted reverse proxy, the last hop it
 * names in X-Forwarded-For (earlier entries are the client's to forge). */
static gchar *
smd_portal_client_address(SmdPortal *self, SoupServerMessage *msg)
{
	return smd_portal_forwarded_client(
	    soup_server_message_get_remote_host(msg),
	    soup_message_headers_get_list(soup_server_message_get_request_headers(msg),
					  "X-Forwarded-For"),
	    self->config->portal_trusted_proxies);
}

/* The language the visitor chose before (a cookie), else their browser's
 * (Accept-Language), else the organisation's first; interned. */
static const gchar *
smd_portal_visitor_language(SmdPortal *self, SoupServerMessage *msg)
{
	g_autofree gchar *cookie = smd_portal_get_cookie(msg, "smd_lang");
	g_auto(GStrv) org = NULL;

	if (cookie != NULL && smd_i18n_supported(cookie))
		return g_intern_string(cookie);
	org = smd_i18n_split(self->config->org_language);
	return g_intern_string(
	    smd_i18n_negotiate(soup_message_headers_get_one(
				   soup_server_message_get_request_headers(msg), "Accept-Language"),
			       org[0]));
}

/* The visitor's language: a choice made with the switch (?lang=, kept in
 * a cookie), else their browser's (Accept-Language), else the
 * organisation's first. And where the switch on this page leads: the page
 * itself, or for the answer to a form the link's own page. */
static void
smd_portal_choose_language(SmdPortal *self, SmdPortalRequest *r, const char *path,
			   GHashTable *query)
{
	const gchar *asked = query != NULL ? g_hash_table_lookup(query, "lang") : NULL;

	if (asked != NULL && smd_i18n_supported(asked)) {
		g_autofree gchar *cookie_header = NULL;
		r->lang = g_intern_string(asked);
		/* Lax, not Strict: the choice must hold when the visitor comes
		 * back through the link in an e-mail (a cross-site navigation) */
		cookie_header =
		    g_strdup_printf("smd_lang=%s; Path=/; Max-Age=%d; SameSite=Lax%s", r->lang,
				    365 * 86400, self->secure ? "; Secure" : "");
		soup_message_headers_append(soup_server_message_get_response_headers(r->msg),
					    "Set-Cookie", cookie_header);
	} else {
		r->lang = smd_portal_visitor_language(self, r->msg);
	}
	r->path = smd_portal_switch_path(path, r->post);
}

static void
smd_portal_handler(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
		   gpointer user_data)
{
	SmdPortal *self = user_data;
	const gchar *method = soup_server_message_get_method(msg);
	g_auto(SmdPortalRoute) route = {0};
	g_autoptr(SmdPortalRequest) r = NULL;
	SmdLinkLookup *lookup;

	if (g_str_has_prefix(path, "/static/") &&
	    (g_strcmp0(method, "GET") == 0 || g_strcmp0(method, "HEAD") == 0)) {
		if (g_strcmp0(path, "/static/theme.css") == 0)
			smd_portal_send_theme(self, msg);
		else if (g_strcmp0(path, "/static/logo") == 0)
			smd_portal_send_logo(self, msg);
		else
			smd_portal_send_static(self, msg, path + strlen("/static/"));
		return;
	}
	r = g_new0(SmdPortalRequest, 1);
	r->portal = g_object_ref(self);
	r->msg = g_object_ref(msg);
	r->post = g_strcmp0(method, "POST") == 0;
	r->client = smd_portal_client_address(self, msg);
	r->csrf = smd_portal_get_cookie(msg, smd_portal_cookie_name(self, "csrf"));
	if (r->csrf == NULL || !smd_token_is_well_formed(r->csrf)) {
		g_free(r->csrf);
		r->csrf = smd_token_new();
		r->new_csrf = TRUE;
	}
	smd_portal_choose_language(self, r, path, query);
	if (query != NULL)
		r->notice = g_strdup(g_hash_table_lookup(query, "n")); /* only compared */
	if (!r->post && g_strcmp0(method, "GET") != 0 && g_strcmp0(method, "HEAD") != 0) {
		g_autoptr(SmdPage) page = smd_page_refused(r->lang, SOUP_STATUS_METHOD_NOT_ALLOWED);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg), "Allow",
					     "GET, HEAD, POST");
		smd_portal_send_page(r, page);
		return;
	}
	if (self->draining) {
		g_autoptr(SmdPage) page = smd_page_restarting(r->lang);
		soup_message_headers_replace(soup_server_message_get_response_headers(msg),
					     "Retry-After", "30");
		smd_portal_send_page(r, page);
		return;
	}
	if (r->post) {
		g_autoptr(GBytes) body =
		    soup_message_body_flatten(soup_server_message_get_request_body(msg));
		g_autofree gchar *text =
		    g_strndup(g_bytes_get_data(body, NULL), g_bytes_get_size(body));
		GHashTableIter iter;
		gpointer value;

		r->form = soup_form_decode(text);
		/* a field may be echoed in a page, which is UTF-8: one that is
		 * not counts as absent (the value shares the key's memory) */
		g_hash_table_iter_init(&iter, r->form);
		while (g_hash_table_iter_next(&iter, NULL, &value))
			if (!g_utf8_validate(value, -1, NULL))
				g_hash_table_iter_remove(&iter);
	}

	if (!smd_portal_route_parse(path, &route)) {
		g_autoptr(SmdPage) page = smd_page_not_found(r->lang);
		smd_portal_send_page(r, page);
		return;
	}
	r->token = g_steal_pointer(&route.token);
	r->registration = route.registration;
	r->index = route.index;
	r->action = g_steal_pointer(&route.action);

	soup_server_message_pause(msg);
	lookup = g_new0(SmdLinkLookup, 1);
	lookup->token_hash = smd_token_hash(r->token);
	smd_store_read_async(self->store, smd_portal_store_lookup, lookup,
			     (GDestroyNotify)smd_link_lookup_free, smd_portal_lookup_cb,
			     g_steal_pointer(&r));
}

/* Before the body is read: refuse what no form of ours could be (the
 * body is dropped as it comes, smd_portal_got_headers_cb()). */
static void
smd_portal_early_handler(SoupServer *server, SoupServerMessage *msg, const char *path,
			 GHashTable *query, gpointer user_data)
{
	SoupMessageHeaders *h = soup_server_message_get_request_headers(msg);
	SoupEncoding encoding = soup_message_headers_get_encoding(h);
	/* libsoup reads "Content-Length: -1", or one past 2^64, as -1: a body
	 * until the connection ends. Only a body of a known, small length is
	 * read (chunked is refused too: no form of ours needs it). */
	goffset length = soup_message_headers_get_content_length(h);
	const gchar *type = soup_message_headers_get_content_type(h, NULL);

	if (encoding != SOUP_ENCODING_NONE && (encoding != SOUP_ENCODING_CONTENT_LENGTH ||
					       length < 0 || length > SMD_MAX_REQUEST_BODY))
		soup_server_message_set_status(msg, SOUP_STATUS_REQUEST_ENTITY_TOO_LARGE, NULL);
	/* our forms are all URL-encoded: a multipart or JSON body is not one
	 * of them, which "the form has expired" would not tell */
	else if (length > 0 && (type == NULL ||
				g_ascii_strcasecmp(type, "application/x-www-form-urlencoded") != 0))
		soup_server_message_set_status(msg, SOUP_STATUS_UNSUPPORTED_MEDIA_TYPE, NULL);
}

/* After libsoup's own checks of the request's head and our early
 * handler: what they refused gets a page that says why (libsoup answers
 * an address it cannot decode, such as one with %00, with an empty 400
 * and keeps the connection), and the address "*", which no handler
 * takes, the page of an unknown link. */
static void
smd_portal_got_headers_cb(SoupServerMessage *msg, gpointer user_data)
{
	SmdPortal *self = user_data;
	guint status = soup_server_message_get_status(msg);
	g_autoptr(SmdPage) page = NULL;

	if (status == 0 && soup_server_message_is_options_ping(msg))
		status = SOUP_STATUS_NOT_FOUND;
	if (status == 0)
		return;
	/* libsoup 3.2 still reads the body of a refused request before it
	 * answers (unless the client asked "Expect: 100-continue"), and keeps
	 * it: a POST of a gigabyte was a gigabyte of memory. Read, it is
	 * dropped; the reaper ends one that takes too long. */
	soup_message_body_set_accumulate(soup_server_message_get_request_body(msg), FALSE);
	page = smd_page_refused(smd_portal_visitor_language(self, msg), status);
	smd_portal_respond(self, msg, page, "/");
}

static void
smd_portal_request_started_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	/* connected after libsoup's own handler of the signal, so it runs after */
	g_signal_connect_object(msg, "got-headers", G_CALLBACK(smd_portal_got_headers_cb),
				user_data, 0);
}

static void
smd_portal_config_changed_cb(SmdEngine *engine, gpointer user_data)
{
	SmdPortal *self = user_data;
	g_autoptr(GError) error = NULL;
	SmdSmsProvider *sms;

	/* [portal] taken out: the listener stays until the restart the log
	 * asks for, and it goes on with what it had (its links need a base) */
	if (smd_engine_get_config(engine)->portal_public_url == NULL) {
		g_warning("portal: [portal] is gone from the configuration; the portal keeps its "
			  "settings until the restart");
		return;
	}
	smd_config_unref(self->config);
	self->config = smd_config_ref(smd_engine_get_config(engine));
	/* cookies, HSTS and redirects follow public-url's scheme at once */
	self->secure = g_str_has_prefix(self->config->portal_public_url, "https:");
	smd_budget_set_limit(self->budget, self->config->portal_max_message_memory);
	/* a renewed certificate (certbot renews in place) is served from the
	 * next connection on; HTTPS or not is the listener's, a restart's */
	if (self->tls != NULL && self->config->portal_tls_certificate != NULL) {
		g_autoptr(GTlsCertificate) cert = smd_tls_certificate_load(
		    self->config->portal_tls_certificate, self->config->portal_tls_key, &error);
		if (cert != NULL)
			smd_portal_tls_set_certificate(self->tls, cert);
		else
			g_warning("portal keeps its TLS certificate: %s", error->message);
		g_clear_error(&error);
	}
	sms = smd_sms_provider_new_from_config(self->config, &error);
	if (sms == NULL) {
		g_warning("portal keeps its SMS provider: %s", error->message);
		return;
	}
	g_clear_object(&self->sms);
	self->sms = sms;
}

/* Our own listening socket: soup_server_listen() keeps GIO's backlog of
 * 10, and with a connection per request (Connection: close) a burst of
 * visitors overflows it; each dropped SYN waits a second to come back. */
static GSocket *
smd_portal_listen(GSocketAddress *address, GError **error)
{
	g_autoptr(GSocket) socket =
	    g_socket_new(g_socket_address_get_family(address), G_SOCKET_TYPE_STREAM,
			 G_SOCKET_PROTOCOL_TCP, error);

	if (socket == NULL)
		return NULL;
	g_socket_set_listen_backlog(socket, 1024);
	if (!g_socket_bind(socket, address, TRUE, error) || !g_socket_listen(socket, error))
		return NULL;
	return g_steal_pointer(&socket);
}

SmdPortal *
smd_portal_new(SmdEngine *engine, GError **error)
{
	g_autoptr(SmdPortal) self = g_object_new(SMD_TYPE_PORTAL, NULL);
	const SmdConfig *config = smd_engine_get_config(engine);
	g_autofree gchar *host = NULL;
	guint16 port = 0;
	g_autoptr(GInetAddress) addr = NULL;
	g_autoptr(GSocketAddress) sockaddr = NULL;
	g_autoptr(GSocket) listener = NULL;
	g_autoptr(GTlsCertificate) cert = NULL;
	g_autoptr(GError) error_local = NULL;

	self->engine = g_object_ref(engine);
	self->config = smd_config_ref(config);
	g_signal_connect_object(engine, "config-changed", G_CALLBACK(smd_portal_config_changed_cb),
				self, 0);
	self->store = smd_engine_get_store(engine);
	self->vault = smd_engine_get_vault(engine);
	self->secure = g_str_has_prefix(config->portal_public_url, "https:");
	if (!self->secure)
		g_message("portal: public-url is plain http: cookies without Secure and "
			  "__Host- (development only)");
	self->sms = smd_sms_provider_new_from_config(config, error);
	if (self->sms == NULL)
		return NULL;

	if (config->portal_tls_certificate != NULL) {
		cert = smd_tls_certificate_load(config->portal_tls_certificate,
						config->portal_tls_key, error);
		if (cert == NULL)
			return NULL;
	}
	self->server = soup_server_new("server-header", "SecuMailer", NULL);
	self->reaper = smd_portal_reaper_new(self->server);
	self->budget =
	    smd_budget_new(config->portal_max_message_memory, SMD_PORTAL_OPEN_WAIT_SECONDS);
	g_signal_connect_object(self->server, "request-started",
				G_CALLBACK(smd_portal_request_started_cb), self, 0);
	soup_server_add_early_handler(self->server, NULL, smd_portal_early_handler, self, NULL);
	soup_server_add_handler(self->server, NULL, smd_portal_handler, self, NULL);
	if (!smd_parse_host_port(config->portal_listen, 443, &host, &port) ||
	    (addr = g_inet_address_new_from_string(host)) == NULL) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG, _("[portal] listen: bad address"));
		return NULL;
	}
	sockaddr = g_inet_socket_address_new(addr, port);
	listener = smd_portal_listen(sockaddr, &error_local);
	if (listener != NULL) {
		if (cert != NULL)
			self->tls = smd_portal_tls_new(self->server, self->reaper, cert, listener,
						       &error_local);
		else
			soup_server_listen_socket(self->server, listener, 0, &error_local);
	}
	if (error_local != NULL) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
			    _("Cannot listen for the portal on %s: %s"), config->portal_listen,
			    error_local->message);
		return NULL;
	}
	return g_steal_pointer(&self);
}

void
smd_portal_drain(SmdPortal *self)
{
	self->draining = TRUE;
}

void
smd_portal_stop(SmdPortal *self)
{
	g_clear_pointer(&self->tls, smd_portal_tls_free);
	if (self->budget != NULL)
		smd_budget_refuse_waiting(self->budget);
	if (self->server != NULL)
		soup_server_disconnect(self->server);
}

static void
smd_portal_finalize(GObject *object)
{
	SmdPortal *self = SMD_PORTAL(object);
	smd_portal_stop(self);
	g_clear_pointer(&self->reaper, smd_portal_reaper_free);
	g_clear_object(&self->server);
	g_clear_pointer(&self->budget, smd_budget_free);
	g_clear_object(&self->sms);
	g_clear_object(&self->engine);
	g_clear_pointer(&self->config, smd_config_unref);
	g_hash_table_unref(self->sessions);
	g_hash_table_unref(self->recent);
	g_hash_table_unref(self->opening);
	G_OBJECT_CLASS(smd_portal_parent_class)->finalize(object);
}

static void
smd_portal_class_init(SmdPortalClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = smd_portal_finalize;
}

static void
smd_portal_init(SmdPortal *self)
{
	self->sessions = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
					       (GDestroyNotify)smd_portal_session_free);
	self->recent = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->opening = g_hash_table_new_full(g_int64_hash, g_int64_equal, g_free, g_free);
}
