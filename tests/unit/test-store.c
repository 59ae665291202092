/*
 * SecuMailer — unit tests: the store's migrations and operations.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "smd-common.h"
#include "smd-error.h"
#include "smd-event.h"
#include "smd-store-messages.h"
#include "smd-store.h"

static gchar *
tmp_db(gchar **dir)
{
	*dir = g_dir_make_tmp("smd-store-XXXXXX", NULL);
	return g_build_filename(*dir, "test.db", NULL);
}

static void
rm_db(const gchar *dir, const gchar *path)
{
	g_autofree gchar *wal = g_strdup_printf("%s-wal", path);
	g_autofree gchar *shm = g_strdup_printf("%s-shm", path);
	g_unlink(path);
	g_unlink(wal);
	g_unlink(shm);
	g_rmdir(dir);
}

static gint
user_version(sqlite3 *db)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &stmt, NULL);
	sqlite3_step(stmt);
	return sqlite3_column_int(stmt, 0);
}

static gboolean
has_table(sqlite3 *db, const gchar *name)
{
	g_autoptr(sqlite3_stmt) stmt = NULL;
	sqlite3_prepare_v2(db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name=?1", -1,
			   &stmt, NULL);
	sqlite3_bind_text(stmt, 1, name, -1, SQLITE_STATIC);
	return sqlite3_step(stmt) == SQLITE_ROW;
}

/* Version 0 → 1: an empty database gets the first schema. */
static void
test_migration_v1(void)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = tmp_db(&dir);
	sqlite3 *db = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(user_version(db), ==, 0);
	g_assert_true(smd_store_migrate(db, 1, &error));
	g_assert_no_error(error);
	g_assert_cmpint(user_version(db), ==, 1);
	for (guint i = 0; i < 4; i++)
		g_assert_true(has_table(
		    db, (const gchar *[]){"messages", "bodies", "recipients", "events"}[i]));
	/* running it again changes nothing */
	g_assert_true(smd_store_migrate(db, SMD_STORE_SCHEMA_VERSION, &error));
	g_assert_cmpint(user_version(db), ==, SMD_STORE_SCHEMA_VERSION);
	sqlite3_close(db);
	rm_db(dir, path);
}

/* Version 1 → 2: the portal's tables appear, version 1 data stays. */
static void
test_migration_v2(void)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = tmp_db(&dir);
	sqlite3 *db = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;

	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_true(smd_store_migrate(db, 1, &error));
	g_assert_cmpint(user_version(db), ==, 1);
	g_assert_false(has_table(db, "phones"));
	g_assert_cmpint(
	    sqlite3_exec(db,
			 "INSERT INTO messages (queue_id, received_at, sender, size, "
			 "client_address) VALUES ('q1', 1, 'a@b.example', 3, '127.0.0.1');"
			 "INSERT INTO recipients (message_id, address, domain, state, "
			 "updated_at) VALUES (1, 'c@d.example', 'd.example', 'held', 1);",
			 NULL, NULL, NULL),
	    ==, SQLITE_OK);

	g_assert_true(smd_store_migrate(db, 2, &error));
	g_assert_no_error(error);
	g_assert_cmpint(user_version(db), ==, 2);
	for (guint i = 0; i < 4; i++)
		g_assert_true(
		    has_table(db, (const gchar *[]){"phones", "links", "pins", "sms_sends"}[i]));
	sqlite3_prepare_v2(db, "SELECT state FROM recipients WHERE address = 'c@d.example'", -1,
			   &stmt, NULL);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	g_assert_cmpstr((const gchar *)sqlite3_column_text(stmt, 0), ==, "held");
	sqlite3_finalize(g_steal_pointer(&stmt));
	sqlite3_close(db);
	rm_db(dir, path);
}

/* Version 2 → 3: messages get a (sealed) subject column; rows stay. */
static void
test_migration_v3(void)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = tmp_db(&dir);
	sqlite3 *db = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(sqlite3_stmt) stmt = NULL;

	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_true(smd_store_migrate(db, 2, &error));
	g_assert_cmpint(sqlite3_exec(db,
				     "INSERT INTO messages (queue_id, received_at, sender, size, "
				     "client_address) VALUES ('q1', 1, 'a@b.example', 3, '::1');",
				     NULL, NULL, NULL),
			==, SQLITE_OK);
	g_assert_true(smd_store_migrate(db, 3, &error));
	g_assert_no_error(error);
	g_assert_cmpint(user_version(db), ==, 3);
	sqlite3_prepare_v2(db, "SELECT sender, subject FROM messages WHERE queue_id = 'q1'", -1,
			   &stmt, NULL);
	g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
	g_assert_cmpstr((const gchar *)sqlite3_column_text(stmt, 0), ==, "a@b.example");
	g_assert_cmpint(sqlite3_column_type(stmt, 1), ==, SQLITE_NULL);
	sqlite3_finalize(g_steal_pointer(&stmt));
	sqlite3_close(db);
	rm_db(dir, path);
}

