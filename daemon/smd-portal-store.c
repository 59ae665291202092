/*
 * SecuMailer — store operations of the portal.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-portal"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "smd-common.h"
#include "smd-error.h"
#include "smd-event.h"
#include "smd-phone.h"
#include "smd-portal-store.h"
#include "smd-queue-types.h"
#include "smd-store-messages.h"
#include "smd-store.h"
#include "smd-token.h"

void
smd_notice_free(SmdNotice *notice)
{
	g_free(notice->to);
	g_free(notice->address);
	g_free(notice->sender);
	if (notice->token != NULL)
		memset(notice->token, 0, strlen(notice->token));
	g_free(notice->token);
	g_free(notice->queue_id);
	g_free(notice->subject);
	g_free(notice);
}

static SmdNotice *
smd_notice_new(SmdNoticeKind kind, const gchar *to, const gchar *address, const gchar *sender,
	       gchar *token, const gchar *queue_id, gint64 received_at)
{
	SmdNotice *n = g_new0(SmdNotice, 1);
	n->kind = kind;
	n->to = g_strdup(to);
	n->address = g_strdup(address);
	n->sender = g_strdup(sender);
	n->token = token;
	n->queue_id = g_strdup(queue_id);
	n->received_at = received_at;
	return n;
}

static GPtrArray *
smd_events_new(void)
{
	return g_ptr_array_new_with_free_func((GDestroyNotify)smd_event_free);
}

static gboolean
smd_portal_set_state(sqlite3 *db, gint64 recipient_id, const gchar *state, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = smd_store_prepare(
	    db, "UPDATE recipients SET state = ?2, updated_at = ?3 WHERE id = ?1", error);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_int64(stmt, 1, recipient_id);
	sqlite3_bind_text(stmt, 2, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 3, smd_now());
	if (sqlite3_step(stmt) != SQLITE_DONE)
		return smd_store_fail(db, "update recipient state", error);
	return TRUE;
}

/* Creates a link; returns its token (the only plaintext copy). */
static gchar *
smd_portal_create_link(sqlite3 *db, const gchar *kind, const gchar *address, gint64 message_id,
		       gint64 recipient_id, const gchar *requested_by, gint64 expires_at,
		       GError **error)
{
	g_autofree gchar *token = smd_token_new();
	g_autofree gchar *hash = smd_token_hash(token);
	g_autoptr(sqlite3_stmt) stmt = smd_store_prepare(
	    db,
	    "INSERT INTO links (token_hash, kind, address, message_id, recipient_id, requested_by, "
	    "created_at, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
	    error);
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_text(stmt, 1, hash, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 2, kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, message_id);
	if (recipient_id > 0)
		sqlite3_bind_int64(stmt, 5, recipient_id);
	else
		sqlite3_bind_null(stmt, 5);
	sqlite3_bind_text(stmt, 6, requested_by, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 7, smd_now());
	sqlite3_bind_int64(stmt, 8, expires_at);
	if (sqlite3_step(stmt) != SQLITE_DONE) {
		smd_store_fail(db, "insert link", error);
		return NULL;
	}
	return g_steal_pointer(&token);
}

static gchar *
smd_portal_phone_of(sqlite3 *db, const gchar *address, GError **error)
{
	g_autoptr(SmdCachedStmt) stmt_cached =
	    smd_store_prepare_cached(db, "SELECT number FROM phones WHERE address = ?1", error);
	sqlite3_stmt *stmt = smd_cached_stmt(stmt_cached);
	if (stmt == NULL)
		return NULL;
	sqlite3_bind_text(stmt, 1, address, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) == SQLITE_ROW)
		return g_strdup((const gchar *)sqlite3_column_text(stmt, 0));
	return NULL;
}

/* Invites @address to read one held message. */
static gboolean
smd_portal_invite(sqlite3 *db, gint64 message_id, gint64 recipient_id, const gchar *address,
		  const gchar *queue_id, const gchar *sender, gint64 received_at, gint64 expires_at,
		  GPtrArray *notices, GPtrArray *events, GError **error)
{
	g_autofree gchar *lc = g_ascii_strdown(address, -1);
	gchar *token = smd_portal_create_link(db, "recipient", lc, message_id, recipient_id, NULL,
					      expires_at, error);
	if (token == NULL)
		return FALSE;
	if (!smd_portal_set_state(db, recipient_id, SMD_STATE_INVITED, error)) {
		g_free(token);
		return FALSE;
	}
	g_ptr_array_add(notices, smd_notice_new(SMD_NOTICE_INVITATION, address, address, sender,
						token, queue_id, received_at));
	g_ptr_array_add(events, smd_event_new(SMD_EVENT_INFO, "invited", queue_id, address, NULL,
					      N_("Recipient invited to the portal")));
	return TRUE;
}

