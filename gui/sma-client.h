/*
 * SecuMailer admin — the connection to the daemon's admin API.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "sma-dbus-generated.h"

G_BEGIN_DECLS

typedef enum {
	SMA_CLIENT_CONNECTING,
	SMA_CLIENT_READY,
	SMA_CLIENT_UNREACHABLE,
} SmaClientState;

#define SMA_TYPE_CLIENT (sma_client_get_type())
G_DECLARE_FINAL_TYPE(SmaClient, sma_client, SMA, CLIENT, GObject)

SmaClient *sma_client_new(GBusType bus_type);
void sma_client_connect(SmaClient *self);
SmaClientState sma_client_get_state(SmaClient *self);
const gchar *sma_client_get_problem(SmaClient *self);
SmdDbusGateway1 *sma_client_get_proxy(SmaClient *self);
gboolean sma_client_check_error(SmaClient *self, const GError *error);
gchar *sma_client_error_text(const GError *error);

G_END_DECLS
