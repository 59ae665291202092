/*
 * SecuMailer admin — the connection to the daemon's admin API.
 *
 * One proxy for the whole app. It is "ready" only after a first call
 * succeeded, so a service that is missing or refuses us shows as such
 * instead of as empty pages. The daemon's signals are re-emitted here so
 * pages connect once and survive reconnects.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-client"

#include "config.h"

#include <glib/gi18n.h>

#include "sma-client.h"

#define SMA_BUS_NAME "org.secumailer.Gateway1"
#define SMA_OBJECT_PATH "/org/secumailer/Gateway1"

struct _SmaClient {
	GObject parent_instance;

	GBusType bus_type;
	SmaClientState state;
	gchar *problem;
	SmdDbusGateway1 *proxy; /* only while ready */
	/* a connection of our own: GIO's shared one ends the whole app when
	 * the bus goes (a restart of dbus), and with it what was typed */
	GDBusConnection *connection;
	GCancellable *cancellable;
};

G_DEFINE_TYPE(SmaClient, sma_client, G_TYPE_OBJECT)

enum { PROP_0, PROP_STATE, PROP_PROBLEM, N_PROPS };
static GParamSpec *props[N_PROPS];

enum { SIGNAL_REGISTRATION_REQUESTED, SIGNAL_STATUS_CHANGED, SIGNAL_EVENT_ADDED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* What a person can do something about, from a D-Bus error. */
gchar *
sma_client_error_text(const GError *error)
{
	g_autoptr(GError) copy = g_error_copy(error);

	if (g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_OBJECT))
		return g_strdup(_("The SecuMailer service is not running on this computer."));
	if (g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_ACCESS_DENIED))
		return g_strdup(_("You are not allowed to manage SecuMailer. Ask your "
				  "administrator to add you to the secumailer-staff group."));
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND) ||
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CONNECTION_REFUSED) ||
	    g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED) ||
	    g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_FILE_NOT_FOUND))
		return g_strdup(_("The message bus of this computer cannot be reached."));
	g_dbus_error_strip_remote_error(copy);
	return g_strdup(copy->message);
}

static void
sma_client_set_state(SmaClient *self, SmaClientState state, const gchar *problem)
{
	g_free(self->problem);
	self->problem = g_strdup(problem);
	if (state != SMA_CLIENT_READY)
		g_clear_object(&self->proxy);
	if (state == SMA_CLIENT_UNREACHABLE && self->connection != NULL) {
		g_signal_handlers_disconnect_by_data(self->connection, self);
		g_clear_object(&self->connection);
	}
	self->state = state;
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_PROBLEM]);
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_STATE]);
}

/* Calls fail for their own reasons (a bad number) or because the service
 * went away or stopped trusting us: the latter makes the app unreachable.
 * Returns TRUE when it did. */
gboolean
sma_client_check_error(SmaClient *self, const GError *error)
{
	g_autofree gchar *text = NULL;

	/* a page that went away while its call ran: nothing to show */
	if (self == NULL)
		return TRUE;
	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return FALSE;
	/* AccessDenied is polkit's answer for one action (a cancelled password
	 * prompt, a staff member without that right): said for that call; only
	 * the first call decides that the app cannot work at all */
	if (!g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_SERVICE_UNKNOWN) &&
	    !g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER) &&
	    !g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_NO_REPLY) &&
	    !g_error_matches(error, G_DBUS_ERROR, G_DBUS_ERROR_DISCONNECTED) &&
	    !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CLOSED))
		return FALSE;
	/* a call that failed because the bus went: say that, as the rest does */
	text = self->connection != NULL && g_dbus_connection_is_closed(self->connection)
		   ? g_strdup(_("The message bus of this computer cannot be reached."))
		   : sma_client_error_text(error);
	sma_client_set_state(self, SMA_CLIENT_UNREACHABLE, text);
	return TRUE;
}

static void
sma_client_registration_requested_cb(SmdDbusGateway1 *proxy, const gchar *recipient,
				     const gchar *sender, SmaClient *self)
{
	g_signal_emit(self, signals[SIGNAL_REGISTRATION_REQUESTED], 0, recipient, sender);
}

