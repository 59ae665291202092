/*
 * SecuMailer — the HTTPS portal's front door (see smd-portal-tls.h).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-portal"

#include "config.h"

#include "smd-portal-tls.h"

#include "smd-common.h"
#include "smd-tls-server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

typedef enum {
	SMD_HELLO_ARRIVING, /* waiting for the whole ClientHello */
	SMD_HELLO_QUEUED,   /* waiting for a handshake of its own */
	SMD_HELLO_HANDSHAKE,
} SmdHelloState;

/* What one client (smd_portal_tls_client_key()) has here. */
typedef struct {
	guint conns;	   /* connections not yet handed to libsoup */
	guint running;	   /* of them, in a handshake */
	guint stalled;	   /* handshakes it let run out of time */
	gint64 stalled_at; /* the last, monotonic µs */
} SmdPortalClient;

/* a client that stalled a handshake goes last for this long */
#define SMD_PORTAL_TLS_STALL_MEMORY (60 * G_USEC_PER_SEC)

typedef struct {
	SmdPortalTls *owner; /* NULL once the front door is gone */
	GSocketConnection *conn;
	GSocketAddress *remote;
	gchar *client;
	gint64 deadline; /* monotonic µs: of the wait, then of the handshake */
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
	GHashTable *clients; /* client key → SmdPortalClient */
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

static SmdPortalClient *
smd_portal_tls_client(SmdPortalTls *self, const gchar *key)
{
	SmdPortalClient *client = g_hash_table_lookup(self->clients, key);

	if (client == NULL) {
		client = g_new0(SmdPortalClient, 1);
		g_hash_table_insert(self->clients, g_strdup(key), client);
	}
	return client;
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

/* @h leaves the front door (to libsoup, or closed): its client's counts. */
static void
smd_hello_leave(SmdHello *h)
{
	SmdPortalTls *self = h->owner;
	SmdPortalClient *client;

	if (self == NULL)
		return;
	g_queue_remove(&self->hellos, h);
	client = g_hash_table_lookup(self->clients, h->client);
	if (h->state == SMD_HELLO_HANDSHAKE) {
		self->n_running--;
		client->running--;
	}
	if (--client->conns == 0 && client->stalled == 0)
		g_hash_table_remove(self->clients, h->client);
	h->owner = NULL;
}

/* Closes the connection and forgets it. */
static void
smd_hello_drop(SmdHello *h)
{
	smd_hello_leave(h);
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
	g_autoptr(GSocketAddress) local = NULL;

	if (!g_tls_connection_handshake_finish(G_TLS_CONNECTION(source), result, &error)) {
		g_debug("portal: no TLS with %s: %s", h->client, error->message);
		smd_hello_drop(h);
	} else if (self == NULL) {
		smd_hello_drop(h); /* the front door is gone */
	} else {
		smd_hello_leave(h);
		local = g_socket_connection_get_local_address(h->conn, NULL);
		/* adopted first: accepting emits the connection's request-started */
		smd_portal_reaper_adopt(self->reaper, h->remote, smd_hello_socket(h));
		soup_server_accept_iostream(self->server, G_IO_STREAM(h->tls), local, h->remote,
					    NULL);
		smd_hello_free(h);
	}
	if (self != NULL)
		smd_portal_tls_next(self);
}

static gboolean
smd_hello_start(SmdPortalTls *self, SmdHello *h)
{
	static const gchar *const protocols[] = {"http/1.1", "http/1.0", NULL};
	g_autoptr(GError) error = NULL;
	GIOStream *tls =
	    smd_tls_server_connection_new(G_IO_STREAM(h->conn), self->certificate, &error);

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
	h->deadline = g_get_monotonic_time() + SMD_PORTAL_HANDSHAKE_TIMEOUT * G_USEC_PER_SEC;
	self->n_running++;
	smd_portal_tls_client(self, h->client)->running++;
	g_tls_connection_handshake_async(h->tls, SMD_TLS_HANDSHAKE_PRIORITY, h->cancellable,
					 smd_hello_handshake_cb, h);
	return TRUE;
}

/* The next handshake to start, NULL if none may: a client that stalled
 * none goes before one that did, one with none running before one with
 * one, and the newest first: behind clients that stalled the portal's
 * handshakes, a visitor would wait until the queue before it had timed
 * out, and attackers must keep coming from new addresses to stay ahead. */
static SmdHello *
smd_portal_tls_pick(SmdPortalTls *self)
{
	SmdHello *best = NULL;
	guint best_rank = G_MAXUINT;

	for (GList *l = self->hellos.tail; l != NULL; l = l->prev) {
		SmdHello *h = l->data;
		SmdPortalClient *client;
		guint rank;

		if (h->state != SMD_HELLO_QUEUED)
			continue;
		client = smd_portal_tls_client(self, h->client);
		if (client->running >= SMD_PORTAL_HANDSHAKES_PER_CLIENT)
			continue;
		rank = MIN(client->stalled, G_MAXUINT / 4) * 2 + (client->running > 0);
		if (rank < best_rank) {
			best = h;
			best_rank = rank;
		}
		if (rank == 0)
			break;
	}
	return best;
}

/* Starts as many queued handshakes as there is room for. */
static void
smd_portal_tls_next(SmdPortalTls *self)
{
	SmdHello *h;

	while (self->n_running < SMD_PORTAL_HANDSHAKES && (h = smd_portal_tls_pick(self)) != NULL) {
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

/* Says why a connection is closed at once, at most once a minute. */
static void
smd_portal_tls_refuse(SmdPortalTls *self, GSocketConnection *conn, const gchar *why)
{
	gint64 now = g_get_monotonic_time();

	if (now - self->warned >= 60 * G_USEC_PER_SEC) {
		g_warning("portal: closing new connections: %s", why);
		self->warned = now;
	}
	g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
}

static gboolean
smd_portal_tls_incoming_cb(GSocketService *service, GSocketConnection *conn, GObject *source_object,
			   gpointer user_data)
{
	SmdPortalTls *self = user_data;
	g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address(conn, NULL);
	g_autofree gchar *key = NULL;
	SmdPortalClient *client;
	SmdHello *h;

	if (remote == NULL || !G_IS_INET_SOCKET_ADDRESS(remote)) {
		g_io_stream_close(G_IO_STREAM(conn), NULL, NULL); /* gone already */
		return TRUE;
	}
	if (self->hellos.length >= SMD_PORTAL_TLS_WAITING_MAX) {
		smd_portal_tls_refuse(self, conn, "too many wait for TLS");
		return TRUE;
	}
	key = smd_portal_tls_client_key(
	    g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(remote)));
	client = smd_portal_tls_client(self, key);
	if (client->conns >= SMD_PORTAL_TLS_WAITING_PER_CLIENT) {
		smd_portal_tls_refuse(self, conn, "one client has too many waiting for TLS");
		return TRUE;
	}
	client->conns++;
	h = g_new0(SmdHello, 1);
	h->owner = self;
	h->conn = g_object_ref(conn);
	h->remote = g_steal_pointer(&remote);
	h->client = g_steal_pointer(&key);
	h->deadline = g_get_monotonic_time() + SMD_PORTAL_TLS_WAIT_TIMEOUT * G_USEC_PER_SEC;
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

/* Forgets clients that are gone and stalled no handshake for a while. */
static void
smd_portal_tls_forget(SmdPortalTls *self, gint64 now)
{
	GHashTableIter iter;
	SmdPortalClient *client;

	g_hash_table_iter_init(&iter, self->clients);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&client)) {
		if (client->conns == 0 && now - client->stalled_at >= SMD_PORTAL_TLS_STALL_MEMORY)
			g_hash_table_iter_remove(&iter);
	}
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
		g_debug("portal: no TLS with %s in time", h->client);
		if (h->state == SMD_HELLO_HANDSHAKE) {
			SmdPortalClient *client = smd_portal_tls_client(self, h->client);

			client->stalled++;
			client->stalled_at = now;
			h->deadline = G_MAXINT64; /* its callback drops it */
			smd_hello_abort(h);
		} else {
			smd_hello_drop(h);
		}
	}
	smd_portal_tls_forget(self, now);
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
	self->clients = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	self->service = g_socket_service_new();
	if (!g_socket_listener_add_socket(G_SOCKET_LISTENER(self->service), listener, NULL, error))
		return NULL;
	g_signal_connect(self->service, "incoming", G_CALLBACK(smd_portal_tls_incoming_cb), self);
	self->timer = g_timeout_add_seconds(1, smd_portal_tls_tick_cb, self);
	return g_steal_pointer(&self);
}

void
smd_portal_tls_set_certificate(SmdPortalTls *self, GTlsCertificate *certificate)
{
	g_set_object(&self->certificate, certificate);
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
	g_clear_pointer(&self->clients, g_hash_table_unref);
	g_clear_object(&self->certificate);
	g_free(self);
}
