/*
 * SecuMailer admin — a pending registration request.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

#define SMA_TYPE_REQUEST (sma_request_get_type())
G_DECLARE_FINAL_TYPE(SmaRequest, sma_request, SMA, REQUEST, GObject)

/* From a ListRegistrationRequests row, (sasxu). */
SmaRequest *sma_request_new(GVariant *row);
const gchar *sma_request_get_recipient(SmaRequest *self);
gchar *sma_request_dup_senders_text(SmaRequest *self);
gint64 sma_request_get_since(SmaRequest *self);
guint sma_request_get_count(SmaRequest *self);

G_END_DECLS