void
smd_held_update_free(SmdHeldUpdate *update)
{
	g_free(update->queue_id);
	g_free(update->sender);
	g_clear_pointer(&update->recipients, g_ptr_array_unref);
	g_clear_pointer(&update->notices, g_ptr_array_unref);
	g_clear_pointer(&update->events, g_ptr_array_unref);
	g_free(update);
}

gboolean
smd_portal_store_held(sqlite3 *db, gpointer data, GError **error)
{
	SmdHeldUpdate *u = data;
	g_autoptr(sqlite3_stmt) pending = smd_store_prepare(
	    db,
	    "SELECT 1 FROM links WHERE kind = 'registration' AND address = ?1 AND expires_at > ?2 "
	    "AND NOT EXISTS (SELECT 1 FROM phones p WHERE p.address = links.address)",
	    error);

	if (pending == NULL)
		return FALSE;
	u->notices = g_ptr_array_new_with_free_func((GDestroyNotify)smd_notice_free);
	u->events = smd_events_new();
	g_autoptr(sqlite3_stmt) still_held = smd_store_prepare(
	    db, "SELECT 1 FROM recipients WHERE id = ?1 AND state = 'held'", error);

	if (still_held == NULL)
		return FALSE;
	for (guint i = 0; i < u->recipients->len; i++) {
		SmdRecipient *r = g_ptr_array_index(u->recipients, i);
		g_autofree gchar *lc = g_ascii_strdown(r->address, -1);
		g_autofree gchar *number = NULL;
		gchar *token;

		/* once only: staff may have released it already (SetPhone) */
		sqlite3_reset(still_held);
		sqlite3_bind_int64(still_held, 1, r->id);
		if (sqlite3_step(still_held) != SQLITE_ROW)
			continue;
		number = smd_portal_phone_of(db, lc, error);

		if (number != NULL) {
			if (!smd_portal_invite(db, u->message_id, r->id, r->address, u->queue_id,
					       u->sender, u->received_at, u->expires_at, u->notices,
					       u->events, error))
				return FALSE;
			continue;
		}
		if (!smd_portal_set_state(db, r->id, SMD_STATE_AWAITING_REGISTRATION, error))
			return FALSE;
		/* one request per recipient while it is pending, not per message */
		sqlite3_reset(pending);
		sqlite3_bind_text(pending, 1, lc, -1, SQLITE_STATIC);
		sqlite3_bind_int64(pending, 2, smd_now());
		if (sqlite3_step(pending) == SQLITE_ROW)
			continue;
		if (u->sender[0] == '\0')
			continue; /* nobody to ask */
		token = smd_portal_create_link(db, "registration", lc, u->message_id, 0, u->sender,
					       u->expires_at, error);
		if (token == NULL)
			return FALSE;
		g_ptr_array_add(u->notices,
				smd_notice_new(SMD_NOTICE_REGISTRATION, u->sender, r->address,
					       u->sender, token, u->queue_id, u->received_at));
		g_ptr_array_add(
		    u->events,
		    smd_event_new(SMD_EVENT_INFO, "registration-requested", u->queue_id, r->address,
				  u->sender, N_("Sender asked for the recipient's mobile number")));
	}
	return smd_event_insert_all(db, u->events, error);
}

void
smd_link_free(SmdLink *link)
{
	g_free(link->kind);
	g_free(link->address);
	g_free(link->requested_by);
	g_free(link->queue_id);
	g_free(link->sender);
	g_free(link->recipient_state);
	g_free(link->number);
	g_clear_pointer(&link->waiting, g_ptr_array_unref);
	g_free(link);
}

void
smd_link_lookup_free(SmdLinkLookup *lookup)
{
	g_free(lookup->token_hash);
	g_clear_pointer(&lookup->link, smd_link_free);
	g_free(lookup);
}

