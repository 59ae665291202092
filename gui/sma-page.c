/*
 * SecuMailer admin — what the window asks of each page.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-page"

#include "config.h"

#include <adwaita.h>

#include "sma-page.h"

G_DEFINE_INTERFACE(SmaPage, sma_page, GTK_TYPE_WIDGET)

static void
sma_page_default_init(SmaPageInterface *iface)
{
}

void
sma_page_set_client(SmaPage *self, SmaClient *client)
{
	g_return_if_fail(SMA_IS_PAGE(self));
	SMA_PAGE_GET_IFACE(self)->set_client(self, client);
}

void
sma_page_reload(SmaPage *self)
{
	g_return_if_fail(SMA_IS_PAGE(self));
	SMA_PAGE_GET_IFACE(self)->reload(self);
}

gboolean
sma_page_focus_search(SmaPage *self)
{
	g_return_val_if_fail(SMA_IS_PAGE(self), FALSE);
	if (SMA_PAGE_GET_IFACE(self)->focus_search == NULL)
		return FALSE;
	return SMA_PAGE_GET_IFACE(self)->focus_search(self);
}

void
sma_page_toast(GtkWidget *widget, const gchar *text)
{
	GtkWidget *overlay = gtk_widget_get_ancestor(widget, ADW_TYPE_TOAST_OVERLAY);
	AdwToast *toast;

	if (overlay == NULL)
		return;
	toast = adw_toast_new(text);
	adw_toast_set_timeout(toast, 4);
	adw_toast_overlay_add_toast(ADW_TOAST_OVERLAY(overlay), toast);
}

GCancellable *
sma_page_restart(GCancellable **cancellable)
{
	g_cancellable_cancel(*cancellable);
	g_clear_object(cancellable);
	*cancellable = g_cancellable_new();
	return *cancellable;
}

void
sma_page_call_failed(GtkWidget *widget, SmaClient *client, GError *error)
{
	if (client == NULL || g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED) ||
	    sma_client_check_error(client, error))
		return;
	g_dbus_error_strip_remote_error(error);
	sma_page_toast(widget, error->message);
}

static gboolean
sma_page_reload_soon_cb(gpointer user_data)
{
	SmaPage *self = user_data;

	/* the timer is over: forget its id before the data is cleared */
	g_object_steal_data(G_OBJECT(self), "sma-page-reload-soon");
	/* a page being disposed is out of its window already */
	if (gtk_widget_get_root(GTK_WIDGET(self)) != NULL)
		sma_page_reload(self);
	return G_SOURCE_REMOVE;
}

static void
sma_page_reload_soon_remove(gpointer id)
{
	g_source_remove(GPOINTER_TO_UINT(id));
}

void
sma_page_reload_soon(SmaPage *self, guint ms)
{
	g_return_if_fail(SMA_IS_PAGE(self));
	if (g_object_get_data(G_OBJECT(self), "sma-page-reload-soon") != NULL)
		return;
	/* a page that goes away takes its timer with it */
	g_object_set_data_full(G_OBJECT(self), "sma-page-reload-soon",
			       GUINT_TO_POINTER(g_timeout_add(ms, sma_page_reload_soon_cb, self)),
			       sma_page_reload_soon_remove);
}
