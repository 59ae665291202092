/*
 * SecuMailer — store queries of the admin API.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-admin"

#include "config.h"

#include <gio/gio.h>
#include <glib/gi18n.h>

#include "smd-admin-store.h"
#include "smd-common.h"
#include "smd-error.h"
#include "smd-event.h"
#include "smd-store-messages.h"
#include "smd-store.h"

void
smd_statistics_free(SmdStatistics *stats)
{
	g_clear_pointer(&stats->states, g_hash_table_unref);
	g_free(stats);
}

static guint
smd_admin_count_since(sqlite3 *db, gint64 since)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	if (sqlite3_prepare_v2(db,
			       "SELECT count(*) FROM messages WHERE received_at >= ?1 AND "
			       "notification = 0",
			       -1, &stmt, NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(stmt, 1, since);
	return sqlite3_step(stmt) == SQLITE_ROW ? (guint)sqlite3_column_int64(stmt, 0) : 0;
}

static gint
smd_admin_outcome(const gchar *state)
{
	if (g_strcmp0(state, "delivered") == 0)
		return SMD_OUTCOME_TLS;
	if (g_strcmp0(state, "opened") == 0 || g_strcmp0(state, "downloaded") == 0)
		return SMD_OUTCOME_PORTAL;
	if (g_strcmp0(state, "bounced") == 0 || g_strcmp0(state, "expired") == 0 ||
	    g_strcmp0(state, "revoked") == 0 || g_strcmp0(state, "quarantined") == 0)
		return SMD_OUTCOME_FAILED;
	return SMD_OUTCOME_WAITING;
}

/* Per local day of the last week, what became of that day's recipients. */
static gboolean
smd_admin_store_days(sqlite3 *db, SmdStatistics *stats, GDateTime *midnight, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt = smd_store_prepare(
	    db,
	    "SELECT m.received_at, r.state, count(*) FROM messages m JOIN recipients r ON "
	    "r.message_id = m.id WHERE m.received_at >= ?1 AND m.notification = 0 "
	    "GROUP BY m.received_at, r.state",
	    error);

	if (stmt == NULL)
		return FALSE;
	for (gint i = 0; i < 7; i++) {
		/* local days, right across daylight saving changes */
		g_autoptr(GDateTime) day = g_date_time_add_days(midnight, i - 6);
		stats->day_start[i] = g_date_time_to_unix(day);
	}
	sqlite3_bind_int64(stmt, 1, stats->day_start[0]);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		gint64 at = sqlite3_column_int64(stmt, 0);
		gint day = 6;
		while (day > 0 && at < stats->day_start[day])
			day--;
		stats->days[day][smd_admin_outcome((const gchar *)sqlite3_column_text(stmt, 1))] +=
		    (guint)sqlite3_column_int64(stmt, 2);
	}
	return TRUE;
}

gboolean
smd_admin_store_statistics(sqlite3 *db, gpointer data, GError **error)
{
	SmdStatistics *stats = data;
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autoptr(GDateTime) midnight =
	    g_date_time_new_local(g_date_time_get_year(now), g_date_time_get_month(now),
				  g_date_time_get_day_of_month(now), 0, 0, 0);
	/* every recipient per state from the (state, message_id) index alone,
	 * less the portal's own e-mails found by their partial index: a join
	 * of a million rows would hold the store thread for a third of a
	 * second (bench/scale) */
	g_autoptr(sqlite3_stmt) stmt =
	    smd_store_prepare(db, "SELECT state, count(*) FROM recipients GROUP BY state", error);
	g_autoptr(sqlite3_stmt) own = smd_store_prepare(
	    db,
	    "SELECT r.state, count(*) FROM messages m CROSS JOIN "
	    "recipients r ON r.message_id = m.id WHERE m.notification = 1 GROUP BY r.state",
	    error);

	if (stmt == NULL || own == NULL)
		return FALSE;
	stats->states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	while (sqlite3_step(stmt) == SQLITE_ROW)
		g_hash_table_insert(stats->states,
				    g_strdup((const gchar *)sqlite3_column_text(stmt, 0)),
				    GUINT_TO_POINTER((guint)sqlite3_column_int64(stmt, 1)));
	while (sqlite3_step(own) == SQLITE_ROW) {
		const gchar *state = (const gchar *)sqlite3_column_text(own, 0);
		guint n = GPOINTER_TO_UINT(g_hash_table_lookup(stats->states, state));
		guint less = (guint)sqlite3_column_int64(own, 1);
		if (n > less)
			g_hash_table_insert(stats->states, g_strdup(state),
					    GUINT_TO_POINTER(n - less));
		else
			g_hash_table_remove(stats->states, state);
	}
	stats->received_today = smd_admin_count_since(db, g_date_time_to_unix(midnight));
	stats->received_week = smd_admin_count_since(db, smd_now() - 7 * 86400);
	return smd_admin_store_days(db, stats, midnight, error);
}