gboolean
smd_portal_store_lookup(sqlite3 *db, gpointer data, GError **error)
{
	SmdLinkLookup *l = data;
	SmdLink *link;
	g_autoptr(SmdCachedStmt) stmt_cached = smd_store_prepare_cached(
	    db,
	    "SELECT l.id, l.kind, l.address, l.message_id, l.recipient_id, l.requested_by, "
	    "l.expires_at, l.failures, l.locked, m.queue_id, m.sender, m.received_at, "
	    "m.wrapped_key IS NOT NULL, (SELECT state FROM recipients WHERE id = l.recipient_id), "
	    "m.size, (SELECT expires_at FROM pins WHERE link_id = l.id AND tries < ?2) "
	    "FROM links l LEFT JOIN messages m ON m.id = l.message_id WHERE l.token_hash = ?1",
	    error);
	sqlite3_stmt *stmt = smd_cached_stmt(stmt_cached);
	g_autoptr(sqlite3_stmt) waiting = NULL;

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_text(stmt, 1, l->token_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, SMD_PIN_MAX_TRIES);
	if (sqlite3_step(stmt) != SQLITE_ROW)
		return TRUE; /* link stays NULL */
	link = g_new0(SmdLink, 1);
	l->link = link;
	link->id = sqlite3_column_int64(stmt, 0);
	link->kind = g_strdup((const gchar *)sqlite3_column_text(stmt, 1));
	link->address = g_strdup((const gchar *)sqlite3_column_text(stmt, 2));
	link->message_id = sqlite3_column_int64(stmt, 3);
	link->recipient_id = sqlite3_column_int64(stmt, 4);
	link->requested_by = g_strdup((const gchar *)sqlite3_column_text(stmt, 5));
	link->expires_at = sqlite3_column_int64(stmt, 6);
	link->failures = (guint)sqlite3_column_int(stmt, 7);
	link->locked = sqlite3_column_int(stmt, 8) != 0;
	link->queue_id = g_strdup((const gchar *)sqlite3_column_text(stmt, 9));
	link->sender = g_strdup((const gchar *)sqlite3_column_text(stmt, 10));
	link->received_at = sqlite3_column_int64(stmt, 11);
	link->body_present = sqlite3_column_int(stmt, 12) != 0;
	link->recipient_state = g_strdup((const gchar *)sqlite3_column_text(stmt, 13));
	link->size = sqlite3_column_int64(stmt, 14);
	link->pin_until = sqlite3_column_int64(stmt, 15);
	link->number = smd_portal_phone_of(db, link->address, error);

	/* what waits for this recipient, shown on the registration page only;
	 * by the case-insensitive address index (lower() scanned every
	 * recipient of the store on every portal request) */
	link->waiting = g_ptr_array_new_with_free_func(g_free);
	if (g_strcmp0(link->kind, "registration") != 0)
		return TRUE;
	waiting = smd_store_prepare(
	    db,
	    "SELECT m.sender, m.received_at FROM recipients r JOIN messages m ON m.id = "
	    "r.message_id "
	    "WHERE r.address = ?1 COLLATE NOCASE AND r.state IN ('held', "
	    "'awaiting-registration', 'invited', 'pin-sent') ORDER BY m.received_at LIMIT 50",
	    error);
	if (waiting == NULL)
		return FALSE;
	sqlite3_bind_text(waiting, 1, link->address, -1, SQLITE_STATIC);
	while (sqlite3_step(waiting) == SQLITE_ROW)
		g_ptr_array_add(link->waiting,
				g_strdup_printf("%s\t%" G_GINT64_FORMAT,
						(const gchar *)sqlite3_column_text(waiting, 0),
						(gint64)sqlite3_column_int64(waiting, 1)));
	return TRUE;
}

void
smd_registration_free(SmdRegistration *reg)
{
	g_free(reg->token_hash);
	g_free(reg->number);
	g_free(reg->client_address);
	g_free(reg->address);
	g_clear_pointer(&reg->notices, g_ptr_array_unref);
	g_clear_pointer(&reg->events, g_ptr_array_unref);
	g_free(reg);
}

/* Stores @number for @address and turns every message waiting for a
 * number into an invitation. */
