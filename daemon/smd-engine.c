/*
 * SecuMailer — the engine.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-engine"

#include "config.h"

#include <errno.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>

#include "smd-common.h"
#include "smd-dsn.h"
#include "smd-engine.h"
#include "smd-error.h"
#include "smd-event.h"
#include "smd-gmime.h"
#include "smd-mime-view.h"
#include "smd-notify.h"
#include "smd-portal-store.h"
#include "smd-queue.h"
#include "smd-smtp-client.h"
#include "smd-store-messages.h"
#include "smd-store.h"
#include "smd-token.h"
#include "smd-vault.h"

#define SMD_DATABASE_FILE "secumailer.db"

struct _SmdEngine {
	GObject parent_instance;
	SmdConfig *config;
	SmdStore *store;
	SmdVault *vault;
	SmdQueue *queue;
	SmdBudget *intake; /* memory of messages being received, smd-budget.h */
	/* what the process started with of smd_engine_restart_keys: sockets
	 * and store follow only it (not the whole configuration: a reload must
	 * not leave replaced SMS credentials in memory) */
	gchar **started;
	guint expiry_id;
	gboolean expiring;
	gboolean draining;
};

G_DEFINE_TYPE(SmdEngine, smd_engine, G_TYPE_OBJECT)

enum { SIGNAL_CONFIG_CHANGED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST];

SmdIncoming *
smd_incoming_new(void)
{
	SmdIncoming *incoming = g_new0(SmdIncoming, 1);
	incoming->recipients = g_ptr_array_new_with_free_func(g_free);
	return incoming;
}

void
smd_incoming_free(SmdIncoming *incoming)
{
	g_free(incoming->queue_id);
	g_free(incoming->sender);
	g_ptr_array_unref(incoming->recipients);
	g_free(incoming->client_address);
	g_free(incoming->helo);
	g_free(incoming->inbound_tls);
	g_clear_pointer(&incoming->message, g_bytes_unref);
	g_free(incoming);
}

const SmdConfig *
smd_engine_get_config(SmdEngine *self)
{
	return self->config;
}

static void
smd_engine_accepted_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	SmdEngine *self = g_task_get_source_object(task);
	SmdNewMessage *msg = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	smd_event_log_all(msg->events);
	/* on disk now: start delivering straight away */
	for (guint i = 0; i < msg->jobs->len; i++)
		smd_queue_add(self->queue, g_ptr_array_steal_index_fast(msg->jobs, i--));
	g_task_return_boolean(task, TRUE);
}

void
smd_engine_accept_async(SmdEngine *self, SmdIncoming *incoming, GAsyncReadyCallback callback,
			gpointer user_data)
{
	g_autoptr(SmdIncoming) in = incoming;
	g_autoptr(GTask) task = g_task_new(self, NULL, callback, user_data);
	g_autoptr(GError) error = NULL;
	SmdNewMessage *msg = g_new0(SmdNewMessage, 1);
	g_autofree gchar *detail = NULL;

	g_task_set_source_tag(task, smd_engine_accept_async);
	msg->envelope =
	    smd_vault_seal(self->vault, in->queue_id, in->message, &msg->wrapped_key, &error);
	if (msg->envelope == NULL) {
		smd_new_message_free(msg);
		g_task_return_error(task, g_steal_pointer(&error));
		return;
	}
	if (!in->notification) {
		g_autofree gchar *subject = smd_gmime_subject(in->message);
		if (subject != NULL)
			msg->subject = smd_vault_seal_meta(self->vault, "subject", in->queue_id,
							   subject, NULL);
	}
	msg->queue_id = g_strdup(in->queue_id);
	msg->received_at = smd_now();
	msg->sender = g_strdup(in->sender);
	msg->size = g_bytes_get_size(in->message);
	msg->client_address = g_strdup(in->client_address);
	msg->helo = g_strdup(in->helo);
	msg->inbound_tls = g_strdup(in->inbound_tls);
	msg->notification = in->notification;
	msg->recipients = g_ptr_array_ref(in->recipients);
	msg->events = g_ptr_array_new_with_free_func((GDestroyNotify)smd_event_free);
	/* metadata only: no subject and no content in the log */
	detail = g_strdup_printf("from=<%s> size=%" G_GSIZE_FORMAT " nrcpt=%u client=%s%s%s",
				 in->sender, msg->size, in->recipients->len, in->client_address,
				 in->inbound_tls != NULL ? " " : "",
				 in->inbound_tls != NULL ? in->inbound_tls : "");
	g_ptr_array_add(msg->events, smd_event_new(SMD_EVENT_INFO, "received", in->queue_id, NULL,
						   detail, N_("Message received")));
	smd_store_run_async(self->store, smd_store_insert_message, msg,
			    (GDestroyNotify)smd_new_message_free, smd_engine_accepted_cb,
			    g_steal_pointer(&task));
}

