/*
 * SecuMailer — the process's GResolver: the C library's own lookups
 * (getaddrinfo, res_nquery), as GIO's threaded resolver makes them, but on
 * threads of our own.
 *
 * GIO 2.74 runs each lookup on its shared worker pool from start to end.
 * That pool is also where every TLS handshake runs; it has 10 threads and
 * grows by one after 0.1 s, each next one 3 % later. A name server that
 * never answers holds a thread for the resolver's whole timeout (10 s and
 * more), so a mailing to domains with dead name servers queued every
 * other lookup (the MX hosts' addresses at connect time too) behind them
 * for tens of seconds. Here a lookup gets a thread at once, up to
 * SMD_DNS_THREADS; GSocketClient and smd-resolver.c use it through
 * g_resolver_get_default() as before. Reverse and SRV lookups, which the
 * daemon does not make, go to GIO's resolver.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Lookups at once; more wait for a thread in order. */
#define SMD_DNS_THREADS 128

#define SMD_TYPE_DNS (smd_dns_get_type())
G_DECLARE_FINAL_TYPE(SmdDns, smd_dns, SMD, DNS, GResolver)

/* Makes an SmdDns the default resolver (once; later calls do nothing). */
void smd_dns_install(void);

/* Parses a DNS response to an MX query: a list of GVariant "(qs)"
 * (preference, exchange; "" for a null MX, RFC 7505), as
 * g_resolver_lookup_records() gives; NULL with G_RESOLVER_ERROR_NOT_FOUND
 * when it holds no MX record, or another error when it cannot be parsed. */
GList *smd_dns_parse_mx(const guint8 *answer, gsize len, GError **error);

G_END_DECLS
