/*
 * SecuMailer admin — the deliveries list and one message's history.
 *
 * A GtkColumnView over the lazily paged message model: time, sender,
 * recipients, subject and a status chip per recipient that changes live
 * (StatusChanged). The details pane shows GetMessage: per recipient how
 * it went out (relay, TLS version, cipher, certificate fingerprint — the
 * proof of a direct delivery) and the message's events; with Resend
 * invitation, Unlock and Revoke.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-deliveries"

#include "config.h"

#include <glib/gi18n.h>

#include "sma-column.h"
#include "sma-deliveries-page.h"
#include "sma-event.h"
#include "sma-page.h"
#include "sma-state.h"

struct _SmaDeliveriesPage {
	AdwBin parent_instance;

	/* template widgets */
	GtkSearchEntry *search_entry;
	GtkDropDown *state_dropdown;
	GtkSpinner *spinner;
	GtkStack *list_stack;
	GtkColumnView *column_view;
	GtkStack *details_stack;
	GtkBox *details_box;

	/* owned */
	SmaClient *client;
	SmaMessageModel *model;
	GtkSingleSelection *selection;
	GCancellable *details_cancellable;
	gchar *details_queue_id; /* the message the pane shows */
	guint newest_id;
};

static void sma_deliveries_page_iface_init(SmaPageInterface *iface);

G_DEFINE_TYPE_WITH_CODE(SmaDeliveriesPage, sma_deliveries_page, ADW_TYPE_BIN,
			G_IMPLEMENT_INTERFACE(SMA_TYPE_PAGE, sma_deliveries_page_iface_init))

typedef enum {
	SMA_COLUMN_TIME,
	SMA_COLUMN_SENDER,
	SMA_COLUMN_RECIPIENTS,
	SMA_COLUMN_SUBJECT,
	SMA_COLUMN_STATUS,
} SmaColumn;

static void sma_deliveries_page_load_details(SmaDeliveriesPage *self);

SmaMessageModel *
sma_deliveries_page_get_model(SmaDeliveriesPage *self)
{
	return self->model;
}

void
sma_deliveries_page_select(SmaDeliveriesPage *self, guint position)
{
	gtk_single_selection_set_selected(self->selection, position);
}

/* ------------------------------------------------------------ the list */

static void
sma_deliveries_page_bind_text(GtkSignalListItemFactory *factory, GtkListItem *item,
			      gpointer user_data)
{
	SmaMessage *msg = gtk_list_item_get_item(item);
	GtkLabel *label = GTK_LABEL(gtk_list_item_get_child(item));
	g_autofree gchar *text = NULL;

	switch (GPOINTER_TO_INT(user_data)) {
	case SMA_COLUMN_TIME:
		text = sma_format_time(sma_message_get_received(msg));
		break;
	case SMA_COLUMN_SENDER:
		text = g_strdup(sma_message_get_sender(msg));
		break;
	case SMA_COLUMN_RECIPIENTS:
		text = sma_message_dup_recipients_text(msg);
		break;
	case SMA_COLUMN_SUBJECT:
		text = g_strdup(sma_message_get_subject(msg));
		break;
	default:
		break;
	}
	gtk_label_set_label(label, text);
	gtk_widget_set_tooltip_text(GTK_WIDGET(label), text);
}

/* One chip per state, in the order the recipients have them, with a count
 * when several share it (a message to 30 had 30 chips, and the row pushed
 * every other column aside); the tooltip names them. */
