/*
 * SecuMailer — store queries of the admin API.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-admin"

#include "config.h"

#include <gio/gio.h>

#include "smd-admin-store.h"
#include "smd-common.h"
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

gboolean
smd_admin_store_statistics(sqlite3 *db, gpointer data, GError **error)
{
	SmdStatistics *stats = data;
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autoptr(GDateTime) midnight =
	    g_date_time_new_local(g_date_time_get_year(now), g_date_time_get_month(now),
				  g_date_time_get_day_of_month(now), 0, 0, 0);
	g_autoptr(sqlite3_stmt) stmt = smd_store_prepare(
	    db,
	    "SELECT r.state, count(*) FROM recipients r JOIN messages m ON m.id = r.message_id "
	    "WHERE m.notification = 0 GROUP BY r.state",
	    error);

	if (stmt == NULL)
		return FALSE;
	stats->states = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	while (sqlite3_step(stmt) == SQLITE_ROW)
		g_hash_table_insert(stats->states,
				    g_strdup((const gchar *)sqlite3_column_text(stmt, 0)),
				    GUINT_TO_POINTER((guint)sqlite3_column_int64(stmt, 1)));
	stats->received_today = smd_admin_count_since(db, g_date_time_to_unix(midnight));
	stats->received_week = smd_admin_count_since(db, smd_now() - 7 * 86400);
	return TRUE;
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

gboolean
smd_admin_store_events(sqlite3 *db, gpointer data, GError **error)
{
	SmdEventPage *page = data;
	g_autoptr(sqlite3_stmt) stmt = smd_store_prepare(
	    db,
	    "SELECT id, time, level, kind, message, queue_id, recipient, detail FROM events WHERE "
	    "id > ?1 ORDER BY id LIMIT ?2",
	    error);

	if (stmt == NULL)
		return FALSE;
	page->rows = g_ptr_array_new_with_free_func((GDestroyNotify)g_variant_unref);
	sqlite3_bind_int64(stmt, 1, page->after);
	sqlite3_bind_int(stmt, 2, (int)MIN(page->limit, 1000));
	while (sqlite3_step(stmt) == SQLITE_ROW)
		g_ptr_array_add(page->rows, g_variant_ref_sink(g_variant_new(
						"(xxssssss)", (gint64)sqlite3_column_int64(stmt, 0),
						(gint64)sqlite3_column_int64(stmt, 1),
						smd_admin_text(stmt, 2), smd_admin_text(stmt, 3),
						smd_admin_text(stmt, 4), smd_admin_text(stmt, 5),
						smd_admin_text(stmt, 6), smd_admin_text(stmt, 7))));
	return TRUE;
}
