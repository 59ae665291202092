/*
 * SecuMailer admin — the phone directory: search, add, change, remove,
 * and who registered each number when (ListPhones, SetPhone,
 * RemovePhone). Changing a number releases messages waiting for it,
 * exactly as on the requests page.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-recipients"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "sma-page.h"
#include "sma-recipients-page.h"
#include "sma-state.h"

#define SMA_RECIPIENTS_LIMIT 500

struct _SmaRecipientsPage {
	AdwBin parent_instance;

	/* template widgets */
	GtkSearchEntry *search_entry;
	GtkStack *stack;
	GtkListBox *list_box;

	/* owned */
	SmaClient *client;
	GCancellable *cancellable;
};

static void sma_recipients_page_iface_init(SmaPageInterface *iface);

G_DEFINE_TYPE_WITH_CODE(SmaRecipientsPage, sma_recipients_page, ADW_TYPE_BIN,
			G_IMPLEMENT_INTERFACE(SMA_TYPE_PAGE, sma_recipients_page_iface_init))

static void sma_recipients_page_edit(SmaRecipientsPage *self, const gchar *address);

static void
sma_recipients_page_edit_clicked(GtkButton *button, SmaRecipientsPage *self)
{
	sma_recipients_page_edit(self, g_object_get_data(G_OBJECT(button), "address"));
}

typedef struct {
	SmaRecipientsPage *self;
	gchar *address;
	gchar *number;
	gboolean adding;
	/* the dialog's rows, until it answers (it closes itself then) */
	AdwEntryRow *address_row;
	AdwEntryRow *number_row;
} SmaPhoneEdit;

static void
sma_phone_edit_free(SmaPhoneEdit *edit)
{
	g_object_unref(edit->self);
	g_free(edit->address);
	g_free(edit->number);
	g_free(edit);
}

static void sma_recipients_page_edit_full(SmaRecipientsPage *self, const gchar *address,
					  gboolean adding, const gchar *number,
					  const gchar *problem);

static void
sma_recipients_page_remove_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmaPhoneEdit *edit = user_data;
	g_autoptr(GError) error = NULL;

	if (!smd_dbus_gateway1_call_remove_phone_finish(SMD_DBUS_GATEWAY1(source), result,
							&error)) {
		sma_page_call_failed(GTK_WIDGET(edit->self), edit->self->client, error);
	} else {
		g_autofree gchar *text =
		    g_strdup_printf(_("Removed the number of %s"), edit->address);
		sma_page_toast(GTK_WIDGET(edit->self), text);
		sma_page_reload(SMA_PAGE(edit->self));
	}
	sma_phone_edit_free(edit);
}

static void
sma_recipients_page_remove_response(AdwMessageDialog *dialog, const gchar *response,
				    SmaPhoneEdit *edit)
{
	SmdDbusGateway1 *proxy = sma_client_get_proxy(edit->self->client);

	if (g_strcmp0(response, "remove") != 0 || proxy == NULL) {
		sma_phone_edit_free(edit);
		return;
	}
	smd_dbus_gateway1_call_remove_phone(proxy, edit->address, NULL,
					    sma_recipients_page_remove_cb, edit);
}

static void
sma_recipients_page_remove_clicked(GtkButton *button, SmaRecipientsPage *self)
{
	const gchar *address = g_object_get_data(G_OBJECT(button), "address");
	g_autofree gchar *body = g_strdup_printf(
	    _("Messages for %s will wait for a new number, and senders will be asked for it "
	      "again."),
	    address);
	GtkWidget *dialog = adw_message_dialog_new(
	    GTK_WINDOW(gtk_widget_get_root(GTK_WIDGET(self))), _("Remove This Number?"), body);
	SmaPhoneEdit *edit = g_new0(SmaPhoneEdit, 1);

	edit->self = g_object_ref(self);
	edit->address = g_strdup(address);
	adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(dialog), "cancel", _("_Cancel"),
					 "remove", _("_Remove"), NULL);
	adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(dialog), "remove",
						   ADW_RESPONSE_DESTRUCTIVE);
	adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(dialog), "cancel");
	adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(dialog), "cancel");
	g_signal_connect(dialog, "response", G_CALLBACK(sma_recipients_page_remove_response), edit);
	gtk_window_present(GTK_WINDOW(dialog));
}

