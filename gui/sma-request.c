/*
 * SecuMailer admin — a pending registration request.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-request"

#include "config.h"

#include "sma-request.h"

struct _SmaRequest {
	GObject parent_instance;

	gchar *recipient;
	gchar **senders;
	gint64 since;
	guint count;
};

G_DEFINE_TYPE(SmaRequest, sma_request, G_TYPE_OBJECT)

SmaRequest *
sma_request_new(GVariant *row)
{
	SmaRequest *self = g_object_new(SMA_TYPE_REQUEST, NULL);

	g_variant_get(row, "(s^asxu)", &self->recipient, &self->senders, &self->since,
		      &self->count);
	return self;
}

const gchar *
sma_request_get_recipient(SmaRequest *self)
{
	return self->recipient;
}

gchar *
sma_request_dup_senders_text(SmaRequest *self)
{
	return g_strjoinv(", ", self->senders);
}

gint64
sma_request_get_since(SmaRequest *self)
{
	return self->since;
}

guint
sma_request_get_count(SmaRequest *self)
{
	return self->count;
}

static void
sma_request_finalize(GObject *object)
{
	SmaRequest *self = SMA_REQUEST(object);

	g_free(self->recipient);
	g_strfreev(self->senders);
	G_OBJECT_CLASS(sma_request_parent_class)->finalize(object);
}

static void
sma_request_class_init(SmaRequestClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = sma_request_finalize;
}

static void
sma_request_init(SmaRequest *self)
{
}
