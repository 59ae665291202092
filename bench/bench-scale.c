/*
 * SecuMailer — bench/scale's filler and timer.
 *
 * Fills a store to a number of messages through the store's own insert
 * (the one the SMTP intake uses), in big transactions, with a realistic
 * mix: 500 senders, 50 000 recipients, most delivered, some held, a few
 * bounced or revoked. Then times what the admin app asks: the deliveries
 * list's first page (no filter, by state, by address), statistics and
 * the pending requests — each the median of 7 runs. Prints one JSON
 * object. Figures, never a test.
 *
 *   bench-scale STORE-DIR MESSAGES
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "smd-admin-store.h"
#include "smd-common.h"
#include "smd-event.h"
#include "smd-store-messages.h"
#include "smd-store.h"
#include "smd-vault.h"

#define BATCH 5000

typedef struct {
	SmdVault *vault;
	gint64 first;
	gint64 count;
} Fill;

static const gchar *
pick_state(gint64 i)
{
	/* most mail goes out over TLS; the rest spread over the portal path */
	static const gchar *rare[] = {"held",	  "awaiting-registration",
				      "invited",  "pin-sent",
				      "opened",	  "downloaded",
				      "deferred", "bounced",
				      "expired",  "revoked"};
	return i % 10 != 0 ? "delivered" : rare[(i / 10) % G_N_ELEMENTS(rare)];
}

