/*
 * SecuMailer — delivery status notifications (RFC 3464 multipart/report)
 * built with GMime, sent from the null path so a bounce never bounces.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "smd-config.h"
#include "smd-queue-types.h"

G_BEGIN_DECLS

/* @job holds the failed recipients with their reply and relay; @original
 * is the stored message, whose header section is attached. Returns the
 * DSN with CRLF line ends. */
GBytes *smd_dsn_build(const SmdConfig *config, const SmdJob *job, GBytes *original, GError **error);

/* "5.1.1" from "550 5.1.1 No such user", else a class default. */
gchar *smd_dsn_status_from_reply(const gchar *reply);

G_END_DECLS
