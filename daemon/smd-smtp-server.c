/*
 * SecuMailer — the SMTP intake listener.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-smtp"

#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <glib/gi18n.h>

#include "smd-error.h"
#include "smd-smtp-server.h"
#include "smd-smtp-session.h"
#include "smd-tls-server.h"

struct _SmdSmtpServer {
	GObject parent_instance;
	SmdEngine *engine;
	GSocketService *service;
	GTlsCertificate *tls_certificate;
	guint sessions;
};

G_DEFINE_TYPE(SmdSmtpServer, smd_smtp_server, G_TYPE_OBJECT)

gboolean
smd_smtp_server_is_relay_client(GPtrArray *relay_networks, GInetAddress *address)
{
	for (guint i = 0; i < relay_networks->len; i++) {
		GInetAddressMask *mask = g_ptr_array_index(relay_networks, i);
		if (g_inet_address_mask_matches(mask, address))
			return TRUE;
	}
	return FALSE;
}

static void
smd_smtp_server_session_closed_cb(SmdSmtpSession *session, gpointer user_data)
{
	SmdSmtpServer *self = user_data;
	self->sessions--;
}

static gboolean
smd_smtp_server_incoming_cb(GSocketService *service, GSocketConnection *connection,
			    GObject *source_object, gpointer user_data)
{
	SmdSmtpServer *self = user_data;
	const SmdConfig *config = smd_engine_get_config(self->engine);
	g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address(connection, NULL);
	g_autoptr(SmdSmtpSession) session = NULL;
	gboolean relay = FALSE;

	/* SMTP and TLS handshakes are small writes waiting for small
	 * answers: Nagle's delay against the peer's delayed ACK stalled each
	 * STARTTLS session by tens of milliseconds (bench/relay) */
	g_socket_set_option(g_socket_connection_get_socket(connection), IPPROTO_TCP, TCP_NODELAY, 1,
			    NULL);
	if (G_IS_INET_SOCKET_ADDRESS(remote))
		relay = smd_smtp_server_is_relay_client(
		    config->relay_networks,
		    g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(remote)));
	session = smd_smtp_session_new(self->engine, connection, self->tls_certificate, relay);
	g_signal_connect_object(session, "closed", G_CALLBACK(smd_smtp_server_session_closed_cb),
				self, 0);
	self->sessions++;
	if (self->sessions > config->max_sessions) {
		g_autofree gchar *reply =
		    g_strdup_printf("421 4.7.0 %s %s", config->smtp_hostname,
				    _("Too many connections, try again later"));
		smd_smtp_session_refuse(session, reply);
		return TRUE;
	}
	smd_smtp_session_start(session);
	return TRUE;
}

/* A renewed certificate is picked up on reload; other settings are read
 * from the engine per connection. */
static void
smd_smtp_server_config_changed_cb(SmdEngine *engine, gpointer user_data)
{
	SmdSmtpServer *self = user_data;
	const SmdConfig *config = smd_engine_get_config(engine);
	g_autoptr(GError) error = NULL;
	GTlsCertificate *cert = NULL;

	if (config->tls_certificate != NULL) {
		cert = smd_tls_certificate_load(config->tls_certificate, config->tls_key, &error);
		if (cert == NULL) {
			g_warning("keeping the old TLS certificate: %s", error->message);
			return;
		}
	}
	g_clear_object(&self->tls_certificate);
	self->tls_certificate = cert;
}

SmdSmtpServer *
smd_smtp_server_new(SmdEngine *engine, GError **error)
{
	const SmdConfig *config = smd_engine_get_config(engine);
	g_autoptr(SmdSmtpServer) self = g_object_new(SMD_TYPE_SMTP_SERVER, NULL);

	self->engine = g_object_ref(engine);
	if (config->tls_certificate != NULL) {
		self->tls_certificate =
		    smd_tls_certificate_load(config->tls_certificate, config->tls_key, error);
		if (self->tls_certificate == NULL)
			return NULL;
	}
	self->service = g_socket_service_new();
	/* GIO's default backlog of 10 drops SYNs under a burst of clients,
	 * which then wait a second to retransmit */
	g_socket_listener_set_backlog(G_SOCKET_LISTENER(self->service),
				      (int)MAX(config->max_sessions, 128));
	for (guint i = 0; i < config->smtp_listen->len; i++) {
		GSocketAddress *addr = g_ptr_array_index(config->smtp_listen, i);
		g_autoptr(GError) error_local = NULL;
		if (!g_socket_listener_add_address(G_SOCKET_LISTENER(self->service), addr,
						   G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_TCP,
						   NULL, NULL, &error_local)) {
			g_autofree gchar *text =
			    g_socket_connectable_to_string(G_SOCKET_CONNECTABLE(addr));
			g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
				    _("Cannot listen for SMTP on %s: %s"), text,
				    error_local->message);
			return NULL;
		}
	}
	g_signal_connect(self->service, "incoming", G_CALLBACK(smd_smtp_server_incoming_cb), self);
	g_signal_connect_object(engine, "config-changed",
				G_CALLBACK(smd_smtp_server_config_changed_cb), self, 0);
	g_socket_service_start(self->service);
	return g_steal_pointer(&self);
}

void
smd_smtp_server_stop(SmdSmtpServer *self)
{
	if (self->service != NULL) {
		g_socket_service_stop(self->service);
		g_socket_listener_close(G_SOCKET_LISTENER(self->service));
	}
}

static void
smd_smtp_server_finalize(GObject *object)
{
	SmdSmtpServer *self = SMD_SMTP_SERVER(object);
	smd_smtp_server_stop(self);
	g_clear_object(&self->service);
	g_clear_object(&self->tls_certificate);
	g_clear_object(&self->engine);
	G_OBJECT_CLASS(smd_smtp_server_parent_class)->finalize(object);
}

static void
smd_smtp_server_class_init(SmdSmtpServerClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = smd_smtp_server_finalize;
}

static void
smd_smtp_server_init(SmdSmtpServer *self)
{
}