gboolean
smd_engine_accept_finish(SmdEngine *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

static void
smd_engine_dsn_accepted_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autofree gchar *for_queue_id = user_data;
	g_autoptr(GError) error = NULL;
	if (!smd_engine_accept_finish(SMD_ENGINE(source), result, &error))
		g_warning("%s: cannot queue the delivery report: %s", for_queue_id, error->message);
}

static void
smd_engine_notice_accepted_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autofree gchar *what = user_data;
	g_autoptr(GError) error = NULL;
	if (!smd_engine_accept_finish(SMD_ENGINE(source), result, &error))
		g_warning("%s: cannot queue the notification: %s", what, error->message);
}

void
smd_engine_send_notices(SmdEngine *self, GPtrArray *notices)
{
	for (guint i = 0; notices != NULL && i < notices->len; i++) {
		SmdNotice *notice = g_ptr_array_index(notices, i);
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) mail = smd_notify_build(self->config, notice, &error);
		SmdIncoming *incoming;

		if (mail == NULL) {
			g_warning("%s: %s", notice->queue_id, error->message);
			continue;
		}
		incoming = smd_incoming_new();
		incoming->queue_id = smd_random_id();
		incoming->sender = smd_notify_from(self->config);
		g_ptr_array_add(incoming->recipients, g_strdup(notice->to));
		incoming->client_address = g_strdup("127.0.0.1");
		incoming->helo = g_strdup(self->config->smtp_hostname);
		incoming->notification = TRUE;
		incoming->message = g_steal_pointer(&mail);
		g_message("%s: %s to <%s> queued as %s", notice->queue_id,
			  notice->kind == SMD_NOTICE_INVITATION ? "invitation"
								: "registration request",
			  notice->to, incoming->queue_id);
		smd_engine_accept_async(self, incoming, smd_engine_notice_accepted_cb,
					g_strdup(notice->queue_id));
	}
}

typedef struct {
	SmdEngine *engine;
	gchar *subject;
} SmdHeldContext;

static void
smd_engine_held_recorded_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdHeldContext *ctx = user_data;
	g_autoptr(SmdEngine) self = ctx->engine;
	g_autofree gchar *subject = ctx->subject;
	SmdHeldUpdate *update = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	g_free(ctx);
	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		/* the recipients stay held; the next start takes them on
		 * (smd_engine_release_held()) */
		g_warning("%s: cannot prepare the portal: %s", update->queue_id, error->message);
		return;
	}
	smd_event_log_all(update->events);
	for (guint i = 0; subject != NULL && i < update->notices->len; i++) {
		SmdNotice *notice = g_ptr_array_index(update->notices, i);
		if (notice->kind == SMD_NOTICE_INVITATION)
			notice->subject = g_strdup(subject);
	}
	smd_engine_send_notices(self, update->notices);
}

static void
smd_engine_held_cb(SmdQueue *queue, SmdJob *job, GBytes *message, gpointer user_data)
{
	SmdEngine *self = user_data;
	SmdHeldUpdate *update;
	SmdHeldContext *ctx;

	/* without a portal the message simply stays held in the vault */
	if (job->notification || self->config->portal_public_url == NULL)
		return;
	update = g_new0(SmdHeldUpdate, 1);
	update->message_id = job->message_id;
	update->queue_id = g_strdup(job->queue_id);
	update->sender = g_strdup(job->sender);
	update->received_at = job->received_at;
	update->expires_at = job->received_at + self->config->retention;
	update->recipients = g_ptr_array_new_with_free_func((GDestroyNotify)smd_recipient_free);
	for (guint i = 0; i < job->recipients->len; i++) {
		SmdRecipient *r = g_ptr_array_index(job->recipients, i);
		g_ptr_array_add(update->recipients,
				smd_recipient_new(r->id, r->address, r->attempts));
	}
	ctx = g_new0(SmdHeldContext, 1);
	ctx->engine = g_object_ref(self);
	if (self->config->portal_show_subject && message != NULL) {
		g_autoptr(SmdMimeView) view = smd_mime_view_new(message);
		ctx->subject = g_steal_pointer(&view->subject);
	}
	smd_store_run_async(self->store, smd_portal_store_held, update,
			    (GDestroyNotify)smd_held_update_free, smd_engine_held_recorded_cb, ctx);
}