static gboolean
smd_portal_set_phone(sqlite3 *db, const gchar *address, const gchar *number, const gchar *by,
		     const gchar *from, guint retention, const gchar *text, GPtrArray *notices,
		     GPtrArray *events, GError **error)
{
	gint64 now = smd_now();
	g_autofree gchar *masked = smd_phone_mask(number);
	g_autofree gchar *detail = NULL;
	g_autoptr(sqlite3_stmt) phone = smd_store_prepare(
	    db,
	    "INSERT OR REPLACE INTO phones (address, number, registered_by, registered_from, "
	    "registered_at) VALUES (?1, ?2, ?3, ?4, ?5)",
	    error);
	g_autoptr(sqlite3_stmt) release = NULL;

	if (phone == NULL)
		return FALSE;
	sqlite3_bind_text(phone, 1, address, -1, SQLITE_STATIC);
	sqlite3_bind_text(phone, 2, number, -1, SQLITE_STATIC);
	sqlite3_bind_text(phone, 3, by != NULL ? by : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(phone, 4, from, -1, SQLITE_STATIC);
	sqlite3_bind_int64(phone, 5, now);
	if (sqlite3_step(phone) != SQLITE_DONE)
		return smd_store_fail(db, "store phone", error);
	/* the log says who and from where, and only a masked number */
	detail = g_strdup_printf("number=%s by=<%s> client=%s", masked, by != NULL ? by : "",
				 from != NULL ? from : "");
	g_ptr_array_add(
	    events, smd_event_new(SMD_EVENT_INFO, "phone-registered", NULL, address, detail, text));

	/* every message waiting for a number now goes to an invitation */
	release = smd_store_prepare(
	    db,
	    "SELECT r.id, r.address, m.id, m.queue_id, m.sender, m.received_at FROM recipients r "
	    "JOIN messages m ON m.id = r.message_id WHERE r.address = ?1 COLLATE NOCASE AND "
	    "r.state = 'awaiting-registration'",
	    error);
	if (release == NULL)
		return FALSE;
	sqlite3_bind_text(release, 1, address, -1, SQLITE_STATIC);
	while (sqlite3_step(release) == SQLITE_ROW) {
		gint64 received_at = sqlite3_column_int64(release, 5);
		if (!smd_portal_invite(db, sqlite3_column_int64(release, 2),
				       sqlite3_column_int64(release, 0),
				       (const gchar *)sqlite3_column_text(release, 1),
				       (const gchar *)sqlite3_column_text(release, 3),
				       (const gchar *)sqlite3_column_text(release, 4), received_at,
				       received_at + (gint64)retention, notices, events, error))
			return FALSE;
	}
	return TRUE;
}

gboolean
smd_portal_store_register(sqlite3 *db, gpointer data, GError **error)
{
	SmdRegistration *reg = data;
	g_autofree gchar *requested_by = NULL;
	g_autoptr(sqlite3_stmt) link = smd_store_prepare(
	    db,
	    "SELECT address, requested_by FROM links WHERE token_hash = ?1 AND kind = "
	    "'registration' AND expires_at > ?2",
	    error);

	if (link == NULL)
		return FALSE;
	sqlite3_bind_text(link, 1, reg->token_hash, -1, SQLITE_STATIC);
	sqlite3_bind_int64(link, 2, smd_now());
	if (sqlite3_step(link) != SQLITE_ROW) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_NOT_FOUND, _("No such link"));
		return FALSE;
	}
	reg->address = g_strdup((const gchar *)sqlite3_column_text(link, 0));
	requested_by = g_strdup((const gchar *)sqlite3_column_text(link, 1));
	reg->notices = g_ptr_array_new_with_free_func((GDestroyNotify)smd_notice_free);
	reg->events = smd_events_new();
	/* A registration link stores a number once: whoever else holds it
	 * (a forwarded e-mail) must not send the pins to a phone of theirs.
	 * A number already there, however it came, is changed by staff only
	 * (the admin app, which drops the pins sent to the old one). */
	{
		g_autoptr(sqlite3_stmt) known =
		    smd_store_prepare(db, "SELECT 1 FROM phones WHERE address = ?1", error);
		if (known == NULL)
			return FALSE;
		sqlite3_bind_text(known, 1, reg->address, -1, SQLITE_STATIC);
		if (sqlite3_step(known) == SQLITE_ROW)
			return TRUE;
	}
	if (!smd_portal_set_phone(db, reg->address, reg->number, requested_by, reg->client_address,
				  reg->retention, N_("Mobile number registered on the portal"),
				  reg->notices, reg->events, error))
		return FALSE;
	return smd_event_insert_all(db, reg->events, error);
}

void
smd_phone_change_free(SmdPhoneChange *change)
{
	g_free(change->address);
	g_free(change->number);
	g_free(change->by);
	g_clear_pointer(&change->notices, g_ptr_array_unref);
	g_clear_pointer(&change->events, g_ptr_array_unref);
	g_free(change);
}

static gboolean
smd_portal_store_forget_pins(sqlite3 *db, const gchar *address, GError **error)
{
	g_autoptr(sqlite3_stmt) del =
	    smd_store_prepare(db,
			      "DELETE FROM pins WHERE link_id IN "
			      "(SELECT id FROM links WHERE kind = 'recipient' AND address = ?1)",
			      error);
	if (del == NULL)
		return FALSE;
	sqlite3_bind_text(del, 1, address, -1, SQLITE_STATIC);
	if (sqlite3_step(del) != SQLITE_DONE)
		return smd_store_fail(db, "forget pins", error);
	return TRUE;
}

