/*
 * SecuMailer admin — one message of the deliveries list.
 * Its recipients' states change live ("changed" is emitted).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-message"

#include "config.h"

#include "sma-message.h"

struct _SmaMessage {
	GObject parent_instance;

	gchar *queue_id;
	gint64 received;
	gchar *sender;
	gchar *subject;
	guint64 size;
	GPtrArray *recipients; /* of gchar* */
	GPtrArray *states;     /* of gchar*, one per recipient */
};

G_DEFINE_TYPE(SmaMessage, sma_message, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

SmaMessage *
sma_message_new(GVariant *row)
{
	SmaMessage *self = g_object_new(SMA_TYPE_MESSAGE, NULL);
	g_autoptr(GVariantIter) rcpts = NULL;
	gchar *address, *state;

	g_variant_get(row, "(sxssta(ss))", &self->queue_id, &self->received, &self->sender,
		      &self->subject, &self->size, &rcpts);
	while (g_variant_iter_next(rcpts, "(ss)", &address, &state)) {
		g_ptr_array_add(self->recipients, address);
		g_ptr_array_add(self->states, state);
	}
	return self;
}

const gchar *
sma_message_get_queue_id(SmaMessage *self)
{
	return self->queue_id;
}

gint64
sma_message_get_received(SmaMessage *self)
{
	return self->received;
}

const gchar *
sma_message_get_sender(SmaMessage *self)
{
	return self->sender;
}

const gchar *
sma_message_get_subject(SmaMessage *self)
{
	return self->subject;
}

guint64
sma_message_get_size(SmaMessage *self)
{
	return self->size;
}

guint
sma_message_get_n_recipients(SmaMessage *self)
{
	return self->recipients->len;
}

const gchar *
sma_message_get_recipient(SmaMessage *self, guint i)
{
	return i < self->recipients->len ? g_ptr_array_index(self->recipients, i) : NULL;
}

const gchar *
sma_message_get_state(SmaMessage *self, guint i)
{
	return i < self->states->len ? g_ptr_array_index(self->states, i) : NULL;
}

gchar *
sma_message_dup_recipients_text(SmaMessage *self)
{
	GString *text = g_string_new(NULL);

	for (guint i = 0; i < self->recipients->len; i++) {
		if (i > 0)
			g_string_append(text, ", ");
		g_string_append(text, g_ptr_array_index(self->recipients, i));
	}
	return g_string_free(text, FALSE);
}

/* Returns TRUE (and emits "changed") when @recipient had another state. */
gboolean
sma_message_set_state(SmaMessage *self, const gchar *recipient, const gchar *state)
{
	gboolean changed = FALSE;

	for (guint i = 0; i < self->recipients->len; i++) {
		if (g_ascii_strcasecmp(g_ptr_array_index(self->recipients, i), recipient) != 0 ||
		    g_strcmp0(g_ptr_array_index(self->states, i), state) == 0)
			continue;
		g_free(g_ptr_array_index(self->states, i));
		self->states->pdata[i] = g_strdup(state);
		changed = TRUE;
	}
	if (changed)
		g_signal_emit(self, signals[SIGNAL_CHANGED], 0);
	return changed;
}

static void
sma_message_finalize(GObject *object)
{
	SmaMessage *self = SMA_MESSAGE(object);

	g_free(self->queue_id);
	g_free(self->sender);
	g_free(self->subject);
	g_ptr_array_unref(self->recipients);
	g_ptr_array_unref(self->states);
	G_OBJECT_CLASS(sma_message_parent_class)->finalize(object);
}

static void
sma_message_class_init(SmaMessageClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = sma_message_finalize;
	signals[SIGNAL_CHANGED] =
	    g_signal_new("changed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
			 NULL, G_TYPE_NONE, 0);
}

static void
sma_message_init(SmaMessage *self)
{
	self->recipients = g_ptr_array_new_with_free_func(g_free);
	self->states = g_ptr_array_new_with_free_func(g_free);
}
