/*
 * SecuMailer — sending an SMS.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-sms"

#include "config.h"

#include <glib/gi18n.h>

#include "smd-error.h"
#include "smd-sms-file.h"
#include "smd-sms-http.h"
#include "smd-sms-provider.h"

G_DEFINE_ABSTRACT_TYPE(SmdSmsProvider, smd_sms_provider, G_TYPE_OBJECT)

static void
smd_sms_provider_class_init(SmdSmsProviderClass *klass)
{
}

static void
smd_sms_provider_init(SmdSmsProvider *self)
{
}

gchar *
smd_json_escape(const gchar *text)
{
	GString *out = g_string_new(NULL);
	for (const guchar *p = (const guchar *)text; *p != '\0'; p++) {
		switch (*p) {
		case '"':
			g_string_append(out, "\\\"");
			break;
		case '\\':
			g_string_append(out, "\\\\");
			break;
		case '\n':
			g_string_append(out, "\\n");
			break;
		case '\r':
			g_string_append(out, "\\r");
			break;
		case '\t':
			g_string_append(out, "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				g_string_append_printf(out, "\\u%04x", *p);
			else
				g_string_append_c(out, (gchar)*p);
		}
	}
	return g_string_free(out, FALSE);
}

gboolean
smd_sms_provider_send(SmdSmsProvider *self, const gchar *to, const gchar *text,
		      GCancellable *cancellable, GError **error)
{
	SmdSmsProviderClass *klass = SMD_SMS_PROVIDER_GET_CLASS(self);
	g_return_val_if_fail(klass->send != NULL, FALSE);
	return klass->send(self, to, text, cancellable, error);
}

typedef struct {
	gchar *to;
	gchar *text;
} SmdSmsMessage;

static void
smd_sms_message_free(SmdSmsMessage *msg)
{
	g_free(msg->to);
	g_free(msg->text);
	g_free(msg);
}

static void
smd_sms_provider_send_thread(GTask *task, gpointer source_object, gpointer task_data,
			     GCancellable *cancellable)
{
	SmdSmsMessage *msg = task_data;
	GError *error = NULL;
	if (!smd_sms_provider_send(SMD_SMS_PROVIDER(source_object), msg->to, msg->text, cancellable,
				   &error))
		g_task_return_error(task, error);
	else
		g_task_return_boolean(task, TRUE);
}

void
smd_sms_provider_send_async(SmdSmsProvider *self, const gchar *to, const gchar *text,
			    GCancellable *cancellable, GAsyncReadyCallback callback,
			    gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(self, cancellable, callback, user_data);
	SmdSmsMessage *msg = g_new0(SmdSmsMessage, 1);
	msg->to = g_strdup(to);
	msg->text = g_strdup(text);
	g_task_set_task_data(task, msg, (GDestroyNotify)smd_sms_message_free);
	g_task_set_source_tag(task, smd_sms_provider_send_async);
	g_task_run_in_thread(task, smd_sms_provider_send_thread);
}

gboolean
smd_sms_provider_send_finish(SmdSmsProvider *self, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, self), FALSE);
	return g_task_propagate_boolean(G_TASK(result), error);
}

SmdSmsProvider *
smd_sms_provider_new_from_config(const SmdConfig *config, GError **error)
{
	if (g_strcmp0(config->sms_provider, "file") == 0)
		return smd_sms_file_new(config->sms_path, error);
	return smd_sms_http_new(config, error);
}
