/*
 * SecuMailer — store operations on messages and their recipients.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-store"

#include "config.h"

#include <string.h>

#include "smd-common.h"
#include "smd-error.h"
#include "smd-event.h"
#include "smd-store-messages.h"
#include "smd-store.h"

void
smd_new_message_free(SmdNewMessage *msg)
{
	g_free(msg->queue_id);
	g_free(msg->sender);
	g_free(msg->client_address);
	g_free(msg->helo);
	g_free(msg->inbound_tls);
	g_clear_pointer(&msg->wrapped_key, g_bytes_unref);
	g_clear_pointer(&msg->envelope, g_bytes_unref);
	g_clear_pointer(&msg->subject, g_bytes_unref);
	g_clear_pointer(&msg->recipients, g_ptr_array_unref);
	g_clear_pointer(&msg->events, g_ptr_array_unref);
	g_clear_pointer(&msg->jobs, g_ptr_array_unref);
	g_free(msg);
}

gboolean
smd_store_insert_message(sqlite3 *db, gpointer data, GError **error)
{
	SmdNewMessage *msg = data;
	g_autoptr(SmdCachedStmt) stmt_cached = NULL;
	sqlite3_stmt *stmt = NULL;
	g_autoptr(SmdCachedStmt) rstmt_cached = NULL;
	sqlite3_stmt *rstmt = NULL;
	g_autoptr(SmdCachedStmt) bstmt_cached = NULL;
	sqlite3_stmt *bstmt = NULL;
	g_autoptr(GHashTable) by_domain = g_hash_table_new(g_str_hash, g_str_equal);
	gint64 now = smd_now();
	gsize len = 0;
	gconstpointer blob;

	stmt_cached = smd_store_prepare_cached(
	    db,
	    "INSERT INTO messages (queue_id, received_at, sender, size, "
	    "client_address, helo, inbound_tls, wrapped_key, notification, "
	    "subject) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
	    error);
	stmt = smd_cached_stmt(stmt_cached);
	if (stmt == NULL)
		return FALSE;
	blob = g_bytes_get_data(msg->wrapped_key, &len);
	sqlite3_bind_text(stmt, 1, msg->queue_id, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 2, msg->received_at);
	sqlite3_bind_text(stmt, 3, msg->sender, -1, SQLITE_STATIC);
	sqlite3_bind_int64(stmt, 4, (sqlite3_int64)msg->size);
	sqlite3_bind_text(stmt, 5, msg->client_address, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 6, msg->helo, -1, SQLITE_STATIC);
	sqlite3_bind_text(stmt, 7, msg->inbound_tls, -1, SQLITE_STATIC);
	sqlite3_bind_blob(stmt, 8, blob, (int)len, SQLITE_STATIC);
	sqlite3_bind_int(stmt, 9, msg->notification ? 1 : 0);
	if (msg->subject != NULL) {
		gsize slen = 0;
		gconstpointer sblob = g_bytes_get_data(msg->subject, &slen);
		sqlite3_bind_blob(stmt, 10, sblob, (int)slen, SQLITE_STATIC);
	}
	if (sqlite3_step(stmt) != SQLITE_DONE)
		return smd_store_fail(db, "insert message", error);
	msg->message_id = sqlite3_last_insert_rowid(db);

	bstmt_cached = smd_store_prepare_cached(
	    db, "INSERT INTO bodies (message_id, envelope) VALUES (?1, ?2)", error);
	bstmt = smd_cached_stmt(bstmt_cached);
	if (bstmt == NULL)
		return FALSE;
	blob = g_bytes_get_data(msg->envelope, &len);
	sqlite3_bind_int64(bstmt, 1, msg->message_id);
	sqlite3_bind_blob(bstmt, 2, blob, (int)len, SQLITE_STATIC);
	if (sqlite3_step(bstmt) != SQLITE_DONE)
		return smd_store_fail(db, "insert body", error);

	rstmt_cached =
	    smd_store_prepare_cached(db,
				     "INSERT INTO recipients (message_id, address, domain, state, "
				     "updated_at) VALUES (?1, ?2, ?3, 'queued', ?4)",
				     error);
	rstmt = smd_cached_stmt(rstmt_cached);
	if (rstmt == NULL)
		return FALSE;
	g_clear_pointer(&msg->jobs, g_ptr_array_unref);
	msg->jobs = g_ptr_array_new_with_free_func((GDestroyNotify)smd_job_free);
	for (guint i = 0; i < msg->recipients->len; i++) {
		const gchar *address = g_ptr_array_index(msg->recipients, i);
		g_autofree gchar *domain = g_ascii_strdown(strrchr(address, '@') + 1, -1);
		SmdJob *job;
		sqlite3_reset(rstmt);
		sqlite3_bind_int64(rstmt, 1, msg->message_id);
		sqlite3_bind_text(rstmt, 2, address, -1, SQLITE_STATIC);
		sqlite3_bind_text(rstmt, 3, domain, -1, SQLITE_STATIC);
		sqlite3_bind_int64(rstmt, 4, now);
		if (sqlite3_step(rstmt) != SQLITE_DONE)
			return smd_store_fail(db, "insert recipient", error);
		job = g_hash_table_lookup(by_domain, domain);
		if (job == NULL) {
			job = smd_job_new(msg->message_id, msg->queue_id, msg->sender,
					  msg->received_at, domain);
			job->notification = msg->notification;
			g_ptr_array_add(msg->jobs, job);
			g_hash_table_insert(by_domain, job->domain, job);
		}
		g_ptr_array_add(job->recipients,
				smd_recipient_new(sqlite3_last_insert_rowid(db), address, 0));
	}
	return smd_event_insert_all(db, msg->events, error);
}

void
smd_body_load_free(SmdBodyLoad *load)
{
	g_free(load->queue_id);
	g_clear_pointer(&load->wrapped_key, g_bytes_unref);
	g_clear_pointer(&load->envelope, g_bytes_unref);
	g_free(load);
}

gboolean
smd_store_load_body(sqlite3 *db, gpointer data, GError **error)
{
	SmdBodyLoad *load = data;
	g_autoptr(SmdCachedStmt) stmt_cached = smd_store_prepare_cached(
	    db,
	    "SELECT m.queue_id, m.wrapped_key, b.envelope FROM messages m "
	    "JOIN bodies b ON b.message_id = m.id WHERE m.id = ?1 AND m.wrapped_key IS NOT NULL",
	    error);
	sqlite3_stmt *stmt = smd_cached_stmt(stmt_cached);
	if (stmt == NULL)
		return FALSE;
	sqlite3_bind_int64(stmt, 1, load->message_id);
	if (sqlite3_step(stmt) != SQLITE_ROW) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_NOT_FOUND,
			    "no stored body for message %" G_GINT64_FORMAT, load->message_id);
		return FALSE;
	}
	load->queue_id = g_strdup((const gchar *)sqlite3_column_text(stmt, 0));
	load->wrapped_key =
	    g_bytes_new(sqlite3_column_blob(stmt, 1), (gsize)sqlite3_column_bytes(stmt, 1));
	load->envelope =
	    g_bytes_new(sqlite3_column_blob(stmt, 2), (gsize)sqlite3_column_bytes(stmt, 2));
	return TRUE;
}

void
smd_outcome_update_free(SmdOutcomeUpdate *update)
{
	g_clear_pointer(&update->job, smd_job_free);
	g_clear_pointer(&update->retry, g_hash_table_unref);
	g_clear_pointer(&update->events, g_ptr_array_unref);
	g_free(update);
}

/* Once nobody is left to deliver to or to show it to, the body and its
 * key are destroyed; the metadata stays for the log. */
