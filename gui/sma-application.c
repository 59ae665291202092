/*
 * SecuMailer admin — the application: app actions, the one client.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-application"

#include "config.h"

#include <glib/gi18n.h>

#include "sma-application.h"
#include "sma-resources.h"
#include "sma-window.h"

struct _SmaApplication {
	AdwApplication parent_instance;

	GBusType bus_type; /* system; session with --session-bus */
	SmaClient *client;
};

G_DEFINE_TYPE(SmaApplication, sma_application, ADW_TYPE_APPLICATION)

static void
sma_application_about(GSimpleAction *action, GVariant *param, gpointer user_data)
{
	GtkApplication *app = GTK_APPLICATION(user_data);
	const gchar *developers[] = {"SecuMailer contributors", NULL};
	GtkWidget *about = adw_about_window_new();

	adw_about_window_set_application_name(ADW_ABOUT_WINDOW(about), _("SecuMailer Admin"));
	adw_about_window_set_application_icon(ADW_ABOUT_WINDOW(about), SMA_APPLICATION_ID);
	adw_about_window_set_version(ADW_ABOUT_WINDOW(about), PACKAGE_VERSION);
	adw_about_window_set_developer_name(ADW_ABOUT_WINDOW(about), _("SecuMailer contributors"));
	adw_about_window_set_developers(ADW_ABOUT_WINDOW(about), developers);
	adw_about_window_set_comments(
	    ADW_ABOUT_WINDOW(about),
	    _("Registration requests, phone numbers, delivery status and the event log of a "
	      "SecuMailer secure-mail gateway."));
	adw_about_window_set_license_type(ADW_ABOUT_WINDOW(about), GTK_LICENSE_GPL_3_0);
	/* TRANSLATORS: your name and e-mail address, one translator per line */
	adw_about_window_set_translator_credits(ADW_ABOUT_WINDOW(about), _("translator-credits"));
	gtk_window_set_transient_for(GTK_WINDOW(about), gtk_application_get_active_window(app));
	gtk_window_present(GTK_WINDOW(about));
}

static void
sma_application_quit(GSimpleAction *action, GVariant *param, gpointer user_data)
{
	GtkApplication *app = GTK_APPLICATION(user_data);
	GList *windows = gtk_application_get_windows(app);

	/* closing the windows lets GSettings store their size */
	for (GList *l = windows; l != NULL;) {
		GList *next = l->next;
		gtk_window_close(GTK_WINDOW(l->data));
		l = next;
	}
	g_application_quit(G_APPLICATION(app));
}

static const GActionEntry sma_application_actions[] = {
    {"about", sma_application_about, NULL, NULL, NULL, {0}},
    {"quit", sma_application_quit, NULL, NULL, NULL, {0}},
};

static void
sma_application_startup(GApplication *app)
{
	SmaApplication *self = SMA_APPLICATION(app);
	const gchar *quit_accels[] = {"<Control>q", NULL};

	G_APPLICATION_CLASS(sma_application_parent_class)->startup(app);
	g_action_map_add_action_entries(G_ACTION_MAP(app), sma_application_actions,
					G_N_ELEMENTS(sma_application_actions), app);
	gtk_application_set_accels_for_action(GTK_APPLICATION(app), "app.quit", quit_accels);
	gtk_window_set_default_icon_name(SMA_APPLICATION_ID);
	self->client = sma_client_new(self->bus_type);
}

static void
sma_application_activate(GApplication *app)
{
	SmaApplication *self = SMA_APPLICATION(app);
	GtkWindow *window = gtk_application_get_active_window(GTK_APPLICATION(app));

	if (window == NULL) {
		window = GTK_WINDOW(sma_window_new(GTK_APPLICATION(app), self->client));
		sma_client_connect(self->client);
	}
	gtk_window_present(window);
}

static gint
sma_application_handle_local_options(GApplication *app, GVariantDict *options)
{
	SmaApplication *self = SMA_APPLICATION(app);

	if (g_variant_dict_contains(options, "version")) {
		g_print("%s %s\n", g_get_prgname(), PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	if (g_variant_dict_contains(options, "session-bus"))
		self->bus_type = G_BUS_TYPE_SESSION;
	return -1;
}

SmaClient *
sma_application_get_client(SmaApplication *self)
{
	g_return_val_if_fail(SMA_IS_APPLICATION(self), NULL);
	return self->client;
}

/* Before it starts; what --session-bus does. */
void
sma_application_set_bus_type(SmaApplication *self, GBusType bus_type)
{
	g_return_if_fail(SMA_IS_APPLICATION(self));
	self->bus_type = bus_type;
}

SmaApplication *
sma_application_new(void)
{
	return g_object_new(SMA_TYPE_APPLICATION, "application-id", SMA_APPLICATION_ID, "flags",
			    G_APPLICATION_DEFAULT_FLAGS, "resource-base-path",
			    "/org/secumailer/Admin", NULL);
}

static void
sma_application_dispose(GObject *object)
{
	g_clear_object(&SMA_APPLICATION(object)->client);
	G_OBJECT_CLASS(sma_application_parent_class)->dispose(object);
}

static void
sma_application_class_init(SmaApplicationClass *klass)
{
	GApplicationClass *app_class = G_APPLICATION_CLASS(klass);

	/* the .ui templates, before any window class needs them */
	sma_register_resource();
	G_OBJECT_CLASS(klass)->dispose = sma_application_dispose;
	app_class->startup = sma_application_startup;
	app_class->activate = sma_application_activate;
	app_class->handle_local_options = sma_application_handle_local_options;
}

static void
sma_application_init(SmaApplication *self)
{
	const GOptionEntry options[] = {
	    {"session-bus", 0, 0, G_OPTION_ARG_NONE, NULL,
	     N_("Manage a gateway on the session bus (development)"), NULL},
	    {"version", 0, 0, G_OPTION_ARG_NONE, NULL, N_("Show the version"), NULL},
	    {NULL}};

	self->bus_type = G_BUS_TYPE_SYSTEM;
	g_application_add_main_option_entries(G_APPLICATION(self), options);
}
