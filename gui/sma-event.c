/*
 * SecuMailer admin — one row of the event log.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-event"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "sma-event.h"

struct _SmaEvent {
	GObject parent_instance;

	gint64 id;
	gint64 time;
	gchar *level;
	gchar *kind;
	gchar *message;
	gchar *queue_id;
	gchar *recipient;
	gchar *detail;
};

G_DEFINE_TYPE(SmaEvent, sma_event, G_TYPE_OBJECT)

/* The daemon stores an event's text in English; shown in the app's
 * language (one catalogue for both). "" would give the catalogue's header. */
const gchar *
sma_event_translate(const gchar *message)
{
	return message[0] != '\0' ? g_dgettext(GETTEXT_PACKAGE, message) : message;
}

SmaEvent *
sma_event_new(GVariant *row)
{
	SmaEvent *self = g_object_new(SMA_TYPE_EVENT, NULL);
	const gchar *message = NULL;

	g_variant_get(row, "(xxss&ssss)", &self->id, &self->time, &self->level, &self->kind,
		      &message, &self->queue_id, &self->recipient, &self->detail);
	/* what is shown is what a filter matches and an export holds */
	self->message = g_strdup(sma_event_translate(message));
	return self;
}

gint64
sma_event_get_id(SmaEvent *self)
{
	return self->id;
}

gint64
sma_event_get_time(SmaEvent *self)
{
	return self->time;
}

const gchar *
sma_event_get_level(SmaEvent *self)
{
	return self->level;
}

const gchar *
sma_event_get_kind(SmaEvent *self)
{
	return self->kind;
}

const gchar *
sma_event_get_message(SmaEvent *self)
{
	return self->message;
}

const gchar *
sma_event_get_queue_id(SmaEvent *self)
{
	return self->queue_id;
}

const gchar *
sma_event_get_recipient(SmaEvent *self)
{
	return self->recipient;
}

const gchar *
sma_event_get_detail(SmaEvent *self)
{
	return self->detail;
}

gchar *
sma_event_format_time(SmaEvent *self)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(self->time / G_USEC_PER_SEC);
	return dt != NULL ? g_date_time_format(dt, "%x %X") : g_strdup("");
}

/* Case-insensitive, over everything the row shows. */
gboolean
sma_event_matches_text(SmaEvent *self, const gchar *needle)
{
	const gchar *fields[] = {self->kind,	  self->message, self->queue_id,
				 self->recipient, self->detail,	 self->level};
	g_autofree gchar *folded = NULL;

	if (needle == NULL || needle[0] == '\0')
		return TRUE;
	folded = g_utf8_casefold(needle, -1);
	for (guint i = 0; i < G_N_ELEMENTS(fields); i++) {
		g_autofree gchar *hay = g_utf8_casefold(fields[i], -1);
		if (strstr(hay, folded) != NULL)
			return TRUE;
	}
	return FALSE;
}

static void
sma_event_finalize(GObject *object)
{
	SmaEvent *self = SMA_EVENT(object);

	g_free(self->level);
	g_free(self->kind);
	g_free(self->message);
	g_free(self->queue_id);
	g_free(self->recipient);
	g_free(self->detail);
	G_OBJECT_CLASS(sma_event_parent_class)->finalize(object);
}

static void
sma_event_class_init(SmaEventClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = sma_event_finalize;
}

static void
sma_event_init(SmaEvent *self)
{
}
