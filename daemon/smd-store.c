/*
 * SecuMailer — the store: connection, worker thread, migrations.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-store"

#include "config.h"

#include <glib/gi18n.h>

#include "smd-common.h"
#include "smd-error.h"
#include "smd-store.h"

/* Bound on one transaction: keeps latency of the first op in a batch low. */
#define SMD_STORE_MAX_BATCH 512

typedef struct {
	SmdStoreFunc func;
	gpointer data;
	GDestroyNotify destroy;
	gboolean lazy;	 /* smd_store_run_lazy_async() */
	GTask *task;	 /* async callers */
	SmdStore *store; /* async callers: a reference, counted in its in_flight */
	/* sync callers */
	GMutex *mutex;
	GCond *cond;
	gboolean done;
	gboolean ok;
	GError *error;
} SmdStoreOp;

struct _SmdStore {
	GObject parent_instance;
	sqlite3 *db;
	GThread *worker;
	GAsyncQueue *ops;
	/* the worker's: lazy commits (smd_store_run_lazy_async()) */
	gboolean unflushed;	  /* synchronous=NORMAL is set */
	gboolean lazy_pending;	  /* lazy commits since the last flushed one */
	gboolean must_checkpoint; /* a commit failed after lazy ones */
	/* reads on their own connection: WAL lets them run beside the
	 * writer, so the portal and the admin app never wait for a commit's
	 * fsync, and a long query never holds up a 250 */
	sqlite3 *reader_db;
	GThread *reader;
	GAsyncQueue *reads;
	/* async operations whose callback has not run yet: a stop waits for
	 * them, so what they log (the portal's events) is not lost */
	gint in_flight;
	/* the database file's free pages, for new rows: room for mail that
	 * the file system's free space does not show */
	gint free_pages;
	gint page_size;
};

G_DEFINE_TYPE(SmdStore, smd_store, G_TYPE_OBJECT)

/* pushed to make the worker exit */
static SmdStoreOp smd_store_stop_marker;