gboolean
smd_store_destroy_body_if_done(sqlite3 *db, gint64 message_id, gboolean *destroyed, GError **error)
{
	g_autoptr(SmdCachedStmt) check_cached = smd_store_prepare_cached(
	    db,
	    "SELECT 1 FROM recipients WHERE message_id = ?1 "
	    "AND state NOT IN ('delivered', 'bounced', 'expired', 'revoked') LIMIT 1",
	    error);
	sqlite3_stmt *check = smd_cached_stmt(check_cached);
	g_autoptr(SmdCachedStmt) del_cached = NULL;
	sqlite3_stmt *del = NULL;
	g_autoptr(SmdCachedStmt) wipe_cached = NULL;
	sqlite3_stmt *wipe = NULL;

	*destroyed = FALSE;
	if (check == NULL)
		return FALSE;
	sqlite3_bind_int64(check, 1, message_id);
	if (sqlite3_step(check) == SQLITE_ROW)
		return TRUE;
	del_cached =
	    smd_store_prepare_cached(db, "DELETE FROM bodies WHERE message_id = ?1", error);
	del = smd_cached_stmt(del_cached);
	wipe_cached = smd_store_prepare_cached(
	    db, "UPDATE messages SET wrapped_key = NULL WHERE id = ?1", error);
	wipe = smd_cached_stmt(wipe_cached);
	if (del == NULL || wipe == NULL)
		return FALSE;
	sqlite3_bind_int64(del, 1, message_id);
	sqlite3_bind_int64(wipe, 1, message_id);
	if (sqlite3_step(del) != SQLITE_DONE || sqlite3_step(wipe) != SQLITE_DONE)
		return smd_store_fail(db, "destroy body", error);
	*destroyed = TRUE;
	return TRUE;
}

