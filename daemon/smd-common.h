/*
 * SecuMailer — autoptr cleanups for foreign types and small shared helpers.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <openssl/evp.h>
#include <sqlite3.h>

G_BEGIN_DECLS

G_DEFINE_AUTOPTR_CLEANUP_FUNC(sqlite3_stmt, sqlite3_finalize)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_CIPHER_CTX, EVP_CIPHER_CTX_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(EVP_PKEY_CTX, EVP_PKEY_CTX_free)

/* Wall-clock seconds since the epoch: what the store records. */
static inline gint64
smd_now(void)
{
	return g_get_real_time() / G_USEC_PER_SEC;
}

/* The I/O priority of every TLS handshake we start. glib-networking runs a
 * handshake on one of GIO's shared worker threads, which DNS lookups, SMS
 * provider calls and other handshakes also queue for; the queue is sorted
 * by this priority. Name servers that never answer hold a thread for the
 * resolver's whole timeout each, and the pool grows by about one thread a
 * tenth of a second at first and ever slower (GLib 2.74): behind a queue
 * of such lookups a STARTTLS waited for all of them to start. Ahead of
 * them it waits at most for the pool's next thread. The handshakes
 * themselves are bounded in number and time (smd-portal-tls.c, the SMTP
 * session's and client's deadlines), so they cannot starve the lookups. */
#define SMD_TLS_HANDSHAKE_PRIORITY G_PRIORITY_HIGH

gchar *smd_random_id(void);
gchar *smd_sha256_hex(const guint8 *data, gsize len);
/* The header section of a message (up to its first empty line, the last
 * header's CRLF kept): all a report or an invitation takes from it. */
GBytes *smd_message_header_section(GBytes *message);

G_END_DECLS

G_BEGIN_DECLS
/* RFC 5322 date-time in English whatever the locale, e.g.
 * "Sun, 29 Nov 2026 14:39:33 +0000". */
gchar *smd_rfc5322_date(GDateTime *dt);
G_END_DECLS