static void
sma_deliveries_page_fill_chips(GtkBox *box, SmaMessage *msg)
{
	guint n = sma_message_get_n_recipients(msg);
	g_autoptr(GPtrArray) states = g_ptr_array_new();
	GtkWidget *child;

	while ((child = gtk_widget_get_first_child(GTK_WIDGET(box))) != NULL)
		gtk_box_remove(box, child);
	for (guint i = 0; i < n; i++) {
		const gchar *state = sma_message_get_state(msg, i);
		if (!g_ptr_array_find_with_equal_func(states, state, g_str_equal, NULL))
			g_ptr_array_add(states, (gpointer)state);
	}
	for (guint s = 0; s < states->len; s++) {
		const gchar *state = g_ptr_array_index(states, s);
		GtkWidget *chip = sma_state_chip_new(state);
		g_autoptr(GString) who = g_string_new(NULL);
		guint count = 0;

		for (guint i = 0; i < n; i++) {
			if (g_strcmp0(sma_message_get_state(msg, i), state) != 0)
				continue;
			g_string_append_printf(who, "%s%s", count > 0 ? "\n" : "",
					       sma_message_get_recipient(msg, i));
			count++;
		}
		if (count > 1) {
			/* TRANSLATORS: a status chip for several recipients of a message,
			 * e.g. "Delivered over TLS ×3" */
			g_autofree gchar *text = g_strdup_printf(
			    _("%1$s ×%2$u"), gtk_label_get_label(GTK_LABEL(chip)), count);
			gtk_label_set_label(GTK_LABEL(chip), text);
		}
		gtk_widget_set_tooltip_text(chip, who->str);
		gtk_box_append(box, chip);
	}
}

static void
sma_deliveries_page_message_changed_cb(SmaMessage *msg, GtkBox *box)
{
	sma_deliveries_page_fill_chips(box, msg);
}

static void
sma_deliveries_page_setup_status(GtkSignalListItemFactory *factory, GtkListItem *item,
				 gpointer user_data)
{
	gtk_list_item_set_child(item, gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 4));
}

static void
sma_deliveries_page_bind_status(GtkSignalListItemFactory *factory, GtkListItem *item,
				gpointer user_data)
{
	SmaMessage *msg = gtk_list_item_get_item(item);
	GtkBox *box = GTK_BOX(gtk_list_item_get_child(item));

	sma_deliveries_page_fill_chips(box, msg);
	/* live: the chip follows StatusChanged while the row is shown */
	g_signal_connect_object(msg, "changed", G_CALLBACK(sma_deliveries_page_message_changed_cb),
				box, 0);
}

static void
sma_deliveries_page_unbind_status(GtkSignalListItemFactory *factory, GtkListItem *item,
				  gpointer user_data)
{
	SmaMessage *msg = gtk_list_item_get_item(item);

	g_signal_handlers_disconnect_by_func(msg, sma_deliveries_page_message_changed_cb,
					     gtk_list_item_get_child(item));
}

static void
sma_deliveries_page_add_column(SmaDeliveriesPage *self, const gchar *title, SmaColumn column,
			       gboolean expand)
{
	if (column == SMA_COLUMN_STATUS)
		sma_column_add(self->column_view, title, expand,
			       G_CALLBACK(sma_deliveries_page_setup_status),
			       G_CALLBACK(sma_deliveries_page_bind_status),
			       G_CALLBACK(sma_deliveries_page_unbind_status), NULL);
	else
		sma_column_add(self->column_view, title, expand, G_CALLBACK(sma_column_setup_label),
			       G_CALLBACK(sma_deliveries_page_bind_text), NULL,
			       GINT_TO_POINTER(column));
}

static void
sma_deliveries_page_update_view(SmaDeliveriesPage *self)
{
	gboolean loading = sma_message_model_get_loading(self->model);
	guint n = g_list_model_get_n_items(G_LIST_MODEL(self->model));

	gtk_spinner_set_spinning(self->spinner, loading);
	gtk_stack_set_visible_child_name(self->list_stack, n > 0 || loading ? "list" : "empty");
}

static void
sma_deliveries_page_model_changed_cb(SmaDeliveriesPage *self)
{
	sma_deliveries_page_update_view(self);
}

static const gchar *
sma_deliveries_page_selected_state(SmaDeliveriesPage *self)
{
	guint selected = gtk_drop_down_get_selected(self->state_dropdown);

	/* item 0 is "All states"; then the states in their order */
	if (selected == 0 || selected == GTK_INVALID_LIST_POSITION)
		return NULL;
	return sma_state_all()[selected - 1];
}

