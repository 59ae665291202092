/*
 * SecuMailer — the delivery queue.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-queue"

#include "config.h"

#include <glib/gi18n.h>

#include "smd-common.h"
#include "smd-delivery.h"
#include "smd-error.h"
#include "smd-event.h"
#include "smd-queue.h"
#include "smd-resolver.h"
#include "smd-store-messages.h"

struct _SmdQueue {
	GObject parent_instance;
	const SmdConfig *config; /* a reference: the engine's, until a reload */
	SmdStore *store;
	SmdVault *vault;
	GHashTable *domains; /* recipient domain → SmdQueueDomain, while it has jobs
			      * or fresh next hops */
	GQueue turns;	     /* SmdQueueDomain with jobs due now, in the order they go */
	guint ready;	     /* jobs due now, of all domains */
	GSequence *waiting;  /* SmdJob sorted by due_at */
	guint running;
	guint looking_up; /* domains whose next hops are being looked up */
	gint64 config_at; /* monotonic time the configuration last changed */
	guint tick_id;
	guint ticks;			  /* seconds, for the sweep of stale domains */
	GCancellable *cancellable;	  /* of the deliveries */
	GCancellable *lookup_cancellable; /* of the lookups, replaced on reload */
	gboolean stopped;
	gboolean draining;
	GQueue unrecorded; /* SmdQueueRun whose outcomes the store refused */
	guint parked;	   /* those, and those being offered to it again */
};

G_DEFINE_TYPE(SmdQueue, smd_queue, G_TYPE_OBJECT)

enum { SIGNAL_BOUNCED, SIGNAL_HELD, SIGNAL_LAST };
static guint signals[SIGNAL_LAST];

/* The jobs of one recipient domain that are due, and its deliveries
 * running. Domains take turns for free connections (one job each per
 * round), and each may have at most max-connections-per-domain: a domain
 * whose servers stall, or a mailing of thousands to one domain, never
 * holds up the mail to other domains. When an attempt finds no next hop
 * that greets us, the domain is suspended: its other due jobs are
 * deferred without an attempt of their own, as Postfix does with a dead
 * destination, instead of each waiting out the same connect timeout.
 * The suspension ends with the line (when the domain has no job due and
 * none running) or when an attempt is answered.
 *
 * A domain's next hops (MX lookup) are found once for its deliveries, and
 * before any of them takes a connection: a lookup whose name servers do
 * not answer waits out the resolver's timeout (10 s and more), and
 * deliveries waiting for such lookups held every connection, so that a
 * mailing to twenty such domains stopped all mail. */
typedef struct {
	gchar *name;
	GQueue ready; /* SmdJob, FIFO */
	guint running;
	gboolean queued;  /* in turns */
	gchar *suspended; /* why, while suspended */
	gboolean looking_up;
	GPtrArray *hops;      /* SmdHop, as found at looked_up_at */
	GError *lookup_error; /* or why none were */
	gint64 looked_up_at;  /* monotonic */
} SmdQueueDomain;

/* Lookups at once, each on a thread of smd-dns.c's (half of them: a
 * cancelled lookup keeps its thread until the resolver gives up, and the
 * MX hosts' addresses at connect time need threads too): more domains than this whose
 * name servers do not answer delay the lookups of the others. */
#define SMD_QUEUE_LOOKUPS 64
/* How long a domain's next hops are used: GIO gives no TTL. A failed
 * lookup is kept shorter: the due mail of the domain is deferred (or
 * bounced) at once, not each of it after a lookup of its own. */
#define SMD_QUEUE_HOPS_FRESH (300 * G_USEC_PER_SEC)
#define SMD_QUEUE_LOOKUP_ERROR_FRESH (60 * G_USEC_PER_SEC)
/* An idle domain is kept for its fresh next hops, as long as fewer
 * domains than this are known (a mailing to a million domains keeps no
 * million answers); the stale ones are swept every so many seconds. */
#define SMD_QUEUE_DOMAINS_KEPT 10000
#define SMD_QUEUE_SWEEP_EVERY 30
/* Outcomes the store could not take (a full disk) are offered again this
 * often, and said again in the log this much less often. */
