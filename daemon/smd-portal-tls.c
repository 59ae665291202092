/*
 * SecuMailer — the HTTPS portal's front door (see smd-portal-tls.h).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-portal"

#include "config.h"

#include "smd-portal-tls.h"

#include "smd-tls-server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

typedef enum {
	SMD_HELLO_ARRIVING, /* waiting for the whole first record */
	SMD_HELLO_QUEUED,   /* waiting for a handshake of its own */
	SMD_HELLO_HANDSHAKE,
} SmdHelloState;

typedef struct {
	SmdPortalTls *owner; /* NULL once the front door is gone */
	GSocketConnection *conn;
	GSocketAddress *remote;
	gchar *client;
	gint64 deadline; /* monotonic µs */
	GSource *source; /* SMD_HELLO_ARRIVING: smd_tls_hello_wait() */
	GTlsConnection *tls;
	GCancellable *cancellable;
	SmdHelloState state;
} SmdHello;

struct _SmdPortalTls {
	SoupServer *server;
	SmdPortalReaper *reaper;
	GTlsCertificate *certificate;
	GSocketService *service;
	GQueue hellos;	     /* SmdHello*, oldest first */
	GHashTable *running; /* client → handshakes in progress */
	guint n_running;
	guint timer;
	gint64 warned; /* when "too many waiting" was last logged */
};

gchar *
smd_portal_tls_client_key(GInetAddress *address)
{
	const guint8 *b = g_inet_address_to_bytes(address);
	static const guint8 v4_mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

	if (g_inet_address_get_family(address) == G_SOCKET_FAMILY_IPV4)
		return g_inet_address_to_string(address);
	if (memcmp(b, v4_mapped, sizeof v4_mapped) == 0)
		return g_strdup_printf("%u.%u.%u.%u", b[12], b[13], b[14], b[15]);
	return g_strdup_printf("%02x%02x:%02x%02x:%02x%02x:%02x%02x::/64", b[0], b[1], b[2], b[3],
			       b[4], b[5], b[6], b[7]);
}

static void
smd_hello_free(SmdHello *h)
{
	if (h->source != NULL) {
		g_source_destroy(h->source);
		g_source_unref(h->source);
	}
	g_clear_object(&h->tls);
	g_clear_object(&h->cancellable);
	g_clear_object(&h->remote);
	g_clear_object(&h->conn);
	g_free(h->client);
	g_free(h);
}

static GSocket *
smd_hello_socket(SmdHello *h)
{
	return g_socket_connection_get_socket(h->conn);
}

/* Closes the connection and forgets it. */
static void
smd_hello_drop(SmdHello *h)
{
	if (h->owner != NULL)
		g_queue_remove(&h->owner->hellos, h);
	g_io_stream_close(G_IO_STREAM(h->conn), NULL, NULL);
	smd_hello_free(h);
}

static void smd_portal_tls_next(SmdPortalTls *self);

static void
smd_hello_handshake_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdHello *h = user_data;
	SmdPortalTls *self = h->owner;
	g_autoptr(GError) error = NULL;
	gboolean done = g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), result, &error);
	guint of_client;

	if (self == NULL) {
		smd_hello_drop(h);
		return;
	}
	self->n_running--;
	of_client = GPOINTER_TO_UINT(g_hash_table_lookup(self->running, h->client));
	if (of_client > 1)
		g_hash_table_insert(self->running, g_strdup(h->client),
				    GUINT_TO_POINTER(of_client - 1));
	else
		g_hash_table_remove(self->running, h->client);

	if (done) {
		g_autoptr(GSocketAddress) local =
		    g_socket_connection_get_local_address(h->conn, NULL);

		g_queue_remove(&self->hellos, h);
		h->owner = NULL;
		/* adopted first: accepting emits the connection's request-started */
		smd_portal_reaper_adopt(self->reaper, h->remote, smd_hello_socket(h));
		soup_server_accept_iostream(self->server, G_IO_STREAM(h->tls), local, h->remote,
					    NULL);
		smd_hello_free(h);
	} else {
		g_debug("portal: no TLS with %s: %s", h->client, error->message);
		smd_hello_drop(h);
	}
	smd_portal_tls_next(self);
}

static gboolean
smd_hello_start(SmdPortalTls *self, SmdHello *h)
{
	static const gchar *const protocols[] = {"http/1.1", "http/1.0", NULL};
	g_autoptr(GError) error = NULL;
	GIOStream *tls =
	    smd_tls_server_connection_new(G_IO_STREAM(h->conn), self->certificate, &error);
	guint of_client = GPOINTER_TO_UINT(g_hash_table_lookup(self->running, h->client));

	if (tls == NULL) {
		g_warning("portal: cannot start TLS: %s", error->message);
		return FALSE;
	}
	h->tls = G_TLS_CONNECTION(tls);
	/* browsers close without close_notify, as libsoup's own setting */
	g_tls_connection_set_require_close_notify(h->tls, FALSE);
	g_tls_connection_set_advertised_protocols(h->tls, protocols);
	h->cancellable = g_cancellable_new();
	h->state = SMD_HELLO_HANDSHAKE;
	self->n_running++;
	g_hash_table_insert(self->running, g_strdup(h->client), GUINT_TO_POINTER(of_client + 1));
	g_tls_connection_handshake_async(h->tls, G_PRIORITY_DEFAULT, h->cancellable,
					 smd_hello_handshake_cb, h);
	return TRUE;
}

