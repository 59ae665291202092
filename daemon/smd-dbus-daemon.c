/*
 * SecuMailer — the D-Bus front end of the admin API.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-dbus"

#include "config.h"

#include <glib/gi18n.h>
#include <pwd.h>

#include "smd-admin-store.h"
#include "smd-dbus-daemon.h"
#include "smd-dbus-generated.h"
#include "smd-error.h"
#include "smd-phone.h"
#include "smd-event.h"
#include "smd-portal-store.h"
#include "smd-smtp-parser.h"

#define SMD_DBUS_NAME "org.secumailer.Gateway1"
#define SMD_DBUS_PATH "/org/secumailer/Gateway1"

/* polkit actions, one per kind of operation (see the .policy.in in data/) */
#define SMD_ACTION_VIEW_MESSAGES "org.secumailer.Gateway1.view-messages"
#define SMD_ACTION_VIEW_LOG "org.secumailer.Gateway1.view-log"
#define SMD_ACTION_MANAGE_RECIPIENTS "org.secumailer.Gateway1.manage-recipients"
#define SMD_ACTION_REVOKE "org.secumailer.Gateway1.revoke"
#define SMD_ACTION_CONFIGURE "org.secumailer.Gateway1.configure"

/* a message bus connection of our own, as g_bus_get() would make one */
#define SMD_DBUS_CONNECTION_FLAGS                                                                  \
	(G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |                                           \
	 G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION)
/* the longest string argument taken (an address is at most 254 bytes) */
#define SMD_DBUS_MAX_STRING 1024
/* waits before connecting to the bus again, doubling up to the last */
#define SMD_DBUS_RETRY_FIRST 1
#define SMD_DBUS_RETRY_LAST 30

struct _SmdDbusDaemon {
	GObject parent_instance;
	SmdEngine *engine;
	SmdDbusGateway1 *skeleton;
	GBusType bus_type;
	/* Connections of our own, not GIO's shared ones: when the bus goes
	 * (a restart of dbus), a shared connection ends the whole process,
	 * and mail must keep flowing without the admin API. */
	GDBusConnection *connection;
	GDBusConnection *system; /* polkit's bus when ours is the session bus */
	GCancellable *cancellable;
	guint owner_id;
	guint retry_source;
	guint retry_seconds;
	gboolean authorize;
};

G_DEFINE_TYPE(SmdDbusDaemon, smd_dbus_daemon, G_TYPE_OBJECT)

typedef struct {
	SmdDbusDaemon *self;
	GDBusMethodInvocation *invocation;
} SmdDbusCall;

static SmdDbusCall *
smd_dbus_call_new(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	SmdDbusCall *call = g_new0(SmdDbusCall, 1);
	call->self = g_object_ref(self);
	call->invocation = g_object_ref(invocation);
	return call;
}

static void
smd_dbus_call_free(SmdDbusCall *call)
{
	g_object_unref(call->self);
	g_object_unref(call->invocation);
	g_free(call);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdDbusCall, smd_dbus_call_free)

/* What a method does once its caller is authorized. */
typedef void (*SmdDbusMethod)(SmdDbusDaemon *self, GDBusMethodInvocation *invocation);

typedef struct {
	SmdDbusCall *call;
	SmdDbusMethod method;
	gchar *action;
} SmdDbusAuth;

static void
smd_dbus_auth_free(SmdDbusAuth *auth)
{
	smd_dbus_call_free(auth->call);
	g_free(auth->action);
	g_free(auth);
}

static void
smd_dbus_deny(GDBusMethodInvocation *invocation, const gchar *action, const gchar *why)
{
	g_message("D-Bus caller %s refused %s: %s", g_dbus_method_invocation_get_sender(invocation),
		  action, why);
	g_dbus_method_invocation_return_dbus_error(invocation,
						   "org.freedesktop.DBus.Error.AccessDenied", why);
}

static void
smd_dbus_polkit_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdDbusAuth *auth = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) reply =
	    g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, &error);
	gboolean authorized = FALSE;
	gboolean challenge = FALSE;

	if (reply == NULL) {
		g_warning("cannot ask polkit: %s", error->message);
		smd_dbus_deny(auth->call->invocation, auth->action,
			      _("Not authorized: the authorization service is not available"));
		smd_dbus_auth_free(auth);
		return;
	}
	g_variant_get(reply, "((bb@a{ss}))", &authorized, &challenge, NULL);
	if (!authorized) {
		smd_dbus_deny(auth->call->invocation, auth->action,
			      challenge ? _("Not authorized: authentication is required")
					: _("Not authorized"));
		smd_dbus_auth_free(auth);
		return;
	}
	auth->method(auth->call->self, auth->call->invocation);
	smd_dbus_auth_free(auth);
}

/* A bus connection of our own: one that ends the process when the bus
 * goes is only what g_bus_get() gives. */
static GDBusConnection *
smd_dbus_connect_sync(GBusType bus_type, GError **error)
{
	g_autofree gchar *address = g_dbus_address_get_for_bus_sync(bus_type, NULL, error);

	if (address == NULL)
		return NULL;
	return g_dbus_connection_new_for_address_sync(address, SMD_DBUS_CONNECTION_FLAGS, NULL,
						      NULL, error);
}