#define SMD_QUEUE_RECORD_EVERY 5
#define SMD_QUEUE_RECORD_SAY_EVERY 12

typedef struct {
	SmdQueue *queue;
	SmdQueueDomain *domain; /* alive while it has a run */
	SmdJob *job;
	GBytes *message;
	GPtrArray *hops; /* the domain's, when the run started */
	GError *lookup_error;
	gboolean ended;		  /* its connection given back */
	SmdOutcomeUpdate *update; /* not recorded yet, to be offered again */
	guint record_failures;
} SmdQueueRun;

static void
smd_queue_domain_free(SmdQueueDomain *d)
{
	g_queue_clear_full(&d->ready, (GDestroyNotify)smd_job_free);
	g_clear_pointer(&d->hops, g_ptr_array_unref);
	g_clear_error(&d->lookup_error);
	g_free(d->suspended);
	g_free(d->name);
	g_free(d);
}

/* A job due now joins its domain's line; the domain, its turn */
static void
smd_queue_push_ready(SmdQueue *self, SmdJob *job)
{
	SmdQueueDomain *d = g_hash_table_lookup(self->domains, job->domain);

	if (d == NULL) {
		d = g_new0(SmdQueueDomain, 1);
		d->name = g_strdup(job->domain);
		g_queue_init(&d->ready);
		g_hash_table_insert(self->domains, d->name, d);
	}
	g_queue_push_tail(&d->ready, job);
	self->ready++;
	if (!d->queued) {
		d->queued = TRUE;
		g_queue_push_tail(&self->turns, d);
	}
}

/* Whether @d's next hops, or the failure to find them, are recent enough */
static gboolean
smd_queue_domain_looked_up(SmdQueue *self, const SmdQueueDomain *d)
{
	gint64 age = g_get_monotonic_time() - d->looked_up_at;

	if (d->looked_up_at < self->config_at)
		return FALSE;
	if (d->hops != NULL)
		return age < SMD_QUEUE_HOPS_FRESH;
	return d->lookup_error != NULL && age < SMD_QUEUE_LOOKUP_ERROR_FRESH;
}

static gboolean
smd_queue_domain_idle(const SmdQueueDomain *d)
{
	return d->running == 0 && !d->queued && !d->looking_up;
}

/* A domain with nothing due, running or being looked up ends its
 * suspension; it is forgotten unless its next hops serve the next mail
 * to it (mail that comes one message at a time, each delivered before
 * the next is accepted, would otherwise look the domain up each time). */
static void
smd_queue_domain_done(SmdQueue *self, SmdQueueDomain *d)
{
	if (!smd_queue_domain_idle(d))
		return;
	g_clear_pointer(&d->suspended, g_free);
	if (!smd_queue_domain_looked_up(self, d) ||
	    g_hash_table_size(self->domains) > SMD_QUEUE_DOMAINS_KEPT)
		g_hash_table_remove(self->domains, d->name);
}

static gboolean
smd_queue_domain_stale(gpointer key, gpointer value, gpointer user_data)
{
	SmdQueue *self = user_data;
	const SmdQueueDomain *d = value;

	return smd_queue_domain_idle(d) && !smd_queue_domain_looked_up(self, d);
}

/* A run has ended: its connection is free again */
static void
smd_queue_run_ended(SmdQueue *self, SmdQueueRun *run)
{
	SmdQueueDomain *d = run->domain;

	if (run->ended)
		return;
	run->ended = TRUE;
	run->domain = NULL; /* may go with its last run */
	self->running--;
	d->running--;
	smd_queue_domain_done(self, d);
}

/* A run of @job, holding one of the connections until it ends */
static SmdQueueRun *
smd_queue_run_new(SmdQueue *self, SmdQueueDomain *domain, SmdJob *job)
{
	SmdQueueRun *run = g_new0(SmdQueueRun, 1);

	run->queue = g_object_ref(self);
	run->domain = domain;
	run->job = job;
	if (domain->hops != NULL)
		run->hops = g_ptr_array_ref(domain->hops);
	if (domain->lookup_error != NULL)
		run->lookup_error = g_error_copy(domain->lookup_error);
	self->running++;
	domain->running++;
	return run;
}

