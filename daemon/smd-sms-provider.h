/*
 * SecuMailer — sending an SMS: the seam between the portal and the
 * providers (a file for development, HTTP APIs through libcurl). Sending
 * runs in a worker thread so a slow provider never stalls the main loop.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "smd-config.h"

G_BEGIN_DECLS

#define SMD_TYPE_SMS_PROVIDER (smd_sms_provider_get_type())
G_DECLARE_DERIVABLE_TYPE(SmdSmsProvider, smd_sms_provider, SMD, SMS_PROVIDER, GObject)

struct _SmdSmsProviderClass {
	GObjectClass parent_class;
	/* Runs in a worker thread; must be thread-safe. */
	gboolean (*send)(SmdSmsProvider *self, const gchar *to, const gchar *text,
			 GCancellable *cancellable, GError **error);
};

/* The provider [sms] provider names, configured from [sms]. */
SmdSmsProvider *smd_sms_provider_new_from_config(const SmdConfig *config, GError **error);

void smd_sms_provider_send_async(SmdSmsProvider *self, const gchar *to, const gchar *text,
				 GCancellable *cancellable, GAsyncReadyCallback callback,
				 gpointer user_data);
gboolean smd_sms_provider_send_finish(SmdSmsProvider *self, GAsyncResult *result, GError **error);
/* Blocking; for tools and tests. */
gboolean smd_sms_provider_send(SmdSmsProvider *self, const gchar *to, const gchar *text,
			       GCancellable *cancellable, GError **error);

/* @text as the inside of a JSON string (RFC 8259 §7). */
gchar *smd_json_escape(const gchar *text);

G_END_DECLS