static GDBusConnection *
smd_dbus_system_bus(SmdDbusDaemon *self, GError **error)
{
	if (self->bus_type == G_BUS_TYPE_SYSTEM) {
		if (self->connection != NULL)
			return g_object_ref(self->connection);
		g_set_error_literal(error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED,
				    "not connected to the system bus");
		return NULL;
	}
	if (self->system == NULL || g_dbus_connection_is_closed(self->system)) {
		g_clear_object(&self->system);
		self->system = smd_dbus_connect_sync(G_BUS_TYPE_SYSTEM, error);
	}
	return self->system != NULL ? g_object_ref(self->system) : NULL;
}

/* Who called, for the event log: the bus name alone names nobody once
 * the caller has gone, so the user behind it too ("dbus::1.42 uid=1000
 * user=anna"); the bus name when the bus does not say. */
static const gchar *
smd_dbus_caller(GDBusMethodInvocation *invocation)
{
	const gchar *caller = g_object_get_data(G_OBJECT(invocation), "smd-caller");
	return caller != NULL ? caller : g_dbus_method_invocation_get_sender(invocation);
}

static void
smd_dbus_check_polkit(SmdDbusAuth *auth)
{
	SmdDbusDaemon *self = auth->call->self;
	GDBusMethodInvocation *invocation = auth->call->invocation;
	g_autoptr(GError) error = NULL;
	g_autoptr(GDBusConnection) system = NULL;
	GVariantBuilder subject;

	if (!self->authorize) {
		auth->method(self, invocation);
		smd_dbus_auth_free(auth);
		return;
	}
	/* the authority lives on the system bus (DBUS_SYSTEM_BUS_ADDRESS) */
	system = smd_dbus_system_bus(self, &error);
	if (system == NULL) {
		g_warning("cannot reach polkit: %s", error != NULL ? error->message : "no bus");
		smd_dbus_deny(invocation, auth->action,
			      _("Not authorized: the authorization service is not available"));
		smd_dbus_auth_free(auth);
		return;
	}
	g_variant_builder_init(&subject, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(
	    &subject, "{sv}", "name",
	    g_variant_new_string(g_dbus_method_invocation_get_sender(invocation)));
	/* flags 1: AllowUserInteraction, so an agent may ask for a password */
	g_dbus_connection_call(
	    system, "org.freedesktop.PolicyKit1", "/org/freedesktop/PolicyKit1/Authority",
	    "org.freedesktop.PolicyKit1.Authority", "CheckAuthorization",
	    g_variant_new("((sa{sv})s@a{ss}us)", "system-bus-name", &subject, auth->action,
			  g_variant_new_array(G_VARIANT_TYPE("{ss}"), NULL, 0), (guint32)1, ""),
	    G_VARIANT_TYPE("((bba{ss}))"), G_DBUS_CALL_FLAGS_NONE, 120 * 1000, NULL,
	    smd_dbus_polkit_cb, auth);
}

static void
smd_dbus_caller_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdDbusAuth *auth = user_data;
	GDBusMethodInvocation *invocation = auth->call->invocation;
	g_autoptr(GVariant) reply =
	    g_dbus_connection_call_finish(G_DBUS_CONNECTION(source), result, NULL);
	guint32 uid;

	if (reply != NULL) {
		struct passwd pw, *found = NULL;
		gchar buf[1024];
		g_variant_get(reply, "(u)", &uid);
		(void)getpwuid_r(uid, &pw, buf, sizeof(buf), &found);
		g_object_set_data_full(
		    G_OBJECT(invocation), "smd-caller",
		    g_strdup_printf("%s uid=%u user=%s",
				    g_dbus_method_invocation_get_sender(invocation), uid,
				    found != NULL ? found->pw_name : "?"),
		    g_free);
	}
	smd_dbus_check_polkit(auth);
}

/* Runs @method only when polkit says the caller may do @action; else the
 * call is answered AccessDenied and nothing changes. First asks the bus
 * who the caller is, for the event log. */
static void
smd_dbus_authorize(SmdDbusDaemon *self, GDBusMethodInvocation *invocation, const gchar *action,
		   SmdDbusMethod method)
{
	GVariant *params = g_dbus_method_invocation_get_parameters(invocation);
	SmdDbusAuth *auth;

	/* nothing of ours is that long; errors that name an argument stay short */
	for (gsize i = 0; i < g_variant_n_children(params); i++) {
		g_autoptr(GVariant) arg = g_variant_get_child_value(params, i);
		if (g_variant_is_of_type(arg, G_VARIANT_TYPE_STRING) &&
		    g_variant_get_size(arg) > SMD_DBUS_MAX_STRING) {
			g_dbus_method_invocation_return_error(
			    invocation, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
			    _("Argument %zu is longer than %d bytes"), i + 1, SMD_DBUS_MAX_STRING);
			return;
		}
	}
	auth = g_new0(SmdDbusAuth, 1);
	auth->call = smd_dbus_call_new(self, invocation);
	auth->method = method;
	auth->action = g_strdup(action);
	g_dbus_connection_call(
	    g_dbus_method_invocation_get_connection(invocation), "org.freedesktop.DBus",
	    "/org/freedesktop/DBus", "org.freedesktop.DBus", "GetConnectionUnixUser",
	    g_variant_new("(s)", g_dbus_method_invocation_get_sender(invocation)),
	    G_VARIANT_TYPE("(u)"), G_DBUS_CALL_FLAGS_NONE, 10 * 1000, NULL, smd_dbus_caller_cb,
	    auth);
}

