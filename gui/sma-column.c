/*
 * SecuMailer admin — columns of the lists (deliveries, log).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-column"

#include "config.h"

#include "sma-column.h"

void
sma_column_add(GtkColumnView *view, const gchar *title, gboolean expand, GCallback setup,
	       GCallback bind, GCallback unbind, gpointer data)
{
	GtkListItemFactory *factory = gtk_signal_list_item_factory_new();
	GtkColumnViewColumn *col;

	g_signal_connect(factory, "setup", setup, data);
	g_signal_connect(factory, "bind", bind, data);
	if (unbind != NULL)
		g_signal_connect(factory, "unbind", unbind, data);
	col = gtk_column_view_column_new(title, factory);
	gtk_column_view_column_set_expand(col, expand);
	gtk_column_view_column_set_resizable(col, TRUE);
	gtk_column_view_append_column(view, col);
	g_object_unref(col);
}

void
sma_column_setup_label(GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
	GtkWidget *label = gtk_label_new(NULL);

	gtk_label_set_xalign(GTK_LABEL(label), 0);
	gtk_label_set_ellipsize(GTK_LABEL(label), PANGO_ELLIPSIZE_END);
	gtk_label_set_width_chars(GTK_LABEL(label), 6);
	gtk_list_item_set_child(item, label);
}
