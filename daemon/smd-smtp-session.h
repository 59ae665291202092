/*
 * SecuMailer — one inbound SMTP connection: an explicit state machine
 * with one check per verb, 503 for commands out of sequence, and hard
 * limits on every read.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "smd-engine.h"

G_BEGIN_DECLS

#define SMD_TYPE_SMTP_SESSION (smd_smtp_session_get_type())
G_DECLARE_FINAL_TYPE(SmdSmtpSession, smd_smtp_session, SMD, SMTP_SESSION, GObject)

/* @tls_certificate may be NULL (no STARTTLS offered). The session keeps
 * itself alive until the connection is closed, then emits "closed". */
SmdSmtpSession *smd_smtp_session_new(SmdEngine *engine, GSocketConnection *connection,
				     GTlsCertificate *tls_certificate, gboolean relay_client);
void smd_smtp_session_start(SmdSmtpSession *self);
/* Refuses the connection politely (too many sessions) and closes. */
void smd_smtp_session_refuse(SmdSmtpSession *self, const gchar *reply);

G_END_DECLS