static void
test_newer_schema_refused(void)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = tmp_db(&dir);
	sqlite3 *db = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdStore) store = NULL;

	g_assert_cmpint(sqlite3_open(path, &db), ==, SQLITE_OK);
	g_assert_cmpint(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL), ==,
			SQLITE_OK);
	sqlite3_close(db);
	store = smd_store_new(path, &error);
	g_assert_null(store);
	g_assert_error(error, SMD_ERROR, SMD_ERROR_STORE);
	rm_db(dir, path);
}

static SmdNewMessage *
new_message(const gchar *queue_id, guint nrcpt)
{
	SmdNewMessage *msg = g_new0(SmdNewMessage, 1);
	msg->queue_id = g_strdup(queue_id);
	msg->received_at = smd_now();
	msg->sender = g_strdup("a@sender.example");
	msg->size = 3;
	msg->client_address = g_strdup("127.0.0.1");
	msg->wrapped_key = g_bytes_new_static("KEY", 3);
	msg->envelope = g_bytes_new_static("ENV", 3);
	msg->recipients = g_ptr_array_new_with_free_func(g_free);
	for (guint i = 0; i < nrcpt; i++)
		g_ptr_array_add(msg->recipients, g_strdup_printf("r%u@d%u.example", i, i % 2));
	msg->events = g_ptr_array_new_with_free_func((GDestroyNotify)smd_event_free);
	g_ptr_array_add(msg->events, smd_event_new(SMD_EVENT_INFO, "received", queue_id, NULL, NULL,
						   "Message received"));
	return msg;
}

static void
test_messages_lifecycle(void)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = tmp_db(&dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdStore) store = smd_store_new(path, &error);
	SmdNewMessage *msg = new_message("q1", 3);
	SmdBodyLoad *body = g_new0(SmdBodyLoad, 1);
	SmdActiveLoad *active = g_new0(SmdActiveLoad, 1);
	SmdOutcomeUpdate *update = g_new0(SmdOutcomeUpdate, 1);

	g_assert_no_error(error);
	g_assert_true(smd_store_run_sync(store, smd_store_insert_message, msg, &error));
	g_assert_no_error(error);
	/* two domains: two jobs */
	g_assert_cmpuint(msg->jobs->len, ==, 2);

	body->message_id = msg->message_id;
	g_assert_true(smd_store_run_sync(store, smd_store_load_body, body, &error));
	g_assert_cmpstr(body->queue_id, ==, "q1");
	g_assert_cmpmem(g_bytes_get_data(body->envelope, NULL), 3, "ENV", 3);

	g_assert_true(smd_store_run_sync(store, smd_store_load_active, active, &error));
	g_assert_cmpuint(active->jobs->len, ==, 2);

	/* every recipient delivered: the body and its key are destroyed */
	for (guint j = 0; j < msg->jobs->len; j++) {
		SmdJob *job = g_ptr_array_index(msg->jobs, j);
		for (guint i = 0; i < job->recipients->len; i++)
			((SmdRecipient *)g_ptr_array_index(job->recipients, i))->outcome =
			    SMD_OUTCOME_DELIVERED;
	}
	update->job = g_ptr_array_steal_index(msg->jobs, 0);
	g_assert_true(smd_store_run_sync(store, smd_store_record_outcomes, update, &error));
	g_assert_false(update->body_destroyed);
	smd_outcome_update_free(update);
	update = g_new0(SmdOutcomeUpdate, 1);
	update->job = g_ptr_array_steal_index(msg->jobs, 0);
	g_assert_true(smd_store_run_sync(store, smd_store_record_outcomes, update, &error));
	g_assert_true(update->body_destroyed);

	smd_body_load_free(body);
	body = g_new0(SmdBodyLoad, 1);
	body->message_id = msg->message_id;
	g_assert_false(smd_store_run_sync(store, smd_store_load_body, body, &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_NOT_FOUND);
	g_clear_error(&error);

	smd_active_load_free(active);
	active = g_new0(SmdActiveLoad, 1);
	g_assert_true(smd_store_run_sync(store, smd_store_load_active, active, &error));
	g_assert_cmpuint(active->jobs->len, ==, 0);

	smd_outcome_update_free(update);
	smd_active_load_free(active);
	smd_body_load_free(body);
	smd_new_message_free(msg);
	smd_store_close(store);
	rm_db(dir, path);
}

typedef struct {
	GMainLoop *loop;
	guint pending;
	guint ok;
} AsyncCounter;

static void
insert_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	AsyncCounter *c = user_data;
	if (smd_store_run_finish(SMD_STORE(source), result, NULL))
		c->ok++;
	if (--c->pending == 0)
		g_main_loop_quit(c->loop);
}

