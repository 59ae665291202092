/*
 * SecuMailer admin — the main window.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <adwaita.h>

#include "sma-client.h"

G_BEGIN_DECLS

#define SMA_TYPE_WINDOW (sma_window_get_type())
G_DECLARE_FINAL_TYPE(SmaWindow, sma_window, SMA, WINDOW, AdwApplicationWindow)

SmaWindow *sma_window_new(GtkApplication *app, SmaClient *client);
void sma_window_show_page(SmaWindow *self, const gchar *name);

G_END_DECLS