SmdStore *
smd_engine_get_store(SmdEngine *self)
{
	return self->store;
}

SmdVault *
smd_engine_get_vault(SmdEngine *self)
{
	return self->vault;
}

SmdBudget *
smd_engine_get_intake_budget(SmdEngine *self)
{
	return self->intake;
}

static void
smd_engine_bounced_cb(SmdQueue *queue, SmdJob *job, GBytes *message, gpointer user_data)
{
	SmdEngine *self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) dsn = smd_dsn_build(self->config, job, message, &error);
	SmdIncoming *incoming;

	if (dsn == NULL) {
		g_warning("%s: %s", job->queue_id, error->message);
		return;
	}
	incoming = smd_incoming_new();
	incoming->queue_id = smd_random_id();
	incoming->sender = g_strdup(""); /* RFC 5321 §4.5.5: DSNs use the null path */
	/* a report on one of our notifications carries no content either */
	incoming->notification = job->notification;
	g_ptr_array_add(incoming->recipients, g_strdup(job->sender));
	incoming->client_address = g_strdup("127.0.0.1");
	incoming->helo = g_strdup(self->config->smtp_hostname);
	incoming->message = g_steal_pointer(&dsn);
	g_message("%s: delivery report to <%s> queued as %s", job->queue_id, job->sender,
		  incoming->queue_id);
	smd_engine_accept_async(self, incoming, smd_engine_dsn_accepted_cb,
				g_strdup(job->queue_id));
}

/* The store remembers its master key (a MAC of a constant under it): a
 * key restored from the wrong backup is refused at start, before any
 * stored body could be taken for tampered with and quarantined. */
static gboolean
smd_engine_check_key(sqlite3 *db, gpointer data, GError **error)
{
	const gchar *check = data;
	g_autoptr(sqlite3_stmt) find =
	    smd_store_prepare(db, "SELECT mac FROM vault_check WHERE id = 1", error);
	g_autoptr(sqlite3_stmt) add = NULL;

	if (find == NULL)
		return FALSE;
	if (sqlite3_step(find) == SQLITE_ROW) {
		if (smd_secure_equal((const gchar *)sqlite3_column_text(find, 0), check))
			return TRUE;
		g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
			    _("%s does not belong to this store: it was made with another "
			      "master key. Restore the key that goes with the database."),
			    SMD_MASTER_KEY_FILE);
		return FALSE;
	}
	add = smd_store_prepare(db, "INSERT INTO vault_check (id, mac) VALUES (1, ?1)", error);
	if (add == NULL)
		return FALSE;
	sqlite3_bind_text(add, 1, check, -1, SQLITE_STATIC);
	if (sqlite3_step(add) != SQLITE_DONE)
		return smd_store_fail(db, "vault check", error);
	return TRUE;
}

/* What only a restart can change (sockets and the store), one string per
 * entry of smd_engine_restart_names. */
static const gchar *const smd_engine_restart_names[] = {
    "[smtp] listen", "[store] directory",
    "[portal] listen, or tls-certificate set or unset (HTTPS or HTTP)"};

static gchar **
smd_engine_restart_keys(const SmdConfig *c)
{
	GString *listen = g_string_new(NULL);
	gchar **keys = g_new0(gchar *, G_N_ELEMENTS(smd_engine_restart_names) + 1);

	for (guint i = 0; i < c->smtp_listen->len; i++) {
		g_autofree gchar *a = g_socket_connectable_to_string(
		    G_SOCKET_CONNECTABLE(g_ptr_array_index(c->smtp_listen, i)));
		g_string_append_printf(listen, "%s;", a);
	}
	keys[0] = g_string_free(listen, FALSE);
	keys[1] = g_strdup(c->store_directory);
	/* the portal's certificate itself follows a reload */
	keys[2] = g_strdup_printf("%s\n%s", c->portal_listen != NULL ? c->portal_listen : "",
				  c->portal_tls_certificate != NULL ? "https" : "http");
	return keys;
}

