/*
 * SecuMailer — the outbound SMTP client on GIO: one attempt at one next
 * hop. Not one byte of the message (not even MAIL FROM) is sent before
 * STARTTLS succeeded and the TLS policy holds.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "smd-config.h"
#include "smd-queue-types.h"

G_BEGIN_DECLS

typedef enum {
	SMD_HOP_DONE,	     /* every recipient has an outcome from this hop */
	SMD_HOP_TRY_NEXT,    /* temporary failure after the greeting, before MAIL */
	SMD_HOP_NO_TLS,	     /* no STARTTLS, refused, handshake or policy failed */
	SMD_HOP_UNREACHABLE, /* no greeting: cannot connect, no answer, or refused */
} SmdHopResult;

/* @recipients (SmdRecipient) receive their outcome, reply, relay and TLS
 * details when the result is SMD_HOP_DONE. @server_name is the name
 * the certificate must match under tls-policy=verify. Without
 * @require_tls (notifications only) a server without STARTTLS gets the
 * message in plaintext. */
void smd_smtp_client_deliver_async(const SmdConfig *config, const gchar *host, guint16 port,
				   const gchar *server_name, const gchar *sender,
				   GPtrArray *recipients, GBytes *message, gboolean require_tls,
				   GCancellable *cancellable, GAsyncReadyCallback callback,
				   gpointer user_data);
/* Ends the sessions kept open for reuse (at shutdown). */
void smd_smtp_client_close_idle(void);

/* Returns the result; @reason says why when it is not DONE. */
SmdHopResult smd_smtp_client_deliver_finish(GAsyncResult *result, gchar **reason);

/* The DATA stream for @message: dot-stuffed, CRLF only, with the
 * terminating ".\r\n". Bare CR or LF are turned into CRLF so our
 * outbound stream never carries one. */
GBytes *smd_smtp_dot_stuff(GBytes *message);

G_END_DECLS
