/*
 * SecuMailer admin — one message of the deliveries list.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define SMA_TYPE_MESSAGE (sma_message_get_type())
G_DECLARE_FINAL_TYPE(SmaMessage, sma_message, SMA, MESSAGE, GObject)

/* From a ListMessages row, (sxssta(ss)). */
SmaMessage *sma_message_new(GVariant *row);
const gchar *sma_message_get_queue_id(SmaMessage *self);
gint64 sma_message_get_received(SmaMessage *self);
const gchar *sma_message_get_sender(SmaMessage *self);
const gchar *sma_message_get_subject(SmaMessage *self);
guint64 sma_message_get_size(SmaMessage *self);
guint sma_message_get_n_recipients(SmaMessage *self);
const gchar *sma_message_get_recipient(SmaMessage *self, guint i);
const gchar *sma_message_get_state(SmaMessage *self, guint i);
gchar *sma_message_dup_recipients_text(SmaMessage *self);
gboolean sma_message_set_state(SmaMessage *self, const gchar *recipient, const gchar *state);

G_END_DECLS