static GtkWidget *
sma_recipients_page_icon_button(const gchar *icon, const gchar *tooltip, const gchar *address)
{
	GtkWidget *button = gtk_button_new_from_icon_name(icon);

	gtk_widget_set_tooltip_text(button, tooltip);
	gtk_widget_set_valign(button, GTK_ALIGN_CENTER);
	gtk_widget_add_css_class(button, "flat");
	g_object_set_data_full(G_OBJECT(button), "address", g_strdup(address), g_free);
	return button;
}

static GtkWidget *
sma_recipients_page_row(SmaRecipientsPage *self, const gchar *address, const gchar *number,
			const gchar *by, gint64 at)
{
	GtkWidget *row = adw_action_row_new();
	g_autofree gchar *when = sma_format_time(at);
	/* staff registrations are logged as dbus:NAME; say so in words */
	const gchar *who = g_str_has_prefix(by, "dbus:") ? _("staff") : by;
	/* TRANSLATORS: a phone directory entry: "NUMBER · registered by WHO on WHEN" */
	g_autofree gchar *subtitle =
	    g_strdup_printf(_("%s · registered by %s on %s"), number, who, when);
	g_autofree gchar *edit_name = g_strdup_printf("edit:%s", address);
	g_autofree gchar *remove_name = g_strdup_printf("remove:%s", address);
	GtkWidget *edit, *remove;

	adw_preferences_row_set_title(ADW_PREFERENCES_ROW(row), address);
	adw_preferences_row_set_use_markup(ADW_PREFERENCES_ROW(row), FALSE);
	adw_action_row_set_subtitle(ADW_ACTION_ROW(row), subtitle);
	edit = sma_recipients_page_icon_button("document-edit-symbolic", _("Change the Number"),
					       address);
	g_signal_connect(edit, "clicked", G_CALLBACK(sma_recipients_page_edit_clicked), self);
	remove =
	    sma_recipients_page_icon_button("user-trash-symbolic", _("Remove the Number"), address);
	g_signal_connect(remove, "clicked", G_CALLBACK(sma_recipients_page_remove_clicked), self);
	gtk_widget_set_name(edit, edit_name);
	gtk_widget_set_name(remove, remove_name);
	adw_action_row_add_suffix(ADW_ACTION_ROW(row), edit);
	adw_action_row_add_suffix(ADW_ACTION_ROW(row), remove);
	gtk_widget_set_name(row, address);
	return row;
}

static void
sma_recipients_page_list_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmaRecipientsPage) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) phones = NULL;
	GVariantIter iter;
	const gchar *address, *number, *by, *from;
	gint64 at;
	GtkWidget *child;

	if (!smd_dbus_gateway1_call_list_phones_finish(SMD_DBUS_GATEWAY1(source), &phones, result,
						       &error)) {
		sma_page_call_failed(GTK_WIDGET(self), self->client, error);
		return;
	}
	while ((child = gtk_widget_get_first_child(GTK_WIDGET(self->list_box))) != NULL)
		gtk_list_box_remove(self->list_box, child);
	g_variant_iter_init(&iter, phones);
	while (g_variant_iter_next(&iter, "(&s&s&s&sx)", &address, &number, &by, &from, &at))
		gtk_list_box_append(self->list_box,
				    sma_recipients_page_row(self, address, number, by, at));
	gtk_stack_set_visible_child_name(self->stack,
					 g_variant_n_children(phones) > 0 ? "list" : "empty");
}

static void
sma_recipients_page_reload(SmaPage *page)
{
	SmaRecipientsPage *self = SMA_RECIPIENTS_PAGE(page);
	SmdDbusGateway1 *proxy = sma_client_get_proxy(self->client);

	if (proxy == NULL)
		return;
	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	self->cancellable = g_cancellable_new();
	smd_dbus_gateway1_call_list_phones(
	    proxy, gtk_editable_get_text(GTK_EDITABLE(self->search_entry)), 0, SMA_RECIPIENTS_LIMIT,
	    self->cancellable, sma_recipients_page_list_cb, g_object_ref(self));
}

static void
sma_recipients_page_search_cb(SmaRecipientsPage *self)
{
	sma_recipients_page_reload(SMA_PAGE(self));
}