static void
sma_deliveries_page_filter_cb(SmaDeliveriesPage *self)
{
	if (self->client == NULL || sma_client_get_proxy(self->client) == NULL)
		return;
	sma_message_model_set_filter(self->model, sma_deliveries_page_selected_state(self),
				     gtk_editable_get_text(GTK_EDITABLE(self->search_entry)));
}

/* As people type: from the third character on (fewer would match most of
 * a big store), and again when the field is emptied. */
static void
sma_deliveries_page_search_changed_cb(SmaDeliveriesPage *self)
{
	const gchar *text = gtk_editable_get_text(GTK_EDITABLE(self->search_entry));

	if (text[0] == '\0' || g_utf8_strlen(text, -1) >= 3)
		sma_deliveries_page_filter_cb(self);
}

static void
sma_deliveries_page_stop_search_cb(SmaDeliveriesPage *self)
{
	gtk_editable_set_text(GTK_EDITABLE(self->search_entry), "");
	sma_deliveries_page_filter_cb(self);
}

/* --------------------------------------------------------- the details */

static void
sma_deliveries_page_clear_details(SmaDeliveriesPage *self)
{
	GtkWidget *child;

	while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->details_box))) != NULL)
		gtk_box_remove(self->details_box, child);
}

static GtkWidget *
sma_deliveries_page_row(const gchar *title, const gchar *value)
{
	GtkWidget *row = adw_action_row_new();

	adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), title);
	adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
	adw_action_row_set_subtitle(ADW_ACTION_ROW(row), value);
	gtk_widget_add_css_class(row, "property");
	return row;
}

typedef struct {
	SmaDeliveriesPage *self;
	gchar *queue_id;
	gchar *recipient;
} SmaDeliveriesAction;

static void
sma_deliveries_action_free(SmaDeliveriesAction *action)
{
	g_object_unref(action->self);
	g_free(action->queue_id);
	g_free(action->recipient);
	g_free(action);
}

static SmaDeliveriesAction *
sma_deliveries_action_new(SmaDeliveriesPage *self, const gchar *recipient)
{
	SmaDeliveriesAction *action = g_new0(SmaDeliveriesAction, 1);

	action->self = g_object_ref(self);
	action->queue_id = g_strdup(self->details_queue_id);
	action->recipient = g_strdup(recipient);
	return action;
}

/* What an action's answer says, as a toast; the details are read again. */
static void
sma_deliveries_page_action_done(SmaDeliveriesAction *action, gboolean ok, GError *error,
				const gchar *done)
{
	SmaDeliveriesPage *self = action->self;

	if (!ok) {
		sma_page_call_failed(GTK_WIDGET(self), self->client, error);
		return;
	}
	sma_page_toast(GTK_WIDGET(self), done);
	if (g_strcmp0(action->queue_id, self->details_queue_id) == 0)
		sma_deliveries_page_load_details(self);
}

static void
sma_deliveries_page_resend_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmaDeliveriesAction *action = user_data;
	g_autoptr(GError) error = NULL;
	gboolean ok = smd_dbus_gateway1_call_resend_invitation_finish(SMD_DBUS_GATEWAY1(source),
								      result, &error);
	g_autofree gchar *text =
	    g_strdup_printf(_("A new invitation goes to %s"), action->recipient);

	sma_deliveries_page_action_done(action, ok, error, text);
	sma_deliveries_action_free(action);
}

static void
sma_deliveries_page_resend_clicked(GtkButton *button, SmaDeliveriesPage *self)
{
	SmdDbusGateway1 *proxy = sma_client_get_proxy(self->client);
	const gchar *recipient = g_object_get_data(G_OBJECT(button), "recipient");

	if (proxy == NULL)
		return;
	smd_dbus_gateway1_call_resend_invitation(proxy, self->details_queue_id, recipient, NULL,
						 sma_deliveries_page_resend_cb,
						 sma_deliveries_action_new(self, recipient));
}