static gboolean
fill_batch(sqlite3 *db, gpointer data, GError **error)
{
	Fill *f = data;
	g_autoptr(GBytes) body = g_bytes_new_static("Subject: x\r\n\r\nbody\r\n", 21);
	/* deferred ones wait: a daemon started on the store must not spend
	 * the measurement retrying them */
	g_autoptr(sqlite3_stmt) state = smd_store_prepare(
	    db,
	    "UPDATE recipients SET state = ?2, next_attempt_at = CASE WHEN ?2 = 'deferred' THEN "
	    "?3 ELSE next_attempt_at END WHERE message_id = ?1",
	    error);
	g_autoptr(sqlite3_stmt) done =
	    smd_store_prepare(db, "DELETE FROM bodies WHERE message_id = ?1", error);

	if (state == NULL || done == NULL)
		return FALSE;
	for (gint64 i = f->first; i < f->first + f->count; i++) {
		g_autoptr(SmdNewMessage) msg = g_new0(SmdNewMessage, 1);
		const gchar *st = pick_state(i);

		msg->queue_id = g_strdup_printf("b%015" G_GINT64_FORMAT, i);
		/* spread over the last 30 days, oldest first */
		msg->received_at =
		    g_get_real_time() / G_USEC_PER_SEC - 30 * 86400 + i % (30 * 86400);
		msg->sender = g_strdup_printf("sender%u@clinic.example", (guint)(i % 500));
		msg->size = 10240;
		msg->client_address = g_strdup("127.0.0.1");
		msg->envelope =
		    smd_vault_seal(f->vault, msg->queue_id, body, &msg->wrapped_key, error);
		if (msg->envelope == NULL)
			return FALSE;
		msg->subject =
		    smd_vault_seal_meta(f->vault, "subject", msg->queue_id, "Lab results", error);
		msg->recipients = g_ptr_array_new_with_free_func(g_free);
		g_ptr_array_add(msg->recipients,
				g_strdup_printf("patient%u@mail%u.example", (guint)(i % 50000),
						(guint)(i % 100)));
		msg->events = g_ptr_array_new_with_free_func((GDestroyNotify)smd_event_free);
		if (!smd_store_insert_message(db, msg, error))
			return FALSE;
		sqlite3_reset(state);
		sqlite3_bind_int64(state, 1, msg->message_id);
		sqlite3_bind_text(state, 2, st, -1, SQLITE_STATIC);
		sqlite3_bind_int64(state, 3, g_get_real_time() / G_USEC_PER_SEC + 30 * 86400);
		if (sqlite3_step(state) != SQLITE_DONE)
			return smd_store_fail(db, "state", error);
		if (g_str_equal(st, "delivered") || g_str_equal(st, "bounced")) {
			/* as the daemon does once every recipient is done */
			sqlite3_reset(done);
			sqlite3_bind_int64(done, 1, msg->message_id);
			if (sqlite3_step(done) != SQLITE_DONE)
				return smd_store_fail(db, "body", error);
		}
	}
	return TRUE;
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

static int
compare_doubles(gconstpointer a, gconstpointer b)
{
	gdouble x = *(const gdouble *)a, y = *(const gdouble *)b;
	return x < y ? -1 : x > y;
}

typedef enum { Q_LIST, Q_STATS, Q_REQUESTS } QueryKind;

/* The median of 7 runs, in milliseconds. */
static gdouble
time_query(SmdStore *store, SmdVault *vault, QueryKind kind, const gchar *state,
	   const gchar *address, guint *rows)
{
	gdouble ms[7];

	for (guint run = 0; run < G_N_ELEMENTS(ms); run++) {
		g_autoptr(GError) error = NULL;
		gint64 t0 = g_get_monotonic_time();
		gboolean ok = FALSE;

		if (kind == Q_LIST) {
			SmdMessageList *l = g_new0(SmdMessageList, 1);
			l->state = g_strdup(state);
			/* a trailing '*' asks for the beginning of an address */
			l->address_prefix = address != NULL && g_str_has_suffix(address, "*");
			l->address = l->address_prefix ? g_strndup(address, strlen(address) - 1)
						       : g_strdup(address);
			l->limit = 100;
			l->vault = g_object_ref(vault);
			ok = smd_store_run_sync(store, smd_admin_store_messages, l, &error);
			*rows = l->rows != NULL ? l->rows->len : 0;
			smd_message_list_free(l);
		} else if (kind == Q_STATS) {
			SmdStatistics *s = g_new0(SmdStatistics, 1);
			ok = smd_store_run_sync(store, smd_admin_store_statistics, s, &error);
			*rows = s->states != NULL ? g_hash_table_size(s->states) : 0;
			smd_statistics_free(s);
		} else {
			SmdRequestList *r = g_new0(SmdRequestList, 1);
			ok = smd_store_run_sync(store, smd_admin_store_requests, r, &error);
			*rows = r->requests != NULL ? r->requests->len : 0;
			smd_request_list_free(r);
		}
		if (!ok) {
			g_printerr("query failed: %s\n", error->message);
			exit(EXIT_FAILURE);
		}
		ms[run] = (gdouble)(g_get_monotonic_time() - t0) / 1000.0;
	}
	qsort(ms, G_N_ELEMENTS(ms), sizeof(ms[0]), compare_doubles);
	return ms[G_N_ELEMENTS(ms) / 2];
}

int
main(int argc, char **argv)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdStore) store = NULL;
	g_autoptr(SmdVault) vault = NULL;
	g_autofree gchar *path = NULL;
	gint64 have = 0, want;
	gint64 t0;
	gdouble fill_s;
	guint rows = 0;
	const struct {
		const gchar *name;
		QueryKind kind;
		const gchar *state;
		const gchar *address;
	} queries[] = {
	    {"first_page", Q_LIST, NULL, NULL},
	    {"state_delivered", Q_LIST, "delivered", NULL},
	    {"state_revoked", Q_LIST, "revoked", NULL},
	    {"recipient", Q_LIST, NULL, "Patient17@mail17.example"},
	    {"sender", Q_LIST, NULL, "sender3@clinic.example"},
	    {"prefix", Q_LIST, NULL, "Patient17*"},
	    {"sender_and_state", Q_LIST, "awaiting-registration", "sender10@clinic.example"},
	    {"statistics", Q_STATS, NULL, NULL},
	    {"requests", Q_REQUESTS, NULL, NULL},
	};

	if (argc != 3) {
		g_printerr("usage: bench-scale STORE-DIR MESSAGES\n");
		return EXIT_FAILURE;
	}
	want = g_ascii_strtoll(argv[2], NULL, 10);
	g_mkdir_with_parents(argv[1], 0700);
	path = g_build_filename(argv[1], "secumailer.db", NULL);
	vault = smd_vault_new(argv[1], TRUE, &error);
	store = vault != NULL ? smd_store_new(path, &error) : NULL;
	if (store == NULL || !smd_store_run_sync(store, count_messages, &have, &error)) {
		g_printerr("%s\n", error->message);
		return EXIT_FAILURE;
	}
	t0 = g_get_monotonic_time();
	while (have < want) {
		Fill f = {.vault = vault, .first = have, .count = MIN(BATCH, want - have)};
		if (!smd_store_run_sync(store, fill_batch, &f, &error)) {
			g_printerr("fill: %s\n", error->message);
			return EXIT_FAILURE;
		}
		have += f.count;
	}
	fill_s = (gdouble)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
	g_print("{\"messages\": %" G_GINT64_FORMAT ", \"fill_seconds\": %.1f", have, fill_s);
	for (guint i = 0; i < G_N_ELEMENTS(queries); i++) {
		gdouble ms = time_query(store, vault, queries[i].kind, queries[i].state,
					queries[i].address, &rows);
		g_print(", \"%s_ms\": %.2f, \"%s_rows\": %u", queries[i].name, ms, queries[i].name,
			rows);
	}
	g_print("}\n");
	smd_store_close(store);
	return EXIT_SUCCESS;
}
