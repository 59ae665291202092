/*
 * SecuMailer admin — the deliveries list as a lazily paged GListModel.
 *
 * The store may hold a million messages: only what is scrolled to is ever
 * asked for. The list holds the pages loaded so far; asking for an item
 * near its end fetches the next page (ListMessages, newest first, older
 * than the last one held), so the list grows as people scroll and never
 * blocks the window. New mail comes on top page by page ("newer-than" the
 * first one held, oldest first) until none is left: no offsets, so
 * nothing is skipped or shown twice however fast mail arrives.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-message-model"

#include "config.h"

#include "sma-message-model.h"

struct _SmaMessageModel {
	GObject parent_instance;

	SmaClient *client;
	GPtrArray *items;     /* of SmaMessage, newest first */
	GHashTable *by_queue; /* queue id → SmaMessage (borrowed from items) */
	gchar *state;
	gchar *address;
	gboolean loading;
	gboolean complete; /* the last page was short: nothing more to fetch */
	guint generation;  /* a filter change makes answers in flight stale */
	GCancellable *cancellable;
};

static void sma_message_model_list_model_init(GListModelInterface *iface);

G_DEFINE_TYPE_WITH_CODE(SmaMessageModel, sma_message_model, G_TYPE_OBJECT,
			G_IMPLEMENT_INTERFACE(G_TYPE_LIST_MODEL, sma_message_model_list_model_init))

enum { PROP_0, PROP_LOADING, N_PROPS };
static GParamSpec *props[N_PROPS];

typedef struct {
	SmaMessageModel *self;
	guint generation;
	gboolean newest; /* only to merge new messages at the top */
} SmaFetch;

static void sma_message_model_fetch(SmaMessageModel *self, gboolean newest);

static GVariant *
sma_message_model_filter(SmaMessageModel *self, gboolean newest)
{
	GVariantBuilder b;

	g_variant_builder_init(&b, G_VARIANT_TYPE("a{sv}"));
	if (self->items->len > 0) {
		SmaMessage *edge =
		    g_ptr_array_index(self->items, newest ? 0 : self->items->len - 1);
		g_variant_builder_add(&b, "{sv}", newest ? "newer-than" : "older-than",
				      g_variant_new_string(sma_message_get_queue_id(edge)));
	}
	if (self->state != NULL)
		g_variant_builder_add(&b, "{sv}", "state", g_variant_new_string(self->state));
	if (self->address != NULL)
		g_variant_builder_add(&b, "{sv}", "address-prefix",
				      g_variant_new_string(self->address));
	return g_variant_builder_end(&b);
}

static void
sma_message_model_set_loading(SmaMessageModel *self, gboolean loading)
{
	if (self->loading == loading)
		return;
	self->loading = loading;
	g_object_notify_by_pspec(G_OBJECT(self), props[PROP_LOADING]);
}