/* Starts the oldest queued handshakes there is room for. */
static void
smd_portal_tls_next(SmdPortalTls *self)
{
	GList *l = self->hellos.head;

	while (l != NULL && self->n_running < SMD_PORTAL_HANDSHAKES) {
		SmdHello *h = l->data;

		l = l->next; /* h may go */
		if (h->state != SMD_HELLO_QUEUED ||
		    GPOINTER_TO_UINT(g_hash_table_lookup(self->running, h->client)) >=
			SMD_PORTAL_HANDSHAKES_PER_CLIENT)
			continue;
		if (!smd_hello_start(self, h))
			smd_hello_drop(h);
	}
}

static void
smd_hello_arrived_cb(gboolean arrived, gpointer user_data)
{
	SmdHello *h = user_data;

	g_clear_pointer(&h->source, g_source_unref); /* it ends after this */
	if (!arrived) {
		smd_hello_drop(h);
		return;
	}
	h->state = SMD_HELLO_QUEUED;
	smd_portal_tls_next(h->owner);
}

static gboolean
smd_portal_tls_incoming_cb(GSocketService *service, GSocketConnection *conn, GObject *source_object,
			   gpointer user_data)
{
	SmdPortalTls *self = user_data;
	g_autoptr(GInetAddress) address = NULL;
	SmdHello *h;

	if (self->hellos.length >= SMD_PORTAL_TLS_WAITING_MAX) {
		gint64 now = g_get_monotonic_time();

		if (now - self->warned >= 60 * G_USEC_PER_SEC) {
			g_warning("portal: %u connections wait for TLS; closing new ones",
				  self->hellos.length);
			self->warned = now;
		}
		g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
		return TRUE;
	}
	h = g_new0(SmdHello, 1);
	h->conn = g_object_ref(conn);
	h->remote = g_socket_connection_get_remote_address(conn, NULL);
	if (h->remote == NULL || !G_IS_INET_SOCKET_ADDRESS(h->remote)) {
		smd_hello_drop(h); /* gone already */
		return TRUE;
	}
	h->owner = self;
	h->client = smd_portal_tls_client_key(
	    g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(h->remote)));
	h->deadline = g_get_monotonic_time() + SMD_PORTAL_HANDSHAKE_TIMEOUT * G_USEC_PER_SEC;
	g_socket_set_option(smd_hello_socket(h), IPPROTO_TCP, TCP_NODELAY, 1, NULL);
	g_queue_push_tail(&self->hellos, h);
	h->source = smd_tls_hello_wait(smd_hello_socket(h), NULL, smd_hello_arrived_cb, h, NULL);
	return TRUE;
}

/* Ends a handshake in progress: the cancellable for glib-networking, the
 * shutdown for a worker thread blocked reading the socket. */
static void
smd_hello_abort(SmdHello *h)
{
	g_cancellable_cancel(h->cancellable);
	g_socket_shutdown(smd_hello_socket(h), TRUE, TRUE, NULL);
}

static gboolean
smd_portal_tls_tick_cb(gpointer user_data)
{
	SmdPortalTls *self = user_data;
	gint64 now = g_get_monotonic_time();
	GList *l = self->hellos.head;

	while (l != NULL) {
		SmdHello *h = l->data;

		l = l->next;
		if (now < h->deadline)
			continue;
		g_debug("portal: no TLS with %s in %d s", h->client, SMD_PORTAL_HANDSHAKE_TIMEOUT);
		if (h->state == SMD_HELLO_HANDSHAKE) {
			h->deadline = G_MAXINT64; /* its callback drops it */
			smd_hello_abort(h);
		} else {
			smd_hello_drop(h);
		}
	}
	return G_SOURCE_CONTINUE;
}

SmdPortalTls *
smd_portal_tls_new(SoupServer *server, SmdPortalReaper *reaper, GTlsCertificate *certificate,
		   GSocket *listener, GError **error)
{
	g_autoptr(SmdPortalTls) self = g_new0(SmdPortalTls, 1);

	self->server = server;
	self->reaper = reaper;
	self->certificate = g_object_ref(certificate);
	g_queue_init(&self->hellos);
	self->running = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->service = g_socket_service_new();
	if (!g_socket_listener_add_socket(G_SOCKET_LISTENER(self->service), listener, NULL, error))
		return NULL;
	g_signal_connect(self->service, "incoming", G_CALLBACK(smd_portal_tls_incoming_cb), self);
	self->timer = g_timeout_add_seconds(1, smd_portal_tls_tick_cb, self);
	return g_steal_pointer(&self);
}

void
smd_portal_tls_free(SmdPortalTls *self)
{
	SmdHello *h;

	if (self->service != NULL) {
		g_signal_handlers_disconnect_by_data(self->service, self);
		g_socket_service_stop(self->service);
		g_socket_listener_close(G_SOCKET_LISTENER(self->service));
		g_object_unref(self->service);
	}
	if (self->timer != 0)
		g_source_remove(self->timer);
	while ((h = g_queue_pop_head(&self->hellos)) != NULL) {
		h->owner = NULL;
		if (h->state == SMD_HELLO_HANDSHAKE)
			smd_hello_abort(h); /* its callback frees it */
		else
			smd_hello_drop(h);
	}
	g_clear_pointer(&self->running, g_hash_table_unref);
	g_clear_object(&self->certificate);
	g_free(self);
}