/* One step per schema version; index i brings version i to i + 1. */
static const gchar *const smd_store_migrations[] = {
    /* 0 → 1 */
    "CREATE TABLE messages ("
    "  id INTEGER PRIMARY KEY,"
    "  queue_id TEXT NOT NULL UNIQUE,"
    "  received_at INTEGER NOT NULL,"
    "  sender TEXT NOT NULL,"
    "  size INTEGER NOT NULL,"
    "  client_address TEXT NOT NULL,"
    "  helo TEXT,"
    "  inbound_tls TEXT,"
    "  wrapped_key BLOB"
    ");"
    /* bodies apart, so destroying one leaves the metadata for the log */
    "CREATE TABLE bodies ("
    "  message_id INTEGER PRIMARY KEY REFERENCES messages(id) ON DELETE CASCADE,"
    "  envelope BLOB NOT NULL"
    ");"
    "CREATE TABLE recipients ("
    "  id INTEGER PRIMARY KEY,"
    "  message_id INTEGER NOT NULL REFERENCES messages(id) ON DELETE CASCADE,"
    "  address TEXT NOT NULL,"
    "  domain TEXT NOT NULL,"
    "  state TEXT NOT NULL,"
    "  attempts INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at INTEGER NOT NULL DEFAULT 0,"
    "  updated_at INTEGER NOT NULL,"
    "  last_reply TEXT,"
    "  relay TEXT,"
    "  tls_version TEXT,"
    "  tls_cipher TEXT,"
    "  tls_peer_sha256 TEXT,"
    "  tls_verified INTEGER"
    ");"
    "CREATE INDEX recipients_message ON recipients(message_id);"
    "CREATE INDEX recipients_state ON recipients(state, next_attempt_at);"
    "CREATE INDEX recipients_address ON recipients(address);"
    "CREATE TABLE events ("
    "  id INTEGER PRIMARY KEY,"
    "  time INTEGER NOT NULL,"
    "  level TEXT NOT NULL,"
    "  kind TEXT NOT NULL,"
    "  message TEXT NOT NULL,"
    "  queue_id TEXT,"
    "  recipient TEXT,"
    "  detail TEXT"
    ");"
    "CREATE INDEX events_queue_id ON events(queue_id);",
    /* 1 → 2 */
    "CREATE TABLE phones ("
    "  address TEXT PRIMARY KEY," /* lower-cased e-mail address */
    "  number TEXT NOT NULL,"	  /* E.164 */
    "  registered_by TEXT NOT NULL,"
    "  registered_from TEXT,"
    "  registered_at INTEGER NOT NULL"
    ");"
    "CREATE TABLE links ("
    "  id INTEGER PRIMARY KEY,"
    "  token_hash TEXT NOT NULL UNIQUE," /* SHA-256 of the token, never the token */
    "  kind TEXT NOT NULL,"		 /* registration | recipient */
    "  address TEXT NOT NULL,"		 /* the recipient, lower-cased */
    "  message_id INTEGER REFERENCES messages(id) ON DELETE CASCADE,"
    "  recipient_id INTEGER REFERENCES recipients(id) ON DELETE CASCADE,"
    "  requested_by TEXT," /* registration links: the sender asked */
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  failures INTEGER NOT NULL DEFAULT 0,"
    "  locked INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE INDEX links_address ON links(kind, address);"
    "CREATE TABLE pins ("
    "  link_id INTEGER PRIMARY KEY REFERENCES links(id) ON DELETE CASCADE,"
    "  pin_mac TEXT NOT NULL,"
    "  created_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  tries INTEGER NOT NULL DEFAULT 0"
    ");"
    "CREATE TABLE sms_sends ("
    "  id INTEGER PRIMARY KEY,"
    "  link_id INTEGER,"
    "  number TEXT NOT NULL,"
    "  client_address TEXT,"
    "  sent_at INTEGER NOT NULL"
    ");"
    "CREATE INDEX sms_sends_number ON sms_sends(number, sent_at);"
    "CREATE INDEX sms_sends_link ON sms_sends(link_id, sent_at);"
    /* notifications carry no content: delivered with TLS when offered,
     * without it otherwise, and never held */
    "ALTER TABLE messages ADD COLUMN notification INTEGER NOT NULL DEFAULT 0;",
    /* 2 → 3: the subject for the admin app's deliveries list, sealed with
     * the vault's metadata key (it outlives the body) */
    "ALTER TABLE messages ADD COLUMN subject BLOB;"
    /* the overview's counts per day and the deliveries list by time */
    "CREATE INDEX messages_received ON messages(received_at);"
    /* the deliveries list by state and by address, newest first, without
     * reading a million rows (bench/scale) */
    "CREATE INDEX recipients_state_message ON recipients(state, message_id);"
    "CREATE INDEX recipients_address_nocase ON recipients(address COLLATE NOCASE, message_id);"
    "CREATE INDEX messages_sender_nocase ON messages(sender COLLATE NOCASE, id);"
    /* the few portal e-mails, to leave them out of the statistics */
    "CREATE INDEX messages_notification ON messages(id) WHERE notification = 1;",
    /* 3 → 4: which master key this store belongs to (a MAC of a constant
     * under it): a wrong key refuses to start instead of making every
     * stored body look tampered with */
    "CREATE TABLE vault_check (id INTEGER PRIMARY KEY CHECK (id = 1), mac TEXT NOT NULL);",
};

G_STATIC_ASSERT(G_N_ELEMENTS(smd_store_migrations) == SMD_STORE_SCHEMA_VERSION);

gboolean
smd_store_fail(sqlite3 *db, const gchar *what, GError **error)
{
	/* a full disk is worth telling apart: SMTP says 452 4.3.1 for it */
	g_set_error(error, SMD_ERROR,
		    sqlite3_errcode(db) == SQLITE_FULL ? SMD_ERROR_STORE_FULL : SMD_ERROR_STORE,
		    _("Database error (%s): %s"), what, sqlite3_errmsg(db));
	return FALSE;
}

gboolean
smd_store_exec(sqlite3 *db, const gchar *sql, GError **error)
{
	if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK)
		return smd_store_fail(db, sql, error);
	return TRUE;
}

sqlite3_stmt *
smd_store_prepare(sqlite3 *db, const gchar *sql, GError **error)
{
	sqlite3_stmt *stmt = NULL;
	/* prepare is cheap next to the fsync the statement is batched with */
	if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, NULL) != SQLITE_OK) {
		smd_store_fail(db, "prepare", error);
		return NULL;
	}
	/* SQL of only blanks or comments is no statement, and no error */
	if (stmt == NULL)
		g_set_error(error, SMD_ERROR, SMD_ERROR_INTERNAL, "no SQL statement in “%s”", sql);
	return stmt;
}