static void
smd_request_free(SmdRequest *req)
{
	g_free(req->recipient);
	g_ptr_array_unref(req->senders);
	g_free(req);
}

void
smd_request_list_free(SmdRequestList *list)
{
	g_clear_pointer(&list->requests, g_ptr_array_unref);
	g_free(list);
}

gboolean
smd_admin_store_requests(sqlite3 *db, gpointer data, GError **error)
{
	SmdRequestList *list = data;
	g_autoptr(sqlite3_stmt) stmt = smd_store_prepare(
	    db,
	    "SELECT lower(r.address), m.sender, m.received_at FROM recipients r JOIN messages m ON "
	    "m.id = r.message_id WHERE r.state = 'awaiting-registration' ORDER BY m.received_at",
	    error);
	g_autoptr(GHashTable) by_recipient = g_hash_table_new(g_str_hash, g_str_equal);

	if (stmt == NULL)
		return FALSE;
	list->requests = g_ptr_array_new_with_free_func((GDestroyNotify)smd_request_free);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		const gchar *recipient = (const gchar *)sqlite3_column_text(stmt, 0);
		const gchar *sender = (const gchar *)sqlite3_column_text(stmt, 1);
		SmdRequest *req = g_hash_table_lookup(by_recipient, recipient);
		if (req == NULL) {
			req = g_new0(SmdRequest, 1);
			req->recipient = g_strdup(recipient);
			req->senders = g_ptr_array_new_with_free_func(g_free);
			req->since = sqlite3_column_int64(stmt, 2);
			g_ptr_array_add(list->requests, req);
			g_hash_table_insert(by_recipient, req->recipient, req);
		}
		req->count++;
		if (!g_ptr_array_find_with_equal_func(req->senders, sender, g_str_equal, NULL))
			g_ptr_array_add(req->senders, g_strdup(sender));
	}
	return TRUE;
}

void
smd_event_page_free(SmdEventPage *page)
{
	g_clear_pointer(&page->rows, g_ptr_array_unref);
	g_free(page);
}

static const gchar *
smd_admin_text(sqlite3_stmt *stmt, int col)
{
	const gchar *text = (const gchar *)sqlite3_column_text(stmt, col);
	return text != NULL ? text : "";
}

/* One events row (id, time, level, kind, message, queue_id, recipient,
 * detail) as the D-Bus API gives it. */
static GVariant *
smd_admin_event_row(sqlite3_stmt *stmt)
{
	return g_variant_ref_sink(g_variant_new("(xxssssss)", (gint64)sqlite3_column_int64(stmt, 0),
						(gint64)sqlite3_column_int64(stmt, 1),
						smd_admin_text(stmt, 2), smd_admin_text(stmt, 3),
						smd_admin_text(stmt, 4), smd_admin_text(stmt, 5),
						smd_admin_text(stmt, 6), smd_admin_text(stmt, 7)));
}

