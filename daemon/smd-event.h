/*
 * SecuMailer — an event: one state change, written to the events table
 * (the source of the admin app's log) and as a structured log line.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

typedef enum {
	SMD_EVENT_INFO,
	SMD_EVENT_WARNING,
	SMD_EVENT_ERROR,
} SmdEventLevel;

typedef struct {
	gint64 time; /* µs since the epoch */
	SmdEventLevel level;
	gchar *kind;	/* received, delivered, deferred, held, bounced, … */
	gchar *message; /* English, marked N_(): each front end translates it */
	gchar *queue_id;
	gchar *recipient;
	gchar *detail; /* remote reply, TLS details; never message content */
} SmdEvent;

SmdEvent *smd_event_new(SmdEventLevel level, const gchar *kind, const gchar *queue_id,
			const gchar *recipient, const gchar *detail, const gchar *message);
void smd_event_free(SmdEvent *event);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdEvent, smd_event_free)

const gchar *smd_event_level_to_string(SmdEventLevel level);

/* A structured journal/stderr line with the event's fields; then the
 * hook, if one is set (the D-Bus front end's EventAdded signal). */
void smd_event_log(const SmdEvent *event);

/* smd_event_log() for every SmdEvent of @events (may be NULL). */
void smd_event_log_all(GPtrArray *events);

typedef void (*SmdEventHook)(const SmdEvent *event, gpointer user_data);
/* Main thread only; NULL removes it. */
void smd_event_set_hook(SmdEventHook hook, gpointer user_data);

/* Inside a store operation. */
gboolean smd_event_insert(sqlite3 *db, const SmdEvent *event, GError **error);

/* Inside a store operation: every SmdEvent of @events (may be NULL). */
gboolean smd_event_insert_all(sqlite3 *db, GPtrArray *events, GError **error);

G_END_DECLS