gboolean
smd_portal_store_change_phone(sqlite3 *db, gpointer data, GError **error)
{
	SmdPhoneChange *c = data;
	g_autofree gchar *address = g_ascii_strdown(c->address, -1);

	c->notices = g_ptr_array_new_with_free_func((GDestroyNotify)smd_notice_free);
	c->events = smd_events_new();
	if (c->number != NULL) {
		if (!smd_portal_set_phone(db, address, c->number, c->by, NULL, c->retention,
					  N_("Mobile number set by staff"), c->notices, c->events,
					  error))
			return FALSE;
	} else {
		g_autoptr(sqlite3_stmt) del =
		    smd_store_prepare(db, "DELETE FROM phones WHERE address = ?1", error);
		g_autofree gchar *detail = g_strdup_printf("by=<%s>", c->by);
		if (del == NULL)
			return FALSE;
		sqlite3_bind_text(del, 1, address, -1, SQLITE_STATIC);
		if (sqlite3_step(del) != SQLITE_DONE)
			return smd_store_fail(db, "remove phone", error);
		if (sqlite3_changes(db) == 0) {
			g_set_error(error, SMD_ERROR, SMD_ERROR_NOT_FOUND,
				    _("No number is registered for %s"), c->address);
			return FALSE;
		}
		g_ptr_array_add(c->events,
				smd_event_new(SMD_EVENT_INFO, "phone-removed", NULL, address,
					      detail, N_("Mobile number removed by staff")));
	}
	/* a pin sent to the number staff replaced or removed (a wrong one, a
	 * lost phone) opens nothing any more */
	if (!smd_portal_store_forget_pins(db, address, error))
		return FALSE;
	return smd_event_insert_all(db, c->events, error);
}

void
smd_pin_request_free(SmdPinRequest *req)
{
	g_free(req->pin_mac);
	g_free(req->client_address);
	g_free(req->number);
	g_clear_pointer(&req->events, g_ptr_array_unref);
	g_free(req);
}

static gint64
smd_portal_count(sqlite3 *db, const gchar *sql, gint64 a, const gchar *b, gint64 since)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	if (sqlite3_prepare_v2(db, sql, -1, &stmt, NULL) != SQLITE_OK)
		return G_MAXINT64; /* fail closed */
	if (b != NULL)
		sqlite3_bind_text(stmt, 1, b, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(stmt, 1, a);
	sqlite3_bind_int64(stmt, 2, since);
	if (sqlite3_step(stmt) != SQLITE_ROW)
		return G_MAXINT64;
	return sqlite3_column_int64(stmt, 0);
}

