/*
 * SecuMailer admin — the main window: a view switcher over the pages,
 * and in front of them the "connecting" and "cannot reach" states.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-window"

#include "config.h"

#include <glib/gi18n.h>

#include "sma-deliveries-page.h"
#include "sma-log-page.h"
#include "sma-overview-page.h"
#include "sma-page.h"
#include "sma-recipients-page.h"
#include "sma-requests-page.h"
#include "sma-window.h"

struct _SmaWindow {
	AdwApplicationWindow parent_instance;

	/* template widgets */
	AdwToastOverlay *toast_overlay;
	GtkStack *main_stack;
	AdwViewStack *view_stack;
	AdwStatusPage *unreachable_page;
	AdwViewSwitcherTitle *switcher_title;
	AdwViewSwitcherBar *switcher_bar;
	GtkWidget *retry_button;
	AdwViewStackPage *requests_stack_page;
	SmaOverviewPage *overview_page;
	SmaRequestsPage *requests_page;
	SmaDeliveriesPage *deliveries_page;
	SmaRecipientsPage *recipients_page;
	SmaLogPage *log_page;

	/* owned */
	SmaClient *client;
	GSettings *settings;
	gboolean navigated; /* the first load may open on the requests page */
};

G_DEFINE_TYPE(SmaWindow, sma_window, ADW_TYPE_APPLICATION_WINDOW)

static SmaPage *
sma_window_page(SmaWindow *self, guint i)
{
	SmaPage *pages[] = {SMA_PAGE(self->overview_page), SMA_PAGE(self->requests_page),
			    SMA_PAGE(self->deliveries_page), SMA_PAGE(self->recipients_page),
			    SMA_PAGE(self->log_page)};
	return i < G_N_ELEMENTS(pages) ? pages[i] : NULL;
}

/* The bar at the bottom stands in for the header's switcher when the
 * window is too narrow for it, and only while there are pages to switch. */
static void
sma_window_update_switcher_bar(SmaWindow *self)
{
	adw_view_switcher_bar_set_reveal(
	    self->switcher_bar,
	    adw_view_switcher_title_get_view_switcher_enabled(self->switcher_title) &&
		adw_view_switcher_title_get_title_visible(self->switcher_title));
}

static void
sma_window_title_visible_cb(AdwViewSwitcherTitle *title, GParamSpec *pspec, SmaWindow *self)
{
	sma_window_update_switcher_bar(self);
}

static void
sma_window_client_state_cb(SmaClient *client, GParamSpec *pspec, SmaWindow *self)
{
	/* no page switcher in front of "connecting" or "cannot reach" */
	adw_view_switcher_title_set_view_switcher_enabled(
	    self->switcher_title, sma_client_get_state(client) == SMA_CLIENT_READY);
	sma_window_update_switcher_bar(self);
	switch (sma_client_get_state(client)) {
	case SMA_CLIENT_CONNECTING:
		gtk_stack_set_visible_child_name(self->main_stack, "connecting");
		break;
	case SMA_CLIENT_UNREACHABLE:
		adw_status_page_set_description(self->unreachable_page,
						sma_client_get_problem(client));
		gtk_stack_set_visible_child_name(self->main_stack, "unreachable");
		/* Enter tries again */
		gtk_widget_grab_focus(self->retry_button);
		break;
	case SMA_CLIENT_READY:
		gtk_stack_set_visible_child_name(self->main_stack, "main");
		for (guint i = 0; sma_window_page(self, i) != NULL; i++)
			sma_page_reload(sma_window_page(self, i));
		break;
	default:
		break;
	}
}

static void
sma_window_requests_count_cb(SmaRequestsPage *page, GParamSpec *pspec, SmaWindow *self)
{
	guint count = sma_requests_page_get_count(page);

	adw_view_stack_page_set_badge_number(self->requests_stack_page, count);
	adw_view_stack_page_set_needs_attention(self->requests_stack_page, count > 0);
	/* it opens on the requests when some are pending */
	if (!self->navigated && count > 0)
		adw_view_stack_set_visible_child_name(self->view_stack, "requests");
	self->navigated = TRUE;
}

static void
sma_window_visible_child_cb(AdwViewStack *stack, GParamSpec *pspec, SmaWindow *self)
{
	if (gtk_widget_get_mapped(GTK_WIDGET(self)) &&
	    g_strcmp0(gtk_stack_get_visible_child_name(self->main_stack), "main") == 0)
		self->navigated = TRUE;
}

void
sma_window_show_page(SmaWindow *self, const gchar *name)
{
	g_return_if_fail(SMA_IS_WINDOW(self));
	self->navigated = TRUE;
	adw_view_stack_set_visible_child_name(self->view_stack, name);
}

static void
sma_window_refresh_action(GtkWidget *widget, const gchar *action_name, GVariant *param)
{
	SmaWindow *self = SMA_WINDOW(widget);

	if (sma_client_get_state(self->client) != SMA_CLIENT_READY) {
		sma_client_connect(self->client);
		return;
	}
	for (guint i = 0; sma_window_page(self, i) != NULL; i++)
		sma_page_reload(sma_window_page(self, i));
}

static void
sma_window_retry_action(GtkWidget *widget, const gchar *action_name, GVariant *param)
{
	sma_client_connect(SMA_WINDOW(widget)->client);
}

static void
sma_window_show_page_action(GtkWidget *widget, const gchar *action_name, GVariant *param)
{
	sma_window_show_page(SMA_WINDOW(widget), g_variant_get_string(param, NULL));
}

