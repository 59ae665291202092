/*
 * SecuMailer — secumailerctl: the admin app's functions for scripts and
 * servers without a display, over the same D-Bus API.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "secumailerctl"

#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>
#include <stdlib.h>

#include "smd-dbus-generated.h"
#include "smd-error.h"

static gboolean opt_session = FALSE;
static gboolean opt_follow = FALSE;

static gchar *
smd_ctl_time(gint64 seconds)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(seconds);
	return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
}

static int
smd_ctl_requests(SmdDbusGateway1 *proxy, GError **error)
{
	g_autoptr(GVariant) requests = NULL;
	GVariantIter iter;
	const gchar *recipient;
	g_autofree const gchar **senders = NULL;
	gint64 since;
	guint count;

	if (!smd_dbus_gateway1_call_list_registration_requests_sync(proxy, &requests, NULL, error))
		return EXIT_FAILURE;
	if (g_variant_n_children(requests) == 0) {
		g_print("%s\n", _("No pending registration requests."));
		return EXIT_SUCCESS;
	}
	g_variant_iter_init(&iter, requests);
	while (g_variant_iter_next(&iter, "(&s^a&sxu)", &recipient, &senders, &since, &count)) {
		g_autofree gchar *when = smd_ctl_time(since);
		g_autofree gchar *who = g_strjoinv(", ", (gchar **)senders);
		/* TRANSLATORS: recipient, number of messages, since when, from whom */
		g_print(ngettext("%s: %u message waiting since %s, from %s\n",
				 "%s: %u messages waiting since %s, from %s\n", count),
			recipient, count, when, who);
		g_clear_pointer(&senders, g_free);
	}
	return EXIT_SUCCESS;
}

static int
smd_ctl_stats(SmdDbusGateway1 *proxy, GError **error)
{
	g_autoptr(GVariant) stats = NULL;
	g_autoptr(GVariant) states = NULL;
	guint today = 0;
	guint week = 0;
	GVariantIter iter;
	const gchar *state;
	guint count;

	if (!smd_dbus_gateway1_call_get_statistics_sync(proxy, &stats, NULL, error))
		return EXIT_FAILURE;
	g_variant_lookup(stats, "received-today", "u", &today);
	g_variant_lookup(stats, "received-week", "u", &week);
	g_print(_("Received today: %u, in the last 7 days: %u\n"), today, week);
	states = g_variant_lookup_value(stats, "states", G_VARIANT_TYPE("a{su}"));
	if (states == NULL)
		return EXIT_SUCCESS;
	g_variant_iter_init(&iter, states);
	while (g_variant_iter_next(&iter, "{&su}", &state, &count))
		g_print("  %-24s %u\n", state, count);
	return EXIT_SUCCESS;
}

static gint64
smd_ctl_print_events(SmdDbusGateway1 *proxy, gint64 after, GError **error)
{
	g_autoptr(GVariant) events = NULL;
	GVariantIter iter;
	gint64 id, time;
	const gchar *level, *kind, *message, *queue_id, *recipient, *detail;

	if (!smd_dbus_gateway1_call_read_events_sync(proxy, after, 1000, &events, NULL, error))
		return -1;
	g_variant_iter_init(&iter, events);
	while (g_variant_iter_next(&iter, "(xx&s&s&s&s&s&s)", &id, &time, &level, &kind, &message,
				   &queue_id, &recipient, &detail)) {
		g_autofree gchar *when = smd_ctl_time(time / G_USEC_PER_SEC);
		g_print("%s %-7s %-16s %-22s %s%s%s%s\n", when, level, queue_id[0] ? queue_id : "-",
			kind, message, recipient[0] ? " <" : "", recipient,
			recipient[0] ? ">" : "");
		if (detail[0] != '\0')
			g_print("    %s\n", detail);
		after = id;
	}
	return after;
}

static int
smd_ctl_log(SmdDbusGateway1 *proxy, GError **error)
{
	gint64 cursor = 0;
	for (;;) {
		gint64 next = smd_ctl_print_events(proxy, cursor, error);
		if (next < 0)
			return EXIT_FAILURE;
		if (!opt_follow)
			return EXIT_SUCCESS;
		if (next == cursor)
			g_usleep(G_USEC_PER_SEC);
		cursor = next;
	}
}

int
main(int argc, char **argv)
{
	const GOptionEntry entries[] = {{"session", 0, 0, G_OPTION_ARG_NONE, &opt_session,
					 N_("Talk to a gateway on the session bus (development)"),
					 NULL},
					{"follow", 'f', 0, G_OPTION_ARG_NONE, &opt_follow,
					 N_("log: keep printing new events"), NULL},
					{NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new(_("COMMAND [ARGUMENTS]"));
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdDbusGateway1) proxy = NULL;
	const gchar *command;
	int rc = EXIT_FAILURE;

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	g_option_context_set_summary(context,
				     _("Manage a SecuMailer gateway from the command line."));
	g_option_context_set_description(
	    context, _("Commands:\n"
		       "  requests                    pending registration requests\n"
		       "  set-phone ADDRESS NUMBER    register a recipient's mobile number\n"
		       "  remove-phone ADDRESS        forget a recipient's number\n"
		       "  stats                       counts per state, today and this week\n"
		       "  log [--follow]              the event log\n"));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("%s\n", error->message);
		return EXIT_FAILURE;
	}
	if (argc < 2) {
		g_autofree gchar *help = g_option_context_get_help(context, TRUE, NULL);
		g_printerr("%s", help);
		return EXIT_FAILURE;
	}
	command = argv[1];
	(void)smd_error_quark(); /* typed errors from the daemon */
	proxy = smd_dbus_gateway1_proxy_new_for_bus_sync(
	    opt_session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
	    G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES | G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
	    "org.secumailer.Gateway1", "/org/secumailer/Gateway1", NULL, &error);
	if (proxy == NULL) {
		g_printerr(_("Cannot reach the SecuMailer service: %s\n"), error->message);
		return EXIT_FAILURE;
	}
	if (g_strcmp0(command, "requests") == 0 && argc == 2) {
		rc = smd_ctl_requests(proxy, &error);
	} else if (g_strcmp0(command, "stats") == 0 && argc == 2) {
		rc = smd_ctl_stats(proxy, &error);
	} else if (g_strcmp0(command, "log") == 0 && argc == 2) {
		rc = smd_ctl_log(proxy, &error);
	} else if (g_strcmp0(command, "set-phone") == 0 && argc == 4) {
		g_autofree gchar *masked = NULL;
		if (smd_dbus_gateway1_call_set_phone_sync(proxy, argv[2], argv[3], &masked, NULL,
							  &error)) {
			g_print(_("Stored: %s for %s\n"), masked, argv[2]);
			rc = EXIT_SUCCESS;
		}
	} else if (g_strcmp0(command, "remove-phone") == 0 && argc == 3) {
		if (smd_dbus_gateway1_call_remove_phone_sync(proxy, argv[2], NULL, &error)) {
			g_print(_("Removed the number of %s\n"), argv[2]);
			rc = EXIT_SUCCESS;
		}
	} else {
		g_printerr(_("Unknown command or wrong arguments: %s (see --help)\n"), command);
		return EXIT_FAILURE;
	}
	if (rc != EXIT_SUCCESS && error != NULL) {
		g_dbus_error_strip_remote_error(error);
		g_printerr("%s\n", error->message);
	}
	return rc;
}