static void
smd_queue_run_free(SmdQueueRun *run)
{
	g_object_unref(run->queue);
	g_clear_pointer(&run->job, smd_job_free);
	g_clear_pointer(&run->message, g_bytes_unref);
	g_clear_pointer(&run->hops, g_ptr_array_unref);
	g_clear_error(&run->lookup_error);
	g_clear_pointer(&run->update, smd_outcome_update_free);
	g_free(run);
}

typedef struct {
	SmdQueue *queue;
	gchar *domain;
	gint64 started_at; /* monotonic */
} SmdQueueLookup;

static void smd_queue_kick(SmdQueue *self);

static void
smd_queue_looked_up_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdQueueLookup *lookup = user_data;
	g_autoptr(SmdQueue) self = lookup->queue;
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) hops = smd_resolver_lookup_finish(result, &error);
	SmdQueueDomain *d = g_hash_table_lookup(self->domains, lookup->domain);

	/* a domain being looked up is never forgotten */
	g_assert(d != NULL && d->looking_up);
	self->looking_up--;
	d->looking_up = FALSE;
	/* a lookup started under an older configuration (routes) is asked
	 * again; one cut short by the drain or stop is of no use */
	if (lookup->started_at >= self->config_at && !self->stopped && !self->draining) {
		g_clear_pointer(&d->hops, g_ptr_array_unref);
		g_clear_error(&d->lookup_error);
		d->hops = g_steal_pointer(&hops);
		d->lookup_error = g_steal_pointer(&error);
		d->looked_up_at = g_get_monotonic_time();
	}
	smd_queue_domain_done(self, d);
	g_free(lookup->domain);
	g_free(lookup);
	smd_queue_kick(self);
}

static void
smd_queue_look_up(SmdQueue *self, SmdQueueDomain *d)
{
	SmdQueueLookup *lookup = g_new0(SmdQueueLookup, 1);

	lookup->queue = g_object_ref(self);
	lookup->domain = g_strdup(d->name);
	lookup->started_at = g_get_monotonic_time();
	d->looking_up = TRUE;
	self->looking_up++;
	smd_resolver_lookup_async(self->config, d->name, self->lookup_cancellable,
				  smd_queue_looked_up_cb, lookup);
}

/* Tries @job's recipients again after the first retry delay. */
static void
smd_queue_retry_later(SmdQueue *self, const SmdJob *job)
{
	SmdJob *again = smd_job_new_like(job);
	for (guint i = 0; i < job->recipients->len; i++) {
		const SmdRecipient *r = g_ptr_array_index(job->recipients, i);
		g_ptr_array_add(again->recipients,
				smd_recipient_new(r->id, r->address, r->attempts));
	}
	again->due_at = smd_now() + smd_config_retry_delay(self->config, 1);
	smd_queue_add(self, again);
}

static gint
smd_queue_job_compare(gconstpointer a, gconstpointer b, gpointer user_data)
{
	const SmdJob *ja = a;
	const SmdJob *jb = b;
	return ja->due_at < jb->due_at ? -1 : ja->due_at > jb->due_at ? 1 : 0;
}

void
smd_queue_add(SmdQueue *self, SmdJob *job)
{
	if (job->due_at <= smd_now())
		smd_queue_push_ready(self, job);
	else
		g_sequence_insert_sorted(self->waiting, job, smd_queue_job_compare, NULL);
	smd_queue_kick(self);
}

guint
smd_queue_flush(SmdQueue *self, const gchar *domain)
{
	g_autofree gchar *lc =
	    domain != NULL && domain[0] != '\0' ? g_ascii_strdown(domain, -1) : NULL;
	GSequenceIter *it = g_sequence_get_begin_iter(self->waiting);
	GHashTableIter iter;
	SmdQueueDomain *d;
	guint n = 0;

	while (!g_sequence_iter_is_end(it)) {
		GSequenceIter *next = g_sequence_iter_next(it);
		SmdJob *job = g_sequence_get(it);
		if (lc == NULL || g_strcmp0(job->domain, lc) == 0) {
			g_sequence_remove(it); /* no destroy func: the job moves */
			job->due_at = smd_now();
			smd_queue_push_ready(self, job);
			n++;
		}
		it = next;
	}
	/* what the domains learnt from failures is asked again */
	g_hash_table_iter_init(&iter, self->domains);
	while (g_hash_table_iter_next(&iter, NULL, (gpointer *)&d)) {
		if (lc != NULL && g_strcmp0(d->name, lc) != 0)
			continue;
		g_clear_pointer(&d->suspended, g_free);
		if (d->lookup_error != NULL && !d->looking_up)
			d->looked_up_at = 0;
	}
	smd_queue_kick(self);
	return n;
}