/* Many concurrent operations are committed in batches, each completed. */
static void
test_group_commit(void)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = tmp_db(&dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdStore) store = smd_store_new(path, &error);
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	AsyncCounter c = {.loop = loop};

	for (guint i = 0; i < 300; i++) {
		g_autofree gchar *qid = g_strdup_printf("q%u", i);
		c.pending++;
		smd_store_run_async(store, smd_store_insert_message, new_message(qid, 1),
				    (GDestroyNotify)smd_new_message_free, insert_cb, &c);
	}
	/* a duplicate queue id fails alone, without failing its batch mates */
	c.pending++;
	smd_store_run_async(store, smd_store_insert_message, new_message("q1", 1),
			    (GDestroyNotify)smd_new_message_free, insert_cb, &c);
	g_main_loop_run(loop);
	g_assert_cmpuint(c.ok, ==, 300);
	smd_store_close(store);
	rm_db(dir, path);
}

static gboolean
count_messages(sqlite3 *db, gpointer data, GError **error)
{
	g_autoptr(sqlite3_stmt) stmt =
	    smd_store_prepare(db, "SELECT count(*) FROM messages", error);
	if (stmt == NULL || sqlite3_step(stmt) != SQLITE_ROW)
		return FALSE;
	*(gint64 *)data = sqlite3_column_int64(stmt, 0);
	return TRUE;
}

static gboolean
try_to_write(sqlite3 *db, gpointer data, GError **error)
{
	return smd_store_exec(db, "DELETE FROM messages", error);
}

static void
read_done(GObject *source, GAsyncResult *result, gpointer user_data)
{
	gboolean *ok = user_data;
	g_autoptr(GError) error = NULL;
	ok[0] = TRUE;
	ok[1] = smd_store_run_finish(SMD_STORE(source), result, &error);
}

/* Reads run on their own read-only connection and see what was committed. */
static void
test_reader(void)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = tmp_db(&dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdStore) store = smd_store_new(path, &error);
	g_autoptr(SmdNewMessage) msg = new_message("q1", 1);
	gint64 count = 0;
	gboolean first[2] = {FALSE, FALSE};
	gboolean second[2] = {FALSE, FALSE};

	g_assert_no_error(error);
	g_assert_true(smd_store_run_sync(store, smd_store_insert_message, msg, &error));
	smd_store_read_async(store, count_messages, &count, NULL, read_done, first);
	while (!first[0])
		g_main_context_iteration(NULL, TRUE);
	g_assert_true(first[1]);
	g_assert_cmpint(count, ==, 1);
	smd_store_read_async(store, try_to_write, NULL, NULL, read_done, second);
	while (!second[0])
		g_main_context_iteration(NULL, TRUE);
	g_assert_false(second[1]); /* the reader cannot write */
	smd_store_close(store);
	rm_db(dir, path);
}

static gboolean
use_cached(sqlite3 *db, gpointer data, GError **error)
{
	sqlite3_stmt **seen = data;
	for (guint i = 0; i < 2; i++) {
		g_autoptr(SmdCachedStmt) stmt_cached =
		    smd_store_prepare_cached(db, "SELECT ?1", error);
		sqlite3_stmt *stmt = smd_cached_stmt(stmt_cached);
		if (stmt == NULL)
			return FALSE;
		/* handed back reset, without the last use's binding */
		g_assert_cmpint(sqlite3_step(stmt), ==, SQLITE_ROW);
		g_assert_cmpint(sqlite3_column_type(stmt, 0), ==, SQLITE_NULL);
		sqlite3_bind_int(stmt, 1, 42);
		seen[i] = stmt;
	}
	return TRUE;
}

/* The hottest statements are prepared once per store thread. */
static void
test_cached_statements(void)
{
	g_autofree gchar *dir = NULL;
	g_autofree gchar *path = tmp_db(&dir);
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdStore) store = smd_store_new(path, &error);
	sqlite3_stmt *seen[2] = {NULL, NULL};

	g_assert_no_error(error);
	g_assert_true(smd_store_run_sync(store, use_cached, seen, &error));
	g_assert_no_error(error);
	g_assert_nonnull(seen[0]);
	g_assert_true(seen[0] == seen[1]);
	smd_store_close(store);
	rm_db(dir, path);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/store/migration-v1", test_migration_v1);
	g_test_add_func("/secumailer/store/migration-v2", test_migration_v2);
	g_test_add_func("/secumailer/store/migration-v3", test_migration_v3);
	g_test_add_func("/secumailer/store/newer-schema-refused", test_newer_schema_refused);
	g_test_add_func("/secumailer/store/messages-lifecycle", test_messages_lifecycle);
	g_test_add_func("/secumailer/store/group-commit", test_group_commit);
	g_test_add_func("/secumailer/store/reader", test_reader);
	g_test_add_func("/secumailer/store/cached-statements", test_cached_statements);
	return g_test_run();
}
