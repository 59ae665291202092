/*
 * SecuMailer admin — one row of the event log.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define SMA_TYPE_EVENT (sma_event_get_type())
G_DECLARE_FINAL_TYPE(SmaEvent, sma_event, SMA, EVENT, GObject)

/* From a ReadEvents row, (xxssssss); its message in the app's language. */
SmaEvent *sma_event_new(GVariant *row);
/* An event's message as the daemon stores it (English) → as shown. */
const gchar *sma_event_translate(const gchar *message);
gint64 sma_event_get_id(SmaEvent *self);
gint64 sma_event_get_time(SmaEvent *self); /* unix microseconds */
const gchar *sma_event_get_level(SmaEvent *self);
const gchar *sma_event_get_kind(SmaEvent *self);
const gchar *sma_event_get_message(SmaEvent *self);
const gchar *sma_event_get_queue_id(SmaEvent *self);
const gchar *sma_event_get_recipient(SmaEvent *self);
const gchar *sma_event_get_detail(SmaEvent *self);
gchar *sma_event_format_time(SmaEvent *self);
gboolean sma_event_matches_text(SmaEvent *self, const gchar *needle);

G_END_DECLS