static SmdStore *
smd_dbus_store(SmdDbusDaemon *self)
{
	return smd_engine_get_store(self->engine);
}

/* ---------------------------------------------------------- statistics */

static void
smd_dbus_statistics_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmdDbusCall) call = user_data;
	SmdStatistics *stats = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;
	GVariantBuilder states;
	GVariantBuilder out;
	GHashTableIter iter;
	gpointer key, value;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_dbus_method_invocation_return_gerror(call->invocation, error);
		return;
	}
	g_variant_builder_init(&states, G_VARIANT_TYPE("a{su}"));
	g_hash_table_iter_init(&iter, stats->states);
	while (g_hash_table_iter_next(&iter, &key, &value))
		g_variant_builder_add(&states, "{su}", key, GPOINTER_TO_UINT(value));
	g_variant_builder_init(&out, G_VARIANT_TYPE("a{sv}"));
	g_variant_builder_add(&out, "{sv}", "states", g_variant_builder_end(&states));
	g_variant_builder_add(&out, "{sv}", "received-today",
			      g_variant_new_uint32(stats->received_today));
	g_variant_builder_add(&out, "{sv}", "received-week",
			      g_variant_new_uint32(stats->received_week));
	g_variant_builder_init(&states, G_VARIANT_TYPE("a(xuuuu)"));
	for (guint i = 0; i < G_N_ELEMENTS(stats->day_start); i++)
		g_variant_builder_add(
		    &states, "(xuuuu)", stats->day_start[i], stats->days[i][SMD_OUTCOME_TLS],
		    stats->days[i][SMD_OUTCOME_PORTAL], stats->days[i][SMD_OUTCOME_WAITING],
		    stats->days[i][SMD_OUTCOME_FAILED]);
	g_variant_builder_add(&out, "{sv}", "days", g_variant_builder_end(&states));
	smd_dbus_gateway1_complete_get_statistics(call->self->skeleton, call->invocation,
						  g_variant_builder_end(&out));
}

static void
smd_dbus_do_get_statistics(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	smd_store_read_async(smd_dbus_store(self), smd_admin_store_statistics,
			     g_new0(SmdStatistics, 1), (GDestroyNotify)smd_statistics_free,
			     smd_dbus_statistics_cb, smd_dbus_call_new(self, invocation));
}

static gboolean
smd_dbus_handle_get_statistics(SmdDbusGateway1 *skeleton, GDBusMethodInvocation *invocation,
			       gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_VIEW_MESSAGES,
			   smd_dbus_do_get_statistics);
	return TRUE;
}

/* ------------------------------------------------------------ requests */

static void
smd_dbus_requests_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmdDbusCall) call = user_data;
	SmdRequestList *list = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;
	GVariantBuilder out;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_dbus_method_invocation_return_gerror(call->invocation, error);
		return;
	}
	g_variant_builder_init(&out, G_VARIANT_TYPE("a(sasxu)"));
	for (guint i = 0; i < list->requests->len; i++) {
		SmdRequest *req = g_ptr_array_index(list->requests, i);
		g_ptr_array_add(req->senders, NULL);
		g_variant_builder_add(&out, "(s^asxu)", req->recipient,
				      (gchar **)req->senders->pdata, req->since, req->count);
		g_ptr_array_remove_index(req->senders, req->senders->len - 1);
	}
	smd_dbus_gateway1_complete_list_registration_requests(
	    call->self->skeleton, call->invocation, g_variant_builder_end(&out));
}

static void
smd_dbus_do_list_registration_requests(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	smd_store_read_async(smd_dbus_store(self), smd_admin_store_requests,
			     g_new0(SmdRequestList, 1), (GDestroyNotify)smd_request_list_free,
			     smd_dbus_requests_cb, smd_dbus_call_new(self, invocation));
}

static gboolean
smd_dbus_handle_list_registration_requests(SmdDbusGateway1 *skeleton,
					   GDBusMethodInvocation *invocation, gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_MANAGE_RECIPIENTS,
			   smd_dbus_do_list_registration_requests);
	return TRUE;
}

static void
smd_dbus_do_flush(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	const gchar *domain = NULL;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s)", &domain);
	smd_dbus_gateway1_complete_flush(self->skeleton, invocation,
					 smd_engine_flush(self->engine, domain));
}

static gboolean
smd_dbus_handle_flush(SmdDbusGateway1 *skeleton, GDBusMethodInvocation *invocation,
		      const gchar *domain, gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_CONFIGURE, smd_dbus_do_flush);
	return TRUE;
}

