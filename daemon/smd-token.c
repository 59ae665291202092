/*
 * SecuMailer — link tokens and pins.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-portal"

#include "config.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <string.h>

#include "smd-common.h"
#include "smd-token.h"

static const gchar smd_base64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

gchar *
smd_token_new(void)
{
	guint8 raw[SMD_TOKEN_LENGTH];
	gchar *token = g_new(gchar, SMD_TOKEN_LENGTH + 1);

	/* 6 bits from each byte: 32 × 6 = 192 bits */
	if (RAND_bytes(raw, sizeof(raw)) != 1)
		g_error("the system random number generator failed");
	for (guint i = 0; i < SMD_TOKEN_LENGTH; i++)
		token[i] = smd_base64url[raw[i] & 0x3f];
	token[SMD_TOKEN_LENGTH] = '\0';
	OPENSSL_cleanse(raw, sizeof(raw));
	return token;
}

gchar *
smd_token_hash(const gchar *token)
{
	return smd_sha256_hex((const guint8 *)token, strlen(token));
}

gboolean
smd_token_is_well_formed(const gchar *text)
{
	if (text == NULL || strlen(text) != SMD_TOKEN_LENGTH)
		return FALSE;
	for (const gchar *p = text; *p != '\0'; p++) {
		if (strchr(smd_base64url, *p) == NULL)
			return FALSE;
	}
	return TRUE;
}

gchar *
smd_pin_new(void)
{
	guint32 value;

	/* rejection sampling: no modulo bias */
	do {
		if (RAND_bytes((guint8 *)&value, sizeof(value)) != 1)
			g_error("the system random number generator failed");
	} while (value >= G_MAXUINT32 - (G_MAXUINT32 % 1000000u));
	return g_strdup_printf("%06u", value % 1000000u);
}

gboolean
smd_pin_is_well_formed(const gchar *text)
{
	if (text == NULL || strlen(text) != SMD_PIN_LENGTH)
		return FALSE;
	for (const gchar *p = text; *p != '\0'; p++) {
		if (!g_ascii_isdigit(*p))
			return FALSE;
	}
	return TRUE;
}

gboolean
smd_secure_equal(const gchar *a, const gchar *b)
{
	gsize len = strlen(a);
	if (len != strlen(b))
		return FALSE;
	return CRYPTO_memcmp(a, b, len) == 0;
}
