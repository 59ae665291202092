/*
 * SecuMailer admin — pending registration requests: who waits for a
 * phone number, for whom, since when. Selecting one and entering a
 * number does what the sender's registration page does (SetPhone): the
 * number is stored and the held messages go out as invitations.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-requests"

#include "config.h"

#include <glib/gi18n.h>

#include "sma-page.h"
#include "sma-request.h"
#include "sma-requests-page.h"
#include "sma-state.h"

struct _SmaRequestsPage {
	AdwBin parent_instance;

	/* template widgets */
	GtkStack *stack;
	GtkListBox *list_box;
	AdwPreferencesGroup *form_group;
	AdwEntryRow *phone_row;
	GtkLabel *error_label;
	GtkButton *submit_button;

	/* owned */
	SmaClient *client;
	GListStore *requests; /* of SmaRequest, oldest first */
	GCancellable *cancellable;
	gchar *submitting; /* the recipient of a SetPhone in flight */
	gboolean loaded;
	gboolean reselecting; /* a live update puts the selection back */
};

static void sma_requests_page_iface_init(SmaPageInterface *iface);

G_DEFINE_TYPE_WITH_CODE(SmaRequestsPage, sma_requests_page, ADW_TYPE_BIN,
			G_IMPLEMENT_INTERFACE(SMA_TYPE_PAGE, sma_requests_page_iface_init))

enum { PROP_0, PROP_COUNT, N_PROPS };
static GParamSpec *props[N_PROPS];

guint
sma_requests_page_get_count(SmaRequestsPage *self)
{
	g_return_val_if_fail(SMA_IS_REQUESTS_PAGE(self), 0);
	return g_list_model_get_n_items(G_LIST_MODEL(self->requests));
}

static void
sma_requests_page_show_error(SmaRequestsPage *self, const gchar *text)
{
	gtk_label_set_label(self->error_label, text != NULL ? text : "");
	gtk_widget_set_visible(GTK_WIDGET(self->error_label), text != NULL);
	if (text != NULL) {
		gtk_widget_add_css_class(GTK_WIDGET(self->phone_row), "error");
		gtk_accessible_update_state(GTK_ACCESSIBLE(self->phone_row),
					    GTK_ACCESSIBLE_STATE_INVALID,
					    GTK_ACCESSIBLE_INVALID_TRUE, -1);
	} else {
		gtk_widget_remove_css_class(GTK_WIDGET(self->phone_row), "error");
		gtk_accessible_reset_state(GTK_ACCESSIBLE(self->phone_row),
					   GTK_ACCESSIBLE_STATE_INVALID);
	}
}

static SmaRequest *
sma_requests_page_selected(SmaRequestsPage *self)
{
	GtkListBoxRow *row = gtk_list_box_get_selected_row(self->list_box);

	if (row == NULL)
		return NULL;
	return g_list_model_get_item(G_LIST_MODEL(self->requests),
				     (guint)gtk_list_box_row_get_index(row));
}

static void
sma_requests_page_row_selected_cb(GtkListBox *box, GtkListBoxRow *row, SmaRequestsPage *self)
{
	g_autoptr(SmaRequest) req = sma_requests_page_selected(self);

	gtk_widget_set_visible(GTK_WIDGET(self->form_group), req != NULL);
	gtk_widget_set_visible(GTK_WIDGET(self->submit_button), req != NULL);
	/* the same request again after a live update: the form stays as it is,
	 * with what is typed, the cursor and any error */
	if (self->reselecting)
		return;
	sma_requests_page_show_error(self, NULL);
	if (req == NULL)
		return;
	adw_preferences_group_set_title(self->form_group, sma_request_get_recipient(req));
	gtk_editable_set_text(GTK_EDITABLE(self->phone_row), "");
	gtk_widget_grab_focus(GTK_WIDGET(self->phone_row));
}

static void
sma_requests_page_phone_changed_cb(SmaRequestsPage *self)
{
	sma_requests_page_show_error(self, NULL);
}

static GtkWidget *
sma_requests_page_create_row(gpointer item, gpointer user_data)
{
	SmaRequest *req = item;
	g_autofree gchar *senders = sma_request_dup_senders_text(req);
	g_autofree gchar *since = sma_format_time(sma_request_get_since(req));
	g_autofree gchar *count = NULL;
	g_autofree gchar *subtitle = NULL;
	GtkWidget *row = adw_action_row_new();
	GtkWidget *badge;

	count = g_strdup_printf(ngettext("%u message", "%u messages", sma_request_get_count(req)),
				sma_request_get_count(req));
	/* TRANSLATORS: a registration request: "from SENDERS · waiting since TIME" */
	subtitle = g_strdup_printf(_("from %s · waiting since %s"), senders, since);
	adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), sma_request_get_recipient(req));
	adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
	adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
	badge = gtk_label_new(count);
	gtk_widget_add_css_class(badge, "chip");
	gtk_widget_add_css_class(badge, "chip-warning");
	gtk_widget_set_valign(badge, GTK_ALIGN_CENTER);
	adw_action_row_add_suffix(ADW_ACTION_ROW(row), badge);
	gtk_widget_set_name(row, sma_request_get_recipient(req));
	return row;
}

