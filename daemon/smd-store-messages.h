/*
 * SecuMailer — store operations on messages and their recipients. Each
 * is an SmdStoreFunc run in the store's worker thread; its data struct
 * carries the inputs and receives the outputs.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <sqlite3.h>

#include "smd-queue-types.h"

G_BEGIN_DECLS

typedef struct {
	gchar *queue_id;
	gint64 received_at;
	gchar *sender;
	gsize size;
	gchar *client_address;
	gchar *helo;
	gchar *inbound_tls;
	gboolean notification;
	GBytes *wrapped_key;
	GBytes *envelope;
	GBytes *subject;       /* sealed (smd_vault_seal_meta), or NULL */
	GPtrArray *recipients; /* of gchar* addresses */
	GPtrArray *events;     /* of SmdEvent, written in the same transaction */
	/* out */
	gint64 message_id;
	GPtrArray *jobs; /* of SmdJob, one per recipient domain */
} SmdNewMessage;

void smd_new_message_free(SmdNewMessage *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdNewMessage, smd_new_message_free)
gboolean smd_store_insert_message(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	gint64 message_id;
	/* out */
	gchar *queue_id;
	GBytes *wrapped_key;
	GBytes *envelope;
} SmdBodyLoad;

void smd_body_load_free(SmdBodyLoad *load);
gboolean smd_store_load_body(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	SmdJob *job;	   /* recipients carry their outcome */
	GHashTable *retry; /* recipient id → next attempt time, for deferred ones */
	GPtrArray *events;
	/* out */
	gboolean body_destroyed;
} SmdOutcomeUpdate;

void smd_outcome_update_free(SmdOutcomeUpdate *update);
gboolean smd_store_record_outcomes(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	/* out: every queued or deferred recipient, grouped into jobs */
	GPtrArray *jobs;
} SmdActiveLoad;

void smd_active_load_free(SmdActiveLoad *load);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdActiveLoad, smd_active_load_free)
gboolean smd_store_load_active(sqlite3 *db, gpointer data, GError **error);
/* The recipients still 'held' (a message whose portal step never ran: no
 * portal then, or the step failed), with a body, not notifications; as
 * jobs (by message and domain), into an SmdActiveLoad. */
gboolean smd_store_load_held(sqlite3 *db, gpointer data, GError **error);

/* Deletes the body and key of @message_id once no recipient needs it
 * (every one delivered, bounced, expired or revoked). */
gboolean smd_store_destroy_body_if_done(sqlite3 *db, gint64 message_id, gboolean *destroyed,
					GError **error);

typedef struct {
	guint log_retention; /* in: seconds */
	guint messages;	     /* out: how many finished messages were forgotten */
	guint events;	     /* out: and log events */
	gboolean more;	     /* out: a batch was full, there is more to forget */
} SmdLogPrune;

/* [store] log-retention: messages older than it with nothing left to
 * deliver or show (their body and key destroyed) go, with their
 * recipients, links and pins; so do older log events and SMS records.
 * A batch at a time: the next tick takes the rest. */
gboolean smd_store_prune_log(sqlite3 *db, gpointer data, GError **error);

G_END_DECLS
