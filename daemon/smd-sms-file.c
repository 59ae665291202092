/*
 * SecuMailer — the development SMS provider.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-sms"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gi18n.h>
#include <string.h>
#include <unistd.h>

#include "smd-error.h"
#include "smd-sms-file.h"

struct _SmdSmsFile {
	SmdSmsProvider parent_instance;
	gchar *path;
	GMutex lock; /* one line at a time, whole */
};

G_DEFINE_TYPE(SmdSmsFile, smd_sms_file, SMD_TYPE_SMS_PROVIDER)

static gboolean
smd_sms_file_send(SmdSmsProvider *provider, const gchar *to, const gchar *text,
		  GCancellable *cancellable, GError **error)
{
	SmdSmsFile *self = SMD_SMS_FILE(provider);
	g_autofree gchar *to_json = smd_json_escape(to);
	g_autofree gchar *text_json = smd_json_escape(text);
	g_autofree gchar *line =
	    g_strdup_printf("{\"to\": \"%s\", \"text\": \"%s\"}\n", to_json, text_json);
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&self->lock);
	gsize len = strlen(line);
	ssize_t n;
	int fd = open(self->path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);

	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    _("Cannot open SMS file %s: %s"), self->path, g_strerror(errno));
		return FALSE;
	}
	n = write(fd, line, len);
	if (n != (ssize_t)len) {
		int saved = n < 0 ? errno : EIO;
		close(fd);
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
			    _("Cannot write SMS file %s: %s"), self->path, g_strerror(saved));
		return FALSE;
	}
	close(fd);
	return TRUE;
}

SmdSmsProvider *
smd_sms_file_new(const gchar *path, GError **error)
{
	SmdSmsFile *self;
	if (path == NULL) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
			    _("[sms] path: required for provider “file”"));
		return NULL;
	}
	self = g_object_new(SMD_TYPE_SMS_FILE, NULL);
	self->path = g_strdup(path);
	return SMD_SMS_PROVIDER(self);
}

static void
smd_sms_file_finalize(GObject *object)
{
	SmdSmsFile *self = SMD_SMS_FILE(object);
	g_free(self->path);
	g_mutex_clear(&self->lock);
	G_OBJECT_CLASS(smd_sms_file_parent_class)->finalize(object);
}

static void
smd_sms_file_class_init(SmdSmsFileClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = smd_sms_file_finalize;
	SMD_SMS_PROVIDER_CLASS(klass)->send = smd_sms_file_send;
}

static void
smd_sms_file_init(SmdSmsFile *self)
{
	g_mutex_init(&self->lock);
}