static void
sma_deliveries_page_unlock_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmaDeliveriesAction *action = user_data;
	g_autoptr(GError) error = NULL;
	guint n = 0;
	gboolean ok = smd_dbus_gateway1_call_unlock_recipient_finish(SMD_DBUS_GATEWAY1(source), &n,
								     result, &error);
	g_autofree gchar *text =
	    g_strdup_printf(ngettext("%u link unlocked", "%u links unlocked", n), n);

	sma_deliveries_page_action_done(action, ok, error, text);
	sma_deliveries_action_free(action);
}

static void
sma_deliveries_page_unlock_clicked(GtkButton *button, SmaDeliveriesPage *self)
{
	SmdDbusGateway1 *proxy = sma_client_get_proxy(self->client);
	const gchar *recipient = g_object_get_data(G_OBJECT(button), "recipient");

	if (proxy == NULL)
		return;
	smd_dbus_gateway1_call_unlock_recipient(proxy, recipient, NULL,
						sma_deliveries_page_unlock_cb,
						sma_deliveries_action_new(self, recipient));
}

static void
sma_deliveries_page_revoke_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmaDeliveriesAction *action = user_data;
	g_autoptr(GError) error = NULL;
	gboolean ok =
	    smd_dbus_gateway1_call_revoke_message_finish(SMD_DBUS_GATEWAY1(source), result, &error);

	sma_deliveries_page_action_done(action, ok, error, _("Message withdrawn"));
	sma_deliveries_action_free(action);
}

static void
sma_deliveries_page_revoke_response(AdwMessageDialog *dialog, const gchar *response,
				    SmaDeliveriesAction *action)
{
	SmdDbusGateway1 *proxy = sma_client_get_proxy(action->self->client);

	if (g_strcmp0(response, "revoke") != 0 || proxy == NULL) {
		sma_deliveries_action_free(action);
		return;
	}
	smd_dbus_gateway1_call_revoke_message(proxy, action->queue_id, NULL,
					      sma_deliveries_page_revoke_cb, action);
}

static void
sma_deliveries_page_revoke_clicked(GtkButton *button, SmaDeliveriesPage *self)
{
	GtkRoot *root = gtk_widget_get_root(GTK_WIDGET(self));
	SmaMessage *msg = gtk_single_selection_get_selected_item(self->selection);
	const gchar *subject = msg != NULL ? sma_message_get_subject(msg) : "";
	/* which message, said: this cannot be undone */
	g_autofree gchar *body = g_strdup_printf(
	    /* TRANSLATORS: %1$s the subject, %2$s the sender, %3$s the queue id */
	    _("“%1$s” from %2$s (%3$s): the held copy is destroyed and the recipients' links "
	      "say the message was withdrawn. Recipients who already received it keep their "
	      "copy. This cannot be undone."),
	    subject[0] != '\0' ? subject : _("(no subject)"),
	    msg != NULL ? sma_message_get_sender(msg) : "",
	    msg != NULL ? sma_message_get_queue_id(msg) : "");
	GtkWidget *dialog =
	    adw_message_dialog_new(GTK_WINDOW(root), _("Revoke This Message?"), body);

	adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(dialog), "cancel", _("_Cancel"),
					 "revoke", _("_Revoke"), NULL);
	adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(dialog), "revoke",
						   ADW_RESPONSE_DESTRUCTIVE);
	adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(dialog), "cancel");
	adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(dialog), "cancel");
	g_signal_connect(dialog, "response", G_CALLBACK(sma_deliveries_page_revoke_response),
			 sma_deliveries_action_new(self, NULL));
	gtk_window_present(GTK_WINDOW(dialog));
}

static gboolean
sma_deliveries_state_is_held(const gchar *state)
{
	const gchar *held[] = {
	    "held", "awaiting-registration", "invited", "pin-sent", "opened", "downloaded"};
	for (guint i = 0; i < G_N_ELEMENTS(held); i++) {
		if (g_strcmp0(state, held[i]) == 0)
			return TRUE;
	}
	return FALSE;
}

