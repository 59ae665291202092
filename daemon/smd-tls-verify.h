/*
 * SecuMailer — verification of a TLS peer's certificate chain with
 * OpenSSL against a trust store loaded once per configuration.
 * glib-networking 2.74 rebuilds the system trust list for every
 * connection (about 6 ms of CPU), which would make each outbound delivery
 * cost more than everything else.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* The CAs a configuration trusts: its ca-file, or the system's store.
 * Reference-counted and read-only once loaded, so any thread may verify
 * with it. */
typedef struct _SmdTrust SmdTrust;

/* The CAs in @ca_file, or the system's store when NULL. A file whose
 * content has not changed since it was last loaded gives the same
 * SmdTrust again, so a reload parses only what changed; one that has
 * gives a new one. Any thread may call it. */
SmdTrust *smd_trust_load(const gchar *ca_file, GError **error);
SmdTrust *smd_trust_ref(SmdTrust *trust);
void smd_trust_unref(SmdTrust *trust);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdTrust, smd_trust_unref)
/* Different for every load: a TLS session checked against one store is
 * not taken for another (a CA taken out and reloaded is out at once). */
guint smd_trust_serial(const SmdTrust *trust);

/* Whether @peer (with the issuers it sent) chains to a CA of @trust and is
 * valid for @host (a DNS name or an IP address). */
gboolean smd_tls_verify_peer(SmdTrust *trust, GTlsCertificate *peer, const gchar *host,
			     GError **error);

G_END_DECLS
