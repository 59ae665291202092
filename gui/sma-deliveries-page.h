/*
 * SecuMailer admin — the deliveries list and one message's history.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "sma-message-model.h"

G_BEGIN_DECLS

#define SMA_TYPE_DELIVERIES_PAGE (sma_deliveries_page_get_type())
G_DECLARE_FINAL_TYPE(SmaDeliveriesPage, sma_deliveries_page, SMA, DELIVERIES_PAGE, AdwBin)

SmaMessageModel *sma_deliveries_page_get_model(SmaDeliveriesPage *self);
void sma_deliveries_page_select(SmaDeliveriesPage *self, guint position);

G_END_DECLS
