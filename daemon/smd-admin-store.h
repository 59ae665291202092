/*
 * SecuMailer — store queries of the admin API: statistics, pending
 * registration requests, the event log from a cursor.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <sqlite3.h>

#include "smd-vault.h"

G_BEGIN_DECLS

typedef struct {
	GHashTable *states; /* state → count (GUINT_TO_POINTER) */
	guint received_today;
	guint received_week;
	/* the last 7 days, oldest first: local midnight and the recipients of
	 * that day's messages per outcome (SMD_OUTCOME_*) */
	gint64 day_start[7];
	guint days[7][4];
} SmdStatistics;

enum { SMD_OUTCOME_TLS, SMD_OUTCOME_PORTAL, SMD_OUTCOME_WAITING, SMD_OUTCOME_FAILED };

typedef struct {
	gchar *search; /* in: part of the address, or NULL */
	guint offset;
	guint limit;
	GPtrArray *rows; /* out: GVariant (ssssx) */
} SmdPhoneList;

void smd_phone_list_free(SmdPhoneList *list);
gboolean smd_admin_store_phones(sqlite3 *db, gpointer data, GError **error);

void smd_statistics_free(SmdStatistics *stats);
gboolean smd_admin_store_statistics(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	gchar *recipient;
	GPtrArray *senders; /* of gchar* */
	gint64 since;
	guint count;
} SmdRequest;

typedef struct {
	GPtrArray *requests; /* out, of SmdRequest, oldest first */
} SmdRequestList;

void smd_request_list_free(SmdRequestList *list);
gboolean smd_admin_store_requests(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	gint64 after;	 /* in */
	guint limit;	 /* in */
	GPtrArray *rows; /* out: GVariant (xxssssss), floating refs sunk */
} SmdEventPage;

void smd_event_page_free(SmdEventPage *page);
gboolean smd_admin_store_events(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	/* in */
	gchar *queue_id; /* RevokeMessage */
	gchar *address;	 /* UnlockRecipient */
	gchar *by;
	/* out */
	guint count;
	GPtrArray *events;
} SmdAdminAction;

void smd_admin_action_free(SmdAdminAction *action);
/* SMD_ERROR_NOT_FOUND when the message has nothing held. */
gboolean smd_admin_store_revoke(sqlite3 *db, gpointer data, GError **error);
gboolean smd_admin_store_unlock(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	/* in */
	gchar *state;
	gchar *address;
	gboolean address_prefix; /* @address is the beginning of one */
	gchar *older_than;	 /* queue ids: keyset paging */
	gchar *newer_than;
	gint64 since; /* 0: no bound */
	gint64 until;
	guint offset;
	guint limit;
	SmdVault *vault; /* opens the subjects */
	/* out: GVariant (sxssta(ss)) */
	GPtrArray *rows;
} SmdMessageList;

void smd_message_list_free(SmdMessageList *list);
gboolean smd_admin_store_messages(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	gchar *queue_id;       /* in */
	GPtrArray *recipients; /* out: GVariant a{sv} */
	GPtrArray *events;     /* out: GVariant (xxssssss) */
} SmdMessageHistory;

void smd_message_history_free(SmdMessageHistory *history);
/* SMD_ERROR_NOT_FOUND for an unknown queue id. */
gboolean smd_admin_store_history(sqlite3 *db, gpointer data, GError **error);

G_END_DECLS