/* per store thread (each has one connection): SQL literal → statement;
 * finalized when the thread ends, before the store closes the connection */
static GPrivate smd_store_stmt_cache = G_PRIVATE_INIT((GDestroyNotify)g_hash_table_unref);

static void
smd_store_stmt_finalize(gpointer stmt)
{
	sqlite3_finalize(stmt);
}

SmdCachedStmt *
smd_store_prepare_cached_literal(sqlite3 *db, const gchar *sql, GError **error)
{
	GHashTable *cache = g_private_get(&smd_store_stmt_cache);
	sqlite3_stmt *stmt;

	if (cache == NULL) {
		cache = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
					      smd_store_stmt_finalize);
		g_private_set(&smd_store_stmt_cache, cache);
	}
	stmt = g_hash_table_lookup(cache, sql);
	if (stmt != NULL && sqlite3_db_handle(stmt) == db)
		return (SmdCachedStmt *)stmt;
	stmt = smd_store_prepare(db, sql, error);
	if (stmt != NULL)
		g_hash_table_replace(cache, (gpointer)sql, stmt);
	return (SmdCachedStmt *)stmt;
}

void
smd_store_release(SmdCachedStmt *cached)
{
	sqlite3_reset(smd_cached_stmt(cached));
	sqlite3_clear_bindings(smd_cached_stmt(cached));
}

/* smd_store_exec() of a statement the thread runs again and again: the
 * worker's BEGIN, SAVEPOINT, RELEASE and COMMIT for every batch and every
 * operation in it were parsed anew each time, 7 % of the daemon's CPU
 * under load (perf, bench/relay). */
static gboolean
smd_store_exec_cached(sqlite3 *db, const gchar *sql, GError **error)
{
	/* @sql is a literal at every caller */
	g_autoptr(SmdCachedStmt) cached = smd_store_prepare_cached_literal(db, sql, error);
	sqlite3_stmt *stmt = smd_cached_stmt(cached);
	int rc;

	if (stmt == NULL)
		return FALSE;
	rc = sqlite3_step(stmt);
	if (rc != SQLITE_DONE && rc != SQLITE_ROW)
		return smd_store_fail(db, sql, error);
	return TRUE;
}

#define SMD_STORE_FREE_PAGES_SQL                                                                   \
	"SELECT freelist_count, page_size FROM pragma_freelist_count(), pragma_page_size()"

static void
smd_store_read_reusable(SmdStore *self, sqlite3_stmt *stmt)
{
	if (stmt != NULL && sqlite3_step(stmt) == SQLITE_ROW) {
		g_atomic_int_set(&self->free_pages, sqlite3_column_int(stmt, 0));
		g_atomic_int_set(&self->page_size, sqlite3_column_int(stmt, 1));
	}
}

/* After a commit, in the worker: what the deletions gave back to the
 * file's free pages. (Its statement is the worker's: a cached one
 * prepared on another thread would keep the connection from closing.) */
static void
smd_store_count_reusable(SmdStore *self)
{
	g_autoptr(SmdCachedStmt) cached =
	    smd_store_prepare_cached(self->db, SMD_STORE_FREE_PAGES_SQL, NULL);
	smd_store_read_reusable(self, smd_cached_stmt(cached));
}

guint64
smd_store_reusable_bytes(SmdStore *self)
{
	return (guint64)g_atomic_int_get(&self->free_pages) *
	       (guint64)g_atomic_int_get(&self->page_size);
}

static gint
smd_store_user_version(sqlite3 *db)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	if (sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL) != SQLITE_OK ||
	    sqlite3_step(stmt) != SQLITE_ROW)
		return -1;
	return sqlite3_column_int(stmt, 0);
}