static void
sma_client_status_changed_cb(SmdDbusGateway1 *proxy, const gchar *queue_id, const gchar *recipient,
			     const gchar *state, SmaClient *self)
{
	g_signal_emit(self, signals[SIGNAL_STATUS_CHANGED], 0, queue_id, recipient, state);
}

static void
sma_client_event_added_cb(SmdDbusGateway1 *proxy, const gchar *kind, const gchar *queue_id,
			  const gchar *recipient, SmaClient *self)
{
	g_signal_emit(self, signals[SIGNAL_EVENT_ADDED], 0, kind, queue_id, recipient);
}

static void
sma_client_name_owner_cb(GObject *proxy, GParamSpec *pspec, SmaClient *self)
{
	g_autofree gchar *owner = g_dbus_proxy_get_name_owner(G_DBUS_PROXY(proxy));

	if (owner == NULL && self->state == SMA_CLIENT_READY)
		sma_client_set_state(self, SMA_CLIENT_UNREACHABLE,
				     /* the owner also goes when the bus itself does */
				     self->connection != NULL &&
					     g_dbus_connection_is_closed(self->connection)
					 ? _("The message bus of this computer cannot be reached.")
					 : _("The SecuMailer service has stopped."));
}

/* A step of connecting failed: unreachable, and why (unless we stopped
 * it ourselves). */
static void
sma_client_connect_failed(SmaClient *self, const GError *error)
{
	g_autofree gchar *text = NULL;

	if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
		return;
	text = sma_client_error_text(error);
	sma_client_set_state(self, SMA_CLIENT_UNREACHABLE, text);
}

static void
sma_client_probe_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmaClient) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) stats = NULL;
	SmdDbusGateway1 *proxy = SMD_DBUS_GATEWAY1(source);

	if (!smd_dbus_gateway1_call_get_statistics_finish(proxy, &stats, result, &error)) {
		g_debug("probe failed: %s", error->message);
		sma_client_connect_failed(self, error);
		return;
	}
	g_set_object(&self->proxy, proxy);
	g_signal_connect_object(proxy, "registration-requested",
				G_CALLBACK(sma_client_registration_requested_cb), self, 0);
	g_signal_connect_object(proxy, "status-changed", G_CALLBACK(sma_client_status_changed_cb),
				self, 0);
	g_signal_connect_object(proxy, "event-added", G_CALLBACK(sma_client_event_added_cb), self,
				0);
	g_signal_connect_object(proxy, "notify::g-name-owner", G_CALLBACK(sma_client_name_owner_cb),
				self, 0);
	sma_client_set_state(self, SMA_CLIENT_READY, NULL);
}

static void
sma_client_proxy_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmaClient) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdDbusGateway1) proxy = smd_dbus_gateway1_proxy_new_finish(result, &error);

	if (proxy == NULL) {
		sma_client_connect_failed(self, error);
		return;
	}
	/* a slow gateway, or a polkit password prompt (the daemon waits 120 s
	 * for it), must not look unreachable */
	g_dbus_proxy_set_default_timeout(G_DBUS_PROXY(proxy), 150 * 1000);
	smd_dbus_gateway1_call_get_statistics(proxy, self->cancellable, sma_client_probe_cb,
					      g_object_ref(self));
}

static void
sma_client_closed_cb(GDBusConnection *connection, gboolean remote_peer_vanished, GError *error,
		     SmaClient *self)
{
	sma_client_set_state(self, SMA_CLIENT_UNREACHABLE,
			     _("The message bus of this computer cannot be reached."));
}

static void
sma_client_connection_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmaClient) self = user_data;
	g_autoptr(GError) error = NULL;
	GDBusConnection *connection = g_dbus_connection_new_for_address_finish(result, &error);

	if (connection == NULL) {
		sma_client_connect_failed(self, error);
		return;
	}
	self->connection = connection;
	g_signal_connect(connection, "closed", G_CALLBACK(sma_client_closed_cb), self);
	/* the signals come through the proxy; no properties to cache */
	smd_dbus_gateway1_proxy_new(connection, G_DBUS_PROXY_FLAGS_DO_NOT_LOAD_PROPERTIES,
				    SMA_BUS_NAME, SMA_OBJECT_PATH, self->cancellable,
				    sma_client_proxy_cb, g_object_ref(self));
}