static void
sma_recipients_page_set_phone_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmaPhoneEdit *edit = user_data;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *masked = NULL;

	if (!smd_dbus_gateway1_call_set_phone_finish(SMD_DBUS_GATEWAY1(source), &masked, result,
						     &error)) {
		if (!sma_client_check_error(edit->self->client, error)) {
			/* the dialog again, with what was typed and what is wrong */
			g_dbus_error_strip_remote_error(error);
			sma_recipients_page_edit_full(edit->self, edit->address, edit->adding,
						      edit->number, error->message);
		}
	} else {
		g_autofree gchar *text =
		    g_strdup_printf(_("Stored: %s for %s"), masked, edit->address);
		sma_page_toast(GTK_WIDGET(edit->self), text);
		sma_page_reload(SMA_PAGE(edit->self));
	}
	sma_phone_edit_free(edit);
}

static void
sma_recipients_page_edit_response(AdwMessageDialog *dialog, const gchar *response,
				  SmaPhoneEdit *edit)
{
	SmdDbusGateway1 *proxy = sma_client_get_proxy(edit->self->client);

	if (g_strcmp0(response, "save") != 0 || proxy == NULL) {
		sma_phone_edit_free(edit);
		return;
	}
	if (edit->adding) {
		g_free(edit->address);
		edit->address =
		    g_strstrip(g_strdup(gtk_editable_get_text(GTK_EDITABLE(edit->address_row))));
	}
	edit->number = g_strdup(gtk_editable_get_text(GTK_EDITABLE(edit->number_row)));
	edit->address_row = NULL;
	edit->number_row = NULL;
	smd_dbus_gateway1_call_set_phone(proxy, edit->address, edit->number, NULL,
					 sma_recipients_page_set_phone_cb, edit);
}

static gboolean
sma_recipients_page_looks_like_address(const gchar *address)
{
	const gchar *at = address != NULL ? strrchr(address, '@') : NULL;
	return at != NULL && at != address && at[1] != '\0' && strchr(address, ' ') == NULL;
}

/* Adding or changing a number. A message dialog closes on any answer, so
 * a number the gateway refuses brings the dialog back with the reason. */
static void
sma_recipients_page_edit_full(SmaRecipientsPage *self, const gchar *address, gboolean adding,
			      const gchar *number, const gchar *problem)
{
	SmaPhoneEdit *edit = g_new0(SmaPhoneEdit, 1);
	GtkWidget *box = gtk_box_new(GTK_ORIENTATION_VERTICAL, 12);
	GtkWidget *list = gtk_list_box_new();
	GtkWidget *dialog = adw_message_dialog_new(
	    GTK_WINDOW(gtk_widget_get_root(GTK_WIDGET(self))),
	    adding ? _("Add a Phone Number") : _("Change the Number"), adding ? NULL : address);

	edit->self = g_object_ref(self);
	edit->address = g_strdup(address);
	edit->adding = adding;
	gtk_widget_add_css_class(list, "boxed-list");
	gtk_list_box_set_selection_mode(GTK_LIST_BOX(list), GTK_SELECTION_NONE);
	if (adding) {
		edit->address_row = ADW_ENTRY_ROW(adw_entry_row_new());
		gtk_widget_set_name(GTK_WIDGET(edit->address_row), "phone-address");
		adw_preferences_row_set_title(ADW_PREFERENCES_ROW(edit->address_row),
					      _("E-mail address"));
		gtk_editable_set_text(GTK_EDITABLE(edit->address_row),
				      address != NULL ? address : "");
		/* Enter submits, as in any form */
		adw_entry_row_set_activates_default(edit->address_row, TRUE);
		gtk_list_box_append(GTK_LIST_BOX(list), GTK_WIDGET(edit->address_row));
	}
	edit->number_row = ADW_ENTRY_ROW(adw_entry_row_new());
	gtk_widget_set_name(GTK_WIDGET(edit->number_row), "phone-number");
	adw_preferences_row_set_title(ADW_PREFERENCES_ROW(edit->number_row), _("Mobile number"));
	adw_entry_row_set_input_purpose(edit->number_row, GTK_INPUT_PURPOSE_PHONE);
	gtk_editable_set_text(GTK_EDITABLE(edit->number_row), number != NULL ? number : "");
	adw_entry_row_set_activates_default(edit->number_row, TRUE);
	gtk_list_box_append(GTK_LIST_BOX(list), GTK_WIDGET(edit->number_row));
	gtk_box_append(GTK_BOX(box), list);
	if (problem != NULL) {
		GtkWidget *label = gtk_label_new(problem);
		gtk_label_set_wrap(GTK_LABEL(label), TRUE);
		gtk_widget_add_css_class(label, "error");
		/* the gateway checks the address first: what it refused is the
		 * address when that is not even of the form a@b */
		gtk_widget_add_css_class(edit->address_row != NULL &&
						 !sma_recipients_page_looks_like_address(address)
					     ? GTK_WIDGET(edit->address_row)
					     : GTK_WIDGET(edit->number_row),
					 "error");
		gtk_box_append(GTK_BOX(box), label);
	}
	adw_message_dialog_set_extra_child(ADW_MESSAGE_DIALOG(dialog), box);
	adw_message_dialog_add_responses(ADW_MESSAGE_DIALOG(dialog), "cancel", _("_Cancel"), "save",
					 _("_Submit"), NULL);
	adw_message_dialog_set_response_appearance(ADW_MESSAGE_DIALOG(dialog), "save",
						   ADW_RESPONSE_SUGGESTED);
	adw_message_dialog_set_default_response(ADW_MESSAGE_DIALOG(dialog), "save");
	adw_message_dialog_set_close_response(ADW_MESSAGE_DIALOG(dialog), "cancel");
	g_signal_connect(dialog, "response", G_CALLBACK(sma_recipients_page_edit_response), edit);
	gtk_window_present(GTK_WINDOW(dialog));
}

