/*
 * SecuMailer — recipient and job records.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-queue"

#include "config.h"

#include "smd-queue-types.h"

const gchar *
smd_outcome_to_state(SmdOutcome outcome)
{
	switch (outcome) {
	case SMD_OUTCOME_DELIVERED:
		return SMD_STATE_DELIVERED;
	case SMD_OUTCOME_DEFERRED:
		return SMD_STATE_DEFERRED;
	case SMD_OUTCOME_BOUNCED:
		return SMD_STATE_BOUNCED;
	case SMD_OUTCOME_HELD:
		return SMD_STATE_HELD;
	case SMD_OUTCOME_QUARANTINED:
		return SMD_STATE_QUARANTINED;
	default:
		g_assert_not_reached();
	}
}

void
smd_tls_info_clear(SmdTlsInfo *info)
{
	g_clear_pointer(&info->version, g_free);
	g_clear_pointer(&info->cipher, g_free);
	g_clear_pointer(&info->peer_sha256, g_free);
	info->verified = FALSE;
}

void
smd_tls_info_copy(SmdTlsInfo *dst, const SmdTlsInfo *src)
{
	smd_tls_info_clear(dst);
	dst->version = g_strdup(src->version);
	dst->cipher = g_strdup(src->cipher);
	dst->peer_sha256 = g_strdup(src->peer_sha256);
	dst->verified = src->verified;
}

SmdRecipient *
smd_recipient_new(gint64 id, const gchar *address, guint attempts)
{
	SmdRecipient *rcpt = g_new0(SmdRecipient, 1);
	rcpt->id = id;
	rcpt->address = g_strdup(address);
	rcpt->attempts = attempts;
	rcpt->outcome = SMD_OUTCOME_DEFERRED;
	return rcpt;
}

void
smd_recipient_free(SmdRecipient *rcpt)
{
	g_free(rcpt->address);
	g_free(rcpt->reply);
	g_free(rcpt->relay);
	smd_tls_info_clear(&rcpt->tls);
	g_free(rcpt);
}

SmdJob *
smd_job_new(gint64 message_id, const gchar *queue_id, const gchar *sender, gint64 received_at,
	    const gchar *domain)
{
	SmdJob *job = g_new0(SmdJob, 1);
	job->message_id = message_id;
	job->queue_id = g_strdup(queue_id);
	job->sender = g_strdup(sender);
	job->received_at = received_at;
	job->domain = g_strdup(domain);
	job->recipients = g_ptr_array_new_with_free_func((GDestroyNotify)smd_recipient_free);
	return job;
}

void
smd_job_set_outcome(SmdJob *job, SmdOutcome outcome, const gchar *reason)
{
	for (guint i = 0; i < job->recipients->len; i++) {
		SmdRecipient *r = g_ptr_array_index(job->recipients, i);
		r->outcome = outcome;
		g_free(r->reply);
		r->reply = g_strdup(reason);
	}
}

SmdJob *
smd_job_new_like(const SmdJob *job)
{
	SmdJob *copy =
	    smd_job_new(job->message_id, job->queue_id, job->sender, job->received_at, job->domain);
	copy->notification = job->notification;
	return copy;
}

void
smd_job_free(SmdJob *job)
{
	g_free(job->queue_id);
	g_free(job->sender);
	g_free(job->domain);
	g_ptr_array_unref(job->recipients);
	g_free(job);
}