guint
smd_queue_get_length(SmdQueue *self)
{
	return self->ready + (guint)g_sequence_get_length(self->waiting) + self->running +
	       self->parked;
}

static gchar *
smd_queue_tls_detail(const SmdRecipient *r)
{
	return g_strdup_printf(
	    "relay=%s tls=%s cipher=%s verified=%s peer-sha256=%s reply=\"%s\"",
	    r->relay != NULL ? r->relay : "-", r->tls.version != NULL ? r->tls.version : "-",
	    r->tls.cipher != NULL ? r->tls.cipher : "-", r->tls.verified ? "yes" : "no",
	    r->tls.peer_sha256 != NULL ? r->tls.peer_sha256 : "-",
	    r->reply != NULL ? r->reply : "");
}

static SmdEvent *
smd_queue_outcome_event(SmdJob *job, SmdRecipient *r)
{
	g_autofree gchar *detail = NULL;

	switch (r->outcome) {
	case SMD_OUTCOME_DELIVERED:
		detail = smd_queue_tls_detail(r);
		/* the audit trail is the proof of encryption: our own notices
		 * (a link, no content) may go where TLS is not offered */
		if (r->tls.version == NULL)
			return smd_event_new(SMD_EVENT_INFO, "delivered", job->queue_id, r->address,
					     detail,
					     N_("Notification delivered without TLS (it holds "
						"only a link, no content)"));
		return smd_event_new(SMD_EVENT_INFO, "delivered", job->queue_id, r->address, detail,
				     N_("Delivered over TLS"));
	case SMD_OUTCOME_DEFERRED:
		return smd_event_new(SMD_EVENT_WARNING, "deferred", job->queue_id, r->address,
				     r->reply, N_("Delivery deferred, will retry"));
	case SMD_OUTCOME_HELD:
		return smd_event_new(
		    SMD_EVENT_INFO, "held", job->queue_id, r->address, r->reply,
		    N_("Recipient server cannot receive over TLS; message held for the portal"));
	case SMD_OUTCOME_QUARANTINED:
		return smd_event_new(SMD_EVENT_ERROR, "quarantined", job->queue_id, r->address,
				     r->reply,
				     N_("Stored message failed its integrity check; quarantined, "
					"never delivered"));
	case SMD_OUTCOME_BOUNCED:
	default:
		return smd_event_new(SMD_EVENT_ERROR, "bounced", job->queue_id, r->address,
				     r->reply, N_("Delivery failed permanently"));
	}
}

