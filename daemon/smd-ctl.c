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
static gint opt_lines = 50;
static gchar *opt_state = NULL;
static gchar *opt_address = NULL;

static gchar *
smd_ctl_time(gint64 seconds)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(seconds);
	return g_date_time_format(dt, "%Y-%m-%d %H:%M:%S");
}

/* The daemon stores an event's text in English (N_()); said in the
 * caller's language. "" would give the catalogue's header. */
static const gchar *
smd_ctl_event_text(const gchar *message)
{
	return message[0] != '\0' ? _(message) : message;
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

/* The events after the cursor @after, or with @after -1 the newest
 * @limit; returns the new cursor, or -1 on error. */
static gint64
smd_ctl_print_events(SmdDbusGateway1 *proxy, gint64 after, guint limit, GError **error)
{
	g_autoptr(GVariant) events = NULL;
	GVariantIter iter;
	gint64 id, time;
	const gchar *level, *kind, *message, *queue_id, *recipient, *detail;

	if (!smd_dbus_gateway1_call_read_events_sync(proxy, after, limit, &events, NULL, error))
		return -1;
	after = MAX(after, 0);
	g_variant_iter_init(&iter, events);
	while (g_variant_iter_next(&iter, "(xx&s&s&s&s&s&s)", &id, &time, &level, &kind, &message,
				   &queue_id, &recipient, &detail)) {
		g_autofree gchar *when = smd_ctl_time(time / G_USEC_PER_SEC);
		g_print("%s %-7s %-16s %-22s %s%s%s%s\n", when, level, queue_id[0] ? queue_id : "-",
			kind, smd_ctl_event_text(message), recipient[0] ? " <" : "", recipient,
			recipient[0] ? ">" : "");
		if (detail[0] != '\0')
			g_print("    %s\n", detail);
		after = id;
	}
	return after;
}

static int
smd_ctl_messages(SmdDbusGateway1 *proxy, GError **error)
{
	g_autoptr(GVariant) messages = NULL;
	GVariantBuilder filter;
	GVariantIter iter;
	const gchar *queue_id, *sender, *subject;
	gint64 received;
	guint64 size;
	GVariantIter *rcpts;

	g_variant_builder_init(&filter, G_VARIANT_TYPE("a{sv}"));
	if (opt_state != NULL)
		g_variant_builder_add(&filter, "{sv}", "state", g_variant_new_string(opt_state));
	if (opt_address != NULL)
		g_variant_builder_add(&filter, "{sv}", "address",
				      g_variant_new_string(opt_address));
	if (!smd_dbus_gateway1_call_list_messages_sync(proxy, g_variant_builder_end(&filter), 0, 50,
						       &messages, NULL, error))
		return EXIT_FAILURE;
	if (g_variant_n_children(messages) == 0)
		g_print("%s\n", _("No messages."));
	g_variant_iter_init(&iter, messages);
	while (g_variant_iter_next(&iter, "(&sx&s&sta(ss))", &queue_id, &received, &sender,
				   &subject, &size, &rcpts)) {
		g_autofree gchar *when = smd_ctl_time(received);
		const gchar *address, *state;
		g_print("%s  %s  %s  (%" G_GUINT64_FORMAT " bytes)\n", when, queue_id, sender,
			size);
		if (subject[0] != '\0')
			g_print("    %s\n", subject);
		while (g_variant_iter_next(rcpts, "(&s&s)", &address, &state))
			g_print("    %-40s %s\n", address, state);
		g_variant_iter_free(rcpts);
	}
	return EXIT_SUCCESS;
}

static int
smd_ctl_phones(SmdDbusGateway1 *proxy, const gchar *search, GError **error)
{
	g_autoptr(GVariant) phones = NULL;
	GVariantIter iter;
	const gchar *address, *number, *by, *from;
	gint64 at;

	if (!smd_dbus_gateway1_call_list_phones_sync(proxy, search != NULL ? search : "", 0, 500,
						     &phones, NULL, error))
		return EXIT_FAILURE;
	if (g_variant_n_children(phones) == 0 && search != NULL)
		g_print(_("No phone number matches “%s”\n"), search);
	else if (g_variant_n_children(phones) == 0)
		g_print("%s\n", _("No phone numbers registered"));
	g_variant_iter_init(&iter, phones);
	while (g_variant_iter_next(&iter, "(&s&s&s&sx)", &address, &number, &by, &from, &at)) {
		g_autofree gchar *when = smd_ctl_time(at);
		/* TRANSLATORS: address, phone number, who registered it, when */
		g_print(_("%-40s %-16s by %s, %s\n"), address, number, by, when);
	}
	return EXIT_SUCCESS;
}

static int
smd_ctl_message(SmdDbusGateway1 *proxy, const gchar *queue_id, GError **error)
{
	g_autoptr(GVariant) rcpts = NULL;
	g_autoptr(GVariant) events = NULL;
	GVariantIter iter;
	GVariant *r;
	gint64 id, time;
	const gchar *level, *kind, *message, *qid, *recipient, *detail;

	if (!smd_dbus_gateway1_call_get_message_sync(proxy, queue_id, &rcpts, &events, NULL, error))
		return EXIT_FAILURE;
	g_variant_iter_init(&iter, rcpts);
	while ((r = g_variant_iter_next_value(&iter)) != NULL) {
		const gchar *address = "", *state = "", *tls = NULL, *cipher = NULL, *reply = NULL;
		g_variant_lookup(r, "address", "&s", &address);
		g_variant_lookup(r, "state", "&s", &state);
		g_variant_lookup(r, "tls-version", "&s", &tls);
		g_variant_lookup(r, "tls-cipher", "&s", &cipher);
		g_variant_lookup(r, "last-reply", "&s", &reply);
		g_print("%-40s %s%s%s%s%s\n", address, state, tls != NULL ? "  " : "",
			tls != NULL ? tls : "", cipher != NULL ? " " : "",
			cipher != NULL ? cipher : "");
		if (reply != NULL)
			g_print("    %s\n", reply);
		g_variant_unref(r);
	}
	g_variant_iter_init(&iter, events);
	while (g_variant_iter_next(&iter, "(xx&s&s&s&s&s&s)", &id, &time, &level, &kind, &message,
				   &qid, &recipient, &detail)) {
		g_autofree gchar *when = smd_ctl_time(time / G_USEC_PER_SEC);
		g_print("%s %-22s %s %s\n", when, kind, recipient, smd_ctl_event_text(message));
	}
	return EXIT_SUCCESS;
}

/* The newest events, like tail: what an administrator looks for first;
 * with --follow, then what comes. */
static int
smd_ctl_log(SmdDbusGateway1 *proxy, GError **error)
{
	gint64 cursor = smd_ctl_print_events(proxy, -1, (guint)opt_lines, error);

	if (cursor < 0)
		return EXIT_FAILURE;
	while (opt_follow) {
		gint64 next = smd_ctl_print_events(proxy, cursor, 1000, error);
		if (next < 0)
			return EXIT_FAILURE;
		if (next == cursor)
			g_usleep(G_USEC_PER_SEC);
		cursor = next;
	}
	return EXIT_SUCCESS;
}

/* exit status of a command line that is not one (as many tools: 2) */
#define SMD_CTL_USAGE 2
#define SMD_CTL_UNREACHABLE 3 /* no bus, or no gateway on it */
#define SMD_CTL_NOT_AUTHORIZED 4

/* For scripts: a gateway that is down or a caller who may not is told
 * apart from a refusal of what was asked (1). */
static int
smd_ctl_failure_code(const GError *error)
{
	if (error == NULL)
		return EXIT_FAILURE;
	if (g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
		return SMD_CTL_NOT_AUTHORIZED;
	/* D-Bus activation of a stopped gateway failed (the service file
	 * starts nothing without systemd) */
	if (error->domain == G_DBUS_ERROR && error->code >= G_DBUS_ERROR_SPAWN_EXEC_FAILED &&
	    error->code <= G_DBUS_ERROR_SPAWN_NO_MEMORY)
		return SMD_CTL_UNREACHABLE;
	if (g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_TIMED_OUT) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_FILE_NOT_FOUND) ||
	    error->domain == G_IO_ERROR)
		return SMD_CTL_UNREACHABLE;
	return EXIT_FAILURE;
}