gboolean
smd_store_migrate(sqlite3 *db, guint target, GError **error)
{
	gint version = smd_store_user_version(db);

	if (version < 0)
		return smd_store_fail(db, "user_version", error);
	if (version > SMD_STORE_SCHEMA_VERSION) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_STORE,
			    _("The database has schema version %d, newer than this program "
			      "understands (%d); refusing to touch it"),
			    version, SMD_STORE_SCHEMA_VERSION);
		return FALSE;
	}
	for (guint v = (guint)version; v < target && v < SMD_STORE_SCHEMA_VERSION; v++) {
		g_autofree gchar *bump = g_strdup_printf("PRAGMA user_version = %u", v + 1);
		if (!smd_store_exec(db, "BEGIN IMMEDIATE", error))
			return FALSE;
		if (!smd_store_exec(db, smd_store_migrations[v], error) ||
		    !smd_store_exec(db, bump, error)) {
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
			g_prefix_error(error, _("Migration to schema version %u failed: "), v + 1);
			return FALSE;
		}
		if (!smd_store_exec(db, "COMMIT", error))
			return FALSE;
		g_info("migrated the store to schema version %u", v + 1);
	}
	return TRUE;
}

static void
smd_store_op_complete(SmdStoreOp *op, gboolean ok, GError *error)
{
	if (op->task != NULL) {
		GTask *task = g_steal_pointer(&op->task);
		if (ok)
			g_task_return_boolean(task, TRUE);
		else
			g_task_return_error(task, error);
		g_object_unref(task);
		return;
	}
	g_mutex_lock(op->mutex);
	op->ok = ok;
	op->error = error;
	op->done = TRUE;
	g_cond_signal(op->cond);
	g_mutex_unlock(op->mutex);
}

/* The next operation (waiting for it) and whatever else is queued behind
 * it, at most SMD_STORE_MAX_BATCH; *stop once the stop marker came. */
static GPtrArray *
smd_store_take_batch(GAsyncQueue *queue, gboolean *stop)
{
	GPtrArray *batch = g_ptr_array_new();
	SmdStoreOp *op = g_async_queue_pop(queue);

	while (op != NULL) {
		if (op == &smd_store_stop_marker) {
			*stop = TRUE;
			break;
		}
		g_ptr_array_add(batch, op);
		if (batch->len >= SMD_STORE_MAX_BATCH)
			break;
		op = g_async_queue_try_pop(queue);
	}
	return batch;
}

/* Sets the commit's durability. A batch of lazy operations only is
 * committed unflushed: WAL with synchronous=NORMAL keeps it atomic, and
 * the next flushed commit (or checkpoint) takes it to stable storage.
 * But when a commit failed after lazy ones (a failing fsync), the kernel
 * may have dropped their pages with the error: a hole in the WAL on disk,
 * where recovery would stop and lose every later commit, 250 or not.
 * So before anything is committed again, a checkpoint copies them into
 * the database file, flushes it and restarts the WAL; until it succeeds
 * nothing is committed (451). */
static gboolean
smd_store_prepare_commit(SmdStore *self, gboolean lazy, GError **error)
{
	int rc;

	if (lazy != self->unflushed) {
		const gchar *sql =
		    lazy ? "PRAGMA synchronous = NORMAL" : "PRAGMA synchronous = FULL";

		if (smd_store_exec_cached(self->db, sql, lazy ? NULL : error))
			self->unflushed = lazy;
		else if (!lazy)
			return FALSE; /* never a 250 without its flush */
				      /* a failed switch to NORMAL only costs a flush */
	}
	if (!self->must_checkpoint)
		return TRUE;
	rc = sqlite3_wal_checkpoint_v2(self->db, NULL, SQLITE_CHECKPOINT_RESTART, NULL, NULL);
	if (rc != SQLITE_OK) {
		g_set_error(error, SMD_ERROR,
			    (rc & 0xff) == SQLITE_FULL ? SMD_ERROR_STORE_FULL : SMD_ERROR_STORE,
			    _("The store cannot make earlier writes durable: %s"),
			    sqlite3_errstr(rc));
		return FALSE;
	}
	g_message("the store's earlier writes are on disk again (checkpoint after a failed "
		  "flush)");
	self->must_checkpoint = FALSE;
	self->lazy_pending = FALSE;
	return TRUE;
}

