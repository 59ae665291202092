/*
 * SecuMailer — verification of a TLS peer's certificate chain with
 * OpenSSL against a trust store loaded once. glib-networking 2.74 rebuilds
 * the system trust list for every connection (about 6 ms of CPU), which
 * would make each outbound delivery cost more than everything else.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Whether @peer (with the issuers it sent) chains to a CA in @ca_file (the
 * system trust store when NULL) and is valid for @host (a DNS name or an
 * IP address). The store is loaded on first use and kept. */
gboolean smd_tls_verify_peer(const gchar *ca_file, GTlsCertificate *peer, const gchar *host,
			     GError **error);

G_END_DECLS
