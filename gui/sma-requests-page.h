/*
 * SecuMailer admin — pending registration requests.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define SMA_TYPE_REQUESTS_PAGE (sma_requests_page_get_type())
G_DECLARE_FINAL_TYPE(SmaRequestsPage, sma_requests_page, SMA, REQUESTS_PAGE, AdwBin)

guint sma_requests_page_get_count(SmaRequestsPage *self);

G_END_DECLS