static void
smd_queue_recorded_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdQueueRun *run = user_data;
	g_autoptr(SmdQueue) self = g_object_ref(run->queue); /* outlives run */
	SmdOutcomeUpdate *update = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdJob) retry = NULL;
	g_autoptr(SmdJob) bounced = NULL;
	g_autoptr(SmdJob) held = NULL;

	smd_queue_run_ended(self, run);
	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		/* The attempt is over and its outcomes are known; what failed is
		 * writing them down (a full disk). Attempting again would send a
		 * delivered message once more on every retry, so the outcomes
		 * are offered to the store again until it takes them. Only if
		 * the daemon stops first are these recipients tried again, after
		 * the restart: a duplicate is better than a lost message. */
		if (run->record_failures == 0)
			self->parked++;
		if (run->record_failures++ % SMD_QUEUE_RECORD_SAY_EVERY == 0)
			g_warning("%s: cannot record delivery outcomes: %s; trying again every "
				  "%d s, without delivering again",
				  update->job->queue_id, error->message, SMD_QUEUE_RECORD_EVERY);
		if (self->stopped) {
			smd_queue_run_free(run);
			return;
		}
		run->update = smd_store_run_steal_data(result);
		/* what waits keeps only the header section, all that a report
		 * or an invitation takes from it: not a decrypted message */
		if (run->message != NULL) {
			g_autoptr(GBytes) message = g_steal_pointer(&run->message);
			run->message = smd_message_header_section(message);
		}
		g_queue_push_tail(&self->unrecorded, run);
		smd_queue_kick(self);
		return;
	}
	if (run->record_failures > 0) {
		self->parked--;
		g_message("%s: delivery outcomes recorded after %u failed tries",
			  update->job->queue_id, run->record_failures);
	}
	smd_event_log_all(update->events);

	for (guint i = 0; i < update->job->recipients->len; i++) {
		SmdRecipient *r = g_ptr_array_index(update->job->recipients, i);
		if (r->outcome == SMD_OUTCOME_DEFERRED) {
			gint64 *next = g_hash_table_lookup(update->retry, &r->id);
			if (retry == NULL)
				retry = smd_job_new_like(update->job);
			retry->due_at = next != NULL ? *next : smd_now();
			g_ptr_array_add(retry->recipients,
					smd_recipient_new(r->id, r->address, r->attempts));
		} else if (r->outcome == SMD_OUTCOME_HELD) {
			if (held == NULL)
				held = smd_job_new_like(update->job);
			g_ptr_array_add(held->recipients,
					smd_recipient_new(r->id, r->address, r->attempts));
		} else if (r->outcome == SMD_OUTCOME_BOUNCED && update->job->sender[0] != '\0') {
			SmdRecipient *copy;
			if (bounced == NULL)
				bounced = smd_job_new_like(update->job);
			copy = smd_recipient_new(r->id, r->address, r->attempts);
			copy->outcome = r->outcome;
			copy->reply = g_strdup(r->reply);
			copy->relay = g_strdup(r->relay);
			copy->expired = r->expired;
			g_ptr_array_add(bounced->recipients, copy);
		}
	}
	if (bounced != NULL)
		g_signal_emit(self, signals[SIGNAL_BOUNCED], 0, bounced, run->message);
	if (held != NULL)
		g_signal_emit(self, signals[SIGNAL_HELD], 0, held, run->message);
	if (retry != NULL && !self->stopped)
		smd_queue_add(self, g_steal_pointer(&retry));
	smd_queue_run_free(run);
	smd_queue_kick(self);
}

static gboolean
smd_queue_job_expired(SmdQueue *self, const SmdJob *job, gint64 now)
{
	/* RFC 5321 §4.5.4.1: give up after the queue lifetime */
	return now - job->received_at >= (gint64)self->config->max_queue_lifetime;
}

/* Stores @update, the outcomes of @run's job; smd_queue_recorded_cb()
 * follows. The update owns the job now; the run keeps the message for a
 * DSN. */
static void
smd_queue_record(SmdQueue *self, SmdQueueRun *run, SmdOutcomeUpdate *update)
{
	update->job = g_steal_pointer(&run->job);
	smd_store_run_lazy_async(self->store, smd_store_record_outcomes, update,
				 (GDestroyNotify)smd_outcome_update_free, smd_queue_recorded_cb,
				 run);
}

/* Records the outcomes of @run's attempt at @now: retry times, events,
 * the store; then the retries, reports and held mail follow. */
