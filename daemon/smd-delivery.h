/*
 * SecuMailer — one delivery attempt of a job (one message, one recipient
 * domain): try the domain's next hops in order, and decide each
 * recipient's outcome. Nothing leaves without TLS: when no hop gives
 * TLS the recipients are held for the portal.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "smd-config.h"
#include "smd-queue-types.h"

G_BEGIN_DECLS

/* @job must stay alive until the callback; its recipients receive their
 * outcome. @hops: the domain's next hops (smd_resolver_lookup_finish()),
 * tried by preference, equal ones in a new random order; NULL when the
 * lookup failed with @lookup_error, which then decides the outcome. */
void smd_delivery_run_async(const SmdConfig *config, SmdJob *job, GPtrArray *hops,
			    const GError *lookup_error, GBytes *message, GCancellable *cancellable,
			    GAsyncReadyCallback callback, gpointer user_data);
void smd_delivery_run_finish(GAsyncResult *result);

G_END_DECLS
