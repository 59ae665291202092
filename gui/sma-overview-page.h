/*
 * SecuMailer admin — the overview: today's and this week's counts.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

G_BEGIN_DECLS

#define SMA_TYPE_OVERVIEW_PAGE (sma_overview_page_get_type())
G_DECLARE_FINAL_TYPE(SmaOverviewPage, sma_overview_page, SMA, OVERVIEW_PAGE, AdwBin)

/* The number on card @series (0 over TLS … 3 failed) of today or the week. */
const gchar *sma_overview_page_get_figure(SmaOverviewPage *self, gboolean week, guint series);

G_END_DECLS
