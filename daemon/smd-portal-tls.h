/*
 * SecuMailer — the HTTPS portal's front door: accepts its connections and
 * runs their TLS handshakes a few at a time before libsoup gets them.
 *
 * glib-networking runs every TLS handshake, asynchronous or not, on GIO's
 * shared worker threads (ten at first, growing by one every few tenths of
 * a second), the threads that SMTP's STARTTLS, onward delivery's STARTTLS
 * and DNS lookups need too. Left to libsoup, a few hundred internet
 * clients that stop in the middle of a handshake held all of them and
 * stopped the mail for as long as they kept doing it. Here a connection
 * takes a handshake only once its whole ClientHello has arrived; the
 * portal runs at most SMD_PORTAL_HANDSHAKES at once, a client (an IPv4
 * address, an IPv6 /64) at most SMD_PORTAL_HANDSHAKES_PER_CLIENT, and a
 * handshake has SMD_PORTAL_HANDSHAKE_TIMEOUT seconds; clients that let
 * handshakes run out of time go last. Many addresses together can slow
 * the portal's handshakes, never the mail's.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

#include "smd-portal-reaper.h"

G_BEGIN_DECLS

/* of GIO's ten workers (more when they are all busy for a while) */
#define SMD_PORTAL_HANDSHAKES 6
#define SMD_PORTAL_HANDSHAKES_PER_CLIENT 2
/* from its start: a browser needs a round trip or two */
#define SMD_PORTAL_HANDSHAKE_TIMEOUT 5
/* from accept, for the ClientHello and a turn */
#define SMD_PORTAL_TLS_WAIT_TIMEOUT 20
/* connections accepted and not yet handed to libsoup; more are closed */
#define SMD_PORTAL_TLS_WAITING_MAX 1024
#define SMD_PORTAL_TLS_WAITING_PER_CLIENT 32

typedef struct _SmdPortalTls SmdPortalTls;

/* Listens on @listener (bound and listening) and gives each connection,
 * once TLS is up, to @server (soup_server_accept_iostream()) and @reaper.
 * @server and @reaper must outlive the result. */
SmdPortalTls *smd_portal_tls_new(SoupServer *server, SmdPortalReaper *reaper,
				 GTlsCertificate *certificate, GSocket *listener, GError **error);
/* For the connections accepted from now on (a renewed certificate). */
void smd_portal_tls_set_certificate(SmdPortalTls *self, GTlsCertificate *certificate);
/* Stops listening and ends the handshakes in progress. */
void smd_portal_tls_free(SmdPortalTls *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdPortalTls, smd_portal_tls_free)

/* The client a connection counts against: its IPv4 address or the /64 of
 * its IPv6 address (one customer's network). */
gchar *smd_portal_tls_client_key(GInetAddress *address);

G_END_DECLS