gboolean
smd_admin_store_events(sqlite3 *db, gpointer data, GError **error)
{
	SmdEventPage *page = data;
	/* a negative cursor asks for the newest events: where a log view starts */
	g_autoptr(sqlite3_stmt) stmt = smd_store_prepare(
	    db,
	    page->after >= 0
		? "SELECT id, time, level, kind, message, queue_id, recipient, detail FROM events "
		  "WHERE id > ?1 ORDER BY id LIMIT ?2"
		: "SELECT * FROM (SELECT id, time, level, kind, message, queue_id, recipient, "
		  "detail "
		  "FROM events ORDER BY id DESC LIMIT ?2) ORDER BY id",
	    error);

	if (stmt == NULL)
		return FALSE;
	page->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
	sqlite3_bind_int64(stmt, 1, page->after);
	sqlite3_bind_int(stmt, 2, (int)MIN(page->limit, 1000));
	while (sqlite3_step(stmt) == SQLITE_ROW)
		g_ptr_array_add(page->rows, smd_admin_event_row(stmt));
	return TRUE;
}

void
smd_admin_action_free(SmdAdminAction *action)
{
	g_free(action->queue_id);
	g_free(action->address);
	g_free(action->by);
	g_clear_pointer(&action->events, g_ptr_array_unref);
	g_free(action);
}

gboolean
smd_admin_store_revoke(sqlite3 *db, gpointer data, GError **error)
{
	SmdAdminAction *a = data;
	g_autofree gchar *detail = g_strdup_printf("by=<%s>", a->by);
	gint64 message_id = 0;
	gboolean destroyed = FALSE;
	g_autoptr(sqlite3_stmt) find = smd_store_prepare(
	    db,
	    "SELECT r.id, r.address, m.id FROM recipients r JOIN messages m ON m.id = "
	    "r.message_id WHERE m.queue_id = ?1 AND r.state IN ('held', 'awaiting-registration', "
	    "'invited', 'pin-sent', 'opened', 'downloaded')",
	    error);
	g_autoptr(sqlite3_stmt) upd = smd_store_prepare(
	    db, "UPDATE recipients SET state = 'revoked', updated_at = ?2 WHERE id = ?1", error);

	if (find == NULL || upd == NULL)
		return FALSE;
	a->events = g_ptr_array_new_with_free_func((GDestroyNotify)smd_event_free);
	sqlite3_bind_text(find, 1, a->queue_id, -1, SQLITE_STATIC);
	while (sqlite3_step(find) == SQLITE_ROW) {
		message_id = sqlite3_column_int64(find, 2);
		sqlite3_reset(upd);
		sqlite3_bind_int64(upd, 1, sqlite3_column_int64(find, 0));
		sqlite3_bind_int64(upd, 2, smd_now());
		if (sqlite3_step(upd) != SQLITE_DONE)
			return smd_store_fail(db, "revoke", error);
		g_ptr_array_add(a->events,
				smd_event_new(SMD_EVENT_INFO, "revoked", a->queue_id,
					      (const gchar *)sqlite3_column_text(find, 1), detail,
					      N_("Message withdrawn by staff")));
		a->count++;
	}
	if (a->count == 0) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_NOT_FOUND,
			    _("Message %s has nothing held to withdraw"), a->queue_id);
		return FALSE;
	}
	if (!smd_store_destroy_body_if_done(db, message_id, &destroyed, error))
		return FALSE;
	return smd_event_insert_all(db, a->events, error);
}

gboolean
smd_admin_store_unlock(sqlite3 *db, gpointer data, GError **error)
{
	SmdAdminAction *a = data;
	g_autofree gchar *address = g_ascii_strdown(a->address, -1);
	g_autofree gchar *detail = g_strdup_printf("by=<%s>", a->by);
	g_autoptr(sqlite3_stmt) upd = smd_store_prepare(
	    db,
	    "UPDATE links SET locked = 0, failures = 0 WHERE address = ?1 AND (locked = 1 OR "
	    "failures > 0)",
	    error);

	if (upd == NULL)
		return FALSE;
	a->events = g_ptr_array_new_with_free_func((GDestroyNotify)smd_event_free);
	sqlite3_bind_text(upd, 1, address, -1, SQLITE_STATIC);
	if (sqlite3_step(upd) != SQLITE_DONE)
		return smd_store_fail(db, "unlock", error);
	a->count = (guint)sqlite3_changes(db);
	/* the log records what happened: nothing unlocked, no event */
	if (a->count > 0)
		g_ptr_array_add(a->events,
				smd_event_new(SMD_EVENT_INFO, "unlocked", NULL, address, detail,
					      N_("Portal links unlocked by staff")));
	return smd_event_insert_all(db, a->events, error);
}

