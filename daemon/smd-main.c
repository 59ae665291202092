/*
 * SecuMailer — secumailerd: options, locale, signals; nothing else.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "secumailerd"

#include "config.h"

#include <glib-unix.h>
#include <glib/gi18n.h>
#include <gmime/gmime.h>
#include <locale.h>
#include <malloc.h>
#include <stdlib.h>

#include "smd-config.h"
#include "smd-dbus-daemon.h"
#include "smd-dns.h"
#include "smd-engine.h"
#include "smd-portal.h"
#include "smd-smtp-client.h"
#include "smd-smtp-server.h"

#if defined(__SANITIZE_ADDRESS__)
#define SMD_MAIN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SMD_MAIN_ASAN 1
#endif
#endif

#ifdef SMD_MAIN_ASAN
#include <sanitizer/asan_interface.h>

/* ASan builds only; $ASAN_OPTIONS still overrides it. GCC 12's runtime
 * (and LLVM's of its time) takes a malloc'd dynamic TLS block (__thread
 * data of a dlopen'd library: glib-networking, gnutls, p11-kit) that
 * happens to start at page offset 16 for a glibc 2.19 block, reads its
 * "header" (really ASan's chunk header) as an address and a length, and
 * LeakSanitizer's tracer faults in ScanRangeForPointers at exit ("Tracer
 * caught signal 11", no report). Without the interception such blocks are
 * still scanned: each is a heap chunk reached from the thread's DTV. */
const char *
__asan_default_options(void)
{
	return "intercept_tls_get_addr=0";
}
#endif

/* How long a stop waits for running deliveries before it leaves them to
 * the next start (their recipients are still queued in the store). */
#define SMD_MAIN_DRAIN_SECONDS 20

typedef struct {
	GMainLoop *loop;
	SmdEngine *engine;
	SmdSmtpServer *smtp;
	SmdPortal *portal; /* or NULL */
	gint64 deadline;
	const gchar *config_path;
} SmdMainStop;

/* SIGHUP: a new configuration, checked first; a bad file changes nothing. */
static gboolean
smd_main_reload_cb(gpointer user_data)
{
	SmdMainStop *stop = user_data;
	g_autoptr(GError) error = NULL;
	SmdConfig *config = smd_config_load(stop->config_path, &error);
	if (config == NULL) {
		g_warning("not reloading: %s", error->message);
		return G_SOURCE_CONTINUE;
	}
	smd_engine_reload(stop->engine, config);
	return G_SOURCE_CONTINUE;
}

static gboolean
smd_main_drain_cb(gpointer user_data)
{
	SmdMainStop *stop = user_data;
	if (!smd_engine_is_idle(stop->engine) && g_get_monotonic_time() < stop->deadline)
		return G_SOURCE_CONTINUE;
	g_main_loop_quit(stop->loop);
	return G_SOURCE_REMOVE;
}

