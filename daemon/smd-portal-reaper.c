/*
 * SecuMailer — closes the portal's keep-alive connections that their
 * client has left (see smd-portal-reaper.h for why).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-portal"

#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "smd-portal-reaper.h"

/* how often idle connections are looked at */
#define SMD_REAPER_INTERVAL 2
/* a connection its client has half-closed, idle this long, is gone */
#define SMD_REAPER_LEFT_AFTER 2
/* any connection idle this long is closed (browsers keep them for less) */
#define SMD_REAPER_IDLE_MAX 300

typedef struct {
	GSocket *socket; /* owned: a reference, not the descriptor */
	gboolean busy;	 /* a request is being read or answered */
	gint64 idle_since;
} SmdPortalConn;

struct _SmdPortalReaper {
	SoupServer *server; /* borrowed; outlives us */
	GHashTable *conns;  /* GSocket* → SmdPortalConn */
	guint timer;
	gulong started, finished, aborted;
	guint closed;
};

static void
smd_portal_conn_free(SmdPortalConn *c)
{
	g_object_unref(c->socket);
	g_free(c);
}

static gint64
smd_reaper_now(void)
{
	return g_get_monotonic_time() / G_USEC_PER_SEC;
}

static void
smd_reaper_request_started_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	SmdPortalReaper *self = user_data;
	GSocket *socket = soup_server_message_get_socket(msg);
	SmdPortalConn *c;

	if (socket == NULL)
		return;
	c = g_hash_table_lookup(self->conns, socket);
	if (c == NULL) {
		c = g_new0(SmdPortalConn, 1);
		c->socket = g_object_ref(socket);
		g_hash_table_insert(self->conns, socket, c);
	}
	c->busy = TRUE;
}

static void
smd_reaper_request_done_cb(SoupServer *server, SoupServerMessage *msg, gpointer user_data)
{
	SmdPortalReaper *self = user_data;
	GSocket *socket = soup_server_message_get_socket(msg);
	SmdPortalConn *c = socket != NULL ? g_hash_table_lookup(self->conns, socket) : NULL;

	if (c == NULL)
		return;
	c->busy = FALSE;
	c->idle_since = smd_reaper_now();
}

/* The peer has sent its FIN: it will send no further request. */
static gboolean
smd_reaper_peer_left(GSocket *socket)
{
	struct tcp_info info = {0};
	socklen_t len = sizeof(info);

	if (getsockopt(g_socket_get_fd(socket), IPPROTO_TCP, TCP_INFO, &info, &len) != 0)
		return FALSE;
	return info.tcpi_state == TCP_CLOSE_WAIT;
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
		gint64 idle = now - c->idle_since;
		if (g_socket_is_closed(c->socket)) {
			g_hash_table_iter_remove(&iter); /* libsoup closed it */
			continue;
		}
		if (c->busy)
			continue;
		if ((idle >= SMD_REAPER_LEFT_AFTER && smd_reaper_peer_left(c->socket)) ||
		    idle >= SMD_REAPER_IDLE_MAX) {
			/* libsoup's connection sees the descriptor closed under it
			 * and lets go; the client is gone or had it for too long */
			g_socket_close(c->socket, NULL);
			self->closed++;
			g_hash_table_iter_remove(&iter);
		}
	}
	return G_SOURCE_CONTINUE;
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
	self->finished = g_signal_connect(server, "request-finished",
					  G_CALLBACK(smd_reaper_request_done_cb), self);
	self->aborted = g_signal_connect(server, "request-aborted",
					 G_CALLBACK(smd_reaper_request_done_cb), self);
	self->timer = g_timeout_add_seconds(SMD_REAPER_INTERVAL, smd_reaper_tick_cb, self);
	return self;
}

void
smd_portal_reaper_free(SmdPortalReaper *self)
{
	g_signal_handler_disconnect(self->server, self->started);
	g_signal_handler_disconnect(self->server, self->finished);
	g_signal_handler_disconnect(self->server, self->aborted);
	g_source_remove(self->timer);
	g_hash_table_unref(self->conns);
	g_free(self);
}

guint
smd_portal_reaper_get_closed(SmdPortalReaper *self)
{
	return self->closed;
}