/* --------------------------------------------------------------- phones */

typedef struct {
	SmdDbusCall *call;
	gchar *masked; /* NULL for RemovePhone */
} SmdDbusPhoneCall;

static void
smd_dbus_phone_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdDbusPhoneCall *pc = user_data;
	g_autoptr(SmdDbusCall) call = pc->call;
	g_autofree gchar *masked = pc->masked;
	SmdPhoneChange *change = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	g_free(pc);
	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_dbus_method_invocation_return_gerror(call->invocation, error);
		return;
	}
	smd_event_log_all(change->events);
	smd_engine_send_notices(call->self->engine, change->notices);
	if (masked != NULL)
		smd_dbus_gateway1_complete_set_phone(call->self->skeleton, call->invocation,
						     masked);
	else
		smd_dbus_gateway1_complete_remove_phone(call->self->skeleton, call->invocation);
}

static void
smd_dbus_change_phone(SmdDbusDaemon *self, GDBusMethodInvocation *invocation,
		      const gchar *recipient, gchar *number)
{
	SmdPhoneChange *change = g_new0(SmdPhoneChange, 1);
	SmdDbusPhoneCall *pc = g_new0(SmdDbusPhoneCall, 1);

	change->address = g_strdup(recipient);
	change->number = number;
	/* logged with the caller */
	change->by = g_strdup_printf("dbus:%s", smd_dbus_caller(invocation));
	change->retention = smd_engine_get_config(self->engine)->retention;
	pc->call = smd_dbus_call_new(self, invocation);
	pc->masked = number != NULL ? smd_phone_mask(number) : NULL;
	smd_store_run_async(smd_dbus_store(self), smd_portal_store_change_phone, change,
			    (GDestroyNotify)smd_phone_change_free, smd_dbus_phone_cb, pc);
}

/* The recipient address argument of @invocation, or NULL when it is not
 * an address (the call is then answered with the error). */
static const gchar *
smd_dbus_recipient_arg(GDBusMethodInvocation *invocation)
{
	g_autoptr(GError) error = NULL;
	const gchar *recipient = NULL;

	g_variant_get_child(g_dbus_method_invocation_get_parameters(invocation), 0, "&s",
			    &recipient);
	if (!smd_address_validate(recipient, NULL, &error)) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return NULL;
	}
	return recipient;
}

static void
smd_dbus_do_set_phone(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	g_autoptr(GError) error = NULL;
	const gchar *recipient = NULL;
	const gchar *number = NULL;
	gchar *e164;

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s&s)", &recipient,
		      &number);
	if (smd_dbus_recipient_arg(invocation) == NULL)
		return;
	e164 = smd_phone_normalise(
	    number, smd_engine_get_config(self->engine)->portal_default_country, &error);
	if (e164 == NULL) {
		g_dbus_method_invocation_return_error_literal(invocation, error->domain,
							      error->code, _(error->message));
		return;
	}
	smd_dbus_change_phone(self, invocation, recipient, e164);
}

static gboolean
smd_dbus_handle_set_phone(SmdDbusGateway1 *skeleton, GDBusMethodInvocation *invocation,
			  const gchar *recipient, const gchar *number, gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_MANAGE_RECIPIENTS,
			   smd_dbus_do_set_phone);
	return TRUE;
}

static void
smd_dbus_do_remove_phone(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	const gchar *recipient = smd_dbus_recipient_arg(invocation);
	if (recipient != NULL)
		smd_dbus_change_phone(self, invocation, recipient, NULL);
}

static gboolean
smd_dbus_handle_remove_phone(SmdDbusGateway1 *skeleton, GDBusMethodInvocation *invocation,
			     const gchar *recipient, gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_MANAGE_RECIPIENTS,
			   smd_dbus_do_remove_phone);
	return TRUE;
}

/* --------------------------------------------------------------- events */

/* An array of @type from rows the store built. */
static GVariant *
smd_dbus_rows(GPtrArray *rows, const gchar *type)
{
	GVariantBuilder out;

	g_variant_builder_init(&out, G_VARIANT_TYPE(type));
	for (guint i = 0; i < rows->len; i++)
		g_variant_builder_add_value(&out, g_ptr_array_index(rows, i));
	return g_variant_builder_end(&out);
}

static void
smd_dbus_events_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmdDbusCall) call = user_data;
	SmdEventPage *page = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_dbus_method_invocation_return_gerror(call->invocation, error);
		return;
	}
	smd_dbus_gateway1_complete_read_events(call->self->skeleton, call->invocation,
					       smd_dbus_rows(page->rows, "a(xxssssss)"));
}

static void
smd_dbus_do_read_events(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	SmdEventPage *page = g_new0(SmdEventPage, 1);
	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(xu)", &page->after,
		      &page->limit);
	smd_store_read_async(smd_dbus_store(self), smd_admin_store_events, page,
			     (GDestroyNotify)smd_event_page_free, smd_dbus_events_cb,
			     smd_dbus_call_new(self, invocation));
}

static gboolean
smd_dbus_handle_read_events(SmdDbusGateway1 *skeleton, GDBusMethodInvocation *invocation,
			    gint64 after, guint limit, gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_VIEW_LOG, smd_dbus_do_read_events);
	return TRUE;
}

