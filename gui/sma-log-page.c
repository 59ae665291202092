/*
 * SecuMailer admin — the event log, live: it starts with the newest
 * events (ReadEvents with a negative cursor), follows EventAdded from its
 * cursor, and keeps the view at the bottom unless someone scrolled up to
 * read (then it pauses, and says so). Filters by level, kind and text;
 * the shown rows export to a tab-separated file.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-log"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "sma-column.h"
#include "sma-event.h"
#include "sma-log-page.h"
#include "sma-page.h"

#define SMA_LOG_PAGE_BATCH 1000
#define SMA_LOG_PAGE_KEEP 20000 /* events kept in memory; older ones drop off */
#define SMA_LOG_PAGE_CATCH_UP_MS 250
#define SMA_LOG_PAGE_CATCH_UP_TRIES 8

struct _SmaLogPage {
	AdwBin parent_instance;

	/* template widgets */
	GtkSearchEntry *search_entry;
	GtkDropDown *level_dropdown;
	GtkDropDown *kind_dropdown;
	GtkButton *latest_button;
	GtkStack *stack;
	GtkScrolledWindow *scrolled;
	GtkColumnView *column_view;

	/* owned */
	SmaClient *client;
	GListStore *events; /* of SmaEvent, oldest first */
	GtkStringList *kinds;
	GHashTable *known_kinds;
	GtkCustomFilter *filter;
	GtkFilterListModel *shown;
	GCancellable *cancellable;
	gint64 cursor; /* the last event id read */
	gboolean reading;
	gboolean again; /* events came while reading */
	/* EventAdded comes once the daemon has stored the event, but one it
	 * could not store (the store failing) is announced all the same, and
	 * an older daemon announced before storing: announced events a read
	 * did not find yet are read again shortly, a few times */
	guint announced;
	guint catch_up_source;
	guint catch_up_tries;
	gboolean following;
};

static void sma_log_page_iface_init(SmaPageInterface *iface);

G_DEFINE_TYPE_WITH_CODE(SmaLogPage, sma_log_page, ADW_TYPE_BIN,
			G_IMPLEMENT_INTERFACE(SMA_TYPE_PAGE, sma_log_page_iface_init))

typedef enum {
	SMA_LOG_TIME,
	SMA_LOG_LEVEL,
	SMA_LOG_KIND,
	SMA_LOG_MESSAGE,
	SMA_LOG_RECIPIENT,
	SMA_LOG_QUEUE_ID,
	SMA_LOG_DETAIL,
} SmaLogColumn;

static const gchar *sma_log_levels[] = {NULL, "info", "warning", "error"};

static void sma_log_page_read(SmaLogPage *self);

GListModel *
sma_log_page_get_shown(SmaLogPage *self)
{
	return G_LIST_MODEL(self->shown);
}

gboolean
sma_log_page_get_following(SmaLogPage *self)
{
	return self->following;
}

static gboolean
sma_log_page_match(gpointer item, gpointer user_data)
{
	SmaLogPage *self = user_data;
	SmaEvent *event = item;
	guint level = gtk_drop_down_get_selected(self->level_dropdown);
	guint kind = gtk_drop_down_get_selected(self->kind_dropdown);

	if (level > 0 && level < G_N_ELEMENTS(sma_log_levels) &&
	    g_strcmp0(sma_event_get_level(event), sma_log_levels[level]) != 0)
		return FALSE;
	if (kind > 0 && kind != GTK_INVALID_LIST_POSITION &&
	    g_strcmp0(sma_event_get_kind(event), gtk_string_list_get_string(self->kinds, kind)) !=
		0)
		return FALSE;
	return sma_event_matches_text(event,
				      gtk_editable_get_text(GTK_EDITABLE(self->search_entry)));
}

static void
sma_log_page_update_view(SmaLogPage *self)
{
	gboolean any = g_list_model_get_n_items(G_LIST_MODEL(self->shown)) > 0;
	gtk_stack_set_visible_child_name(self->stack, any ? "list" : "empty");
}

