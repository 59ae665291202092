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
