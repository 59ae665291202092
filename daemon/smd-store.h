/*
 * SecuMailer — the store: one SQLite database in WAL mode, written by one
 * worker thread that batches whatever operations are waiting into one
 * transaction (group commit), so the main loop never blocks on fsync and
 * throughput does not collapse to one fsync per message.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/* Schema versions (PRAGMA user_version), one migration step each:
 *  1: messages, bodies (encrypted envelopes), recipients, events
 *  2: the portal: phones (directory of recipients' mobile numbers), links
 *     (hashed tokens of registration and recipient links), pins (keyed
 *     MACs of one-time pins), sms_sends (for rate limits);
 *     messages.notification (portal e-mails: TLS opportunistic) */
#define SMD_STORE_SCHEMA_VERSION 4

#define SMD_TYPE_STORE (smd_store_get_type())
G_DECLARE_FINAL_TYPE(SmdStore, smd_store, SMD, STORE, GObject)

/* Runs in the worker thread inside a transaction (a savepoint of its own:
 * a failing operation rolls back alone). Never touch the main loop here. */
typedef gboolean (*SmdStoreFunc)(sqlite3 *db, gpointer data, GError **error);

SmdStore *smd_store_new(const gchar *path, GError **error);
void smd_store_close(SmdStore *self);

/* @data is owned by the operation and freed with @destroy once the
 * callback has run; smd_store_run_get_data() reads it in the callback. */
void smd_store_run_async(SmdStore *self, SmdStoreFunc func, gpointer data, GDestroyNotify destroy,
			 GAsyncReadyCallback callback, gpointer user_data);
/* For operations that only read: on a connection of their own, never
 * waiting for the writer's commits (finish and get_data as above). */
void smd_store_read_async(SmdStore *self, SmdStoreFunc func, gpointer data, GDestroyNotify destroy,
			  GAsyncReadyCallback callback, gpointer user_data);
void smd_store_run_lazy_async(SmdStore *self, SmdStoreFunc func, gpointer data,
			      GDestroyNotify destroy, GAsyncReadyCallback callback,
			      gpointer user_data);
gboolean smd_store_run_finish(SmdStore *self, GAsyncResult *result, GError **error);
gpointer smd_store_run_get_data(GAsyncResult *result);
/* The same, and the caller's to free from now on (to try it again). */
gpointer smd_store_run_steal_data(GAsyncResult *result);

/* Blocks until the operation is committed; not from the worker thread. */
gboolean smd_store_run_sync(SmdStore *self, SmdStoreFunc func, gpointer data, GError **error);

/* Bytes free inside the database file after the last commit (its free
 * pages, which new rows take first): any thread. */
guint64 smd_store_reusable_bytes(SmdStore *self);

/* TRUE when every async operation's callback has run (a stop waits for it). */
gboolean smd_store_is_idle(SmdStore *self);

/* Brings @db from its user_version up to @target (for the tests: any
 * intermediate version). */
gboolean smd_store_migrate(sqlite3 *db, guint target, GError **error);

/* Helpers for operations: set @error from the connection's last error. */
gboolean smd_store_fail(sqlite3 *db, const gchar *what, GError **error);
gboolean smd_store_exec(sqlite3 *db, const gchar *sql, GError **error);
sqlite3_stmt *smd_store_prepare(sqlite3 *db, const gchar *sql, GError **error);

/* For the hottest statements (every portal request): prepared once per
 * store thread for @sql, handed back reset when its g_autoptr(SmdCachedStmt)
 * goes. The cache owns the statement: a type of its own, so that it
 * cannot end up in a g_autoptr(sqlite3_stmt), which would finalize it;
 * smd_cached_stmt() is the statement to bind and step. The cache is keyed
 * by the SQL's address, so the macro takes string literals only. */
typedef struct _SmdCachedStmt SmdCachedStmt;

static inline sqlite3_stmt *
smd_cached_stmt(SmdCachedStmt *cached)
{
	return (sqlite3_stmt *)cached;
}

#define smd_store_prepare_cached(db, sql, error)                                                   \
	smd_store_prepare_cached_literal((db), "" sql "", (error))
SmdCachedStmt *smd_store_prepare_cached_literal(sqlite3 *db, const gchar *sql, GError **error);
void smd_store_release(SmdCachedStmt *stmt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdCachedStmt, smd_store_release)

G_END_DECLS