/* ------------------------------------------------------- revoke, unlock */

static void
smd_dbus_action_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmdDbusCall) call = user_data;
	SmdAdminAction *action = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_dbus_method_invocation_return_gerror(call->invocation, error);
		return;
	}
	smd_event_log_all(action->events);
	if (action->queue_id != NULL)
		smd_dbus_gateway1_complete_revoke_message(call->self->skeleton, call->invocation);
	else
		smd_dbus_gateway1_complete_unlock_recipient(call->self->skeleton, call->invocation,
							    action->count);
}

static void
smd_dbus_run_action(SmdDbusDaemon *self, GDBusMethodInvocation *invocation, SmdStoreFunc func,
		    const gchar *queue_id, const gchar *address)
{
	SmdAdminAction *action = g_new0(SmdAdminAction, 1);
	action->queue_id = g_strdup(queue_id);
	action->address = g_strdup(address);
	action->by = g_strdup_printf("dbus:%s", smd_dbus_caller(invocation));
	smd_store_run_async(smd_dbus_store(self), func, action,
			    (GDestroyNotify)smd_admin_action_free, smd_dbus_action_cb,
			    smd_dbus_call_new(self, invocation));
}

static void
smd_dbus_do_revoke_message(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	const gchar *queue_id = NULL;
	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(&s)", &queue_id);
	smd_dbus_run_action(self, invocation, smd_admin_store_revoke, queue_id, NULL);
}

static gboolean
smd_dbus_handle_revoke_message(SmdDbusGateway1 *skeleton, GDBusMethodInvocation *invocation,
			       const gchar *queue_id, gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_REVOKE, smd_dbus_do_revoke_message);
	return TRUE;
}

static void
smd_dbus_do_unlock_recipient(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	const gchar *recipient = smd_dbus_recipient_arg(invocation);
	if (recipient != NULL)
		smd_dbus_run_action(self, invocation, smd_admin_store_unlock, NULL, recipient);
}

static gboolean
smd_dbus_handle_unlock_recipient(SmdDbusGateway1 *skeleton, GDBusMethodInvocation *invocation,
				 const gchar *recipient, gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_REVOKE, smd_dbus_do_unlock_recipient);
	return TRUE;
}

/* ------------------------------------------------------------ messages */

static void
smd_dbus_messages_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmdDbusCall) call = user_data;
	SmdMessageList *list = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_dbus_method_invocation_return_gerror(call->invocation, error);
		return;
	}
	smd_dbus_gateway1_complete_list_messages(call->self->skeleton, call->invocation,
						 smd_dbus_rows(list->rows, "a(sxssta(ss))"));
}

/* Event kinds that mean a recipient reached a state (DESIGN.md). */
static const struct {
	const gchar *kind;
	const gchar *state;
} smd_dbus_state_events[] = {
    {"delivered", "delivered"},
    {"deferred", "deferred"},
    {"held", "held"},
    {"bounced", "bounced"},
    {"registration-requested", "awaiting-registration"},
    {"invited", "invited"},
    {"pin-requested", "pin-sent"},
    {"opened", "opened"},
    {"downloaded", "downloaded"},
    {"expired", "expired"},
    {"revoked", "revoked"},
    {"quarantined", "quarantined"},
};

/* Whether @state is a recipient's state: a filter on anything else would
 * silently find nothing. */
static gboolean
smd_dbus_known_state(const gchar *state, GError **error)
{
	g_autoptr(GString) known = g_string_new("queued");

	if (g_strcmp0(state, "queued") == 0)
		return TRUE;
	for (guint i = 0; i < G_N_ELEMENTS(smd_dbus_state_events); i++) {
		if (g_strcmp0(state, smd_dbus_state_events[i].state) == 0)
			return TRUE;
		g_string_append_printf(known, ", %s", smd_dbus_state_events[i].state);
	}
	g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
		    _("Unknown state “%s”; the states are: %s"), state, known->str);
	return FALSE;
}

/* A filter key ListMessages does not know, or of another type, is an
 * error: left out, the caller would get the unfiltered list. */
static gboolean
smd_dbus_known_filter(GVariant *filter, GError **error)
{
	static const struct {
		const gchar *key;
		const gchar *type;
	} known[] = {{"state", "s"}, {"address", "s"},	  {"address-prefix", "s"}, {"since", "x"},
		     {"until", "x"}, {"older-than", "s"}, {"newer-than", "s"}};
	GVariantIter iter;
	const gchar *key;
	GVariant *value;

	g_variant_iter_init(&iter, filter);
	while (g_variant_iter_loop(&iter, "{&sv}", &key, &value)) {
		guint i = 0;
		while (i < G_N_ELEMENTS(known) && g_strcmp0(known[i].key, key) != 0)
			i++;
		if (i == G_N_ELEMENTS(known)) {
			g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
				    _("Unknown filter “%s”"), key);
		} else if (g_strcmp0(g_variant_get_type_string(value), known[i].type) != 0) {
			g_set_error(error, G_DBUS_ERROR, G_DBUS_ERROR_INVALID_ARGS,
				    _("The filter “%s” must be of type “%s”"), key, known[i].type);
		} else {
			continue;
		}
		g_variant_unref(value); /* g_variant_iter_loop() frees it only when it goes on */
		return FALSE;
	}
	return TRUE;
}

