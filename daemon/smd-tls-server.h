/*
 * SecuMailer — what our two TLS servers (SMTP's STARTTLS and the HTTPS
 * portal) share: a server connection without a trust list, and a wait on
 * the main loop for the client's whole ClientHello.
 *
 * glib-networking runs every handshake on one of GIO's few shared worker
 * threads from its start to its end, most of it waiting for the client.
 * Started before the ClientHello is here, a client that sends nothing, or
 * a few bytes of it, holds a thread that STARTTLS, delivery and DNS
 * lookups need; so a handshake starts only once the whole ClientHello
 * handshake message is here (it may span records; a first record of one
 * byte does not count as a ClientHello).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* A server side TLS connection over @base. No client certificates are
 * asked for, so no trust list: made with a NULL database, glib-networking
 * 2.74 does not parse the system's CA bundle for every connection
 * (bench/relay: 54 % of the daemon's CPU under STARTTLS load). */
/* The certificate (chain) and private key in two PEM files, as GIO loads
 * them, once checked that the key is the certificate's: GIO does not, and
 * a renewed certificate with the old key would fail every handshake. */
GTlsCertificate *smd_tls_certificate_load(const gchar *cert_file, const gchar *key_file,
					  GError **error);

GIOStream *smd_tls_server_connection_new(GIOStream *base, GTlsCertificate *certificate,
					 GError **error);

/* @arrived: the ClientHello is here whole; FALSE: the client closed,
 * timed out (@socket's timeout) or sent something that is not TLS. */
typedef void (*SmdTlsHelloFunc)(gboolean arrived, gpointer user_data);

/* Watches @socket on the thread-default main context and calls @func once.
 * Returns the source (a reference): destroy it to stop waiting. @notify
 * frees @user_data when the source goes. */
GSource *smd_tls_hello_wait(GSocket *socket, GCancellable *cancellable, SmdTlsHelloFunc func,
			    gpointer user_data, GDestroyNotify notify);

typedef enum { SMD_HELLO_WHOLE, SMD_HELLO_PARTIAL, SMD_HELLO_BAD } SmdHelloScan;

/* Looks at the @len bytes a client has sent: handshake records carrying a
 * ClientHello, whole (the handshake message may span records, and a
 * record may be of one byte), or a part of it, and then *@need is how
 * many bytes to wait for before looking again; or something else. */
SmdHelloScan smd_tls_hello_scan(const guint8 *data, gsize len, gsize *need);

G_END_DECLS