SmdEngine *
smd_engine_new(SmdConfig *config, GError **error)
{
	g_autoptr(SmdEngine) self = g_object_new(SMD_TYPE_ENGINE, NULL);
	g_autofree gchar *db_path = NULL;
	g_autofree gchar *check = NULL;

	self->config = config;
	self->started = smd_engine_restart_keys(config);
	self->intake = smd_budget_new(config->max_message_memory, 0);
	if (g_mkdir_with_parents(config->store_directory, 0700) != 0) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_STORE,
			    _("Cannot create the store directory %s: %s"), config->store_directory,
			    g_strerror(errno));
		return NULL;
	}
	db_path = g_build_filename(config->store_directory, SMD_DATABASE_FILE, NULL);
	self->vault = smd_vault_new(config->store_directory,
				    !g_file_test(db_path, G_FILE_TEST_EXISTS), error);
	if (self->vault == NULL)
		return NULL;
	self->store = smd_store_new(db_path, error);
	if (self->store == NULL)
		return NULL;
	check = smd_vault_mac(self->vault, "key-check", "secumailer");
	if (!smd_store_run_sync(self->store, smd_engine_check_key, check, error))
		return NULL;
	self->queue = smd_queue_new(config, self->store, self->vault);
	g_signal_connect(self->queue, "bounced", G_CALLBACK(smd_engine_bounced_cb), self);
	g_signal_connect(self->queue, "held", G_CALLBACK(smd_engine_held_cb), self);
	return g_steal_pointer(&self);
}

static void
smd_engine_expired_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmdEngine) self = user_data;
	SmdExpiry *expiry = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	self->expiring = FALSE;
	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_warning("cannot expire held messages: %s", error->message);
		return;
	}
	smd_event_log_all(expiry->events);
}

static void smd_engine_prune(SmdEngine *self);

static void
smd_engine_pruned_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmdEngine) self = user_data;
	SmdLogPrune *prune = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_warning("cannot forget old log entries: %s", error->message);
		return;
	}
	if (prune->messages > 0 || prune->events > 0)
		g_message("[store] log-retention: forgot %u finished messages and %u log events",
			  prune->messages, prune->events);
	/* a backlog (the first start after an upgrade) goes batch after batch,
	 * each its own short transaction, not a batch per tick; not while
	 * stopping, which waits for the store */
	if (prune->more && !self->draining && self->expiry_id != 0)
		smd_engine_prune(self);
}

static void
smd_engine_prune(SmdEngine *self)
{
	SmdLogPrune *prune = g_new0(SmdLogPrune, 1);
	prune->log_retention = self->config->log_retention;
	smd_store_run_async(self->store, smd_store_prune_log, prune, g_free, smd_engine_pruned_cb,
			    g_object_ref(self));
}

/* Retention: held mail is destroyed (body and key) once it is older than
 * [store] retention; its links then show the "expired" page. The log and
 * the metadata of finished mail go after [store] log-retention. */
static gboolean
smd_engine_expiry_tick_cb(gpointer user_data)
{
	SmdEngine *self = user_data;
	SmdExpiry *expiry;

	if (self->expiring)
		return G_SOURCE_CONTINUE;
	self->expiring = TRUE;
	expiry = g_new0(SmdExpiry, 1);
	expiry->retention = self->config->retention;
	smd_store_run_async(self->store, smd_portal_store_expire, expiry,
			    (GDestroyNotify)smd_expiry_free, smd_engine_expired_cb,
			    g_object_ref(self));
	smd_engine_prune(self);
	return G_SOURCE_CONTINUE;
}

/* Held mail whose portal step never ran (the gateway had no portal then,
 * or the step failed) goes on to it now: else it stayed held for good,
 * and a number staff entered released nothing. */
static gboolean
smd_engine_release_held(SmdEngine *self, GError **error)
{
	g_autoptr(SmdActiveLoad) load = g_new0(SmdActiveLoad, 1);

	if (self->config->portal_public_url == NULL)
		return TRUE;
	if (!smd_store_run_sync(self->store, smd_store_load_held, load, error))
		return FALSE;
	if (load->jobs->len > 0)
		g_message("%u held messages go on to the portal", load->jobs->len);
	for (guint i = 0; i < load->jobs->len; i++)
		smd_engine_held_cb(self->queue, g_ptr_array_index(load->jobs, i), NULL, self);
	return TRUE;
}