static void
sma_log_page_filter_changed_cb(SmaLogPage *self)
{
	if (self->filter == NULL) /* the dropdowns get their models */
		return;
	gtk_filter_changed(GTK_FILTER(self->filter), GTK_FILTER_CHANGE_DIFFERENT);
	sma_log_page_update_view(self);
}

static void
sma_log_page_scroll_to_end(SmaLogPage *self)
{
	GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment(self->scrolled);
	gtk_adjustment_set_value(adj, gtk_adjustment_get_upper(adj));
}

static void
sma_log_page_set_following(SmaLogPage *self, gboolean following)
{
	self->following = following;
	gtk_widget_set_visible(GTK_WIDGET(self->latest_button), !following);
}

static void
sma_log_page_latest_cb(SmaLogPage *self)
{
	sma_log_page_set_following(self, TRUE);
	sma_log_page_scroll_to_end(self);
}

/* Scrolled up to read: pause. Back at the bottom: follow again. */
static void
sma_log_page_value_changed_cb(GtkAdjustment *adj, SmaLogPage *self)
{
	gdouble bottom = gtk_adjustment_get_upper(adj) - gtk_adjustment_get_page_size(adj);
	sma_log_page_set_following(self, gtk_adjustment_get_value(adj) >= bottom - 4);
}

/* The list grew: stay at the bottom if we were following. */
static void
sma_log_page_upper_changed_cb(GtkAdjustment *adj, GParamSpec *pspec, SmaLogPage *self)
{
	if (self->following)
		sma_log_page_scroll_to_end(self);
}

static gboolean
sma_log_page_catch_up_cb(gpointer user_data)
{
	SmaLogPage *self = user_data;

	self->catch_up_source = 0;
	sma_log_page_read(self);
	return G_SOURCE_REMOVE;
}

/* After a read: whether events announced are still to come. */
static void
sma_log_page_count_read(SmaLogPage *self, guint fresh)
{
	self->announced = fresh >= self->announced ? 0 : self->announced - fresh;
	if (self->announced == 0 || self->catch_up_tries >= SMA_LOG_PAGE_CATCH_UP_TRIES) {
		self->announced = 0;
		self->catch_up_tries = 0;
		return;
	}
	if (self->catch_up_source == 0) {
		self->catch_up_tries++;
		self->catch_up_source =
		    g_timeout_add(SMA_LOG_PAGE_CATCH_UP_MS, sma_log_page_catch_up_cb, self);
	}
}

static void
sma_log_page_read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmaLogPage) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) rows = NULL;
	g_autoptr(GPtrArray) fresh = g_ptr_array_new_with_free_func(g_object_unref);
	GVariantIter iter;
	GVariant *row;
	guint n;

	if (!smd_dbus_gateway1_call_read_events_finish(SMD_DBUS_GATEWAY1(source), &rows, result,
						       &error)) {
		/* a read cancelled by a reload: the reload's own read runs */
		if (g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			return;
		self->reading = FALSE;
		sma_page_call_failed(GTK_WIDGET(self), self->client, error);
		return;
	}
	self->reading = FALSE;
	g_variant_iter_init(&iter, rows);
	while ((row = g_variant_iter_next_value(&iter)) != NULL) {
		SmaEvent *event = sma_event_new(row);
		const gchar *kind = sma_event_get_kind(event);
		g_variant_unref(row);
		self->cursor = MAX(self->cursor, sma_event_get_id(event));
		if (!g_hash_table_contains(self->known_kinds, kind)) {
			g_hash_table_add(self->known_kinds, g_strdup(kind));
			gtk_string_list_append(self->kinds, kind);
		}
		g_ptr_array_add(fresh, event);
	}
	g_list_store_splice(self->events, g_list_model_get_n_items(G_LIST_MODEL(self->events)), 0,
			    fresh->pdata, fresh->len);
	n = g_list_model_get_n_items(G_LIST_MODEL(self->events));
	if (n > SMA_LOG_PAGE_KEEP)
		g_list_store_splice(self->events, 0, n - SMA_LOG_PAGE_KEEP, NULL, 0);
	sma_log_page_update_view(self);
	sma_log_page_count_read(self, fresh->len);
	/* a full batch: more are waiting */
	if (fresh->len == SMA_LOG_PAGE_BATCH || self->again) {
		self->again = FALSE;
		sma_log_page_read(self);
	}
}