static gboolean
smd_ctl_command_known(const gchar *command, int nargs)
{
	static const struct {
		const gchar *name;
		int min, max;
	} commands[] = {{"requests", 0, 0}, {"stats", 0, 0},	 {"log", 0, 0},
			{"messages", 0, 0}, {"phones", 0, 1},	 {"message", 1, 1},
			{"resend", 2, 2},   {"revoke", 1, 1},	 {"unlock", 1, 1},
			{"reload", 0, 0},   {"set-phone", 2, 2}, {"remove-phone", 1, 1},
			{"flush", 0, 1}};

	for (guint i = 0; i < G_N_ELEMENTS(commands); i++)
		if (g_strcmp0(command, commands[i].name) == 0)
			return nargs >= commands[i].min && nargs <= commands[i].max;
	return FALSE;
}

int
main(int argc, char **argv)
{
	const GOptionEntry entries[] = {
	    {"session", 0, 0, G_OPTION_ARG_NONE, &opt_session,
	     N_("Talk to a gateway on the session bus (development)"), NULL},
	    {"follow", 'f', 0, G_OPTION_ARG_NONE, &opt_follow, N_("log: keep printing new events"),
	     NULL},
	    {"lines", 'n', 0, G_OPTION_ARG_INT, &opt_lines,
	     N_("log: how many of the newest events (default 50, at most 1000)"), N_("N")},
	    {"state", 0, 0, G_OPTION_ARG_STRING, &opt_state, N_("messages: only with this state"),
	     N_("STATE")},
	    {"address", 0, 0, G_OPTION_ARG_STRING, &opt_address,
	     N_("messages: only from or to this address"), N_("ADDRESS")},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new(_("COMMAND [ARGUMENTS]"));
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdDbusGateway1) proxy = NULL;
	const gchar *command;
	int rc = EXIT_FAILURE;

	(void)setlocale(LC_ALL, ""); /* on failure the C locale: English */
	/* $SECUMAILER_LOCALEDIR: the catalogues of a build tree */
	bindtextdomain(GETTEXT_PACKAGE, g_getenv("SECUMAILER_LOCALEDIR") != NULL
					    ? g_getenv("SECUMAILER_LOCALEDIR")
					    : LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	g_option_context_set_summary(context,
				     _("Manage a SecuMailer gateway from the command line."));
	g_option_context_set_description(
	    context,
	    _("Commands:\n"
	      "  requests                    pending registration requests\n"
	      "  set-phone ADDRESS NUMBER    register a recipient's mobile number\n"
	      "  remove-phone ADDRESS        forget a recipient's number\n"
	      "  phones [SEARCH]             the phone directory\n"
	      "  stats                       counts per state, today and this week\n"
	      "  messages [--state S] [--address A]   the newest messages and their status\n"
	      "  message QUEUE-ID            one message's recipients and history\n"
	      "  resend QUEUE-ID ADDRESS     send a new invitation\n"
	      "  revoke QUEUE-ID             withdraw a held message\n"
	      "  unlock ADDRESS              unlock links locked by wrong pins\n"
	      "  reload                      read the configuration again\n"
	      "  flush [DOMAIN]              try deferred mail now, not at its retry time\n"
	      "  log [-n N] [--follow]       the newest events of the log\n"
	      "\n"
	      "Exit status: 0 done, 1 refused by the gateway, 2 not a valid command line,\n"
	      "3 the gateway cannot be reached, 4 not authorized.\n"));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("%s\n", error->message);
		return SMD_CTL_USAGE;
	}
	if (opt_lines < 1 || opt_lines > 1000) {
		g_printerr(_("--lines must be from 1 to 1000.\n"));
		return SMD_CTL_USAGE;
	}
	if (argc < 2) {
		g_autofree gchar *help = g_option_context_get_help(context, TRUE, NULL);
		g_printerr("%s", help);
		return SMD_CTL_USAGE;
	}
	/* D-Bus strings are UTF-8; GVariant would put "[Invalid UTF-8]" in
	 * place of the argument, and a filter would silently match nothing */
	for (int i = 2; i < argc; i++) {
		if (!g_utf8_validate(argv[i], -1, NULL)) {
			g_printerr(_("Argument %d is not valid UTF-8.\n"), i - 1);
			return EXIT_FAILURE;
		}
	}
	command = argv[1];
	/* a typing slip is said as such, also when the gateway is not there */
	if (!smd_ctl_command_known(command, argc - 2)) {
		g_printerr(_("Unknown command or wrong arguments: %s (see --help)\n"), command);
		return SMD_CTL_USAGE;
	}
	(void)smd_error_quark(); /* typed errors from the daemon */
	proxy = smd_dbus_gateway1_proxy_new_for_bus_sync(
	    opt_session ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
	    G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES | G_DBUS_PROXY_FLAGS_DO_NOT_CONNECT_SIGNALS,
	    "org.secumailer.Gateway1", "/org/secumailer/Gateway1", NULL, &error);
	if (proxy == NULL) {
		g_printerr(_("Cannot reach the SecuMailer service: %s\n"), error->message);
		return SMD_CTL_UNREACHABLE;
	}
	/* polkit may ask for a password and give the user up to two minutes;
	 * D-Bus's default 25 s would end that as "cannot reach" */
	g_dbus_proxy_set_default_timeout(G_DBUS_PROXY(proxy), 150 * 1000);
	if (g_strcmp0(command, "requests") == 0 && argc == 2) {
		rc = smd_ctl_requests(proxy, &error);
	} else if (g_strcmp0(command, "stats") == 0 && argc == 2) {
		rc = smd_ctl_stats(proxy, &error);
	} else if (g_strcmp0(command, "log") == 0 && argc == 2) {
		rc = smd_ctl_log(proxy, &error);
	} else if (g_strcmp0(command, "messages") == 0 && argc == 2) {
		rc = smd_ctl_messages(proxy, &error);
	} else if (g_strcmp0(command, "phones") == 0 && argc <= 3) {
		rc = smd_ctl_phones(proxy, argc == 3 ? argv[2] : NULL, &error);
	} else if (g_strcmp0(command, "message") == 0 && argc == 3) {
		rc = smd_ctl_message(proxy, argv[2], &error);
	} else if (g_strcmp0(command, "resend") == 0 && argc == 4) {
		if (smd_dbus_gateway1_call_resend_invitation_sync(proxy, argv[2], argv[3], NULL,
								  &error)) {
			g_print(_("A new invitation goes to %s\n"), argv[3]);
			rc = EXIT_SUCCESS;
		}
	} else if (g_strcmp0(command, "revoke") == 0 && argc == 3) {
		if (smd_dbus_gateway1_call_revoke_message_sync(proxy, argv[2], NULL, &error)) {
			g_print(_("Message %s withdrawn\n"), argv[2]);
			rc = EXIT_SUCCESS;
		}
	} else if (g_strcmp0(command, "unlock") == 0 && argc == 3) {
		guint n = 0;
		if (smd_dbus_gateway1_call_unlock_recipient_sync(proxy, argv[2], &n, NULL,
								 &error)) {
			g_print(ngettext("%u link unlocked\n", "%u links unlocked\n", n), n);
			rc = EXIT_SUCCESS;
		}
	} else if (g_strcmp0(command, "reload") == 0 && argc == 2) {
		if (smd_dbus_gateway1_call_reload_sync(proxy, NULL, &error)) {
			g_print("%s\n", _("Configuration reloaded"));
			rc = EXIT_SUCCESS;
		}
	} else if (g_strcmp0(command, "flush") == 0 && argc <= 3) {
		guint n = 0;
		if (smd_dbus_gateway1_call_flush_sync(proxy, argc == 3 ? argv[2] : "", &n, NULL,
						      &error)) {
			g_print(ngettext("%u delivery due now\n", "%u deliveries due now\n", n), n);
			rc = EXIT_SUCCESS;
		}
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
	}
	if (rc != EXIT_SUCCESS && error != NULL) {
		rc = smd_ctl_failure_code(error);
		g_dbus_error_strip_remote_error(error);
		if (rc == SMD_CTL_UNREACHABLE)
			g_printerr(_("Cannot reach the SecuMailer service: %s\n"), error->message);
		else
			g_printerr("%s\n", error->message);
	}
	return rc;
}
