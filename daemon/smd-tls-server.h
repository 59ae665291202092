/*
 * SecuMailer — what our two TLS servers (SMTP's STARTTLS and the HTTPS
 * portal) share: a server connection without a trust list, and a wait on
 * the main loop for the client's whole ClientHello.
 *
 * glib-networking runs every handshake on one of GIO's few shared worker
 * threads from its start to its end, most of it waiting for the client.
 * Started before the ClientHello is here, a client that sends nothing, or
 * a few bytes of it, holds a thread that STARTTLS, delivery and DNS
 * lookups need; so a handshake starts only once its first record is here.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A server side TLS connection over @base. No client certificates are
 * asked for, so no trust list: made with a NULL database, glib-networking
 * 2.74 does not parse the system's CA bundle for every connection
 * (bench/relay: 54 % of the daemon's CPU under STARTTLS load). */
GIOStream *smd_tls_server_connection_new(GIOStream *base, GTlsCertificate *certificate,
					 GError **error);

/* @arrived: the first TLS record is here whole; FALSE: the client closed,
 * timed out (@socket's timeout) or sent something that is not TLS. */
typedef void (*SmdTlsHelloFunc)(gboolean arrived, gpointer user_data);

/* Watches @socket on the thread-default main context and calls @func once.
 * Returns the source (a reference): destroy it to stop waiting. @notify
 * frees @user_data when the source goes. */
GSource *smd_tls_hello_wait(GSocket *socket, GCancellable *cancellable, SmdTlsHelloFunc func,
			    gpointer user_data, GDestroyNotify notify);

G_END_DECLS
