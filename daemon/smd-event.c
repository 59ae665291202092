/*
 * SecuMailer — events.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-event"

#include "config.h"

#include "smd-common.h"
#include "smd-event.h"
#include "smd-store.h"

SmdEvent *
smd_event_new(SmdEventLevel level, const gchar *kind, const gchar *queue_id, const gchar *recipient,
	      const gchar *detail, const gchar *message)
{
	SmdEvent *event = g_new0(SmdEvent, 1);
	event->time = g_get_real_time();
	event->level = level;
	event->kind = g_strdup(kind);
	event->queue_id = g_strdup(queue_id);
	event->recipient = g_strdup(recipient);
	event->detail = g_strdup(detail);
	event->message = g_strdup(message);
	return event;
}

void
smd_event_free(SmdEvent *event)
{
	g_free(event->kind);
	g_free(event->message);
	g_free(event->queue_id);
	g_free(event->recipient);
	g_free(event->detail);
	g_free(event);
}

const gchar *
smd_event_level_to_string(SmdEventLevel level)
{
	switch (level) {
	case SMD_EVENT_WARNING:
		return "warning";
	case SMD_EVENT_ERROR:
		return "error";
	case SMD_EVENT_INFO:
	default:
		return "info";
	}
}

static SmdEventHook smd_event_hook = NULL;
static gpointer smd_event_hook_data = NULL;

void
smd_event_set_hook(SmdEventHook hook, gpointer user_data)
{
	smd_event_hook = hook;
	smd_event_hook_data = user_data;
}

void
smd_event_log(const SmdEvent *event)
{
	if (smd_event_hook != NULL)
		smd_event_hook(event, smd_event_hook_data);
	GLogLevelFlags level =
	    event->level == SMD_EVENT_INFO ? G_LOG_LEVEL_MESSAGE : G_LOG_LEVEL_WARNING;
	g_autofree gchar *text = g_strdup_printf(
	    "%s: %s%s%s%s%s%s", event->queue_id != NULL ? event->queue_id : "-", event->kind,
	    event->recipient != NULL ? " to=<" : "",
	    event->recipient != NULL ? event->recipient : "", event->recipient != NULL ? ">" : "",
	    event->detail != NULL ? " " : "", event->detail != NULL ? event->detail : "");
	/* fields a journal query can filter on, e.g. SECUMAILER_QUEUE_ID=… */
	g_log_structured(G_LOG_DOMAIN, level, "MESSAGE", "%s", text, "SECUMAILER_EVENT", "%s",
			 event->kind, "SECUMAILER_QUEUE_ID", "%s",
			 event->queue_id != NULL ? event->queue_id : "", "SECUMAILER_RECIPIENT",
			 "%s", event->recipient != NULL ? event->recipient : "");
}

void
smd_event_log_all(GPtrArray *events)
{
	for (guint i = 0; events != NULL && i < events->len; i++)
		smd_event_log(g_ptr_array_index(events, i));
}

gboolean
smd_event_insert(sqlite3 *db, const SmdEvent *event, GError **error)
{
	g_autoptr(SmdCachedStmt) stmt_cached = smd_store_prepare_cached(
	    db,
	    "INSERT INTO events (time, level, kind, message, queue_id, recipient, detail) "
	    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	    error);
	sqlite3_stmt *stmt = smd_cached_stmt(stmt_cached);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_int64(stmt, 1, event->time);
	sqlite3_bind_text(stmt, 2, smd_event_level_to_string(event->level), -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 3, event->kind, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 4, event->message != NULL ? event->message : "", -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 5, event->queue_id, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, event->recipient, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 7, event->detail, -1, SQLITE_STATIC);
	if (sqlite3_step(stmt) != SQLITE_DONE)
		return smd_store_fail(db, "insert event", error);
	return TRUE;
}

gboolean
smd_event_insert_all(sqlite3 *db, GPtrArray *events, GError **error)
{
	for (guint i = 0; events != NULL && i < events->len; i++) {
		if (!smd_event_insert(db, g_ptr_array_index(events, i), error))
			return FALSE;
	}
	return TRUE;
}
