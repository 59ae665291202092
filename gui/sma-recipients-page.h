/*
 * SecuMailer admin — the phone directory.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define SMA_TYPE_RECIPIENTS_PAGE (sma_recipients_page_get_type())
G_DECLARE_FINAL_TYPE(SmaRecipientsPage, sma_recipients_page, SMA, RECIPIENTS_PAGE, AdwBin)

G_END_DECLS
