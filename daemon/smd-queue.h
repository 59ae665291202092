/*
 * SecuMailer — the delivery queue: which job runs when. Jobs due now
 * run as soon as a connection slot is free; deferred ones wait for their
 * retry time. The queue's truth is the store; this is its schedule.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "smd-config.h"
#include "smd-queue-types.h"
#include "smd-store.h"
#include "smd-vault.h"

G_BEGIN_DECLS

#define SMD_TYPE_QUEUE (smd_queue_get_type())
G_DECLARE_FINAL_TYPE(SmdQueue, smd_queue, SMD, QUEUE, GObject)

/* Signal "bounced" (SmdJob *job, GBytes *message): emitted after a
 * job's outcomes are stored when some recipients bounced and the sender
 * is not the null path, so the engine can send a DSN.
 * Signal "held" (SmdJob *job, GBytes *message): some recipients were held
 * for the portal. */
SmdQueue *smd_queue_new(const SmdConfig *config, SmdStore *store, SmdVault *vault);
/* Loads every queued and deferred recipient from the store. */
gboolean smd_queue_load(SmdQueue *self, GError **error);
/* Takes @job. */
void smd_queue_add(SmdQueue *self, SmdJob *job);
void smd_queue_stop(SmdQueue *self);
/* Borrowed, like the one given to smd_queue_new(). */
void smd_queue_set_config(SmdQueue *self, const SmdConfig *config);
/* Starts no new deliveries; running ones finish, lookups are cancelled. */
void smd_queue_drain(SmdQueue *self);
/* No delivery running and no lookup in flight. */
gboolean smd_queue_is_idle(SmdQueue *self);

/* The waiting jobs of @domain (NULL or "": all) due now, its suspension and
 * any failed lookup forgotten (postqueue -f); how many jobs that made due. */
guint smd_queue_flush(SmdQueue *self, const gchar *domain);

/* How many jobs wait or run (for tests and statistics). */
guint smd_queue_get_length(SmdQueue *self);

G_END_DECLS