static GtkWidget *
sma_deliveries_page_button(const gchar *label, const gchar *name, const gchar *recipient)
{
	GtkWidget *button = gtk_button_new_with_mnemonic(label);

	gtk_widget_set_name(button, name);
	gtk_widget_set_valign(button, GTK_ALIGN_CENTER);
	g_object_set_data_full(G_OBJECT(button), "recipient", g_strdup(recipient), g_free);
	return button;
}

static GtkWidget *
sma_deliveries_page_recipient_group(SmaDeliveriesPage *self, GVariant *rcpt)
{
	GtkWidget *group = adw_preferences_group_new();
	GtkWidget *row = adw_action_row_new();
	GtkWidget *buttons = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
	const gchar *address = "", *state = "", *text;
	const gchar *version = NULL, *cipher = NULL;
	gboolean verified = FALSE, has_verified;
	guint attempts = 0;

	g_variant_lookup(rcpt, "address", "&s", &address);
	g_variant_lookup(rcpt, "state", "&s", &state);
	g_variant_lookup(rcpt, "attempts", "u", &attempts);
	adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(group), address);

	adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), _("Status"));
	adw_action_row_add_suffix(ADW_ACTION_ROW(row), sma_state_chip_new(state));
	adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), row);
	if (g_variant_lookup(rcpt, "relay", "&s", &text))
		adw_preferences_group_add(ADW_PREFERENCES_GROUP(group),
					  sma_deliveries_page_row(_("Relay"), text));
	g_variant_lookup(rcpt, "tls-version", "&s", &version);
	g_variant_lookup(rcpt, "tls-cipher", "&s", &cipher);
	has_verified = g_variant_lookup(rcpt, "tls-verified", "b", &verified);
	if (version != NULL) {
		g_autofree gchar *tls = g_strdup_printf(
		    "%s, %s%s%s", version, cipher != NULL ? cipher : "", has_verified ? " · " : "",
		    !has_verified ? ""
		    : verified	  ? _("certificate verified")
				  : _("certificate not verified (encrypted all the same)"));
		adw_preferences_group_add(ADW_PREFERENCES_GROUP(group),
					  sma_deliveries_page_row(_("TLS"), tls));
	}
	if (g_variant_lookup(rcpt, "tls-peer-sha256", "&s", &text))
		adw_preferences_group_add(
		    ADW_PREFERENCES_GROUP(group),
		    sma_deliveries_page_row(_("Server certificate (SHA-256)"), text));
	if (g_variant_lookup(rcpt, "last-reply", "&s", &text))
		adw_preferences_group_add(ADW_PREFERENCES_GROUP(group),
					  sma_deliveries_page_row(_("Last reply"), text));
	if (attempts > 0) {
		g_autofree gchar *n = g_strdup_printf("%u", attempts);
		adw_preferences_group_add(ADW_PREFERENCES_GROUP(group),
					  sma_deliveries_page_row(_("Delivery attempts"), n));
	}

	if (sma_deliveries_state_is_held(state) && g_strcmp0(state, "held") != 0 &&
	    g_strcmp0(state, "awaiting-registration") != 0) {
		GtkWidget *resend =
		    sma_deliveries_page_button(_("Resend _Invitation"), "resend-button", address);
		g_signal_connect(resend, "clicked", G_CALLBACK(sma_deliveries_page_resend_clicked),
				 self);
		gtk_box_append(GTK_BOX(buttons), resend);
		GtkWidget *unlock =
		    sma_deliveries_page_button(_("_Unlock"), "unlock-button", address);
		gtk_widget_set_tooltip_text(unlock,
					    _("Unlock links locked by too many wrong pin codes"));
		g_signal_connect(unlock, "clicked", G_CALLBACK(sma_deliveries_page_unlock_clicked),
				 self);
		gtk_box_append(GTK_BOX(buttons), unlock);
		adw_preferences_group_set_header_suffix(ADW_PREFERENCES_GROUP(group), buttons);
	} else {
		g_object_ref_sink(buttons);
		g_object_unref(buttons);
	}
	return group;
}

