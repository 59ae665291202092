/*
 * SecuMailer admin — the application: app actions, the one client.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "sma-client.h"

G_BEGIN_DECLS

#define SMA_APPLICATION_ID "org.secumailer.Admin"

#define SMA_TYPE_APPLICATION (sma_application_get_type())
G_DECLARE_FINAL_TYPE(SmaApplication, sma_application, SMA, APPLICATION, AdwApplication)

SmaApplication *sma_application_new(void);
SmaClient *sma_application_get_client(SmaApplication *self);
void sma_application_set_bus_type(SmaApplication *self, GBusType bus_type);

G_END_DECLS