static void
sma_requests_page_update_view(SmaRequestsPage *self)
{
	guint n = sma_requests_page_get_count(self);

	gtk_stack_set_visible_child_name(self->stack, n > 0 ? "list" : "empty");
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_COUNT]);
}

static void
sma_requests_page_list_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmaRequestsPage) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) rows = NULL;
	g_autoptr(GPtrArray) items = g_ptr_array_new_with_free_func(g_object_unref);
	g_autoptr(SmaRequest) selected = NULL;
	g_autofree gchar *keep = NULL;
	GVariantIter iter;
	GVariant *row;

	if (!smd_dbus_gateway1_call_list_registration_requests_finish(SMD_DBUS_GATEWAY1(source),
								      &rows, result, &error)) {
		sma_page_call_failed(GTK_WIDGET(self), self->client, error);
		return;
	}
	/* keep the selection (and what is being typed) across live updates */
	selected = sma_requests_page_selected(self);
	if (selected != NULL)
		keep = g_strdup(sma_request_get_recipient(selected));
	g_variant_iter_init(&iter, rows);
	while ((row = g_variant_iter_next_value(&iter)) != NULL) {
		g_ptr_array_add(items, sma_request_new(row));
		g_variant_unref(row);
	}
	if (keep != NULL) {
		g_autofree gchar *typed =
		    g_strdup(gtk_editable_get_text(GTK_EDITABLE(self->phone_row)));
		int position = gtk_editable_get_position(GTK_EDITABLE(self->phone_row));
		gboolean focused = gtk_widget_has_focus(GTK_WIDGET(self->phone_row)) ||
				   gtk_widget_is_focus(GTK_WIDGET(self->phone_row));
		self->reselecting = TRUE;
		g_list_store_splice(self->requests, 0,
				    g_list_model_get_n_items(G_LIST_MODEL(self->requests)),
				    items->pdata, items->len);
		for (guint i = 0; i < items->len; i++) {
			if (g_strcmp0(sma_request_get_recipient(g_ptr_array_index(items, i)),
				      keep) == 0)
				gtk_list_box_select_row(
				    self->list_box,
				    gtk_list_box_get_row_at_index(self->list_box, (int)i));
		}
		self->reselecting = FALSE;
		/* the rows were made anew: the field itself was not, but be sure */
		if (g_strcmp0(gtk_editable_get_text(GTK_EDITABLE(self->phone_row)), typed) != 0)
			gtk_editable_set_text(GTK_EDITABLE(self->phone_row), typed);
		if (focused)
			gtk_widget_grab_focus(GTK_WIDGET(self->phone_row));
		gtk_editable_set_position(GTK_EDITABLE(self->phone_row), position);
	} else {
		g_list_store_splice(self->requests, 0,
				    g_list_model_get_n_items(G_LIST_MODEL(self->requests)),
				    items->pdata, items->len);
	}
	self->loaded = TRUE;
	sma_requests_page_update_view(self);
}

static void
sma_requests_page_reload(SmaPage *page)
{
	SmaRequestsPage *self = SMA_REQUESTS_PAGE(page);
	SmdDbusGateway1 *proxy = sma_client_get_proxy(self->client);

	if (proxy == NULL)
		return;
	if (!self->loaded)
		gtk_stack_set_visible_child_name(self->stack, "loading");
	smd_dbus_gateway1_call_list_registration_requests(
	    proxy, sma_page_restart(&self->cancellable), sma_requests_page_list_cb,
	    g_object_ref(self));
}

static void
sma_requests_page_set_phone_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmaRequestsPage) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *masked = NULL;
	g_autofree gchar *recipient = g_steal_pointer(&self->submitting);

	gtk_widget_set_sensitive(GTK_WIDGET(self->submit_button), TRUE);
	if (!smd_dbus_gateway1_call_set_phone_finish(SMD_DBUS_GATEWAY1(source), &masked, result,
						     &error)) {
		if (sma_client_check_error(self->client, error))
			return;
		g_dbus_error_strip_remote_error(error);
		/* an invalid number: said at the field, the form stays */
		sma_requests_page_show_error(self, error->message);
		return;
	}
	for (guint i = 0; i < g_list_model_get_n_items(G_LIST_MODEL(self->requests)); i++) {
		g_autoptr(SmaRequest) req = g_list_model_get_item(G_LIST_MODEL(self->requests), i);
		if (g_strcmp0(sma_request_get_recipient(req), recipient) == 0) {
			g_list_store_remove(self->requests, i);
			break;
		}
	}
	{
		/* TRANSLATORS: a toast after a phone number was saved: "Stored: NUMBER for
		 * ADDRESS"; keep "Stored" as on the portal */
		g_autofree gchar *text = g_strdup_printf(_("Stored: %s for %s"), masked, recipient);
		sma_page_toast(GTK_WIDGET(self), text);
	}
	sma_requests_page_update_view(self);
}

