/*
 * SecuMailer — the versioned AEAD envelope (AES-256-GCM via OpenSSL EVP).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-vault"

#include "config.h"

#include <glib/gi18n.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>

#include "smd-common.h"
#include "smd-envelope.h"
#include "smd-error.h"

GBytes *
smd_envelope_seal(const guint8 *key, const gchar *aad, const guint8 *plaintext, gsize len,
		  GError **error)
{
	g_autoptr(EVP_CIPHER_CTX) ctx = EVP_CIPHER_CTX_new();
	guint8 *out;
	gsize out_len = len + SMD_ENVELOPE_OVERHEAD;
	g_autofree guint8 *buf = NULL;
	int n = 0;
	int final_len = 0;

	if (ctx == NULL || len > G_MAXINT - SMD_ENVELOPE_OVERHEAD) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO, _("Cannot encrypt: out of memory"));
		return NULL;
	}
	buf = g_malloc(out_len);
	buf[0] = SMD_ENVELOPE_VERSION_1;
	out = buf + 1 + SMD_ENVELOPE_IV_SIZE;
	if (RAND_bytes(buf + 1, SMD_ENVELOPE_IV_SIZE) != 1 ||
	    EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SMD_ENVELOPE_IV_SIZE, NULL) != 1 ||
	    EVP_EncryptInit_ex(ctx, NULL, NULL, key, buf + 1) != 1 ||
	    /* the version byte is authenticated too */
	    EVP_EncryptUpdate(ctx, NULL, &n, buf, 1) != 1 ||
	    EVP_EncryptUpdate(ctx, NULL, &n, (const guint8 *)aad, (int)strlen(aad)) != 1 ||
	    EVP_EncryptUpdate(ctx, out, &n, plaintext, (int)len) != 1 ||
	    EVP_EncryptFinal_ex(ctx, out + n, &final_len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SMD_ENVELOPE_TAG_SIZE, out + len) != 1) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO, _("Encryption failed"));
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&buf), out_len);
}

GBytes *
smd_envelope_open(const guint8 *key, const gchar *aad, const guint8 *envelope, gsize len,
		  GError **error)
{
	g_autoptr(EVP_CIPHER_CTX) ctx = NULL;
	const guint8 *iv;
	const guint8 *ct;
	gsize ct_len;
	g_autofree guint8 *out = NULL;
	guint8 tag[SMD_ENVELOPE_TAG_SIZE];
	int n = 0;
	int final_len = 0;

	if (len < SMD_ENVELOPE_OVERHEAD || len > G_MAXINT) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO, _("Stored data is truncated"));
		return NULL;
	}
	if (envelope[0] != SMD_ENVELOPE_VERSION_1) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO,
			    _("Stored data has unknown format version %u"), envelope[0]);
		return NULL;
	}
	iv = envelope + 1;
	ct = iv + SMD_ENVELOPE_IV_SIZE;
	ct_len = len - SMD_ENVELOPE_OVERHEAD;
	memcpy(tag, ct + ct_len, sizeof(tag));
	out = g_malloc(ct_len + 1);
	ctx = EVP_CIPHER_CTX_new();
	if (ctx == NULL || EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SMD_ENVELOPE_IV_SIZE, NULL) != 1 ||
	    EVP_DecryptInit_ex(ctx, NULL, NULL, key, iv) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, envelope, 1) != 1 ||
	    EVP_DecryptUpdate(ctx, NULL, &n, (const guint8 *)aad, (int)strlen(aad)) != 1 ||
	    EVP_DecryptUpdate(ctx, out, &n, ct, (int)ct_len) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, sizeof(tag), tag) != 1 ||
	    EVP_DecryptFinal_ex(ctx, out + n, &final_len) != 1) {
		OPENSSL_cleanse(out, ct_len);
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO,
			    _("Stored data failed its integrity check"));
		return NULL;
	}
	return g_bytes_new_take(g_steal_pointer(&out), ct_len);
}
