/*
 * SecuMailer admin — the event log, live.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define SMA_TYPE_LOG_PAGE (sma_log_page_get_type())
G_DECLARE_FINAL_TYPE(SmaLogPage, sma_log_page, SMA, LOG_PAGE, AdwBin)

void sma_log_page_export(SmaLogPage *self);
gboolean sma_log_page_export_to_file(SmaLogPage *self, GFile *file, GError **error);
GListModel *sma_log_page_get_shown(SmaLogPage *self);
gboolean sma_log_page_get_following(SmaLogPage *self);

G_END_DECLS