static gboolean
smd_main_quit_cb(gpointer user_data)
{
	SmdMainStop *stop = user_data;
	if (stop->deadline != 0)
		return G_SOURCE_CONTINUE; /* already stopping */
	g_message("stopping: no new connections, finishing running deliveries");
	/* no new mail in; a message without its 250 was never accepted */
	smd_smtp_server_stop(stop->smtp);
	/* nor new portal work, whose events the stop would then wait for */
	if (stop->portal != NULL)
		smd_portal_drain(stop->portal);
	smd_engine_drain(stop->engine);
	stop->deadline = g_get_monotonic_time() + SMD_MAIN_DRAIN_SECONDS * G_USEC_PER_SEC;
	g_timeout_add(50, smd_main_drain_cb, stop);
	return G_SOURCE_CONTINUE;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *config_path = NULL;
	gboolean session_bus = FALSE;
	gboolean no_polkit = FALSE;
	gboolean check_only = FALSE;
	gboolean version = FALSE;
	const GOptionEntry entries[] = {
	    {"config", 'c', 0, G_OPTION_ARG_FILENAME, &config_path, N_("Configuration file"),
	     N_("FILE")},
	    {"session-bus", 0, 0, G_OPTION_ARG_NONE, &session_bus,
	     N_("Use the session bus (development)"), NULL},
	    {"no-polkit", 0, 0, G_OPTION_ARG_NONE, &no_polkit,
	     N_("Skip authorization checks (only with --session-bus)"), NULL},
	    {"check-config", 0, 0, G_OPTION_ARG_NONE, &check_only,
	     N_("Check the configuration file and exit"), NULL},
	    {"version", 0, 0, G_OPTION_ARG_NONE, &version, N_("Show the version and exit"), NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new(NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdConfig) config = NULL;
	g_autoptr(SmdEngine) engine = NULL;
	g_autoptr(SmdSmtpServer) smtp = NULL;
	g_autoptr(SmdPortal) portal = NULL;
	g_autoptr(SmdDbusDaemon) dbus = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	SmdMainStop stop = {0};

	/* fixed thresholds: glibc's moving ones handed memory back to the
	 * kernel and took it again for every portal request (page faults and
	 * TLB shootdowns across the threads, bench/portal) */
	mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
	mallopt(M_TRIM_THRESHOLD, 64 * 1024 * 1024);
	(void)setlocale(LC_ALL, ""); /* on failure the C locale: English */
	/* $SECUMAILER_LOCALEDIR: the catalogues of a build tree */
	bindtextdomain(GETTEXT_PACKAGE, g_getenv("SECUMAILER_LOCALEDIR") != NULL
					    ? g_getenv("SECUMAILER_LOCALEDIR")
					    : LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);

	g_option_context_set_summary(context, _("SecuMailer secure-mail gateway daemon"));
	g_option_context_add_main_entries(context, entries, GETTEXT_PACKAGE);
	if (!g_option_context_parse(context, &argc, &argv, &error)) {
		g_printerr("%s\n", error->message);
		return EXIT_FAILURE;
	}
	if (version) {
		g_print("secumailerd %s\n", PACKAGE_VERSION);
		return EXIT_SUCCESS;
	}
	if (no_polkit && !session_bus) {
		g_printerr("%s\n", _("--no-polkit is only allowed together with --session-bus"));
		return EXIT_FAILURE;
	}
	if (config_path == NULL)
		config_path = g_build_filename(SYSCONFDIR, "secumailer", "secumailer.conf", NULL);
	config = smd_config_load(config_path, &error);
	if (config == NULL) {
		g_printerr("%s\n", error->message);
		return EXIT_FAILURE;
	}
	if (check_only) {
		g_print(_("%s: configuration is valid\n"), config_path);
		return EXIT_SUCCESS;
	}

	g_mime_init();
	/* DNS on threads of its own, not on GIO's pool that TLS needs */
	smd_dns_install();
	engine = smd_engine_new(g_steal_pointer(&config), &error);
	if (engine == NULL || !smd_engine_start(engine, &error)) {
		g_printerr("%s\n", error->message);
		return EXIT_FAILURE;
	}
	/* before any port opens: whoever sees one open may signal us, and a
	 * SIGHUP without a handler ends the process (they run from the loop) */
	stop.engine = engine;
	stop.config_path = config_path;
	g_unix_signal_add(SIGTERM, smd_main_quit_cb, &stop);
	g_unix_signal_add(SIGINT, smd_main_quit_cb, &stop);
	g_unix_signal_add(SIGHUP, smd_main_reload_cb, &stop);
	if (smd_engine_get_config(engine)->portal_listen != NULL) {
		portal = smd_portal_new(engine, &error);
		if (portal == NULL) {
			g_printerr("%s\n", error->message);
			return EXIT_FAILURE;
		}
	}
	/* SMTP last: once its port takes connections, the portal's does too
	 * (what waits for the gateway waits for its mail port) */
	smtp = smd_smtp_server_new(engine, &error);
	if (smtp == NULL) {
		g_printerr("%s\n", error->message);
		return EXIT_FAILURE;
	}

	/* the admin API; mail flows whether or not a bus is there */
	if (no_polkit)
		g_warning("--no-polkit: anyone who can reach this session bus may use the admin "
			  "API unchecked (development and tests only)");
	dbus = smd_dbus_daemon_new(engine, session_bus ? G_BUS_TYPE_SESSION : G_BUS_TYPE_SYSTEM,
				   !no_polkit);

	loop = g_main_loop_new(NULL, FALSE);
	stop.loop = loop;
	stop.smtp = smtp;
	stop.portal = portal;
	g_message("secumailerd %s ready", PACKAGE_VERSION);
	g_main_loop_run(loop);

	if (portal != NULL)
		smd_portal_stop(portal);
	smd_smtp_server_stop(smtp);
	smd_engine_stop(engine);
	smd_smtp_client_close_idle();
	/* everything freed before GMime goes (not after, as the autoptrs
	 * would): a clean exit for LeakSanitizer and valgrind */
	g_clear_object(&dbus);
	g_clear_object(&portal);
	g_clear_object(&smtp);
	g_clear_object(&engine);
	g_clear_pointer(&loop, g_main_loop_unref);
	g_mime_shutdown();
	return EXIT_SUCCESS;
}
