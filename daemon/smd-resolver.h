/*
 * SecuMailer — next hops for a recipient domain: a fixed route from
 * [delivery] routes, else the MX records (RFC 5321 §5.1) with the
 * fallback to the domain's own address when there is no MX.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "smd-config.h"

G_BEGIN_DECLS

typedef struct {
	gchar *host;
	guint16 port;
	guint16 preference;
} SmdHop;

void smd_hop_free(SmdHop *hop);

void smd_resolver_lookup_async(const SmdConfig *config, const gchar *domain,
			       GCancellable *cancellable, GAsyncReadyCallback callback,
			       gpointer user_data);
/* A GPtrArray of SmdHop in the order to try, or NULL with an error:
 * SMD_ERROR_PERMANENT (null MX, RFC 7505), SMD_ERROR_NOT_FOUND (no such
 * domain) or SMD_ERROR_TEMPORARY. */
GPtrArray *smd_resolver_lookup_finish(GAsyncResult *result, GError **error);

/* Orders MX answers by preference, shuffling equal ones (RFC 5321 §5.1). */
void smd_resolver_sort_hops(GPtrArray *hops);

G_END_DECLS
