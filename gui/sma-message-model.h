/*
 * SecuMailer admin — the deliveries list as a lazily paged GListModel.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "sma-client.h"
#include "sma-message.h"

G_BEGIN_DECLS

#define SMA_TYPE_MESSAGE_MODEL (sma_message_model_get_type())
G_DECLARE_FINAL_TYPE(SmaMessageModel, sma_message_model, SMA, MESSAGE_MODEL, GObject)

#define SMA_MESSAGE_MODEL_PAGE 100

SmaMessageModel *sma_message_model_new(SmaClient *client);
void sma_message_model_set_filter(SmaMessageModel *self, const gchar *state, const gchar *address);
void sma_message_model_reload(SmaMessageModel *self);
void sma_message_model_fetch_newest(SmaMessageModel *self);
gboolean sma_message_model_get_loading(SmaMessageModel *self);
SmaMessage *sma_message_model_lookup(SmaMessageModel *self, const gchar *queue_id);

G_END_DECLS