static void
sma_recipients_page_edit(SmaRecipientsPage *self, const gchar *address)
{
	sma_recipients_page_edit_full(self, address, address == NULL, NULL, NULL);
}

static void
sma_recipients_page_add_cb(SmaRecipientsPage *self)
{
	sma_recipients_page_edit(self, NULL);
}

static void
sma_recipients_page_event_cb(SmaClient *client, const gchar *kind, const gchar *queue_id,
			     const gchar *recipient, SmaRecipientsPage *self)
{
	if (g_str_has_prefix(kind, "phone-"))
		sma_page_reload_soon(SMA_PAGE(self), 300);
}

static void
sma_recipients_page_set_client(SmaPage *page, SmaClient *client)
{
	SmaRecipientsPage *self = SMA_RECIPIENTS_PAGE(page);

	g_set_object(&self->client, client);
	g_signal_connect_object(client, "event-added", G_CALLBACK(sma_recipients_page_event_cb),
				self, 0);
}

static gboolean
sma_recipients_page_focus_search(SmaPage *page)
{
	return gtk_widget_grab_focus(GTK_WIDGET(SMA_RECIPIENTS_PAGE(page)->search_entry));
}

static void
sma_recipients_page_iface_init(SmaPageInterface *iface)
{
	iface->set_client = sma_recipients_page_set_client;
	iface->reload = sma_recipients_page_reload;
	iface->focus_search = sma_recipients_page_focus_search;
}

static void
sma_recipients_page_dispose(GObject *object)
{
	SmaRecipientsPage *self = SMA_RECIPIENTS_PAGE(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	g_clear_object(&self->client);
	/* AdwBin drops its child (and the template with it) */
	G_OBJECT_CLASS(sma_recipients_page_parent_class)->dispose(object);
}

static void
sma_recipients_page_class_init(SmaRecipientsPageClass *klass)
{
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	G_OBJECT_CLASS(klass)->dispose = sma_recipients_page_dispose;
	gtk_widget_class_set_template_from_resource(widget_class,
						    "/org/secumailer/Admin/sma-recipients-page.ui");
	gtk_widget_class_bind_template_child(widget_class, SmaRecipientsPage, search_entry);
	gtk_widget_class_bind_template_child(widget_class, SmaRecipientsPage, stack);
	gtk_widget_class_bind_template_child(widget_class, SmaRecipientsPage, list_box);
	gtk_widget_class_bind_template_callback(widget_class, sma_recipients_page_search_cb);
	gtk_widget_class_bind_template_callback(widget_class, sma_recipients_page_add_cb);
}

static void
sma_recipients_page_init(SmaRecipientsPage *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
}