static void
sma_log_page_read(SmaLogPage *self)
{
	SmdDbusGateway1 *proxy = sma_client_get_proxy(self->client);

	if (proxy == NULL)
		return;
	if (self->reading) {
		self->again = TRUE;
		return;
	}
	self->reading = TRUE;
	/* the first read starts with the newest events */
	smd_dbus_gateway1_call_read_events(proxy, self->cursor > 0 ? self->cursor : -1,
					   SMA_LOG_PAGE_BATCH, self->cancellable,
					   sma_log_page_read_cb, g_object_ref(self));
}

static void
sma_log_page_reload(SmaPage *page)
{
	SmaLogPage *self = SMA_LOG_PAGE(page);

	sma_page_restart(&self->cancellable);
	self->reading = FALSE;
	self->again = FALSE;
	self->cursor = 0;
	self->announced = 0;
	g_list_store_remove_all(self->events);
	sma_log_page_set_following(self, TRUE);
	sma_log_page_read(self);
}

static void
sma_log_page_event_cb(SmaClient *client, const gchar *kind, const gchar *queue_id,
		      const gchar *recipient, SmaLogPage *self)
{
	self->announced++;
	sma_log_page_read(self);
}

static void
sma_log_page_set_client(SmaPage *page, SmaClient *client)
{
	SmaLogPage *self = SMA_LOG_PAGE(page);

	g_set_object(&self->client, client);
	g_signal_connect_object(client, "event-added", G_CALLBACK(sma_log_page_event_cb), self, 0);
}

static gboolean
sma_log_page_focus_search(SmaPage *page)
{
	return gtk_widget_grab_focus(GTK_WIDGET(SMA_LOG_PAGE(page)->search_entry));
}

static void
sma_log_page_iface_init(SmaPageInterface *iface)
{
	iface->set_client = sma_log_page_set_client;
	iface->reload = sma_log_page_reload;
	iface->focus_search = sma_log_page_focus_search;
}

/* -------------------------------------------------------------- export */

/* A field of a tab-separated line: no tab or line break inside. */
static void
sma_log_page_append_field(GString *line, const gchar *text, gboolean last)
{
	/* a spreadsheet reads a field starting so as a formula; addresses and
	 * replies come from outside ("=HYPERLINK(…)"): kept as text */
	if (strchr("=+-@", text[0]) != NULL && text[0] != '\0')
		g_string_append_c(line, '\'');
	for (const gchar *p = text; *p != '\0'; p++)
		g_string_append_c(line, (*p == '\t' || *p == '\n' || *p == '\r') ? ' ' : *p);
	g_string_append_c(line, last ? '\n' : '\t');
}

gboolean
sma_log_page_export_to_file(SmaLogPage *self, GFile *file, GError **error)
{
	g_autoptr(GString) out = g_string_new(NULL);
	GListModel *shown = G_LIST_MODEL(self->shown);

	g_string_append(out, "time\tlevel\tkind\tmessage\tqueue-id\trecipient\tdetail\n");
	for (guint i = 0; i < g_list_model_get_n_items(shown); i++) {
		g_autoptr(SmaEvent) event = g_list_model_get_item(shown, i);
		g_autoptr(GDateTime) dt =
		    g_date_time_new_from_unix_utc(sma_event_get_time(event) / G_USEC_PER_SEC);
		g_autofree gchar *when = dt != NULL ? g_date_time_format_iso8601(dt) : g_strdup("");
		sma_log_page_append_field(out, when, FALSE);
		sma_log_page_append_field(out, sma_event_get_level(event), FALSE);
		sma_log_page_append_field(out, sma_event_get_kind(event), FALSE);
		sma_log_page_append_field(out, sma_event_get_message(event), FALSE);
		sma_log_page_append_field(out, sma_event_get_queue_id(event), FALSE);
		sma_log_page_append_field(out, sma_event_get_recipient(event), FALSE);
		sma_log_page_append_field(out, sma_event_get_detail(event), TRUE);
	}
	return g_file_replace_contents(file, out->str, out->len, NULL, FALSE,
				       G_FILE_CREATE_PRIVATE | G_FILE_CREATE_REPLACE_DESTINATION,
				       NULL, NULL, error);
}

