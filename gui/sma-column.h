/*
 * SecuMailer admin — columns of the lists (deliveries, log).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* A resizable column of @view: cells made by @setup, filled by @bind and
 * emptied by @unbind (may be NULL), each called with @data. */
void sma_column_add(GtkColumnView *view, const gchar *title, gboolean expand, GCallback setup,
		    GCallback bind, GCallback unbind, gpointer data);
/* A text cell: a left-aligned label, ellipsized, with room for a word. */
void sma_column_setup_label(GtkSignalListItemFactory *factory, GtkListItem *item,
			    gpointer user_data);

G_END_DECLS