static void
smd_dbus_do_list_messages(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	g_autoptr(GVariant) filter = NULL;
	g_autoptr(GError) error = NULL;
	SmdMessageList *list = g_new0(SmdMessageList, 1);

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(@a{sv}uu)", &filter,
		      &list->offset, &list->limit);
	if (!smd_dbus_known_filter(filter, &error)) {
		smd_message_list_free(list);
		g_dbus_method_invocation_return_gerror(invocation, error);
		return;
	}
	g_variant_lookup(filter, "state", "s", &list->state);
	if (list->state != NULL && !smd_dbus_known_state(list->state, &error)) {
		smd_message_list_free(list);
		g_dbus_method_invocation_return_gerror(invocation, error);
		return;
	}
	g_variant_lookup(filter, "address", "s", &list->address);
	if (list->address == NULL &&
	    g_variant_lookup(filter, "address-prefix", "s", &list->address))
		list->address_prefix = TRUE;
	g_variant_lookup(filter, "since", "x", &list->since);
	g_variant_lookup(filter, "until", "x", &list->until);
	g_variant_lookup(filter, "older-than", "s", &list->older_than);
	g_variant_lookup(filter, "newer-than", "s", &list->newer_than);
	list->vault = g_object_ref(smd_engine_get_vault(self->engine));
	smd_store_read_async(smd_dbus_store(self), smd_admin_store_messages, list,
			     (GDestroyNotify)smd_message_list_free, smd_dbus_messages_cb,
			     smd_dbus_call_new(self, invocation));
}

static gboolean
smd_dbus_handle_list_messages(SmdDbusGateway1 *skeleton, GDBusMethodInvocation *invocation,
			      GVariant *filter, guint offset, guint limit, gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_VIEW_MESSAGES,
			   smd_dbus_do_list_messages);
	return TRUE;
}

static void
smd_dbus_history_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmdDbusCall) call = user_data;
	SmdMessageHistory *h = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_dbus_method_invocation_return_gerror(call->invocation, error);
		return;
	}
	smd_dbus_gateway1_complete_get_message(call->self->skeleton, call->invocation,
					       smd_dbus_rows(h->recipients, "aa{sv}"),
					       smd_dbus_rows(h->events, "a(xxssssss)"));
}

static void
smd_dbus_do_get_message(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	SmdMessageHistory *h = g_new0(SmdMessageHistory, 1);
	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(s)", &h->queue_id);
	smd_store_read_async(smd_dbus_store(self), smd_admin_store_history, h,
			     (GDestroyNotify)smd_message_history_free, smd_dbus_history_cb,
			     smd_dbus_call_new(self, invocation));
}

static gboolean
smd_dbus_handle_get_message(SmdDbusGateway1 *skeleton, GDBusMethodInvocation *invocation,
			    const gchar *queue_id, gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_VIEW_MESSAGES,
			   smd_dbus_do_get_message);
	return TRUE;
}

static void
smd_dbus_resend_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmdDbusCall) call = user_data;
	SmdResend *resend = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_dbus_method_invocation_return_gerror(call->invocation, error);
		return;
	}
	smd_event_log_all(resend->events);
	smd_engine_send_notices(call->self->engine, resend->notices);
	smd_dbus_gateway1_complete_resend_invitation(call->self->skeleton, call->invocation);
}

static void
smd_dbus_do_resend_invitation(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	SmdResend *resend = g_new0(SmdResend, 1);
	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(ss)",
		      &resend->queue_id, &resend->address);
	resend->retention = smd_engine_get_config(self->engine)->retention;
	smd_store_run_async(smd_dbus_store(self), smd_portal_store_resend, resend,
			    (GDestroyNotify)smd_resend_free, smd_dbus_resend_cb,
			    smd_dbus_call_new(self, invocation));
}

static gboolean
smd_dbus_handle_resend_invitation(SmdDbusGateway1 *skeleton, GDBusMethodInvocation *invocation,
				  const gchar *queue_id, const gchar *recipient, gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_MANAGE_RECIPIENTS,
			   smd_dbus_do_resend_invitation);
	return TRUE;
}

static void
smd_dbus_do_reload(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	g_autoptr(GError) error = NULL;
	SmdConfig *config = smd_config_load(smd_engine_get_config(self->engine)->path, &error);
	if (config == NULL) {
		g_dbus_method_invocation_return_gerror(invocation, error);
		return;
	}
	smd_engine_reload(self->engine, config);
	smd_dbus_gateway1_complete_reload(self->skeleton, invocation);
}

static gboolean
smd_dbus_handle_reload(SmdDbusGateway1 *skeleton, GDBusMethodInvocation *invocation,
		       gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_CONFIGURE, smd_dbus_do_reload);
	return TRUE;
}

/* --------------------------------------------------------------- phones */