static void
sma_log_page_export_response(GtkNativeDialog *dialog, gint response, SmaLogPage *self)
{
	g_autoptr(GFile) file = gtk_file_chooser_get_file(GTK_FILE_CHOOSER(dialog));
	g_autoptr(GError) error = NULL;

	if (response == GTK_RESPONSE_ACCEPT && file != NULL) {
		if (sma_log_page_export_to_file(self, file, &error)) {
			g_autofree gchar *name = g_file_get_basename(file);
			g_autofree gchar *text = g_strdup_printf(_("Log exported to %s"), name);
			sma_page_toast(GTK_WIDGET(self), text);
		} else {
			sma_page_toast(GTK_WIDGET(self), error->message);
		}
	}
	g_object_unref(dialog);
	g_object_unref(self);
}

/* What is shown (after the filters) goes to a file people choose. */
void
sma_log_page_export(SmaLogPage *self)
{
	GtkFileChooserNative *dialog = gtk_file_chooser_native_new(
	    _("Export the Log"), GTK_WINDOW(gtk_widget_get_root(GTK_WIDGET(self))),
	    GTK_FILE_CHOOSER_ACTION_SAVE, _("_Export"), _("_Cancel"));
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree gchar *name = g_date_time_format(now, "secumailer-log-%Y-%m-%d.tsv");

	gtk_file_chooser_set_current_name(GTK_FILE_CHOOSER(dialog), name);
	gtk_native_dialog_set_modal(GTK_NATIVE_DIALOG(dialog), TRUE);
	g_signal_connect(dialog, "response", G_CALLBACK(sma_log_page_export_response),
			 g_object_ref(self));
	gtk_native_dialog_show(GTK_NATIVE_DIALOG(dialog));
}

/* ------------------------------------------------------------- columns */

static void
sma_log_page_bind(GtkSignalListItemFactory *factory, GtkListItem *item, gpointer user_data)
{
	SmaEvent *event = gtk_list_item_get_item(item);
	GtkWidget *label = gtk_list_item_get_child(item);
	g_autofree gchar *when = NULL;
	const gchar *text = NULL;

	switch (GPOINTER_TO_INT(user_data)) {
	case SMA_LOG_TIME:
		when = sma_event_format_time(event);
		text = when;
		break;
	case SMA_LOG_LEVEL:
		text = sma_event_get_level(event);
		gtk_widget_remove_css_class(label, "warning");
		gtk_widget_remove_css_class(label, "error");
		if (g_strcmp0(text, "info") != 0)
			gtk_widget_add_css_class(label, text);
		break;
	case SMA_LOG_KIND:
		text = sma_event_get_kind(event);
		break;
	case SMA_LOG_MESSAGE:
		text = sma_event_get_message(event);
		break;
	case SMA_LOG_RECIPIENT:
		text = sma_event_get_recipient(event);
		break;
	case SMA_LOG_QUEUE_ID:
		text = sma_event_get_queue_id(event);
		break;
	case SMA_LOG_DETAIL:
		text = sma_event_get_detail(event);
		break;
	default:
		break;
	}
	gtk_label_set_label(GTK_LABEL(label), text);
	gtk_widget_set_tooltip_text(label, text != NULL && text[0] != '\0' ? text : NULL);
}

static void
sma_log_page_add_column(SmaLogPage *self, const gchar *title, SmaLogColumn column, gboolean expand)
{
	sma_column_add(self->column_view, title, expand, G_CALLBACK(sma_column_setup_label),
		       G_CALLBACK(sma_log_page_bind), NULL, GINT_TO_POINTER(column));
}