gboolean
smd_store_record_outcomes(sqlite3 *db, gpointer data, GError **error)
{
	SmdOutcomeUpdate *update = data;
	gint64 now = smd_now();
	g_autoptr(SmdCachedStmt) stmt_cached = smd_store_prepare_cached(
	    db,
	    "UPDATE recipients SET state = ?2, attempts = ?3, next_attempt_at = ?4, "
	    "updated_at = ?5, last_reply = ?6, relay = ?7, tls_version = ?8, tls_cipher = ?9, "
	    "tls_peer_sha256 = ?10, tls_verified = ?11 WHERE id = ?1",
	    error);
	sqlite3_stmt *stmt = smd_cached_stmt(stmt_cached);

	if (stmt == NULL)
		return FALSE;
	for (guint i = 0; i < update->job->recipients->len; i++) {
		SmdRecipient *r = g_ptr_array_index(update->job->recipients, i);
		gint64 next = 0;
		if (update->retry != NULL) {
			gint64 *p = g_hash_table_lookup(update->retry, &r->id);
			if (p != NULL)
				next = *p;
		}
		sqlite3_reset(stmt);
		sqlite3_bind_int64(stmt, 1, r->id);
		sqlite3_bind_text(stmt, 2, smd_outcome_to_state(r->outcome), -1, SQLITE_STATIC);
		sqlite3_bind_int(stmt, 3, (int)r->attempts);
		sqlite3_bind_int64(stmt, 4, next);
		sqlite3_bind_int64(stmt, 5, now);
		sqlite3_bind_text(stmt, 6, r->reply, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 7, r->relay, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 8, r->tls.version, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 9, r->tls.cipher, -1, SQLITE_STATIC);
		sqlite3_bind_text(stmt, 10, r->tls.peer_sha256, -1, SQLITE_STATIC);
		if (r->tls.version != NULL)
			sqlite3_bind_int(stmt, 11, r->tls.verified ? 1 : 0);
		else
			sqlite3_bind_null(stmt, 11);
		if (sqlite3_step(stmt) != SQLITE_DONE)
			return smd_store_fail(db, "update recipient", error);
	}
	if (!smd_event_insert_all(db, update->events, error))
		return FALSE;
	return smd_store_destroy_body_if_done(db, update->job->message_id, &update->body_destroyed,
					      error);
}

void
smd_active_load_free(SmdActiveLoad *load)
{
	g_clear_pointer(&load->jobs, g_ptr_array_unref);
	g_free(load);
}

/* Recipients as jobs (one per message and domain) from @sql, which selects
 * r.id, r.address, r.domain, r.attempts, r.next_attempt_at, m.id,
 * m.queue_id, m.sender, m.received_at and m.notification in that order,
 * sorted by message and domain. */
static gboolean
smd_store_load_jobs(sqlite3 *db, const gchar *sql, SmdActiveLoad *load, GError **error)
{
	SmdJob *job = NULL;
	g_autoptr(sqlite3_stmt) stmt = smd_store_prepare(db, sql, error);
	gint rc;

	if (stmt == NULL)
		return FALSE;
	load->jobs = g_ptr_array_new_with_free_func((GDestroyNotify)smd_job_free);
	while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
		gint64 message_id = sqlite3_column_int64(stmt, 5);
		const gchar *domain = (const gchar *)sqlite3_column_text(stmt, 2);
		gint64 next = sqlite3_column_int64(stmt, 4);
		if (job == NULL || job->message_id != message_id ||
		    g_strcmp0(job->domain, domain) != 0) {
			job = smd_job_new(message_id, (const gchar *)sqlite3_column_text(stmt, 6),
					  (const gchar *)sqlite3_column_text(stmt, 7),
					  sqlite3_column_int64(stmt, 8), domain);
			job->due_at = next;
			job->notification = sqlite3_column_int(stmt, 9) != 0;
			g_ptr_array_add(load->jobs, job);
		}
		job->due_at = MIN(job->due_at, next);
		g_ptr_array_add(job->recipients,
				smd_recipient_new(sqlite3_column_int64(stmt, 0),
						  (const gchar *)sqlite3_column_text(stmt, 1),
						  (guint)sqlite3_column_int(stmt, 3)));
	}
	if (rc != SQLITE_DONE)
		return smd_store_fail(db, "load recipients", error);
	return TRUE;
}