static GtkWidget *
sma_deliveries_page_history(GVariant *events)
{
	GtkWidget *group = adw_preferences_group_new();
	GVariantIter iter;
	gint64 id, time;
	const gchar *level, *kind, *message, *queue_id, *recipient, *detail;

	adw_preferences_group_set_title(ADW_PREFERENCES_GROUP(group), _("History"));
	g_variant_iter_init(&iter, events);
	while (g_variant_iter_next(&iter, "(xx&s&s&s&s&s&s)", &id, &time, &level, &kind, &message,
				   &queue_id, &recipient, &detail)) {
		g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(time / G_USEC_PER_SEC);
		g_autofree gchar *when =
		    dt != NULL ? g_date_time_format(dt, "%x %X") : g_strdup("");
		g_autofree gchar *subtitle =
		    g_strdup_printf("%s%s%s%s%s", when, recipient[0] != '\0' ? " · " : "",
				    recipient, detail[0] != '\0' ? "\n" : "", detail);
		GtkWidget *row = sma_deliveries_page_row(sma_event_translate(message), subtitle);
		if (g_strcmp0(level, "info") != 0)
			gtk_widget_add_css_class(row, g_strcmp0(level, "error") == 0 ? "error"
										     : "warning");
		adw_preferences_group_add(ADW_PREFERENCES_GROUP(group), row);
	}
	return group;
}

static void
sma_deliveries_page_details_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmaDeliveriesPage) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) recipients = NULL;
	g_autoptr(GVariant) events = NULL;
	SmaMessage *msg;
	GtkWidget *title;
	GtkWidget *meta;
	gboolean revocable = FALSE;
	GVariantIter iter;
	GVariant *rcpt;

	if (!smd_dbus_gateway1_call_get_message_finish(SMD_DBUS_GATEWAY1(source), &recipients,
						       &events, result, &error)) {
		sma_page_call_failed(GTK_WIDGET(self), self->client, error);
		return;
	}
	sma_deliveries_page_clear_details(self);
	msg = sma_message_model_lookup(self->model, self->details_queue_id);
	title = gtk_label_new(msg != NULL && sma_message_get_subject(msg)[0] != '\0'
				  ? sma_message_get_subject(msg)
				  : _("(no subject)"));
	gtk_label_set_wrap(GTK_LABEL(title), TRUE);
	gtk_label_set_xalign(GTK_LABEL(title), 0);
	gtk_label_set_selectable(GTK_LABEL(title), TRUE);
	gtk_widget_add_css_class(title, "title-3");
	gtk_box_append(self->details_box, title);
	if (msg != NULL) {
		g_autofree gchar *when = sma_format_time(sma_message_get_received(msg));
		g_autofree gchar *size = g_format_size(sma_message_get_size(msg));
		/* TRANSLATORS: under a message's subject: sender · time · size · queue id */
		g_autofree gchar *text =
		    g_strdup_printf(_("From %s · %s · %s · %s"), sma_message_get_sender(msg), when,
				    size, self->details_queue_id);
		meta = gtk_label_new(text);
		gtk_label_set_wrap(GTK_LABEL(meta), TRUE);
		gtk_label_set_xalign(GTK_LABEL(meta), 0);
		gtk_label_set_selectable(GTK_LABEL(meta), TRUE);
		gtk_widget_add_css_class(meta, "dim-label");
		gtk_box_append(self->details_box, meta);
	}
	g_variant_iter_init(&iter, recipients);
	while ((rcpt = g_variant_iter_next_value(&iter)) != NULL) {
		const gchar *state = "";
		g_variant_lookup(rcpt, "state", "&s", &state);
		revocable |= sma_deliveries_state_is_held(state);
		gtk_box_append(self->details_box, sma_deliveries_page_recipient_group(self, rcpt));
		g_variant_unref(rcpt);
	}
	if (revocable) {
		GtkWidget *revoke =
		    sma_deliveries_page_button(_("_Revoke Message…"), "revoke-button", NULL);
		gtk_widget_add_css_class(revoke, "destructive-action");
		gtk_widget_set_halign(revoke, GTK_ALIGN_END);
		g_signal_connect(revoke, "clicked", G_CALLBACK(sma_deliveries_page_revoke_clicked),
				 self);
		gtk_box_append(self->details_box, revoke);
	}
	gtk_box_append(self->details_box, sma_deliveries_page_history(events));
	gtk_stack_set_visible_child_name(self->details_stack, "details");
}