static void
smd_dbus_phones_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmdDbusCall) call = user_data;
	SmdPhoneList *list = smd_store_run_get_data(result);
	g_autoptr(GError) error = NULL;

	if (!smd_store_run_finish(SMD_STORE(source), result, &error)) {
		g_dbus_method_invocation_return_gerror(call->invocation, error);
		return;
	}
	smd_dbus_gateway1_complete_list_phones(call->self->skeleton, call->invocation,
					       smd_dbus_rows(list->rows, "a(ssssx)"));
}

static void
smd_dbus_do_list_phones(SmdDbusDaemon *self, GDBusMethodInvocation *invocation)
{
	SmdPhoneList *list = g_new0(SmdPhoneList, 1);

	g_variant_get(g_dbus_method_invocation_get_parameters(invocation), "(suu)", &list->search,
		      &list->offset, &list->limit);
	smd_store_read_async(smd_dbus_store(self), smd_admin_store_phones, list,
			     (GDestroyNotify)smd_phone_list_free, smd_dbus_phones_cb,
			     smd_dbus_call_new(self, invocation));
}

static gboolean
smd_dbus_handle_list_phones(SmdDbusGateway1 *skeleton, GDBusMethodInvocation *invocation,
			    const gchar *search, guint offset, guint limit, gpointer user_data)
{
	smd_dbus_authorize(user_data, invocation, SMD_ACTION_MANAGE_RECIPIENTS,
			   smd_dbus_do_list_phones);
	return TRUE;
}

/* Every event, as signals: the app follows without polling. */
static void
smd_dbus_event_hook(const SmdEvent *event, gpointer user_data)
{
	SmdDbusDaemon *self = user_data;
	const gchar *queue_id = event->queue_id != NULL ? event->queue_id : "";
	const gchar *recipient = event->recipient != NULL ? event->recipient : "";

	/* not on a bus (yet, or any more): nobody to tell, and the signals'
	 * values cost a few per cent of a busy main loop */
	if (g_dbus_interface_skeleton_get_connection(G_DBUS_INTERFACE_SKELETON(self->skeleton)) ==
	    NULL)
		return;
	smd_dbus_gateway1_emit_event_added(self->skeleton, event->kind, queue_id, recipient);
	if (g_strcmp0(event->kind, "registration-requested") == 0)
		smd_dbus_gateway1_emit_registration_requested(
		    self->skeleton, recipient, event->detail != NULL ? event->detail : "");
	for (guint i = 0; i < G_N_ELEMENTS(smd_dbus_state_events); i++) {
		if (recipient[0] != '\0' &&
		    g_strcmp0(event->kind, smd_dbus_state_events[i].kind) == 0)
			smd_dbus_gateway1_emit_status_changed(self->skeleton, queue_id, recipient,
							      smd_dbus_state_events[i].state);
	}
}

/* ------------------------------------------------------------ the name */

static void
smd_dbus_name_acquired_cb(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	SmdDbusDaemon *self = user_data;

	self->retry_seconds = SMD_DBUS_RETRY_FIRST;
	g_message("admin API on D-Bus as %s", name);
}

static void
smd_dbus_name_lost_cb(GDBusConnection *connection, const gchar *name, gpointer user_data)
{
	/* mail keeps flowing; only the admin app cannot reach us (when the
	 * bus itself went, smd_dbus_closed_cb() says so and connects again) */
	if (connection != NULL && !g_dbus_connection_is_closed(connection))
		g_warning("the admin API is not available: cannot own %s on the bus", name);
}

static void smd_dbus_connect(SmdDbusDaemon *self);

static gboolean
smd_dbus_retry_cb(gpointer user_data)
{
	SmdDbusDaemon *self = user_data;

	self->retry_source = 0;
	smd_dbus_connect(self);
	return G_SOURCE_REMOVE;
}

static void
smd_dbus_retry_later(SmdDbusDaemon *self)
{
	self->retry_source = g_timeout_add_seconds(self->retry_seconds, smd_dbus_retry_cb, self);
	self->retry_seconds = MIN(self->retry_seconds * 2, SMD_DBUS_RETRY_LAST);
}

/* Drops what lived on the connection, so that a new one starts clean. */
static void
smd_dbus_disconnect(SmdDbusDaemon *self)
{
	if (self->owner_id != 0)
		g_bus_unown_name(self->owner_id);
	self->owner_id = 0;
	if (g_dbus_interface_skeleton_get_connection(G_DBUS_INTERFACE_SKELETON(self->skeleton)) !=
	    NULL)
		g_dbus_interface_skeleton_unexport(G_DBUS_INTERFACE_SKELETON(self->skeleton));
	if (self->connection != NULL)
		g_signal_handlers_disconnect_by_data(self->connection, self);
	g_clear_object(&self->connection);
}

static void
smd_dbus_closed_cb(GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
		   gpointer user_data)
{
	SmdDbusDaemon *self = user_data;

	g_warning("lost the connection to the bus (%s): the admin API is not available until it "
		  "is back; mail keeps flowing",
		  error != NULL ? error->message : "closed");
	smd_dbus_disconnect(self);
	self->retry_seconds = SMD_DBUS_RETRY_FIRST;
	smd_dbus_retry_later(self);
}

