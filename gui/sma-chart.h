/*
 * SecuMailer admin — a small stacked bar chart of the last days.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

#define SMA_CHART_SERIES 4 /* over TLS, via the portal, waiting, failed */

#define SMA_TYPE_CHART (sma_chart_get_type())
G_DECLARE_FINAL_TYPE(SmaChart, sma_chart, SMA, CHART, GtkWidget)

/* @days: a(xuuuu), each day's midnight and its counts per series. */
void sma_chart_set_days(SmaChart *self, GVariant *days);
guint sma_chart_get_n_days(SmaChart *self);

G_END_DECLS