static void
smd_queue_record_attempt(SmdQueue *self, SmdQueueRun *run, gint64 now)
{
	SmdOutcomeUpdate *update = g_new0(SmdOutcomeUpdate, 1);

	update->retry = g_hash_table_new_full(g_int64_hash, g_int64_equal, NULL, g_free);
	update->events = g_ptr_array_new_with_free_func((GDestroyNotify)smd_event_free);
	for (guint i = 0; i < run->job->recipients->len; i++) {
		SmdRecipient *r = g_ptr_array_index(run->job->recipients, i);
		r->attempts++;
		if (r->outcome == SMD_OUTCOME_DEFERRED) {
			if (smd_queue_job_expired(self, run->job, now)) {
				g_autofree gchar *reason = g_strdup_printf(
				    "%s: %s", _("gave up after the maximal queue lifetime"),
				    r->reply != NULL ? r->reply : "");
				g_free(r->reply);
				r->reply = g_steal_pointer(&reason);
				r->outcome = SMD_OUTCOME_BOUNCED;
				r->expired = TRUE;
			} else {
				gint64 *next = g_new(gint64, 1);
				/* rounded up: never sooner than the schedule says */
				*next = (g_get_real_time() + G_USEC_PER_SEC - 1) / G_USEC_PER_SEC +
					smd_config_retry_delay(self->config, r->attempts);
				g_hash_table_insert(update->retry, &r->id, next);
			}
		}
		g_ptr_array_add(update->events, smd_queue_outcome_event(run->job, r));
	}
	smd_queue_record(self, run, update);
}

static void
smd_queue_delivered_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdQueueRun *run = user_data;
	g_autoptr(SmdQueue) self = g_object_ref(run->queue); /* outlives run */
	SmdQueueDomain *d = run->domain;

	smd_delivery_run_finish(result);
	if (run->job->unreachable) {
		SmdRecipient *r = g_ptr_array_index(run->job->recipients, 0);
		if (d->suspended == NULL && d->ready.length > 0)
			g_message("%s: no next hop answers: delivery to %s suspended, %u due "
				  "messages deferred",
				  run->job->queue_id, d->name, d->ready.length);
		g_free(d->suspended);
		d->suspended = g_strdup(r->reply != NULL ? r->reply : "");
	} else {
		g_clear_pointer(&d->suspended, g_free);
	}
	smd_queue_record_attempt(self, run, smd_now());
}

/* A job of a suspended domain, not expired at @now: deferred at once,
 * with the reason of the attempt that found the domain unreachable;
 * counted as an attempt, so it follows the retry schedule as any
 * deferral (and, not expired, it has no report to send: no body needed). */
static void
smd_queue_defer_untried(SmdQueue *self, SmdQueueDomain *domain, SmdJob *job, gint64 now)
{
	g_autofree gchar *reason =
	    g_strdup_printf(_("delivery temporarily suspended: %s"), domain->suspended);

	smd_job_set_outcome(job, SMD_OUTCOME_DEFERRED, reason);
	smd_queue_record_attempt(self, smd_queue_run_new(self, domain, job), now);
}

/* A body that fails its integrity check (tampered with, truncated, or a
 * wrong key) is never delivered and never retried: its recipients go to
 * "quarantined" with an error event, and the sealed body is kept as
 * evidence until it expires with the retention, as held mail does
 * (smd_store_destroy_body_if_done() does not count it final). */
static void
smd_queue_quarantine(SmdQueue *self, SmdQueueRun *run, const gchar *reason)
{
	SmdOutcomeUpdate *update = g_new0(SmdOutcomeUpdate, 1);

	update->events = g_ptr_array_new_with_free_func((GDestroyNotify)smd_event_free);
	smd_job_set_outcome(run->job, SMD_OUTCOME_QUARANTINED, reason);
	for (guint i = 0; i < run->job->recipients->len; i++)
		g_ptr_array_add(
		    update->events,
		    smd_queue_outcome_event(run->job, g_ptr_array_index(run->job->recipients, i)));
	smd_queue_record(self, run, update);
}

static void
smd_queue_body_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdQueueRun *run = user_data;
	g_autoptr(SmdQueue) self = g_object_ref(run->queue); /* outlives run */
	SmdBodyLoad *load = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	if (smd_store_run_finish(SMD_STORE(source), result, &error))
		run->message = smd_vault_open(self->vault, load->queue_id, load->wrapped_key,
					      load->envelope, &error);
	if (run->message == NULL && g_error_matches(error, SMD_ERROR, SMD_ERROR_CRYPTO)) {
		smd_queue_quarantine(self, run, error->message);
		return;
	}
	if (run->message == NULL) {
		/* a body that is gone (destroyed) has nothing left to deliver; a
		 * store that failed is asked again later */
		g_autoptr(SmdEvent) ev =
		    smd_event_new(SMD_EVENT_ERROR, "store-error", run->job->queue_id, NULL,
				  error->message, N_("Stored message cannot be read"));
		smd_event_log(ev);
		if ((g_error_matches(error, SMD_ERROR, SMD_ERROR_STORE) ||
		     g_error_matches(error, SMD_ERROR, SMD_ERROR_STORE_FULL)) &&
		    !self->stopped)
			smd_queue_retry_later(self, run->job);
		smd_queue_run_ended(self, run);
		smd_queue_run_free(run);
		smd_queue_kick(self);
		return;
	}
	smd_delivery_run_async(self->config, run->job, run->hops, run->lookup_error, run->message,
			       self->cancellable, smd_queue_delivered_cb, run);
}