static void
sma_deliveries_page_load_details(SmaDeliveriesPage *self)
{
	SmdDbusGateway1 *proxy = sma_client_get_proxy(self->client);

	sma_page_restart(&self->details_cancellable);
	if (proxy == NULL || self->details_queue_id == NULL) {
		gtk_stack_set_visible_child_name(self->details_stack, "none");
		return;
	}
	smd_dbus_gateway1_call_get_message(proxy, self->details_queue_id, self->details_cancellable,
					   sma_deliveries_page_details_cb, g_object_ref(self));
}

static void
sma_deliveries_page_selection_cb(SmaDeliveriesPage *self)
{
	SmaMessage *msg = gtk_single_selection_get_selected_item(self->selection);
	const gchar *queue_id = msg != NULL ? sma_message_get_queue_id(msg) : NULL;

	if (g_strcmp0(queue_id, self->details_queue_id) == 0)
		return;
	g_free(self->details_queue_id);
	self->details_queue_id = g_strdup(queue_id);
	sma_deliveries_page_load_details(self);
}

/* ------------------------------------------------------------- live */

static void
sma_deliveries_page_status_cb(SmaClient *client, const gchar *queue_id, const gchar *recipient,
			      const gchar *state, SmaDeliveriesPage *self)
{
	SmaMessage *msg = sma_message_model_lookup(self->model, queue_id);

	if (msg != NULL)
		sma_message_set_state(msg, recipient, state);
	if (g_strcmp0(queue_id, self->details_queue_id) == 0)
		sma_deliveries_page_load_details(self);
}

static gboolean
sma_deliveries_page_newest_cb(gpointer user_data)
{
	SmaDeliveriesPage *self = user_data;
	self->newest_id = 0;
	sma_message_model_fetch_newest(self->model);
	return G_SOURCE_REMOVE;
}

static void
sma_deliveries_page_event_cb(SmaClient *client, const gchar *kind, const gchar *queue_id,
			     const gchar *recipient, SmaDeliveriesPage *self)
{
	/* new messages on top, once a burst settles */
	if (g_strcmp0(kind, "received") == 0 && self->newest_id == 0)
		self->newest_id = g_timeout_add(500, sma_deliveries_page_newest_cb, self);
}

static void
sma_deliveries_page_set_client(SmaPage *page, SmaClient *client)
{
	SmaDeliveriesPage *self = SMA_DELIVERIES_PAGE(page);

	g_set_object(&self->client, client);
	self->model = sma_message_model_new(client);
	self->selection = gtk_single_selection_new(G_LIST_MODEL(g_object_ref(self->model)));
	gtk_single_selection_set_autoselect(self->selection, FALSE);
	gtk_single_selection_set_can_unselect(self->selection, TRUE);
	gtk_column_view_set_model(self->column_view, GTK_SELECTION_MODEL(self->selection));
	g_signal_connect_object(self->selection, "notify::selected-item",
				G_CALLBACK(sma_deliveries_page_selection_cb), self,
				G_CONNECT_SWAPPED);
	g_signal_connect_object(self->model, "items-changed",
				G_CALLBACK(sma_deliveries_page_model_changed_cb), self,
				G_CONNECT_SWAPPED);
	g_signal_connect_object(self->model, "notify::loading",
				G_CALLBACK(sma_deliveries_page_model_changed_cb), self,
				G_CONNECT_SWAPPED);
	g_signal_connect_object(client, "status-changed", G_CALLBACK(sma_deliveries_page_status_cb),
				self, 0);
	g_signal_connect_object(client, "event-added", G_CALLBACK(sma_deliveries_page_event_cb),
				self, 0);
}

static void
sma_deliveries_page_reload(SmaPage *page)
{
	SmaDeliveriesPage *self = SMA_DELIVERIES_PAGE(page);

	sma_deliveries_page_filter_cb(self);
	sma_deliveries_page_load_details(self);
}