void
smd_message_list_free(SmdMessageList *list)
{
	g_free(list->state);
	g_free(list->address);
	g_free(list->older_than);
	g_free(list->newer_than);
	g_clear_object(&list->vault);
	g_clear_pointer(&list->rows, g_ptr_array_unref);
	g_free(list);
}

/* The sealed subject in column @col of the message @qid_col names; NULL
 * when there is none or it does not open (logged: it was tampered with). */
static gchar *
smd_admin_subject(SmdVault *vault, sqlite3_stmt *stmt, int qid_col, int col)
{
	g_autoptr(GError) error = NULL;
	gchar *subject;

	if (vault == NULL || sqlite3_column_type(stmt, col) != SQLITE_BLOB)
		return NULL;
	subject = smd_vault_open_meta(vault, "subject", smd_admin_text(stmt, qid_col),
				      sqlite3_column_blob(stmt, col),
				      (gsize)sqlite3_column_bytes(stmt, col), &error);
	if (subject == NULL)
		g_warning("subject of %s: %s", smd_admin_text(stmt, qid_col), error->message);
	return subject;
}

gboolean
smd_admin_store_messages(sqlite3 *db, gpointer data, GError **error)
{
	SmdMessageList *l = data;
	/* One page of message ids, newest first, chosen by what drives the
	 * search: with a million messages, an address walks its own index
	 * entries, a state walks (state, message_id) backwards and stops at
	 * the page, and no filter walks the primary key. Never a scan of
	 * every message per row. */
	/* keyset paging: after or before a message people already have, so
	 * new mail neither shifts nor hides a page (offsets would) */
#define SMD_ADMIN_KEYSET                                                                           \
	" AND (?7 IS NULL OR m.id < (SELECT id FROM messages WHERE queue_id = ?7)) AND (?8 IS "    \
	"NULL OR m.id > (SELECT id FROM messages WHERE queue_id = ?8)) "
	const gchar *page =
	    l->address != NULL && l->address_prefix
		/* the beginning of an address: a range of the same indexes */
		? "SELECT m.id FROM messages m WHERE m.id IN (SELECT message_id FROM recipients "
		  "WHERE address >= ?2 COLLATE NOCASE AND address < ?9 COLLATE NOCASE UNION SELECT "
		  "id FROM messages WHERE sender >= ?2 COLLATE NOCASE AND sender < ?9 COLLATE "
		  "NOCASE) AND (?1 IS NULL OR EXISTS (SELECT 1 FROM recipients r WHERE r.state = "
		  "?1 "
		  "AND r.message_id = m.id)) AND m.notification = 0 AND (?3 = 0 OR m.received_at "
		  ">= "
		  "?3) AND (?4 = 0 OR m.received_at <= ?4)" SMD_ADMIN_KEYSET
		  "ORDER BY m.id DESC LIMIT ?5 OFFSET ?6"
		: l->address != NULL
		      ? "SELECT m.id FROM messages m WHERE m.id IN (SELECT message_id FROM "
			"recipients "
			"WHERE address = ?2 COLLATE NOCASE UNION SELECT id FROM messages WHERE "
			"sender = "
			"?2 COLLATE NOCASE) AND (?1 IS NULL OR EXISTS (SELECT 1 FROM recipients r "
			"WHERE "
			"r.state = ?1 AND r.message_id = m.id)) AND m.notification = 0 AND (?3 = 0 "
			"OR "
			"m.received_at >= ?3) AND (?4 = 0 OR m.received_at <= ?4)" SMD_ADMIN_KEYSET
			"ORDER BY m.id DESC LIMIT ?5 OFFSET ?6"
		  : l->state != NULL
		      ? "SELECT r.message_id FROM recipients r JOIN messages m ON m.id = "
			"r.message_id "
			"WHERE r.state = ?1 AND ?2 IS NULL AND m.notification = 0 AND (?3 = 0 OR "
			"m.received_at >= ?3) AND (?4 = 0 OR m.received_at <= ?4)" SMD_ADMIN_KEYSET
			"GROUP BY r.message_id ORDER BY r.message_id DESC LIMIT ?5 OFFSET ?6"
		      : "SELECT m.id FROM messages m WHERE ?1 IS NULL AND ?2 IS NULL AND "
			"m.notification "
			"= 0 AND (?3 = 0 OR m.received_at >= ?3) AND (?4 = 0 OR m.received_at <= "
			"?4)" SMD_ADMIN_KEYSET "ORDER BY m.id DESC LIMIT ?5 OFFSET ?6";
	GString *sql = g_string_new(NULL);
	g_autoptr(sqlite3_stmt) stmt = NULL;

	g_string_printf(sql,
			"SELECT m.id, m.queue_id, m.received_at, m.sender, m.size, m.subject FROM "
			"messages m WHERE m.id IN (%s) ORDER BY m.id DESC",
			page);
	/* newer than a message: the oldest of them first, so the caller can
	 * ask again from the last one until it has all */
	if (l->newer_than != NULL)
		g_string_replace(sql, "DESC", "ASC", 0);
	stmt = smd_store_prepare(db, sql->str, error);
	g_string_free(sql, TRUE);
	g_autoptr(sqlite3_stmt) rcpts = smd_store_prepare(
	    db, "SELECT address, state FROM recipients WHERE message_id = ?1 ORDER BY id", error);

	if (stmt == NULL || rcpts == NULL)
		return FALSE;
	l->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
	if (l->state != NULL)
		sqlite3_bind_text(stmt, 1, l->state, -1, SQLITE_STATIC);
	if (l->address != NULL)
		sqlite3_bind_text(stmt, 2, l->address, -1, SQLITE_STATIC);
	if (l->address != NULL && l->address_prefix) {
		/* just past every text that begins with it: 0xff follows any
		 * UTF-8 byte, and NOCASE compares bytes beyond ASCII letters */
		gchar *upper = g_strconcat(l->address, "\xff", NULL);
		sqlite3_bind_text(stmt, 9, upper, -1, g_free);
	}
	sqlite3_bind_int64(stmt, 3, l->since);
	sqlite3_bind_int64(stmt, 4, l->until);
	sqlite3_bind_int(stmt, 5, (int)CLAMP(l->limit, 1, 500));
	sqlite3_bind_int64(stmt, 6, (sqlite3_int64)l->offset);
	if (l->older_than != NULL)
		sqlite3_bind_text(stmt, 7, l->older_than, -1, SQLITE_STATIC);
	if (l->newer_than != NULL)
		sqlite3_bind_text(stmt, 8, l->newer_than, -1, SQLITE_STATIC);
	while (sqlite3_step(stmt) == SQLITE_ROW) {
		GVariantBuilder list;
		g_variant_builder_init(&list, G_VARIANT_TYPE("a(ss)"));
		sqlite3_reset(rcpts);
		sqlite3_bind_int64(rcpts, 1, sqlite3_column_int64(stmt, 0));
		while (sqlite3_step(rcpts) == SQLITE_ROW)
			g_variant_builder_add(&list, "(ss)", smd_admin_text(rcpts, 0),
					      smd_admin_text(rcpts, 1));
		g_autofree gchar *subject = smd_admin_subject(l->vault, stmt, 1, 5);
		g_ptr_array_add(
		    l->rows,
		    g_variant_ref_sink(g_variant_new(
			"(sxsst@a(ss))", smd_admin_text(stmt, 1),
			(gint64)sqlite3_column_int64(stmt, 2), smd_admin_text(stmt, 3),
			subject != NULL ? subject : "", (guint64)sqlite3_column_int64(stmt, 4),
			g_variant_builder_end(&list))));
	}
	return TRUE;
}