static void
smd_dbus_connected_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GError) error = NULL;
	GDBusConnection *connection = g_dbus_connection_new_for_address_finish(result, &error);
	SmdDbusDaemon *self = user_data;

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return; /* we are going: self is no more */
	if (connection == NULL) {
		/* said once, not every half minute while the bus is away */
		if (self->retry_seconds == SMD_DBUS_RETRY_FIRST)
			g_warning("the admin API is not available: cannot connect to the bus: %s "
				  "(trying again, every %d s at most)",
				  error->message, SMD_DBUS_RETRY_LAST);
		smd_dbus_retry_later(self);
		return;
	}
	self->connection = connection;
	g_signal_connect(connection, "closed", G_CALLBACK(smd_dbus_closed_cb), self);
	if (!g_dbus_interface_skeleton_export(G_DBUS_INTERFACE_SKELETON(self->skeleton), connection,
					      SMD_DBUS_PATH, &error))
		g_warning("cannot export the admin API: %s", error->message);
	self->owner_id = g_bus_own_name_on_connection(
	    connection, SMD_DBUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE, smd_dbus_name_acquired_cb,
	    smd_dbus_name_lost_cb, self, NULL);
}

static void
smd_dbus_connect(SmdDbusDaemon *self)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *address = g_dbus_address_get_for_bus_sync(self->bus_type, NULL, &error);

	if (address == NULL) {
		/* no bus is configured (no address in the environment): none will come */
		g_warning("the admin API is not available: %s", error->message);
		return;
	}
	g_dbus_connection_new_for_address(address, SMD_DBUS_CONNECTION_FLAGS, NULL,
					  self->cancellable, smd_dbus_connected_cb, self);
}

SmdDbusDaemon *
smd_dbus_daemon_new(SmdEngine *engine, GBusType bus_type, gboolean authorize)
{
	SmdDbusDaemon *self = g_object_new(SMD_TYPE_DBUS_DAEMON, NULL);

	self->engine = g_object_ref(engine);
	self->authorize = authorize;
	self->skeleton = smd_dbus_gateway1_skeleton_new();
	g_signal_connect(self->skeleton, "handle-get-statistics",
			 G_CALLBACK(smd_dbus_handle_get_statistics), self);
	g_signal_connect(self->skeleton, "handle-list-registration-requests",
			 G_CALLBACK(smd_dbus_handle_list_registration_requests), self);
	g_signal_connect(self->skeleton, "handle-set-phone", G_CALLBACK(smd_dbus_handle_set_phone),
			 self);
	g_signal_connect(self->skeleton, "handle-remove-phone",
			 G_CALLBACK(smd_dbus_handle_remove_phone), self);
	g_signal_connect(self->skeleton, "handle-read-events",
			 G_CALLBACK(smd_dbus_handle_read_events), self);
	g_signal_connect(self->skeleton, "handle-list-messages",
			 G_CALLBACK(smd_dbus_handle_list_messages), self);
	g_signal_connect(self->skeleton, "handle-get-message",
			 G_CALLBACK(smd_dbus_handle_get_message), self);
	g_signal_connect(self->skeleton, "handle-resend-invitation",
			 G_CALLBACK(smd_dbus_handle_resend_invitation), self);
	g_signal_connect(self->skeleton, "handle-reload", G_CALLBACK(smd_dbus_handle_reload), self);
	g_signal_connect(self->skeleton, "handle-flush", G_CALLBACK(smd_dbus_handle_flush), self);
	g_signal_connect(self->skeleton, "handle-list-phones",
			 G_CALLBACK(smd_dbus_handle_list_phones), self);
	smd_event_set_hook(smd_dbus_event_hook, self);
	g_signal_connect(self->skeleton, "handle-revoke-message",
			 G_CALLBACK(smd_dbus_handle_revoke_message), self);
	g_signal_connect(self->skeleton, "handle-unlock-recipient",
			 G_CALLBACK(smd_dbus_handle_unlock_recipient), self);
	/* typed errors: register the domain before the first call */
	(void)smd_error_quark();
	self->bus_type = bus_type;
	self->cancellable = g_cancellable_new();
	self->retry_seconds = SMD_DBUS_RETRY_FIRST;
	smd_dbus_connect(self);
	return self;
}

static void
smd_dbus_daemon_finalize(GObject *object)
{
	SmdDbusDaemon *self = SMD_DBUS_DAEMON(object);
	smd_event_set_hook(NULL, NULL);
	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	g_clear_handle_id(&self->retry_source, g_source_remove);
	smd_dbus_disconnect(self);
	g_clear_object(&self->system);
	g_clear_object(&self->skeleton);
	g_clear_object(&self->engine);
	G_OBJECT_CLASS(smd_dbus_daemon_parent_class)->finalize(object);
}

static void
smd_dbus_daemon_class_init(SmdDbusDaemonClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = smd_dbus_daemon_finalize;
}

static void
smd_dbus_daemon_init(SmdDbusDaemon *self)
{
}