static void
sma_log_page_dispose(GObject *object)
{
	SmaLogPage *self = SMA_LOG_PAGE(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	g_clear_handle_id(&self->catch_up_source, g_source_remove);
	if (self->column_view != NULL)
		gtk_column_view_set_model(self->column_view, NULL);
	g_clear_object(&self->shown);
	g_clear_object(&self->events);
	g_clear_object(&self->kinds);
	g_clear_object(&self->client);
	/* AdwBin drops its child (and the template with it) */
	G_OBJECT_CLASS(sma_log_page_parent_class)->dispose(object);
}

static void
sma_log_page_finalize(GObject *object)
{
	g_hash_table_unref(SMA_LOG_PAGE(object)->known_kinds);
	G_OBJECT_CLASS(sma_log_page_parent_class)->finalize(object);
}

static void
sma_log_page_class_init(SmaLogPageClass *klass)
{
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	G_OBJECT_CLASS(klass)->dispose = sma_log_page_dispose;
	G_OBJECT_CLASS(klass)->finalize = sma_log_page_finalize;
	gtk_widget_class_set_template_from_resource(widget_class,
						    "/org/secumailer/Admin/sma-log-page.ui");
	gtk_widget_class_bind_template_child(widget_class, SmaLogPage, search_entry);
	gtk_widget_class_bind_template_child(widget_class, SmaLogPage, level_dropdown);
	gtk_widget_class_bind_template_child(widget_class, SmaLogPage, kind_dropdown);
	gtk_widget_class_bind_template_child(widget_class, SmaLogPage, latest_button);
	gtk_widget_class_bind_template_child(widget_class, SmaLogPage, stack);
	gtk_widget_class_bind_template_child(widget_class, SmaLogPage, scrolled);
	gtk_widget_class_bind_template_child(widget_class, SmaLogPage, column_view);
	gtk_widget_class_bind_template_callback(widget_class, sma_log_page_filter_changed_cb);
	gtk_widget_class_bind_template_callback(widget_class, sma_log_page_latest_cb);
}

static void
sma_log_page_init(SmaLogPage *self)
{
	const gchar *levels[] = {_("All levels"), _("Information"), _("Warnings"), _("Errors"),
				 NULL};
	const gchar *kinds[] = {_("All kinds"), NULL};
	GtkAdjustment *adj;

	self->events = g_list_store_new(SMA_TYPE_EVENT);
	self->known_kinds = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	self->kinds = gtk_string_list_new(kinds);
	self->cancellable = g_cancellable_new();
	self->following = TRUE;
	gtk_widget_init_template(GTK_WIDGET(self));

	gtk_drop_down_set_model(self->level_dropdown, G_LIST_MODEL(gtk_string_list_new(levels)));
	g_object_unref(gtk_drop_down_get_model(self->level_dropdown));
	gtk_drop_down_set_model(self->kind_dropdown, G_LIST_MODEL(self->kinds));
	self->filter = gtk_custom_filter_new(sma_log_page_match, self, NULL);
	self->shown = gtk_filter_list_model_new(G_LIST_MODEL(g_object_ref(self->events)),
						GTK_FILTER(self->filter));
	gtk_column_view_set_model(self->column_view, GTK_SELECTION_MODEL(gtk_no_selection_new(
							 G_LIST_MODEL(g_object_ref(self->shown)))));
	g_object_unref(gtk_column_view_get_model(self->column_view));
	sma_log_page_add_column(self, _("Time"), SMA_LOG_TIME, FALSE);
	sma_log_page_add_column(self, _("Level"), SMA_LOG_LEVEL, FALSE);
	sma_log_page_add_column(self, _("Kind"), SMA_LOG_KIND, FALSE);
	sma_log_page_add_column(self, _("Message"), SMA_LOG_MESSAGE, TRUE);
	sma_log_page_add_column(self, _("Recipient"), SMA_LOG_RECIPIENT, TRUE);
	sma_log_page_add_column(self, _("Queue ID"), SMA_LOG_QUEUE_ID, FALSE);
	sma_log_page_add_column(self, _("Detail"), SMA_LOG_DETAIL, TRUE);

	adj = gtk_scrolled_window_get_vadjustment(self->scrolled);
	g_signal_connect_object(adj, "value-changed", G_CALLBACK(sma_log_page_value_changed_cb),
				self, 0);
	g_signal_connect_object(adj, "notify::upper", G_CALLBACK(sma_log_page_upper_changed_cb),
				self, 0);
}