static gpointer
smd_store_worker(gpointer user_data)
{
	SmdStore *self = user_data;
	gboolean stop = FALSE;

	while (!stop) {
		/* whatever else is waiting goes too: that is the group commit */
		g_autoptr(GPtrArray) batch = smd_store_take_batch(self->ops, &stop);
		g_autofree gboolean *ok = NULL;
		g_autofree GError **errors = NULL;
		g_autoptr(GError) commit_error = NULL;
		gboolean full = FALSE; /* the disk filled up during this batch */
		gboolean lazy = TRUE;
		sqlite3_int64 changes = sqlite3_total_changes64(self->db);
		SmdStoreOp *op;

		if (batch->len == 0)
			continue;
		for (guint i = 0; i < batch->len; i++)
			lazy = lazy && ((SmdStoreOp *)g_ptr_array_index(batch, i))->lazy;
		ok = g_new0(gboolean, batch->len);
		errors = g_new0(GError *, batch->len);
		if (!smd_store_prepare_commit(self, lazy, &commit_error) ||
		    !smd_store_exec_cached(self->db, "BEGIN IMMEDIATE", &commit_error)) {
			for (guint i = 0; i < batch->len; i++)
				smd_store_op_complete(g_ptr_array_index(batch, i), FALSE,
						      g_error_copy(commit_error));
			continue;
		}
		for (guint i = 0; i < batch->len; i++) {
			op = g_ptr_array_index(batch, i);
			/* SQLite rolls the whole transaction back on FULL, IOERR or
			 * NOMEM: then nothing of this batch may run outside it */
			if (sqlite3_get_autocommit(self->db)) {
				g_set_error_literal(&errors[i], SMD_ERROR,
						    full ? SMD_ERROR_STORE_FULL : SMD_ERROR_STORE,
						    _("Database transaction was aborted"));
				continue;
			}
			smd_store_exec_cached(self->db, "SAVEPOINT op", NULL);
			ok[i] = op->func(self->db, op->data, &errors[i]);
			if (!ok[i]) {
				if (errors[i] == NULL)
					g_set_error_literal(&errors[i], SMD_ERROR,
							    SMD_ERROR_INTERNAL,
							    "operation failed without an error");
				full = full ||
				       g_error_matches(errors[i], SMD_ERROR, SMD_ERROR_STORE_FULL);
				smd_store_exec_cached(self->db, "ROLLBACK TO op", NULL);
			}
			smd_store_exec_cached(self->db, "RELEASE op", NULL);
		}
		if (smd_store_exec_cached(self->db, "COMMIT", &commit_error)) {
			/* a flushed commit that wrote takes the lazy ones along */
			if (lazy)
				self->lazy_pending = TRUE;
			else if (sqlite3_total_changes64(self->db) != changes)
				self->lazy_pending = FALSE;
			smd_store_count_reusable(self);
		} else {
			/* an I/O error, not a full disk: the flush may have failed */
			if ((sqlite3_extended_errcode(self->db) & 0xff) == SQLITE_IOERR)
				self->must_checkpoint = self->lazy_pending;
			sqlite3_exec(self->db, "ROLLBACK", NULL, NULL, NULL);
			g_warning("commit failed: %s", commit_error->message);
			/* a COMMIT after SQLite rolled back for a full disk fails
			 * with "no transaction": the full disk is the news */
			if (full && !g_error_matches(commit_error, SMD_ERROR, SMD_ERROR_STORE_FULL))
				commit_error->code = SMD_ERROR_STORE_FULL;
			for (guint i = 0; i < batch->len; i++) {
				g_clear_error(&errors[i]);
				ok[i] = FALSE;
				errors[i] = g_error_copy(commit_error);
			}
		}
		for (guint i = 0; i < batch->len; i++)
			smd_store_op_complete(g_ptr_array_index(batch, i), ok[i], errors[i]);
	}
	return NULL;
}

static gpointer
smd_store_reader(gpointer user_data)
{
	SmdStore *self = user_data;
	gboolean stop = FALSE;

	while (!stop) {
		/* what waits runs in one snapshot: one wake-up for a burst */
		g_autoptr(GPtrArray) batch = smd_store_take_batch(self->reads, &stop);

		smd_store_exec_cached(self->reader_db, "BEGIN", NULL);
		for (guint i = 0; i < batch->len; i++) {
			SmdStoreOp *o = g_ptr_array_index(batch, i);
			GError *error = NULL;
			gboolean ok = o->func(self->reader_db, o->data, &error);
			smd_store_op_complete(o, ok, error);
		}
		smd_store_exec_cached(self->reader_db, "COMMIT", NULL);
	}
	return NULL;
}