static gboolean
sma_deliveries_page_focus_search(SmaPage *page)
{
	return gtk_widget_grab_focus(GTK_WIDGET(SMA_DELIVERIES_PAGE(page)->search_entry));
}

static void
sma_deliveries_page_iface_init(SmaPageInterface *iface)
{
	iface->set_client = sma_deliveries_page_set_client;
	iface->reload = sma_deliveries_page_reload;
	iface->focus_search = sma_deliveries_page_focus_search;
}

static void
sma_deliveries_page_dispose(GObject *object)
{
	SmaDeliveriesPage *self = SMA_DELIVERIES_PAGE(object);

	g_clear_handle_id(&self->newest_id, g_source_remove);
	g_cancellable_cancel(self->details_cancellable);
	g_clear_object(&self->details_cancellable);
	if (self->column_view != NULL)
		gtk_column_view_set_model(self->column_view, NULL);
	g_clear_object(&self->selection);
	g_clear_object(&self->model);
	g_clear_object(&self->client);
	/* AdwBin drops its child (and the template with it) */
	G_OBJECT_CLASS(sma_deliveries_page_parent_class)->dispose(object);
}

static void
sma_deliveries_page_finalize(GObject *object)
{
	g_free(SMA_DELIVERIES_PAGE(object)->details_queue_id);
	G_OBJECT_CLASS(sma_deliveries_page_parent_class)->finalize(object);
}

static void
sma_deliveries_page_class_init(SmaDeliveriesPageClass *klass)
{
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	G_OBJECT_CLASS(klass)->dispose = sma_deliveries_page_dispose;
	G_OBJECT_CLASS(klass)->finalize = sma_deliveries_page_finalize;
	gtk_widget_class_set_template_from_resource(widget_class,
						    "/org/secumailer/Admin/sma-deliveries-page.ui");
	gtk_widget_class_bind_template_child(widget_class, SmaDeliveriesPage, search_entry);
	gtk_widget_class_bind_template_child(widget_class, SmaDeliveriesPage, state_dropdown);
	gtk_widget_class_bind_template_child(widget_class, SmaDeliveriesPage, spinner);
	gtk_widget_class_bind_template_child(widget_class, SmaDeliveriesPage, list_stack);
	gtk_widget_class_bind_template_child(widget_class, SmaDeliveriesPage, column_view);
	gtk_widget_class_bind_template_child(widget_class, SmaDeliveriesPage, details_stack);
	gtk_widget_class_bind_template_child(widget_class, SmaDeliveriesPage, details_box);
	gtk_widget_class_bind_template_callback(widget_class, sma_deliveries_page_filter_cb);
	gtk_widget_class_bind_template_callback(widget_class, sma_deliveries_page_stop_search_cb);
	gtk_widget_class_bind_template_callback(widget_class,
						sma_deliveries_page_search_changed_cb);
}

static void
sma_deliveries_page_init(SmaDeliveriesPage *self)
{
	g_autoptr(GtkStringList) states = gtk_string_list_new(NULL);

	gtk_widget_init_template(GTK_WIDGET(self));
	gtk_string_list_append(states, _("All states"));
	for (const gchar *const *s = sma_state_all(); *s != NULL; s++)
		gtk_string_list_append(states, sma_state_label(*s));
	gtk_drop_down_set_model(self->state_dropdown, G_LIST_MODEL(states));
	sma_deliveries_page_add_column(self, _("Time"), SMA_COLUMN_TIME, FALSE);
	sma_deliveries_page_add_column(self, _("Sender"), SMA_COLUMN_SENDER, TRUE);
	sma_deliveries_page_add_column(self, _("Recipients"), SMA_COLUMN_RECIPIENTS, TRUE);
	sma_deliveries_page_add_column(self, _("Subject"), SMA_COLUMN_SUBJECT, TRUE);
	sma_deliveries_page_add_column(self, _("Status"), SMA_COLUMN_STATUS, FALSE);
}