gboolean
smd_portal_store_pin_request(sqlite3 *db, gpointer data, GError **error)
{
	SmdPinRequest *req = data;
	gint64 now = smd_now();
	g_autoptr(sqlite3_stmt) link = smd_store_prepare(
	    db,
	    "SELECT p.number, l.locked, l.recipient_id, m.queue_id, l.address FROM links l LEFT "
	    "JOIN phones p ON "
	    "p.address = l.address LEFT JOIN messages m ON m.id = l.message_id WHERE l.id = ?1",
	    error);
	g_autoptr(sqlite3_stmt) pin = NULL;
	g_autoptr(sqlite3_stmt) sent = NULL;
	g_autofree gchar *queue_id = NULL;
	g_autofree gchar *address = NULL;
	gint64 recipient_id;

	if (link == NULL)
		return FALSE;
	req->events = smd_events_new();
	sqlite3_bind_int64(link, 1, req->link_id);
	if (sqlite3_step(link) != SQLITE_ROW || sqlite3_column_int(link, 1) != 0) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_NOT_FOUND, _("This link is locked"));
		return FALSE;
	}
	if (sqlite3_column_type(link, 0) == SQLITE_NULL) {
		req->no_number = TRUE;
		g_set_error(error, SMD_ERROR, SMD_ERROR_NOT_FOUND,
			    _("No mobile number is registered for this recipient"));
		return FALSE;
	}
	req->number = g_strdup((const gchar *)sqlite3_column_text(link, 0));
	recipient_id = sqlite3_column_int64(link, 2);
	queue_id = g_strdup((const gchar *)sqlite3_column_text(link, 3));
	address = g_strdup((const gchar *)sqlite3_column_text(link, 4));

	/* per link, per number and per client: no SMS bombing, no cost run-up */
	/* the hour first: waiting a minute would not help */
	if (smd_portal_count(db,
			     "SELECT count(*) FROM sms_sends WHERE link_id = ?1 AND sent_at > ?2",
			     req->link_id, NULL, now - 3600) >= SMD_SMS_PER_LINK_HOUR ||
	    smd_portal_count(db,
			     "SELECT count(*) FROM sms_sends WHERE number = ?1 AND sent_at > ?2", 0,
			     req->number, now - 3600) >= SMD_SMS_PER_NUMBER_HOUR ||
	    smd_portal_count(
		db, "SELECT count(*) FROM sms_sends WHERE client_address = ?1 AND sent_at > ?2", 0,
		req->client_address, now - 3600) >= SMD_SMS_PER_CLIENT_HOUR) {
		req->hourly_limit = TRUE;
		g_set_error(error, SMD_ERROR, SMD_ERROR_TEMPORARY,
			    _("Too many pin codes were asked for in the last hour"));
		return FALSE;
	}
	if (smd_portal_count(db,
			     "SELECT count(*) FROM sms_sends WHERE link_id = ?1 AND sent_at > ?2",
			     req->link_id, NULL, now - SMD_SMS_PER_LINK_INTERVAL) >= 1) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_TEMPORARY,
			    _("A pin code was sent a moment ago"));
		return FALSE;
	}

	pin = smd_store_prepare(
	    db,
	    "INSERT OR REPLACE INTO pins (link_id, pin_mac, created_at, expires_at, "
	    "tries) VALUES (?1, ?2, ?3, ?4, 0)",
	    error);
	sent = smd_store_prepare(db,
				 "INSERT INTO sms_sends (link_id, number, client_address, sent_at) "
				 "VALUES (?1, ?2, ?3, ?4)",
				 error);
	if (pin == NULL || sent == NULL)
		return FALSE;
	sqlite3_bind_int64(pin, 1, req->link_id);
	sqlite3_bind_text(pin, 2, req->pin_mac, -1, SQLITE_STATIC);
	sqlite3_bind_int64(pin, 3, now);
	sqlite3_bind_int64(pin, 4, now + SMD_PIN_LIFETIME);
	sqlite3_bind_int64(sent, 1, req->link_id);
	sqlite3_bind_text(sent, 2, req->number, -1, SQLITE_STATIC);
	sqlite3_bind_text(sent, 3, req->client_address, -1, SQLITE_STATIC);
	sqlite3_bind_int64(sent, 4, now);
	if (sqlite3_step(pin) != SQLITE_DONE || sqlite3_step(sent) != SQLITE_DONE)
		return smd_store_fail(db, "store pin", error);
	if (recipient_id > 0 && !smd_portal_set_state(db, recipient_id, SMD_STATE_PIN_SENT, error))
		return FALSE;
	g_ptr_array_add(req->events,
			smd_event_new(SMD_EVENT_INFO, "pin-requested", queue_id, address,
				      req->client_address, N_("Pin code requested")));
	return smd_event_insert_all(db, req->events, error);
}

void
smd_pin_check_free(SmdPinCheck *check)
{
	g_free(check->pin_mac);
	g_free(check->client_address);
	g_clear_pointer(&check->events, g_ptr_array_unref);
	g_free(check);
}

