/*
 * SecuMailer — ends portal connections that never finish a request (see
 * smd-portal-reaper.h).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-portal"

#include "config.h"

#include "smd-portal-reaper.h"

#include <linux/sockios.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

typedef struct {
	GSocket *socket;	/* a reference, not the descriptor: libsoup owns that */
	GSocketAddress *remote; /* the key, held so that it stays unique */
	gint64 since;		/* reading a request since then */
	gboolean reading;
	/* answering: what the client had taken (TCP bytes acknowledged) when
	 * the current window of SMD_PORTAL_SEND_TIMEOUT began */
	gint64 window_since;
	guint64 window_acked;
} SmdPortalConn;

struct _SmdPortalReaper {
	SoupServer *server; /* borrowed; outlives us */
	/* libsoup's remote address object of each connection → SmdPortalConn:
	 * the one handle its messages have on a connection we accepted
	 * ourselves (soup_server_message_get_socket() is NULL for those) */
	GHashTable *conns;
	guint timer;
	gulong started, read;
};

static void
smd_portal_conn_free(SmdPortalConn *c)
{
	g_object_unref(c->socket);
	g_object_unref(c->remote);
	g_free(c);
}

static gint64
smd_reaper_now(void)
{
	return g_get_monotonic_time() / G_USEC_PER_SEC;
}

static SmdPortalConn *
smd_reaper_add(SmdPortalReaper *self, GSocketAddress *remote, GSocket *socket)
{
	SmdPortalConn *c = g_new0(SmdPortalConn, 1);

	c->socket = g_object_ref(socket);
	c->remote = g_object_ref(remote);
	g_hash_table_insert(self->conns, remote, c);
	return c;
}

void
smd_portal_reaper_adopt(SmdPortalReaper *self, GSocketAddress *remote, GSocket *socket)
{
	SmdPortalConn *c = smd_reaper_add(self, remote, socket);

	c->reading = TRUE;
	c->since = smd_reaper_now();
}

/* libsoup 3.2 emits this when it starts waiting for a request: at accept,
 * and after each answer on a kept connection */
static void
smd_reaper_request_started_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	SmdPortalReaper *self = user_data;
	GSocketAddress *remote = soup_server_message_get_remote_address(msg);
	GSocket *socket = soup_server_message_get_socket(msg);
	SmdPortalConn *c;

	if (remote == NULL)
		return;
	c = g_hash_table_lookup(self->conns, remote);
	if (c == NULL) {
		if (socket == NULL)
			return; /* handed over without smd_portal_reaper_adopt() */
		c = smd_reaper_add(self, remote, socket);
	}
	c->reading = TRUE;
	c->since = smd_reaper_now();
}

static void
smd_reaper_request_read_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	SmdPortalReaper *self = user_data;
	GSocketAddress *remote = soup_server_message_get_remote_address(msg);
	SmdPortalConn *c = remote != NULL ? g_hash_table_lookup(self->conns, remote) : NULL;

	if (c != NULL)
		c->reading = FALSE; /* ours to answer now, however long it takes */
}

/* Whether an answer is stuck with a client that does not take it: data
 * waits in the socket, and in SMD_PORTAL_SEND_TIMEOUT the client took
 * less than SMD_PORTAL_SEND_MIN_BYTES of it (a client that reads a byte
 * now and then would hold the answer, and the memory of its message,
 * for as long as it likes). Told by the kernel's counters, so nothing
 * of libsoup's writing needs watching. */
static gboolean
smd_reaper_send_stalled(SmdPortalConn *c, gint64 now)
{
	int fd = g_socket_get_fd(c->socket);
	struct tcp_info info = {0};
	socklen_t len = sizeof(info);
	int pending = 0;

	if (ioctl(fd, SIOCOUTQ, &pending) != 0 || pending <= 0 ||
	    getsockopt(fd, IPPROTO_TCP, TCP_INFO, &info, &len) != 0 ||
	    len < G_STRUCT_OFFSET(struct tcp_info, tcpi_bytes_acked) +
		      sizeof(info.tcpi_bytes_acked)) {
		c->window_since = 0; /* nothing waits for the client */
		return FALSE;
	}
	if (c->window_since == 0 ||
	    info.tcpi_bytes_acked - c->window_acked >= SMD_PORTAL_SEND_MIN_BYTES) {
		c->window_since = now;
		c->window_acked = info.tcpi_bytes_acked;
		return FALSE;
	}
	return now - c->window_since >= SMD_PORTAL_SEND_TIMEOUT;
}

static gboolean
smd_reaper_tick_cb(gpointer user_data)
{
	SmdPortalReaper *self = user_data;
	gint64 now = smd_reaper_now();
	GHashTableIter iter;
	SmdPortalConn *c;

	g_hash_table_iter_init(&iter, self->conns);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&c)) {
		if (g_socket_is_closed(c->socket)) {
			g_hash_table_iter_remove(&iter); /* libsoup is done with it */
			continue;
		}
		if (c->reading && now - c->since >= SMD_PORTAL_READ_TIMEOUT) {
			/* a shutdown, not a close: libsoup's pending read sees the
			 * end of the stream and tears the connection down itself */
			g_debug("portal: closing a connection that sent no request in %d s",
				SMD_PORTAL_READ_TIMEOUT);
			g_socket_shutdown(c->socket, TRUE, TRUE, NULL);
			g_hash_table_iter_remove(&iter);
		} else if (!c->reading && smd_reaper_send_stalled(c, now)) {
			/* a shutdown, not GIO's socket timeout: libsoup would then
			 * close a TLS connection with a blocking close_notify into
			 * the full socket, and the main loop would wait with it */
			g_debug("portal: closing a connection whose client took less than %d "
				"bytes of its answer in %d s",
				SMD_PORTAL_SEND_MIN_BYTES, SMD_PORTAL_SEND_TIMEOUT);
			g_socket_shutdown(c->socket, TRUE, TRUE, NULL);
			g_hash_table_iter_remove(&iter);
		}
	}
	return G_SOURCE_CONTINUE;
}

gboolean
smd_portal_reaper_client_gone(SmdPortalReaper *self, SoupServerMessage *msg)
{
	GSocketAddress *remote = soup_server_message_get_remote_address(msg);
	SmdPortalConn *c = remote != NULL ? g_hash_table_lookup(self->conns, remote) : NULL;
	gchar byte;

	if (c == NULL || g_socket_is_closed(c->socket))
		return c != NULL;
	/* the request is read and nothing more comes on this connection
	 * (Connection: close), so the end of the stream is the client gone */
	return recv(g_socket_get_fd(c->socket), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
}

SmdPortalReaper *
smd_portal_reaper_new(SoupServer *server)
{
	SmdPortalReaper *self = g_new0(SmdPortalReaper, 1);

	self->server = server;
	self->conns = g_hash_table_new_full(g_direct_hash, g_direct_equal, NULL,
					    (GDestroyNotify)smd_portal_conn_free);
	self->started = g_signal_connect(server, "request-started",
					 G_CALLBACK(smd_reaper_request_started_cb), self);
	self->read =
	    g_signal_connect(server, "request-read", G_CALLBACK(smd_reaper_request_read_cb), self);
	self->timer = g_timeout_add_seconds(2, smd_reaper_tick_cb, self);
	return self;
}

void
smd_portal_reaper_free(SmdPortalReaper *self)
{
	g_signal_handler_disconnect(self->server, self->started);
	g_signal_handler_disconnect(self->server, self->read);
	g_source_remove(self->timer);
	g_hash_table_unref(self->conns);
	g_free(self);
}
