/*
 * SecuMailer — the versioned AEAD envelope used for everything stored
 * encrypted: version byte, random IV, ciphertext, GCM tag.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SMD_ENVELOPE_VERSION_1 0x01
#define SMD_ENVELOPE_KEY_SIZE 32 /* AES-256 */
#define SMD_ENVELOPE_IV_SIZE 12
#define SMD_ENVELOPE_TAG_SIZE 16
#define SMD_ENVELOPE_OVERHEAD (1 + SMD_ENVELOPE_IV_SIZE + SMD_ENVELOPE_TAG_SIZE)

/* @aad binds the envelope to its context (the queue id), so a body
 * cannot be swapped for another message's. */
GBytes *smd_envelope_seal(const guint8 *key, const gchar *aad, const guint8 *plaintext, gsize len,
			  GError **error);
GBytes *smd_envelope_open(const guint8 *key, const gchar *aad, const guint8 *envelope, gsize len,
			  GError **error);

G_END_DECLS