static void
sma_message_model_fetch_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autofree SmaFetch *fetch = user_data;
	g_autoptr(SmaMessageModel) self = fetch->self;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) rows = NULL;
	g_autoptr(GPtrArray) fresh = g_ptr_array_new_with_free_func(g_object_unref);
	GVariantIter iter;
	GVariant *row;
	guint position;

	if (!smd_dbus_gateway1_call_list_messages_finish(SMD_DBUS_GATEWAY1(source), &rows, result,
							 &error)) {
		if (fetch->generation == self->generation)
			sma_message_model_set_loading(self, FALSE);
		if (!sma_client_check_error(self->client, error) &&
		    !g_error_matches(error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
			g_warning("cannot list messages: %s", error->message);
		return;
	}
	if (fetch->generation != self->generation)
		return;
	sma_message_model_set_loading(self, FALSE);
	g_variant_iter_init(&iter, rows);
	while ((row = g_variant_iter_next_value(&iter)) != NULL) {
		SmaMessage *msg = sma_message_new(row);
		g_variant_unref(row);
		if (g_hash_table_contains(self->by_queue, sma_message_get_queue_id(msg))) {
			g_object_unref(msg);
			continue;
		}
		g_ptr_array_add(fresh, msg);
	}
	if (!fetch->newest && g_variant_n_children(rows) < SMA_MESSAGE_MODEL_PAGE)
		self->complete = TRUE;
	/* new messages (oldest first) go on top, each above the one before;
	 * a next page at the end */
	position = fetch->newest ? 0 : self->items->len;
	for (guint i = 0; i < fresh->len; i++) {
		SmaMessage *msg = g_object_ref(g_ptr_array_index(fresh, i));
		g_ptr_array_insert(self->items, fetch->newest ? 0 : (gint)(position + i), msg);
		g_hash_table_insert(self->by_queue, (gpointer)sma_message_get_queue_id(msg), msg);
	}
	if (fresh->len > 0)
		g_list_model_items_changed(G_LIST_MODEL(self), position, 0, fresh->len);
	/* a full page of new mail: there may be more */
	if (fetch->newest && g_variant_n_children(rows) == SMA_MESSAGE_MODEL_PAGE)
		sma_message_model_fetch(self, TRUE);
}

static void
sma_message_model_fetch(SmaMessageModel *self, gboolean newest)
{
	SmdDbusGateway1 *proxy = sma_client_get_proxy(self->client);
	SmaFetch *fetch;

	if (proxy == NULL)
		return;
	fetch = g_new0(SmaFetch, 1);
	fetch->self = g_object_ref(self);
	fetch->generation = self->generation;
	fetch->newest = newest;
	if (!newest)
		sma_message_model_set_loading(self, TRUE);
	smd_dbus_gateway1_call_list_messages(proxy, sma_message_model_filter(self, newest), 0,
					     SMA_MESSAGE_MODEL_PAGE, self->cancellable,
					     sma_message_model_fetch_cb, fetch);
}

/* Starts over: the first page with the current filter. */
void
sma_message_model_reload(SmaMessageModel *self)
{
	guint removed = self->items->len;

	g_return_if_fail(SMA_IS_MESSAGE_MODEL(self));
	self->generation++;
	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	self->cancellable = g_cancellable_new();
	self->complete = FALSE;
	self->loading = FALSE;
	g_hash_table_remove_all(self->by_queue);
	g_ptr_array_set_size(self->items, 0);
	if (removed > 0)
		g_list_model_items_changed(G_LIST_MODEL(self), 0, removed, 0);
	sma_message_model_fetch(self, FALSE);
}

/* New messages arrived: put them on top without losing the scroll place. */
void
sma_message_model_fetch_newest(SmaMessageModel *self)
{
	g_return_if_fail(SMA_IS_MESSAGE_MODEL(self));
	sma_message_model_fetch(self, self->items->len > 0);
}

void
sma_message_model_set_filter(SmaMessageModel *self, const gchar *state, const gchar *address)
{
	g_return_if_fail(SMA_IS_MESSAGE_MODEL(self));
	g_free(self->state);
	g_free(self->address);
	self->state = state != NULL && state[0] != '\0' ? g_strdup(state) : NULL;
	self->address =
	    address != NULL && address[0] != '\0' ? g_strstrip(g_strdup(address)) : NULL;
	sma_message_model_reload(self);
}

gboolean
sma_message_model_get_loading(SmaMessageModel *self)
{
	return self->loading;
}

SmaMessage *
sma_message_model_lookup(SmaMessageModel *self, const gchar *queue_id)
{
	return g_hash_table_lookup(self->by_queue, queue_id);
}

static GType
sma_message_model_get_item_type(GListModel *list)
{
	return SMA_TYPE_MESSAGE;
}

static guint
sma_message_model_get_n_items(GListModel *list)
{
	return SMA_MESSAGE_MODEL(list)->items->len;
}

static gpointer
sma_message_model_get_item(GListModel *list, guint position)
{
	SmaMessageModel *self = SMA_MESSAGE_MODEL(list);

	if (position >= self->items->len)
		return NULL;
	/* the view reached the last rows: the next page, once */
	if (position + SMA_MESSAGE_MODEL_PAGE / 4 >= self->items->len && !self->loading &&
	    !self->complete)
		sma_message_model_fetch(self, FALSE);
	return g_object_ref(g_ptr_array_index(self->items, position));
}

static void
sma_message_model_list_model_init(GListModelInterface *iface)
{
	iface->get_item_type = sma_message_model_get_item_type;
	iface->get_n_items = sma_message_model_get_n_items;
	iface->get_item = sma_message_model_get_item;
}

SmaMessageModel *
sma_message_model_new(SmaClient *client)
{
	SmaMessageModel *self = g_object_new(SMA_TYPE_MESSAGE_MODEL, NULL);
	self->client = g_object_ref(client);
	return self;
}

static void
sma_message_model_get_property(GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
	switch (prop_id) {
	case PROP_LOADING:
		g_value_set_boolean(value, SMA_MESSAGE_MODEL(object)->loading);
		break;
	default:
		G_OBJECT_WARN_INVALID_PROPERTY_ID(object, prop_id, pspec);
	}
}

static void
sma_message_model_dispose(GObject *object)
{
	SmaMessageModel *self = SMA_MESSAGE_MODEL(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	g_clear_object(&self->client);
	G_OBJECT_CLASS(sma_message_model_parent_class)->dispose(object);
}

static void
sma_message_model_finalize(GObject *object)
{
	SmaMessageModel *self = SMA_MESSAGE_MODEL(object);

	g_hash_table_unref(self->by_queue);
	g_ptr_array_unref(self->items);
	g_free(self->state);
	g_free(self->address);
	G_OBJECT_CLASS(sma_message_model_parent_class)->finalize(object);
}

static void
sma_message_model_class_init(SmaMessageModelClass *klass)
{
	GObjectClass *object_class = G_OBJECT_CLASS(klass);

	object_class->get_property = sma_message_model_get_property;
	object_class->dispose = sma_message_model_dispose;
	object_class->finalize = sma_message_model_finalize;
	props[PROP_LOADING] = g_param_spec_boolean("loading", NULL, NULL, FALSE,
						   G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
	g_object_class_install_properties(object_class, N_PROPS, props);
}

static void
sma_message_model_init(SmaMessageModel *self)
{
	self->items = g_ptr_array_new_with_free_func(g_object_unref);
	self->by_queue = g_hash_table_new(g_str_hash, g_str_equal);
	self->cancellable = g_cancellable_new();
}
