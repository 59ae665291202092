/*
 * SecuMailer — the records that travel between intake, store, queue and
 * delivery: a recipient's state and the outcome of a delivery attempt.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Stored as text in recipients.state (see DESIGN.md, "Data and states"). */
#define SMD_STATE_QUEUED "queued"
#define SMD_STATE_DEFERRED "deferred"
#define SMD_STATE_DELIVERED "delivered"
#define SMD_STATE_BOUNCED "bounced"
#define SMD_STATE_HELD "held"
#define SMD_STATE_QUARANTINED "quarantined"

typedef enum {
	SMD_OUTCOME_DELIVERED,	 /* accepted by the next hop over TLS */
	SMD_OUTCOME_DEFERRED,	 /* 4xx, timeout, unreachable: try again */
	SMD_OUTCOME_BOUNCED,	 /* 5xx or gave up: DSN to the sender */
	SMD_OUTCOME_HELD,	 /* no TLS: kept in the vault for the portal */
	SMD_OUTCOME_QUARANTINED, /* the stored body failed its integrity check */
} SmdOutcome;

const gchar *smd_outcome_to_state(SmdOutcome outcome);

/* What we learnt of the TLS session a message left over. */
typedef struct {
	gchar *version;
	gchar *cipher;
	gchar *peer_sha256;
	gboolean verified;
} SmdTlsInfo;

void smd_tls_info_clear(SmdTlsInfo *info);
void smd_tls_info_copy(SmdTlsInfo *dst, const SmdTlsInfo *src);

typedef struct {
	gint64 id;
	gchar *address;
	guint attempts;
	/* result of an attempt */
	SmdOutcome outcome;
	gchar *reply; /* remote reply or our reason, printable ASCII */
	gchar *relay; /* host[ip]:port it went to */
	SmdTlsInfo tls;
	gboolean expired; /* bounced for max-queue-lifetime, @reply the last */
} SmdRecipient;

SmdRecipient *smd_recipient_new(gint64 id, const gchar *address, guint attempts);
void smd_recipient_free(SmdRecipient *rcpt);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdRecipient, smd_recipient_free)

/* One message's recipients at one domain: the unit of delivery. */
typedef struct {
	gint64 message_id;
	gchar *queue_id;
	gchar *sender;
	gint64 received_at;
	gchar *domain;
	gint64 due_at;
	gboolean notification; /* no content: TLS when offered, else plain */
	GPtrArray *recipients; /* of SmdRecipient */
	gboolean unreachable;  /* the attempt's result: no next hop greeted us */
} SmdJob;

SmdJob *smd_job_new(gint64 message_id, const gchar *queue_id, const gchar *sender,
		    gint64 received_at, const gchar *domain);
/* Gives every recipient of @job @outcome, with @reason as its reply. */
void smd_job_set_outcome(SmdJob *job, SmdOutcome outcome, const gchar *reason);
/* A job for the same message and domain, without recipients. */
SmdJob *smd_job_new_like(const SmdJob *job);
void smd_job_free(SmdJob *job);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdJob, smd_job_free)

G_END_DECLS
