/*
 * SecuMailer — the portal's e-mails: the invitation to a recipient and
 * the request to a sender for the recipient's mobile number. Plain,
 * multipart text + HTML built with GMime, one link, no message content.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

#include "smd-config.h"
#include "smd-portal-store.h"

G_BEGIN_DECLS

/* The link a notice carries: [portal] public-url + /m/ or /r/ + token. */
gchar *smd_notify_link(const SmdConfig *config, const SmdNotice *notice);

/* The address notifications come from ([organisation] notify-from). */
gchar *smd_notify_from(const SmdConfig *config);

/* The e-mail for @notice, CRLF line ends. */
GBytes *smd_notify_build(const SmdConfig *config, const SmdNotice *notice, GError **error);

G_END_DECLS
