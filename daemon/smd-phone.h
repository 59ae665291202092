/*
 * SecuMailer — phone numbers: validation and normalisation to E.164 for
 * the SMS pin code, and masking for display. Pure functions.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* "06 12345678" with @default_country "NL", "0031 6-1234 5678" or
 * "+31612345678" all give "+31612345678". @default_country is an ISO
 * 3166 code used for national numbers (with a trunk prefix 0); NULL
 * allows international numbers only. The error message is fit to show
 * to the person who typed the number once translated: it is the English
 * msgid, for the portal to show in the visitor's language and the admin
 * API in the daemon's. */
gchar *smd_phone_normalise(const gchar *input, const gchar *default_country, GError **error);

/* Whether @country is a code smd_phone_normalise() knows. */
gboolean smd_phone_country_known(const gchar *country);

/* "+31612345678" → "+31 6••••••78": enough to recognise, not to use. */
gchar *smd_phone_mask(const gchar *e164);

G_END_DECLS