gboolean
smd_portal_store_pin_check(sqlite3 *db, gpointer data, GError **error)
{
	SmdPinCheck *c = data;
	gint64 now = smd_now();
	g_autoptr(sqlite3_stmt) q = smd_store_prepare(
	    db,
	    "SELECT l.locked, l.failures, p.pin_mac, p.expires_at, p.tries, m.queue_id, l.address "
	    "FROM links l LEFT JOIN pins p ON p.link_id = l.id LEFT JOIN messages m ON m.id = "
	    "l.message_id WHERE l.id = ?1",
	    error);
	g_autoptr(sqlite3_stmt) upd = NULL;
	g_autofree gchar *queue_id = NULL;
	g_autofree gchar *address = NULL;
	gboolean match = FALSE;
	guint failures;
	guint tries;

	if (q == NULL)
		return FALSE;
	c->events = smd_events_new();
	sqlite3_bind_int64(q, 1, c->link_id);
	if (sqlite3_step(q) != SQLITE_ROW || sqlite3_column_int(q, 0) != 0) {
		c->verdict = SMD_PIN_LOCKED;
		return TRUE;
	}
	failures = (guint)sqlite3_column_int(q, 1);
	tries = (guint)sqlite3_column_int(q, 4);
	/* whose link it is, for the admin who is to unlock it */
	queue_id = g_strdup((const gchar *)sqlite3_column_text(q, 5));
	address = g_strdup((const gchar *)sqlite3_column_text(q, 6));
	if (sqlite3_column_type(q, 2) != SQLITE_NULL && sqlite3_column_int64(q, 3) > now &&
	    tries < SMD_PIN_MAX_TRIES)
		match = smd_secure_equal((const gchar *)sqlite3_column_text(q, 2), c->pin_mac);

	if (match) {
		/* single use: the pin is gone, the failure count starts over */
		if (!smd_store_exec(db, "SAVEPOINT pin", error))
			return FALSE;
		upd = smd_store_prepare(db, "DELETE FROM pins WHERE link_id = ?1", error);
		if (upd == NULL)
			return FALSE;
		sqlite3_bind_int64(upd, 1, c->link_id);
		sqlite3_step(upd);
		sqlite3_finalize(g_steal_pointer(&upd));
		upd = smd_store_prepare(db, "UPDATE links SET failures = 0 WHERE id = ?1", error);
		if (upd == NULL)
			return FALSE;
		sqlite3_bind_int64(upd, 1, c->link_id);
		sqlite3_step(upd);
		if (!smd_store_exec(db, "RELEASE pin", error))
			return FALSE;
		c->verdict = SMD_PIN_OK;
		return TRUE;
	}

	failures++;
	c->verdict = failures >= SMD_LINK_MAX_FAILURES ? SMD_PIN_LOCKED : SMD_PIN_WRONG;
	upd = smd_store_prepare(db, "UPDATE links SET failures = ?2, locked = ?3 WHERE id = ?1",
				error);
	if (upd == NULL)
		return FALSE;
	sqlite3_bind_int64(upd, 1, c->link_id);
	sqlite3_bind_int(upd, 2, (int)failures);
	sqlite3_bind_int(upd, 3, c->verdict == SMD_PIN_LOCKED ? 1 : 0);
	if (sqlite3_step(upd) != SQLITE_DONE)
		return smd_store_fail(db, "count failure", error);
	sqlite3_finalize(g_steal_pointer(&upd));
	upd = smd_store_prepare(db, "UPDATE pins SET tries = tries + 1 WHERE link_id = ?1", error);
	if (upd == NULL)
		return FALSE;
	sqlite3_bind_int64(upd, 1, c->link_id);
	sqlite3_step(upd);
	g_ptr_array_add(c->events,
			smd_event_new(SMD_EVENT_WARNING,
				      c->verdict == SMD_PIN_LOCKED ? "link-locked" : "pin-failed",
				      queue_id, address, c->client_address,
				      c->verdict == SMD_PIN_LOCKED
					  ? N_("Link locked after too many wrong pin codes")
					  : N_("Wrong pin code entered")));
	return smd_event_insert_all(db, c->events, error);
}

void
smd_portal_mark_free(SmdPortalMark *mark)
{
	g_clear_pointer(&mark->events, g_ptr_array_unref);
	g_free(mark);
}

gboolean
smd_portal_store_mark(sqlite3 *db, gpointer data, GError **error)
{
	SmdPortalMark *m = data;
	/* downloaded is the furthest state; opened never undoes it */
	g_autoptr(sqlite3_stmt) stmt = smd_store_prepare(
	    db,
	    "UPDATE recipients SET state = ?2, updated_at = ?3 WHERE id = ?1 AND state != "
	    "'downloaded'",
	    error);
	if (stmt == NULL)
		return FALSE;
	if (m->recipient_id > 0) {
		sqlite3_bind_int64(stmt, 1, m->recipient_id);
		sqlite3_bind_text(stmt, 2, m->state, -1, SQLITE_STATIC);
		sqlite3_bind_int64(stmt, 3, smd_now());
		if (sqlite3_step(stmt) != SQLITE_DONE)
			return smd_store_fail(db, "mark recipient", error);
	}
	if (m->unsent_pin_link > 0) {
		g_autoptr(sqlite3_stmt) del =
		    smd_store_prepare(db, "DELETE FROM pins WHERE link_id = ?1", error);
		if (del == NULL)
			return FALSE;
		sqlite3_bind_int64(del, 1, m->unsent_pin_link);
		if (sqlite3_step(del) != SQLITE_DONE)
			return smd_store_fail(db, "forget pin", error);
	}
	return m->events == NULL || smd_event_insert_all(db, m->events, error);
}

