/*
 * SecuMailer — one delivery attempt of a job.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-delivery"

#include "config.h"

#include <glib/gi18n.h>

#include "smd-delivery.h"
#include "smd-error.h"
#include "smd-resolver.h"
#include "smd-smtp-client.h"

typedef struct {
	const SmdConfig *config;
	SmdJob *job; /* borrowed */
	GBytes *message;
	GPtrArray *hops_owner; /* the domain's next hops, shared */
	GPtrArray *hops;       /* this attempt's order of them, borrowed */
	guint next_hop;
	gchar *no_tls_reason;
	gchar *last_reason;
	gboolean answered; /* some next hop greeted us */
} SmdDeliveryRun;

static void
smd_delivery_run_free(gpointer p)
{
	SmdDeliveryRun *run = p;
	smd_config_unref(run->config);
	g_bytes_unref(run->message);
	g_clear_pointer(&run->hops, g_ptr_array_unref);
	g_clear_pointer(&run->hops_owner, g_ptr_array_unref);
	g_free(run->no_tls_reason);
	g_free(run->last_reason);
	g_free(run);
}

static void smd_delivery_try_next(GTask *task);

static void
smd_delivery_hop_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	SmdDeliveryRun *run = g_task_get_task_data(task);
	g_autofree gchar *reason = NULL;
	SmdHopResult hop_result = smd_smtp_client_deliver_finish(result, &reason);

	if (hop_result != SMD_HOP_UNREACHABLE)
		run->answered = TRUE;
	switch (hop_result) {
	case SMD_HOP_DONE:
		g_task_return_boolean(task, TRUE);
		return;
	case SMD_HOP_NO_TLS:
		g_info("%s: %s: no TLS: %s", run->job->queue_id, run->job->domain, reason);
		g_free(run->no_tls_reason);
		run->no_tls_reason = g_steal_pointer(&reason);
		break;
	case SMD_HOP_TRY_NEXT:
	case SMD_HOP_UNREACHABLE:
	default:
		g_info("%s: %s: %s", run->job->queue_id, run->job->domain, reason);
		g_free(run->last_reason);
		run->last_reason = g_steal_pointer(&reason);
		break;
	}
	smd_delivery_try_next(g_steal_pointer(&task));
}

static void
smd_delivery_try_next(GTask *task)
{
	SmdDeliveryRun *run = g_task_get_task_data(task);
	SmdHop *hop;

	if (run->next_hop >= run->hops->len) {
		/* a server that cannot do TLS gets nothing: the portal takes over
		 * (a notification is never held: it is retried) */
		if (run->no_tls_reason != NULL && !run->job->notification)
			smd_job_set_outcome(run->job, SMD_OUTCOME_HELD, run->no_tls_reason);
		else
			smd_job_set_outcome(run->job, SMD_OUTCOME_DEFERRED, run->last_reason);
		/* the queue then defers the domain's other due jobs untried */
		run->job->unreachable = run->hops->len > 0 && !run->answered;
		g_task_return_boolean(task, TRUE);
		g_object_unref(task);
		return;
	}
	hop = g_ptr_array_index(run->hops, run->next_hop++);
	smd_smtp_client_deliver_async(run->config, hop->host, hop->port, hop->host,
				      run->job->sender, run->job->recipients, run->message,
				      !run->job->notification, g_task_get_cancellable(task),
				      smd_delivery_hop_cb, task);
}

/* The recipients' outcome when the domain's next hops could not be found */
static void
smd_delivery_lookup_failed(SmdJob *job, const GError *error)
{
	g_autofree gchar *reason = NULL;

	if (g_error_matches(error, SMD_ERROR, SMD_ERROR_PERMANENT)) {
		reason = g_strdup_printf("550 5.1.10 %s", error->message);
		smd_job_set_outcome(job, SMD_OUTCOME_BOUNCED, reason);
	} else if (g_error_matches(error, SMD_ERROR, SMD_ERROR_NOT_FOUND)) {
		reason = g_strdup_printf("550 5.1.2 %s", error->message);
		smd_job_set_outcome(job, SMD_OUTCOME_BOUNCED, reason);
	} else {
		reason = g_strdup_printf("451 4.4.3 %s", error->message);
		smd_job_set_outcome(job, SMD_OUTCOME_DEFERRED, reason);
	}
}

void
smd_delivery_run_async(const SmdConfig *config, SmdJob *job, GPtrArray *hops,
		       const GError *lookup_error, GBytes *message, GCancellable *cancellable,
		       GAsyncReadyCallback callback, gpointer user_data)
{
	GTask *task = g_task_new(NULL, cancellable, callback, user_data);
	SmdDeliveryRun *run = g_new0(SmdDeliveryRun, 1);

	run->config = smd_config_ref(config);
	run->job = job;
	run->message = g_bytes_ref(message);
	run->last_reason = g_strdup(_("no next hop could be reached"));
	g_task_set_task_data(task, run, smd_delivery_run_free);
	g_task_set_source_tag(task, smd_delivery_run_async);
	if (hops == NULL) {
		smd_delivery_lookup_failed(job, lookup_error);
		g_task_return_boolean(task, TRUE);
		g_object_unref(task);
		return;
	}
	/* servers of equal preference in a new order for each attempt */
	run->hops_owner = g_ptr_array_ref(hops);
	run->hops = g_ptr_array_copy(hops, NULL, NULL);
	g_ptr_array_set_free_func(run->hops, NULL); /* the copy would free them too */
	smd_resolver_sort_hops(run->hops);
	smd_delivery_try_next(task);
}

void
smd_delivery_run_finish(GAsyncResult *result)
{
	g_task_propagate_boolean(G_TASK(result), NULL);
}