static void
smd_queue_start_job(SmdQueue *self, SmdQueueDomain *domain, SmdJob *job)
{
	SmdBodyLoad *load = g_new0(SmdBodyLoad, 1);

	load->message_id = job->message_id;
	smd_store_run_lazy_async(self->store, smd_store_load_body, load,
				 (GDestroyNotify)smd_body_load_free, smd_queue_body_cb,
				 smd_queue_run_new(self, domain, job));
}

static void
smd_queue_kick(SmdQueue *self)
{
	gboolean started = TRUE;

	/* while the store refuses outcomes (a full disk), no delivery starts:
	 * each would end up waiting here too */
	if (self->stopped || self->draining || self->parked > 0)
		return;
	/* rounds over the domains with jobs due, one job each per round,
	 * until the connections are taken or no domain may start another */
	while (started && self->running < self->config->max_connections) {
		guint turns = self->turns.length;

		started = FALSE;
		for (guint i = 0; i < turns && self->running < self->config->max_connections; i++) {
			SmdQueueDomain *d = g_queue_pop_head(&self->turns);

			if (d->running < self->config->max_connections_per_domain) {
				SmdJob *job = g_queue_peek_head(&d->ready);
				gint64 now = smd_now();
				/* a job about to expire gets a last real attempt:
				 * its report carries the message's header */
				gboolean untried =
				    d->suspended != NULL && !smd_queue_job_expired(self, job, now);

				if (untried || smd_queue_domain_looked_up(self, d)) {
					g_queue_pop_head(&d->ready);
					self->ready--;
					if (untried)
						smd_queue_defer_untried(self, d, job, now);
					else
						smd_queue_start_job(self, d, job);
					started = TRUE;
				} else if (!d->looking_up && self->looking_up < SMD_QUEUE_LOOKUPS) {
					/* no connection taken meanwhile */
					smd_queue_look_up(self, d);
				}
			}
			if (d->ready.length > 0)
				g_queue_push_tail(&self->turns, d);
			else
				d->queued = FALSE;
		}
	}
}

static gboolean
smd_queue_tick_cb(gpointer user_data)
{
	SmdQueue *self = user_data;
	gint64 now = smd_now();

	while (g_sequence_get_length(self->waiting) > 0) {
		GSequenceIter *first = g_sequence_get_begin_iter(self->waiting);
		SmdJob *job = g_sequence_get(first);
		if (job->due_at > now)
			break;
		g_sequence_remove(first); /* no destroy func: the job moves */
		smd_queue_push_ready(self, job);
	}
	if (++self->ticks % SMD_QUEUE_SWEEP_EVERY == 0)
		g_hash_table_foreach_remove(self->domains, smd_queue_domain_stale, self);
	if (self->ticks % SMD_QUEUE_RECORD_EVERY == 0) {
		SmdQueueRun *run;
		while ((run = g_queue_pop_head(&self->unrecorded)) != NULL) {
			SmdOutcomeUpdate *update = g_steal_pointer(&run->update);
			update->body_destroyed = FALSE; /* rolled back with the rest */
			smd_store_run_lazy_async(self->store, smd_store_record_outcomes, update,
						 (GDestroyNotify)smd_outcome_update_free,
						 smd_queue_recorded_cb, run);
		}
	}
	smd_queue_kick(self);
	return G_SOURCE_CONTINUE;
}