#define SMD_STORE_JOB_COLUMNS                                                                      \
	"SELECT r.id, r.address, r.domain, r.attempts, r.next_attempt_at, m.id, m.queue_id, "      \
	"m.sender, m.received_at, m.notification FROM recipients r JOIN messages m ON m.id = "     \
	"r.message_id "

gboolean
smd_store_load_active(sqlite3 *db, gpointer data, GError **error)
{
	return smd_store_load_jobs(db,
				   SMD_STORE_JOB_COLUMNS "WHERE r.state IN ('queued', 'deferred') "
							 "ORDER BY m.id, r.domain, r.id",
				   data, error);
}

gboolean
smd_store_load_held(sqlite3 *db, gpointer data, GError **error)
{
	return smd_store_load_jobs(db,
				   SMD_STORE_JOB_COLUMNS
				   "WHERE r.state = 'held' AND m.notification = 0 AND "
				   "m.wrapped_key IS NOT NULL ORDER BY m.id, r.domain, r.id",
				   data, error);
}

/* per batch: a backlog goes batch after batch, each a short transaction
 * of its own, never one long one that would hold up the 250s. Events and
 * SMS records are appended as time goes, so the oldest by id are the
 * oldest: a look at the first rows of their primary key, not a scan of a
 * table with no index on its time. */
#define SMD_PRUNE_BATCH 500

gboolean
smd_store_prune_log(sqlite3 *db, gpointer data, GError **error)
{
	SmdLogPrune *prune = data;
	gint64 cutoff = smd_now() - (gint64)prune->log_retention;
	g_autoptr(sqlite3_stmt) messages = smd_store_prepare(
	    db,
	    "DELETE FROM messages WHERE id IN (SELECT id FROM messages WHERE received_at < ?1 "
	    "AND wrapped_key IS NULL AND NOT EXISTS (SELECT 1 FROM bodies b WHERE b.message_id = "
	    "messages.id) AND NOT EXISTS (SELECT 1 FROM recipients r WHERE r.message_id = "
	    "messages.id AND r.state IN ('queued', 'deferred')) ORDER BY received_at LIMIT ?2)",
	    error);
	g_autoptr(sqlite3_stmt) events = smd_store_prepare(
	    db,
	    "DELETE FROM events WHERE id IN (SELECT id FROM events ORDER BY id LIMIT ?2) AND "
	    "time < ?1",
	    error);
	g_autoptr(sqlite3_stmt) sms = smd_store_prepare(
	    db,
	    "DELETE FROM sms_sends WHERE id IN (SELECT id FROM sms_sends ORDER BY id LIMIT ?2) "
	    "AND sent_at < ?1",
	    error);

	if (messages == NULL || events == NULL || sms == NULL)
		return FALSE;
	sqlite3_bind_int64(messages, 1, cutoff);
	sqlite3_bind_int(messages, 2, SMD_PRUNE_BATCH);
	if (sqlite3_step(messages) != SQLITE_DONE)
		return smd_store_fail(db, "prune messages", error);
	prune->messages = (guint)sqlite3_changes(db);
	sqlite3_bind_int64(events, 1, cutoff * G_USEC_PER_SEC); /* events are in µs */
	sqlite3_bind_int(events, 2, SMD_PRUNE_BATCH * 4);
	if (sqlite3_step(events) != SQLITE_DONE)
		return smd_store_fail(db, "prune events", error);
	prune->events = (guint)sqlite3_changes(db);
	sqlite3_bind_int64(sms, 1, cutoff);
	sqlite3_bind_int(sms, 2, SMD_PRUNE_BATCH);
	if (sqlite3_step(sms) != SQLITE_DONE)
		return smd_store_fail(db, "prune SMS records", error);
	prune->more = prune->messages == SMD_PRUNE_BATCH || prune->events == SMD_PRUNE_BATCH * 4 ||
		      sqlite3_changes(db) == SMD_PRUNE_BATCH;
	return TRUE;
}