gboolean
smd_engine_start(SmdEngine *self, GError **error)
{
	if (!smd_queue_load(self->queue, error))
		return FALSE;
	/* often enough to keep close to the retention, rarely enough to be free */
	self->expiry_id = g_timeout_add_seconds(CLAMP(self->config->retention / 10, 1, 300),
						smd_engine_expiry_tick_cb, self);
	/* first: held mail past the retention expires rather than going on to
	 * the portal (the store runs them in this order) */
	smd_engine_expiry_tick_cb(self);
	return smd_engine_release_held(self, error);
}

/* Logs what differs from what the process started with, whatever reloads
 * came since. */
static void
smd_engine_warn_restart(SmdEngine *self, const SmdConfig *config)
{
	g_autoptr(GString) names = g_string_new(NULL);
	g_auto(GStrv) keys = smd_engine_restart_keys(config);

	for (guint i = 0; i < G_N_ELEMENTS(smd_engine_restart_names); i++) {
		if (g_strcmp0(self->started[i], keys[i]) != 0)
			g_string_append_printf(names, " %s", smd_engine_restart_names[i]);
	}
	if (names->len > 0)
		g_warning("configuration reloaded; a restart is needed for:%s", names->str);
}

guint
smd_engine_flush(SmdEngine *self, const gchar *domain)
{
	guint n = smd_queue_flush(self->queue, domain);
	g_message("flush of %s: waiting deliveries made due: %u",
		  domain != NULL && domain[0] != '\0' ? domain : "every domain", n);
	return n;
}

static void
smd_engine_retention_set_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	if (!smd_store_run_finish(SMD_STORE(source), result, &error))
		g_warning("the portal links keep their old expiry: %s", error->message);
}

void
smd_engine_reload(SmdEngine *self, SmdConfig *config)
{
	smd_engine_warn_restart(self, config);
	if (config->retention != self->config->retention)
		smd_store_run_async(self->store, smd_portal_store_set_retention,
				    GUINT_TO_POINTER(config->retention), NULL,
				    smd_engine_retention_set_cb, NULL);
	/* running sessions and deliveries hold the old one while they need it */
	smd_config_unref(self->config);
	self->config = config;
	smd_budget_set_limit(self->intake, config->max_message_memory);
	smd_queue_set_config(self->queue, config);
	/* sessions kept open were checked under the old TLS settings */
	smd_smtp_client_close_idle();
	g_signal_emit(self, signals[SIGNAL_CONFIG_CHANGED], 0);
	g_message("configuration reloaded from %s", config->path);
}

void
smd_engine_drain(SmdEngine *self)
{
	self->draining = TRUE;
	smd_queue_drain(self->queue);
}

gboolean
smd_engine_is_idle(SmdEngine *self)
{
	/* and what was stored has been answered: the portal's events are
	 * logged once stored, and would be lost to the journal */
	return smd_queue_is_idle(self->queue) && smd_store_is_idle(self->store);
}

void
smd_engine_stop(SmdEngine *self)
{
	if (self->expiry_id != 0) {
		g_source_remove(self->expiry_id);
		self->expiry_id = 0;
	}
	if (self->queue != NULL)
		smd_queue_stop(self->queue);
	if (self->store != NULL)
		smd_store_close(self->store);
}

static void
smd_engine_finalize(GObject *object)
{
	SmdEngine *self = SMD_ENGINE(object);
	smd_engine_stop(self);
	g_clear_object(&self->queue);
	g_clear_object(&self->store);
	g_clear_object(&self->vault);
	g_clear_pointer(&self->config, smd_config_unref);
	g_clear_pointer(&self->started, g_strfreev);
	g_clear_pointer(&self->intake, smd_budget_free);
	G_OBJECT_CLASS(smd_engine_parent_class)->finalize(object);
}

static void
smd_engine_class_init(SmdEngineClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = smd_engine_finalize;
	/* emitted after smd_engine_reload(): front ends pick up the new config */
	signals[SIGNAL_CONFIG_CHANGED] =
	    g_signal_new("config-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			 NULL, NULL, G_TYPE_NONE, 0);
}

static void
smd_engine_init(SmdEngine *self)
{
}
