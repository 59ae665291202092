/*
 * SecuMailer — what our two TLS servers share (see smd-tls-server.h).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "smd-tls-server.h"

#include <sys/socket.h>

#define SMD_TLS_HANDSHAKE_RECORD 0x16
#define SMD_TLS_RECORD_HEADER 5
#define SMD_TLS_RECORD_MAX (16384 + 256) /* a TLSCiphertext's limit */

GIOStream *
smd_tls_server_connection_new(GIOStream *base, GTlsCertificate *certificate, GError **error)
{
	return g_initable_new(g_tls_backend_get_server_connection_type(g_tls_backend_get_default()),
			      NULL, error, "base-io-stream", base, "certificate", certificate,
			      "database", NULL, NULL);
}

typedef struct {
	GSocket *socket;
	gsize need; /* bytes to wait for: the header, then the whole record */
	SmdTlsHelloFunc func;
	gpointer user_data;
	GDestroyNotify notify;
} SmdTlsHello;

static void
smd_tls_hello_free(SmdTlsHello *w)
{
	if (w->notify != NULL)
		w->notify(w->user_data);
	g_object_unref(w->socket);
	g_free(w);
}

/* Poll reports the socket readable once this much is here (or it ends):
 * no wake-up for each fragment a slow client sends. */
static void
smd_tls_hello_need(SmdTlsHello *w, gsize bytes)
{
	w->need = bytes;
	g_socket_set_option(w->socket, SOL_SOCKET, SO_RCVLOWAT, (gint)bytes, NULL);
}

static gboolean
smd_tls_hello_readable_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	SmdTlsHello *w = user_data;
	guint8 header[SMD_TLS_RECORD_HEADER];
	GInputVector vec = {header, sizeof header};
	gint flags = G_SOCKET_MSG_PEEK;
	gssize avail = g_socket_get_available_bytes(socket);
	gsize need;
	gboolean arrived = FALSE;

	/* readable with less than asked for: the client closed */
	if (avail < (gssize)w->need ||
	    g_socket_receive_message(socket, NULL, &vec, 1, NULL, NULL, &flags, NULL, NULL) !=
		(gssize)sizeof header ||
	    header[0] != SMD_TLS_HANDSHAKE_RECORD)
		goto done;
	need = sizeof header + ((gsize)header[3] << 8 | header[4]);
	if (need > sizeof header + SMD_TLS_RECORD_MAX)
		goto done;
	if ((gsize)avail < need) {
		smd_tls_hello_need(w, need);
		return G_SOURCE_CONTINUE;
	}
	arrived = TRUE;
done:
	smd_tls_hello_need(w, 1);
	w->func(arrived, w->user_data);
	return G_SOURCE_REMOVE;
}

GSource *
smd_tls_hello_wait(GSocket *socket, GCancellable *cancellable, SmdTlsHelloFunc func,
		   gpointer user_data, GDestroyNotify notify)
{
	SmdTlsHello *w = g_new0(SmdTlsHello, 1);
	GSource *source = g_socket_create_source(socket, G_IO_IN, cancellable);

	w->socket = g_object_ref(socket);
	w->func = func;
	w->user_data = user_data;
	w->notify = notify;
	smd_tls_hello_need(w, SMD_TLS_RECORD_HEADER);
	g_source_set_callback(source, G_SOURCE_FUNC(smd_tls_hello_readable_cb), w,
			      (GDestroyNotify)smd_tls_hello_free);
	g_source_attach(source, g_main_context_get_thread_default());
	return source;
}