static void
sma_requests_page_submit_cb(SmaRequestsPage *self)
{
	g_autoptr(SmaRequest) req = sma_requests_page_selected(self);
	SmdDbusGateway1 *proxy = sma_client_get_proxy(self->client);
	const gchar *number = gtk_editable_get_text(GTK_EDITABLE(self->phone_row));

	if (req == NULL || proxy == NULL || self->submitting != NULL)
		return;
	if (number[0] == '\0') {
		sma_requests_page_show_error(self, _("Enter the recipient's mobile number."));
		return;
	}
	self->submitting = g_strdup(sma_request_get_recipient(req));
	gtk_widget_set_sensitive(GTK_WIDGET(self->submit_button), FALSE);
	smd_dbus_gateway1_call_set_phone(proxy, self->submitting, number, NULL,
					 sma_requests_page_set_phone_cb, g_object_ref(self));
}

/* new requests, and requests answered elsewhere (the web page) */
static void
sma_requests_page_event_cb(SmaClient *client, const gchar *kind, const gchar *queue_id,
			   const gchar *recipient, SmaRequestsPage *self)
{
	if (g_strcmp0(kind, "registration-requested") == 0 ||
	    g_strcmp0(kind, "phone-registered") == 0 || g_strcmp0(kind, "invited") == 0 ||
	    g_strcmp0(kind, "expired") == 0 || g_strcmp0(kind, "revoked") == 0)
		sma_page_reload_soon(SMA_PAGE(self), 300);
}

static void
sma_requests_page_set_client(SmaPage *page, SmaClient *client)
{
	SmaRequestsPage *self = SMA_REQUESTS_PAGE(page);

	g_set_object(&self->client, client);
	g_signal_connect_object(client, "event-added", G_CALLBACK(sma_requests_page_event_cb), self,
				0);
}

static gboolean
sma_requests_page_focus_search(SmaPage *page)
{
	return FALSE;
}

static void
sma_requests_page_iface_init(SmaPageInterface *iface)
{
	iface->set_client = sma_requests_page_set_client;
	iface->reload = sma_requests_page_reload;
	iface->focus_search = sma_requests_page_focus_search;
}

static void
sma_requests_page_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	switch (prop_id) {
	case PROP_COUNT:
		g_value_set_uint(value, sma_requests_page_get_count(SMA_REQUESTS_PAGE(object)));
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
	}
}

static void
sma_requests_page_dispose(GObject *object)
{
	SmaRequestsPage *self = SMA_REQUESTS_PAGE(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	g_clear_object(&self->client);
	/* AdwBin drops its child (and the template with it) */
	G_OBJECT_CLASS(sma_requests_page_parent_class)->dispose(object);
}

static void
sma_requests_page_finalize(GObject *object)
{
	SmaRequestsPage *self = SMA_REQUESTS_PAGE(object);

	g_clear_object(&self->requests);
	g_free(self->submitting);
	G_OBJECT_CLASS(sma_requests_page_parent_class)->finalize(object);
}

static void
sma_requests_page_class_init(SmaRequestsPageClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	object_class->get_property = sma_requests_page_get_property;
	object_class->dispose = sma_requests_page_dispose;
	object_class->finalize = sma_requests_page_finalize;
	props[PROP_COUNT] = g_param_spec_uint("count", NULL, NULL, 0, G_MAXUINT, 0,
					      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties(object_class, N_PROPS, props);

	gtk_widget_class_set_template_from_resource(widget_class,
						    "/org/secumailer/Admin/sma-requests-page.ui");
	gtk_widget_class_bind_template_child(widget_class, SmaRequestsPage, stack);
	gtk_widget_class_bind_template_child(widget_class, SmaRequestsPage, list_box);
	gtk_widget_class_bind_template_child(widget_class, SmaRequestsPage, form_group);
	gtk_widget_class_bind_template_child(widget_class, SmaRequestsPage, phone_row);
	gtk_widget_class_bind_template_child(widget_class, SmaRequestsPage, error_label);
	gtk_widget_class_bind_template_child(widget_class, SmaRequestsPage, submit_button);
	gtk_widget_class_bind_template_callback(widget_class, sma_requests_page_row_selected_cb);
	gtk_widget_class_bind_template_callback(widget_class, sma_requests_page_submit_cb);
	gtk_widget_class_bind_template_callback(widget_class, sma_requests_page_phone_changed_cb);
}

static void
sma_requests_page_init(SmaRequestsPage *self)
{
	self->requests = g_list_store_new(SMA_TYPE_REQUEST);
	gtk_widget_init_template(GTK_WIDGET(self));
	gtk_list_box_bind_model(self->list_box, G_LIST_MODEL(self->requests),
				sma_requests_page_create_row, NULL, NULL);
}