static void
sma_window_search_action(GtkWidget *widget, const gchar *action_name, GVariant *param)
{
	SmaWindow *self = SMA_WINDOW(widget);
	GtkWidget *visible = adw_view_stack_get_visible_child(self->view_stack);

	if (visible != NULL && SMA_IS_PAGE(visible) && sma_page_focus_search(SMA_PAGE(visible)))
		return;
	/* pages without a search: the deliveries search is the one people want */
	sma_window_show_page(self, "deliveries");
	sma_page_focus_search(SMA_PAGE(self->deliveries_page));
}

static void
sma_window_export_log_action(GtkWidget *widget, const gchar *action_name, GVariant *param)
{
	SmaWindow *self = SMA_WINDOW(widget);

	sma_window_show_page(self, "log");
	sma_log_page_export(self->log_page);
}

/* Window size and state across runs (GSettings); without the schema
 * installed (a build tree) the window just opens at its default size. */
static void
sma_window_bind_settings(SmaWindow *self, const gchar *app_id)
{
	GSettingsSchemaSource *source = g_settings_schema_source_get_default();
	g_autoptr(GSettingsSchema) schema =
	    source != NULL ? g_settings_schema_source_lookup(source, app_id, TRUE) : NULL;

	if (schema == NULL) {
		g_debug("no GSettings schema %s: the window size is not remembered", app_id);
		return;
	}
	self->settings = g_settings_new_full(schema, NULL, NULL);
	g_settings_bind(self->settings, "window-width", self, "default-width",
			G_SETTINGS_BIND_DEFAULT);
	g_settings_bind(self->settings, "window-height", self, "default-height",
			G_SETTINGS_BIND_DEFAULT);
	g_settings_bind(self->settings, "window-maximized", self, "maximized",
			G_SETTINGS_BIND_DEFAULT);
}

SmaWindow *
sma_window_new(GtkApplication *app, SmaClient *client)
{
	SmaWindow *self = g_object_new(SMA_TYPE_WINDOW, "application", app, NULL);
	self->client = g_object_ref(client);
	sma_window_bind_settings(self, "org.secumailer.Admin");
	for (guint i = 0; sma_window_page(self, i) != NULL; i++)
		sma_page_set_client(sma_window_page(self, i), client);
	g_signal_connect_object(client, "notify::state", G_CALLBACK(sma_window_client_state_cb),
				self, 0);
	sma_window_client_state_cb(client, NULL, self);
	return self;
}

static void
sma_window_dispose(GObject *object)
{
	SmaWindow *self = SMA_WINDOW(object);

	gtk_widget_dispose_template(GTK_WIDGET(self), SMA_TYPE_WINDOW);
	g_clear_object(&self->settings);
	g_clear_object(&self->client);
	G_OBJECT_CLASS(sma_window_parent_class)->dispose(object);
}

static void
sma_window_class_init(SmaWindowClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);
	const gchar *pages[] = {"overview", "requests", "deliveries", "recipients", "log"};

	object_class->dispose = sma_window_dispose;

	g_type_ensure(SMA_TYPE_OVERVIEW_PAGE);
	g_type_ensure(SMA_TYPE_REQUESTS_PAGE);
	g_type_ensure(SMA_TYPE_DELIVERIES_PAGE);
	g_type_ensure(SMA_TYPE_RECIPIENTS_PAGE);
	g_type_ensure(SMA_TYPE_LOG_PAGE);
	gtk_widget_class_set_template_from_resource(widget_class,
						    "/org/secumailer/Admin/sma-window.ui");
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, toast_overlay);
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, main_stack);
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, view_stack);
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, unreachable_page);
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, switcher_title);
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, switcher_bar);
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, retry_button);
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, requests_stack_page);
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, overview_page);
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, requests_page);
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, deliveries_page);
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, recipients_page);
	gtk_widget_class_bind_template_child(widget_class, SmaWindow, log_page);

	gtk_widget_class_install_action(widget_class, "win.refresh", NULL,
					sma_window_refresh_action);
	gtk_widget_class_install_action(widget_class, "win.retry", NULL, sma_window_retry_action);
	gtk_widget_class_install_action(widget_class, "win.show-page", "s",
					sma_window_show_page_action);
	gtk_widget_class_install_action(widget_class, "win.search", NULL, sma_window_search_action);
	gtk_widget_class_install_action(widget_class, "win.export-log", NULL,
					sma_window_export_log_action);

	gtk_widget_class_add_binding_action(widget_class, GDK_KEY_r, GDK_CONTROL_MASK,
					    "win.refresh", NULL);
	gtk_widget_class_add_binding_action(widget_class, GDK_KEY_F5, 0, "win.refresh", NULL);
	gtk_widget_class_add_binding_action(widget_class, GDK_KEY_f, GDK_CONTROL_MASK, "win.search",
					    NULL);
	gtk_widget_class_add_binding_action(widget_class, GDK_KEY_e, GDK_CONTROL_MASK,
					    "win.export-log", NULL);
	for (guint i = 0; i < G_N_ELEMENTS(pages); i++)
		gtk_widget_class_add_binding_action(widget_class, GDK_KEY_1 + i, GDK_ALT_MASK,
						    "win.show-page", "s", pages[i]);
}

static void
sma_window_init(SmaWindow *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
	g_signal_connect_object(self->requests_page, "notify::count",
				G_CALLBACK(sma_window_requests_count_cb), self, 0);
	g_signal_connect_object(self->view_stack, "notify::visible-child",
				G_CALLBACK(sma_window_visible_child_cb), self, 0);
	g_signal_connect_object(self->switcher_title, "notify::title-visible",
				G_CALLBACK(sma_window_title_visible_cb), self, 0);
}
