/*
 * SecuMailer — the engine: the logic that ties intake, store, vault and
 * queue together. It never includes D-Bus headers; front ends call it.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "smd-budget.h"
#include "smd-config.h"
#include "smd-store.h"
#include "smd-vault.h"

G_BEGIN_DECLS

/* A message as the intake received it, ready to be stored. */
typedef struct {
	gchar *queue_id;
	gchar *sender;	       /* "" for the null reverse-path */
	GPtrArray *recipients; /* of gchar* */
	gchar *client_address;
	gchar *helo;
	gchar *inbound_tls;    /* "TLSv1.3 TLS_AES_256_GCM_SHA384" or NULL */
	gboolean notification; /* our own portal e-mail, see SmdJob */
	GBytes *message;       /* CRLF line ends, our Received: header first */
} SmdIncoming;

SmdIncoming *smd_incoming_new(void);
void smd_incoming_free(SmdIncoming *incoming);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdIncoming, smd_incoming_free)

#define SMD_TYPE_ENGINE (smd_engine_get_type())
G_DECLARE_FINAL_TYPE(SmdEngine, smd_engine, SMD, ENGINE, GObject)

/* Takes @config. Opens (and creates, 0700) the store directory, the
 * vault keys and the database. */
SmdEngine *smd_engine_new(SmdConfig *config, GError **error);
/* Loads the queue and starts delivering. */
gboolean smd_engine_start(SmdEngine *self, GError **error);
void smd_engine_stop(SmdEngine *self);
/* Takes @config and uses it from now on (SIGHUP); what only a restart can
 * change is logged. Emits "config-changed". */
void smd_engine_reload(SmdEngine *self, SmdConfig *config);
/* Deferred mail of @domain (NULL or "": all) tried now; how many jobs. */
guint smd_engine_flush(SmdEngine *self, const gchar *domain);
/* Begins a graceful stop: no new deliveries. smd_engine_is_idle() says
 * when the running ones and the store's work are done. */
void smd_engine_drain(SmdEngine *self);
gboolean smd_engine_is_idle(SmdEngine *self);

const SmdConfig *smd_engine_get_config(SmdEngine *self);

/* Encrypts and durably stores the message; the callback runs once it is
 * on stable storage, so the intake may answer 250. Takes @incoming. */
void smd_engine_accept_async(SmdEngine *self, SmdIncoming *incoming, GAsyncReadyCallback callback,
			     gpointer user_data);
gboolean smd_engine_accept_finish(SmdEngine *self, GAsyncResult *result, GError **error);

/* For the front ends that work on the store directly (the portal). */
SmdStore *smd_engine_get_store(SmdEngine *self);
/* What messages being received hold; sessions take from it (smd-budget.h). */
SmdBudget *smd_engine_get_intake_budget(SmdEngine *self);
SmdVault *smd_engine_get_vault(SmdEngine *self);

/* Builds and queues the e-mails of @notices (SmdNotice). */
void smd_engine_send_notices(SmdEngine *self, GPtrArray *notices);

G_END_DECLS
