/*
 * SecuMailer admin — what the window asks of each page.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

#include "sma-client.h"

G_BEGIN_DECLS

#define SMA_TYPE_PAGE (sma_page_get_type())
G_DECLARE_INTERFACE(SmaPage, sma_page, SMA, PAGE, GtkWidget)

struct _SmaPageInterface {
	GTypeInterface parent_iface;

	/* the page keeps a reference and follows the client's signals */
	void (*set_client)(SmaPage *self, SmaClient *client);
	/* load everything again (the client is ready) */
	void (*reload)(SmaPage *self);
	/* Ctrl+F: focus the page's search field, if it has one */
	gboolean (*focus_search)(SmaPage *self);
};

void sma_page_set_client(SmaPage *self, SmaClient *client);
void sma_page_reload(SmaPage *self);
gboolean sma_page_focus_search(SmaPage *self);
/* A toast in the window that holds @widget. */
void sma_page_toast(GtkWidget *widget, const gchar *text);

G_END_DECLS