void
smd_message_history_free(SmdMessageHistory *history)
{
	g_free(history->queue_id);
	g_clear_pointer(&history->recipients, g_ptr_array_unref);
	g_clear_pointer(&history->events, g_ptr_array_unref);
	g_free(history);
}

gboolean
smd_admin_store_history(sqlite3 *db, gpointer data, GError **error)
{
	SmdMessageHistory *h = data;
	const gchar *text_keys[] = {"address",	   "state",	 "last-reply",	   "relay",
				    "tls-version", "tls-cipher", "tls-peer-sha256"};
	g_autoptr(sqlite3_stmt) rcpts = smd_store_prepare(
	    db,
	    "SELECT r.address, r.state, r.last_reply, r.relay, r.tls_version, r.tls_cipher, "
	    "r.tls_peer_sha256, r.attempts, r.tls_verified FROM recipients r JOIN messages m ON "
	    "m.id = r.message_id WHERE m.queue_id = ?1 ORDER BY r.id",
	    error);
	g_autoptr(sqlite3_stmt) events = smd_store_prepare(
	    db,
	    "SELECT id, time, level, kind, message, queue_id, recipient, detail FROM events WHERE "
	    "queue_id = ?1 ORDER BY id",
	    error);

	if (rcpts == NULL || events == NULL)
		return FALSE;
	h->recipients = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
	h->events = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
	sqlite3_bind_text(rcpts, 1, h->queue_id, -1, SQLITE_STATIC);
	while (sqlite3_step(rcpts) == SQLITE_ROW) {
		GVariantBuilder b;
		g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
		for (guint i = 0; i < G_N_ELEMENTS(text_keys); i++) {
			if (sqlite3_column_type(rcpts, (int)i) != SQLITE_NULL)
				g_variant_builder_add(
				    &b, "{sv}", text_keys[i],
				    g_variant_new_string(smd_admin_text(rcpts, (int)i)));
		}
		g_variant_builder_add(&b, "{sv}", "attempts",
				      g_variant_new_uint32((guint32)sqlite3_column_int(rcpts, 7)));
		if (sqlite3_column_type(rcpts, 8) != SQLITE_NULL)
			g_variant_builder_add(
			    &b, "{sv}", "tls-verified",
			    g_variant_new_boolean(sqlite3_column_int(rcpts, 8) != 0));
		g_ptr_array_add(h->recipients, g_variant_ref_sink(g_variant_builder_end(&b)));
	}
	if (h->recipients->len == 0) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_NOT_FOUND, _("No message %s"), h->queue_id);
		return FALSE;
	}
	sqlite3_bind_text(events, 1, h->queue_id, -1, SQLITE_STATIC);
	while (sqlite3_step(events) == SQLITE_ROW)
		g_ptr_array_add(h->events, smd_admin_event_row(events));
	return TRUE;
}

