/*
 * SecuMailer — secrets handed to people: link tokens (192 random bits,
 * stored only as their SHA-256) and one-time pins (6 digits from the
 * CSPRNG, stored only as a keyed MAC, see smd_vault_mac()).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SMD_TOKEN_LENGTH 32 /* base64url characters */
#define SMD_PIN_LENGTH 6

/* A new link token, URL-safe. */
gchar *smd_token_new(void);
/* What the store keeps of a token. */
gchar *smd_token_hash(const gchar *token);
/* Whether @text has the form of a token (length and alphabet only: it
 * says nothing about whether such a token exists). */
gboolean smd_token_is_well_formed(const gchar *text);

/* A new pin: SMD_PIN_LENGTH decimal digits, uniformly distributed. */
gchar *smd_pin_new(void);
gboolean smd_pin_is_well_formed(const gchar *text);

/* Constant-time comparison of two strings of the same length. */
gboolean smd_secure_equal(const gchar *a, const gchar *b);

G_END_DECLS