/* (Re)connects; "state" says how it went. */
void
sma_client_connect(SmaClient *self)
{
	g_autoptr(GError) error = NULL;
	g_autofree gchar *address = NULL;

	g_return_if_fail(SMA_IS_CLIENT(self));

	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	self->cancellable = g_cancellable_new();
	sma_client_set_state(self, SMA_CLIENT_CONNECTING, NULL);
	if (self->connection != NULL) {
		g_signal_handlers_disconnect_by_data(self->connection, self);
		g_clear_object(&self->connection);
	}
	address = g_dbus_address_get_for_bus_sync(self->bus_type, NULL, &error);
	if (address == NULL) {
		g_autofree gchar *text = sma_client_error_text(error);
		sma_client_set_state(self, SMA_CLIENT_UNREACHABLE, text);
		return;
	}
	g_dbus_connection_new_for_address(address,
					  G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT |
					      G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
					  NULL, self->cancellable, sma_client_connection_cb,
					  g_object_ref(self));
}

SmaClientState
sma_client_get_state(SmaClient *self)
{
	g_return_val_if_fail(SMA_IS_CLIENT(self), SMA_CLIENT_UNREACHABLE);
	return self->state;
}

const gchar *
sma_client_get_problem(SmaClient *self)
{
	g_return_val_if_fail(SMA_IS_CLIENT(self), NULL);
	return self->problem;
}

/* NULL unless ready. */
SmdDbusGateway1 *
sma_client_get_proxy(SmaClient *self)
{
	g_return_val_if_fail(SMA_IS_CLIENT(self), NULL);
	return self->proxy;
}

SmaClient *
sma_client_new(GBusType bus_type)
{
	SmaClient *self = g_object_new(SMA_TYPE_CLIENT, NULL);
	self->bus_type = bus_type;
	return self;
}

static void
sma_client_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	SmaClient *self = SMA_CLIENT(object);

	switch (prop_id) {
	case PROP_STATE:
		g_value_set_int(value, self->state);
		break;
	case PROP_PROBLEM:
		g_value_set_string(value, self->problem);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
	}
}

static void
sma_client_dispose(GObject *object)
{
	SmaClient *self = SMA_CLIENT(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	g_clear_object(&self->proxy);
	if (self->connection != NULL) {
		g_signal_handlers_disconnect_by_data(self->connection, self);
		g_clear_object(&self->connection);
	}
	G_OBJECT_CLASS(sma_client_parent_class)->dispose(object);
}

static void
sma_client_finalize(GObject *object)
{
	SmaClient *self = SMA_CLIENT(object);

	g_free(self->problem);
	G_OBJECT_CLASS(sma_client_parent_class)->finalize(object);
}

static void
sma_client_class_init(SmaClientClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->get_property = sma_client_get_property;
	object_class->dispose = sma_client_dispose;
	object_class->finalize = sma_client_finalize;

	props[PROP_STATE] =
	    g_param_spec_int("state", NULL, NULL, SMA_CLIENT_CONNECTING, SMA_CLIENT_UNREACHABLE,
			     SMA_CLIENT_CONNECTING, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	props[PROP_PROBLEM] = g_param_spec_string("problem", NULL, NULL, NULL,
						  G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties(object_class, N_PROPS, props);

	signals[SIGNAL_REGISTRATION_REQUESTED] =
	    g_signal_new("registration-requested", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0,
			 NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
	signals[SIGNAL_STATUS_CHANGED] =
	    g_signal_new("status-changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL,
			 NULL, NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
	signals[SIGNAL_EVENT_ADDED] =
	    g_signal_new("event-added", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
			 NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_STRING);
}

static void
sma_client_init(SmaClient *self)
{
	self->state = SMA_CLIENT_CONNECTING;
}