void
smd_phone_list_free(SmdPhoneList *list)
{
	g_free(list->search);
	g_clear_pointer(&list->rows, g_ptr_array_unref);
	g_free(list);
}

gboolean
smd_admin_store_phones(sqlite3 *db, gpointer data, GError **error)
{
	SmdPhoneList *l = data;
	g_autofree gchar *search = l->search != NULL ? g_ascii_strdown(l->search, -1) : NULL;
	g_autoptr(sqlite3_stmt) stmt = smd_store_prepare(
	    db,
	    "SELECT address, number, registered_by, registered_from, registered_at FROM phones "
	    "WHERE ?1 IS NULL OR instr(address, ?1) > 0 ORDER BY address LIMIT ?2 OFFSET ?3",
	    error);

	if (stmt == NULL)
		return FALSE;
	l->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
	if (search != NULL && search[0] != '\0')
		sqlite3_bind_text(stmt, 1, search, -1, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 2, (int)CLAMP(l->limit, 1, 500));
	sqlite3_bind_int64(stmt, 3, (sqlite3_int64)l->offset);
	while (sqlite3_step(stmt) == SQLITE_ROW)
		g_ptr_array_add(l->rows,
				g_variant_ref_sink(g_variant_new(
				    "(ssssx)", smd_admin_text(stmt, 0), smd_admin_text(stmt, 1),
				    smd_admin_text(stmt, 2), smd_admin_text(stmt, 3),
				    (gint64)sqlite3_column_int64(stmt, 4))));
	return TRUE;
}
