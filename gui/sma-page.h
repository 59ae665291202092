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
/* Cancels the call in flight and gives a cancellable for the next one. */
GCancellable *sma_page_restart(GCancellable **cancellable);
/* A failed call: nothing when cancelled, the "cannot reach" state when
 * the service went away or refuses us, otherwise a toast that says why. */
void sma_page_call_failed(GtkWidget *widget, SmaClient *client, GError *error);
/* Reloads once a burst of events has settled (@ms after the first). */
void sma_page_reload_soon(SmaPage *self, guint ms);

G_END_DECLS