static gboolean
smd_store_open(SmdStore *self, const gchar *path, GError **error)
{
	if (sqlite3_open_v2(path, &self->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_STORE, _("Cannot open the database %s: %s"),
			    path, self->db != NULL ? sqlite3_errmsg(self->db) : "out of memory");
		return FALSE;
	}
	sqlite3_busy_timeout(self->db, 10000);
	sqlite3_extended_result_codes(self->db, 1);
	/* synchronous=FULL: a COMMIT is on stable storage before we answer 250 */
	if (!smd_store_exec(self->db, "PRAGMA journal_mode = WAL", error) ||
	    !smd_store_exec(self->db, "PRAGMA synchronous = FULL", error) ||
	    !smd_store_exec(self->db, "PRAGMA foreign_keys = ON", error) ||
	    !smd_store_exec(self->db, "PRAGMA secure_delete = ON", error))
		return FALSE;
	if (!smd_store_migrate(self->db, SMD_STORE_SCHEMA_VERSION, error))
		return FALSE;
	{
		g_autoptr(sqlite3_stmt) stmt =
		    smd_store_prepare(self->db, SMD_STORE_FREE_PAGES_SQL, NULL);
		smd_store_read_reusable(self, stmt);
	}
	return TRUE;
}

SmdStore *
smd_store_new(const gchar *path, GError **error)
{
	g_autoptr(SmdStore) self = g_object_new(SMD_TYPE_STORE, NULL);

	if (!smd_store_open(self, path, error))
		return NULL;
	if (sqlite3_open_v2(path, &self->reader_db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		g_set_error(
		    error, SMD_ERROR, SMD_ERROR_STORE, _("Cannot open the database %s: %s"), path,
		    self->reader_db != NULL ? sqlite3_errmsg(self->reader_db) : "out of memory");
		return NULL;
	}
	sqlite3_busy_timeout(self->reader_db, 10000);
	sqlite3_extended_result_codes(self->reader_db, 1);
	self->worker = g_thread_new("smd-store", smd_store_worker, self);
	self->reader = g_thread_new("smd-store-read", smd_store_reader, self);
	return g_steal_pointer(&self);
}

void
smd_store_close(SmdStore *self)
{
	g_return_if_fail(SMD_IS_STORE(self));
	if (self->reader != NULL) {
		g_async_queue_push(self->reads, &smd_store_stop_marker);
		g_thread_join(g_steal_pointer(&self->reader));
	}
	if (self->reader_db != NULL) {
		sqlite3_close(self->reader_db);
		self->reader_db = NULL;
	}
	if (self->worker != NULL) {
		g_async_queue_push(self->ops, &smd_store_stop_marker);
		g_thread_join(g_steal_pointer(&self->worker));
	}
	if (self->db != NULL) {
		/* lazy commits go to disk now, even when another process (the
		 * admin tool) keeps the database open and sqlite3_close() leaves
		 * the checkpoint to it */
		if (self->lazy_pending)
			sqlite3_wal_checkpoint_v2(self->db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL,
						  NULL);
		sqlite3_close(self->db);
		self->db = NULL;
	}
}

static void
smd_store_finalize(GObject *object)
{
	SmdStore *self = SMD_STORE(object);
	smd_store_close(self);
	g_async_queue_unref(self->ops);
	g_async_queue_unref(self->reads);
	G_OBJECT_CLASS(smd_store_parent_class)->finalize(object);
}

static void
smd_store_class_init(SmdStoreClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = smd_store_finalize;
}

static void
smd_store_init(SmdStore *self)
{
	self->ops = g_async_queue_new();
	self->reads = g_async_queue_new();
}

typedef struct {
	SmdStoreFunc func;
	gpointer data;
	GDestroyNotify destroy;
} SmdStoreTaskData;

static void
smd_store_task_data_free(gpointer p)
{
	SmdStoreTaskData *td = p;
	if (td->destroy != NULL && td->data != NULL)
		td->destroy(td->data);
	g_free(td);
}

/* With the task, once its callback has run: the operation's answer is in. */
static void
smd_store_op_free(gpointer p)
{
	SmdStoreOp *op = p;
	/* the op's own reference: a task frees its data after it has let go
	 * of its source object, which may have been the store's last one */
	g_atomic_int_dec_and_test(&op->store->in_flight);
	g_object_unref(op->store);
	g_free(op);
}

gboolean
smd_store_is_idle(SmdStore *self)
{
	return g_atomic_int_get(&self->in_flight) == 0;
}

static void
smd_store_queue(SmdStore *self, GAsyncQueue *queue, gboolean lazy, SmdStoreFunc func, gpointer data,
		GDestroyNotify destroy, GAsyncReadyCallback callback, gpointer user_data)
{
	SmdStoreOp *op;
	SmdStoreTaskData *td = g_new0(SmdStoreTaskData, 1);
	GTask *task = g_task_new(self, NULL, callback, user_data);

	td->func = func;
	td->data = data;
	td->destroy = destroy;
	g_task_set_task_data(task, td, smd_store_task_data_free);
	g_task_set_source_tag(task, smd_store_run_async);
	/* a finished operation is a reply someone waits for (a 250, a page):
	 * it goes before new work on the loop, which keeps accept p99 low */
	g_task_set_priority(task, G_PRIORITY_HIGH);
	if (self->worker == NULL) {
		/* shutting down: the caller learns it was not stored */
		g_task_return_new_error(task, SMD_ERROR, SMD_ERROR_STORE, _("The store is closed"));
		g_object_unref(task);
		return;
	}

	/* the op is freed here rather than by the worker: it only borrows */
	op = g_new0(SmdStoreOp, 1);
	op->func = func;
	op->data = data;
	op->lazy = lazy;
	op->task = task;
	op->store = g_object_ref(self);
	g_atomic_int_inc(&self->in_flight);
	g_task_set_check_cancellable(task, FALSE);
	g_object_set_data_full(G_OBJECT(task), "smd-store-op", op, smd_store_op_free);
	g_async_queue_push(queue, op);
}

void
smd_store_run_async(SmdStore *self, SmdStoreFunc func, gpointer data, GDestroyNotify destroy,
		    GAsyncReadyCallback callback, gpointer user_data)
{
	smd_store_queue(self, self->ops, FALSE, func, data, destroy, callback, user_data);
}

/* As smd_store_run_async(), for an operation that needs no flush of its
 * own: a read on the writer's connection (a body for delivery), or a
 * write that may be lost to a power cut because it would be redone (a
 * delivery outcome: the delivery is made again, at least once, as with
 * Postfix). A batch of such operations only is committed without a
 * flush; only a 250 needs one. At a low rate this halves the flushes
 * per message (bench/relay, the paced row). */
void
smd_store_run_lazy_async(SmdStore *self, SmdStoreFunc func, gpointer data, GDestroyNotify destroy,
			 GAsyncReadyCallback callback, gpointer user_data)
{
	smd_store_queue(self, self->ops, TRUE, func, data, destroy, callback, user_data);
}

/* As smd_store_run_async(), for an operation that only reads: it runs on
 * the reader's connection, beside the writer. */
void
smd_store_read_async(SmdStore *self, SmdStoreFunc func, gpointer data, GDestroyNotify destroy,
		     GAsyncReadyCallback callback, gpointer user_data)
{
	smd_store_queue(self, self->reads, FALSE, func, data, destroy, callback, user_data);
}

gboolean
smd_store_run_finish(SmdStore *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

gpointer
smd_store_run_get_data(GAsyncResult *result)
{
	SmdStoreTaskData *td = g_task_get_task_data(G_TASK(result));
	return td->data;
}

gpointer
smd_store_run_steal_data(GAsyncResult *result)
{
	SmdStoreTaskData *td = g_task_get_task_data(G_TASK(result));
	return g_steal_pointer(&td->data);
}

gboolean
smd_store_run_sync(SmdStore *self, SmdStoreFunc func, gpointer data, GError **error)
{
	GMutex mutex;
	GCond cond;
	SmdStoreOp op = {.func = func, .data = data, .mutex = &mutex, .cond = &cond};

	g_return_val_if_fail(SMD_IS_STORE(self), FALSE);
	g_return_val_if_fail(g_thread_self() != self->worker, FALSE);
	if (self->worker == NULL) {
		g_set_error_literal(error, SMD_ERROR, SMD_ERROR_STORE, _("The store is closed"));
		return FALSE;
	}

	g_mutex_init(&mutex);
	g_cond_init(&cond);
	g_async_queue_push(self->ops, &op);
	g_mutex_lock(&mutex);
	while (!op.done)
		g_cond_wait(&cond, &mutex);
	g_mutex_unlock(&mutex);
	g_mutex_clear(&mutex);
	g_cond_clear(&cond);
	if (!op.ok) {
		g_propagate_error(error, op.error);
		return FALSE;
	}
	return TRUE;
}