gboolean
smd_queue_load(SmdQueue *self, GError **error)
{
	SmdActiveLoad *load = g_new0(SmdActiveLoad, 1);
	gboolean ok = smd_store_run_sync(self->store, smd_store_load_active, load, error);

	if (ok) {
		g_info("loaded %u jobs from the store", load->jobs->len);
		for (guint i = 0; i < load->jobs->len; i++)
			smd_queue_add(self, g_ptr_array_steal_index_fast(load->jobs, i--));
	}
	smd_active_load_free(load);
	return ok;
}

void
smd_queue_set_config(SmdQueue *self, const SmdConfig *config)
{
	smd_config_unref(self->config);
	self->config = smd_config_ref(config);
	/* routes may have changed: every domain is looked up again, and
	 * lookups under the old configuration are not waited for */
	self->config_at = g_get_monotonic_time();
	g_cancellable_cancel(self->lookup_cancellable);
	g_object_unref(self->lookup_cancellable);
	self->lookup_cancellable = g_cancellable_new();
}

void
smd_queue_drain(SmdQueue *self)
{
	self->draining = TRUE;
	/* their answers would start nothing now; cancelled, they end in the
	 * next iteration (smd-dns.c) and the queue is idle without them */
	g_cancellable_cancel(self->lookup_cancellable);
}

gboolean
smd_queue_is_idle(SmdQueue *self)
{
	return self->running == 0 && self->looking_up == 0;
}

void
smd_queue_stop(SmdQueue *self)
{
	SmdQueueRun *run;

	self->stopped = TRUE;
	if (self->unrecorded.length > 0)
		g_warning("the outcomes of %u deliveries could not be recorded; their recipients "
			  "will be tried again after the restart",
			  self->unrecorded.length);
	while ((run = g_queue_pop_head(&self->unrecorded)) != NULL)
		smd_queue_run_free(run);
	g_cancellable_cancel(self->cancellable);
	g_cancellable_cancel(self->lookup_cancellable);
	if (self->tick_id != 0) {
		g_source_remove(self->tick_id);
		self->tick_id = 0;
	}
}

SmdQueue *
smd_queue_new(const SmdConfig *config, SmdStore *store, SmdVault *vault)
{
	SmdQueue *self = g_object_new(SMD_TYPE_QUEUE, NULL);
	self->config = smd_config_ref(config);
	self->store = g_object_ref(store);
	self->vault = g_object_ref(vault);
	self->tick_id = g_timeout_add_seconds(1, smd_queue_tick_cb, self);
	return self;
}

static void
smd_queue_finalize(GObject *object)
{
	SmdQueue *self = SMD_QUEUE(object);
	smd_queue_stop(self);
	g_queue_clear(&self->turns);
	g_hash_table_unref(self->domains); /* with their jobs */
	for (GSequenceIter *it = g_sequence_get_begin_iter(self->waiting);
	     !g_sequence_iter_is_end(it); it = g_sequence_iter_next(it))
		smd_job_free(g_sequence_get(it));
	g_sequence_free(self->waiting);
	g_clear_object(&self->store);
	g_clear_object(&self->vault);
	g_clear_pointer(&self->config, smd_config_unref);
	g_clear_object(&self->cancellable);
	g_clear_object(&self->lookup_cancellable);
	G_OBJECT_CLASS(smd_queue_parent_class)->finalize(object);
}

static void
smd_queue_class_init(SmdQueueClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = smd_queue_finalize;
	signals[SIGNAL_HELD] =
	    g_signal_new("held", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
			 G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_BYTES);
	signals[SIGNAL_BOUNCED] =
	    g_signal_new("bounced", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
			 NULL, G_TYPE_NONE, 2, G_TYPE_POINTER, G_TYPE_BYTES);
}

static void
smd_queue_init(SmdQueue *self)
{
	self->domains = g_hash_table_new_full(g_str_hash, g_str_equal, NULL,
					      (GDestroyNotify)smd_queue_domain_free);
	g_queue_init(&self->turns);
	g_queue_init(&self->unrecorded);
	self->waiting = g_sequence_new(NULL);
	self->cancellable = g_cancellable_new();
	self->lookup_cancellable = g_cancellable_new();
}