void
smd_expiry_free(SmdExpiry *expiry)
{
	g_clear_pointer(&expiry->events, g_ptr_array_unref);
	g_free(expiry);
}

gboolean
smd_portal_store_expire(sqlite3 *db, gpointer data, GError **error)
{
	SmdExpiry *e = data;
	gint64 cutoff = smd_now() - (gint64)e->retention;
	g_autoptr(sqlite3_stmt) find = smd_store_prepare(
	    db,
	    "SELECT r.id, r.address, m.id, m.queue_id FROM recipients r JOIN messages m ON m.id = "
	    "r.message_id WHERE r.state IN ('held', 'awaiting-registration', 'invited', "
	    "'pin-sent', 'opened', 'downloaded', 'quarantined') AND m.received_at < ?1 LIMIT 500",
	    error);
	g_autoptr(GArray) messages = g_array_new(FALSE, FALSE, sizeof(gint64));

	if (find == NULL)
		return FALSE;
	e->events = smd_events_new();
	sqlite3_bind_int64(find, 1, cutoff);
	while (sqlite3_step(find) == SQLITE_ROW) {
		gint64 message_id = sqlite3_column_int64(find, 2);
		if (!smd_portal_set_state(db, sqlite3_column_int64(find, 0), "expired", error))
			return FALSE;
		g_array_append_val(messages, message_id);
		g_ptr_array_add(e->events,
				smd_event_new(SMD_EVENT_INFO, "expired",
					      (const gchar *)sqlite3_column_text(find, 3),
					      (const gchar *)sqlite3_column_text(find, 1), NULL,
					      N_("Held message expired and was destroyed")));
	}
	for (guint i = 0; i < messages->len; i++) {
		gboolean destroyed = FALSE;
		if (!smd_store_destroy_body_if_done(db, g_array_index(messages, gint64, i),
						    &destroyed, error))
			return FALSE;
	}
	return smd_event_insert_all(db, e->events, error);
}

void
smd_resend_free(SmdResend *resend)
{
	g_free(resend->queue_id);
	g_free(resend->address);
	g_clear_pointer(&resend->notices, g_ptr_array_unref);
	g_clear_pointer(&resend->events, g_ptr_array_unref);
	g_free(resend);
}

gboolean
smd_portal_store_resend(sqlite3 *db, gpointer data, GError **error)
{
	SmdResend *r = data;
	g_autofree gchar *address = g_ascii_strdown(r->address, -1);
	g_autofree gchar *number = smd_portal_phone_of(db, address, error);
	g_autoptr(sqlite3_stmt) find = smd_store_prepare(
	    db,
	    "SELECT r.id, r.address, m.id, m.sender, m.received_at FROM recipients r JOIN messages "
	    "m ON m.id = r.message_id WHERE m.queue_id = ?1 AND lower(r.address) = ?2 AND r.state "
	    "IN ('held', 'invited', 'pin-sent', 'opened', 'downloaded') AND m.wrapped_key IS NOT "
	    "NULL",
	    error);

	if (find == NULL)
		return FALSE;
	r->notices = g_ptr_array_new_with_free_func((GDestroyNotify)smd_notice_free);
	r->events = smd_events_new();
	sqlite3_bind_text(find, 1, r->queue_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(find, 2, address, -1, SQLITE_STATIC);
	if (number == NULL || sqlite3_step(find) != SQLITE_ROW) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_NOT_FOUND,
			    _("No held message %s with a registered number for %s"), r->queue_id,
			    r->address);
		return FALSE;
	}
	if (!smd_portal_invite(
		db, sqlite3_column_int64(find, 2), sqlite3_column_int64(find, 0),
		(const gchar *)sqlite3_column_text(find, 1), r->queue_id,
		(const gchar *)sqlite3_column_text(find, 3), sqlite3_column_int64(find, 4),
		sqlite3_column_int64(find, 4) + (gint64)r->retention, r->notices, r->events, error))
		return FALSE;
	return smd_event_insert_all(db, r->events, error);
}

gboolean
smd_portal_store_set_retention(sqlite3 *db, gpointer data, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = smd_store_prepare(
	    db,
	    "UPDATE links SET expires_at = (SELECT m.received_at FROM messages m WHERE m.id = "
	    "links.message_id) + ?1 WHERE message_id IS NOT NULL",
	    error);

	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_int64(stmt, 1, (gint64)GPOINTER_TO_UINT(data));
	if (sqlite3_step(stmt) != SQLITE_DONE)
		return smd_store_fail(db, "link expiry", error);
	return TRUE;
}
