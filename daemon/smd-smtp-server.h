/*
 * SecuMailer — the SMTP intake listener: accepts connections on
 * [smtp] listen, decides who may relay, hands each to a session.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "smd-engine.h"

G_BEGIN_DECLS

#define SMD_TYPE_SMTP_SERVER (smd_smtp_server_get_type())
G_DECLARE_FINAL_TYPE(SmdSmtpServer, smd_smtp_server, SMD, SMTP_SERVER, GObject)

SmdSmtpServer *smd_smtp_server_new(SmdEngine *engine, GError **error);
void smd_smtp_server_stop(SmdSmtpServer *self);

/* Whether @address is inside [smtp] relay-networks. */
gboolean smd_smtp_server_is_relay_client(GPtrArray *relay_networks, GInetAddress *address);

G_END_DECLS
