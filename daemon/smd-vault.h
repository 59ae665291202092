/*
 * SecuMailer — the vault's keys: a master key file (0600, created on
 * first start) from which a key-wrapping key is derived with HKDF, and
 * a fresh data key per message, stored only wrapped.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/* in the store's directory */
#define SMD_MASTER_KEY_FILE "master.key"

#define SMD_TYPE_VAULT (smd_vault_get_type())
G_DECLARE_FINAL_TYPE(SmdVault, smd_vault, SMD, VAULT, GObject)

/* @allow_create: whether a missing master key may be created (FALSE once
 * the store holds messages: a new key could never open them). */
SmdVault *smd_vault_new(const gchar *directory, gboolean allow_create, GError **error);

/* Encrypts a message body under a new data key; returns the envelope
 * and, in @wrapped_key, that key wrapped by the master key. */
GBytes *smd_vault_seal(SmdVault *self, const gchar *queue_id, GBytes *plaintext,
		       GBytes **wrapped_key, GError **error);
GBytes *smd_vault_open(SmdVault *self, const gchar *queue_id, GBytes *wrapped_key, GBytes *envelope,
		       GError **error);

/* HMAC-SHA256 of @data under a key derived from the master key for
 * @purpose, as hex: for secrets too weak to store as a plain hash (pins),
 * so a stolen database alone does not reveal them. */
GBytes *smd_vault_seal_meta(SmdVault *self, const gchar *purpose, const gchar *queue_id,
			    const gchar *text, GError **error);
gchar *smd_vault_open_meta(SmdVault *self, const gchar *purpose, const gchar *queue_id,
			   const guint8 *sealed, gsize len, GError **error);

gchar *smd_vault_mac(SmdVault *self, const gchar *purpose, const gchar *data);

G_END_DECLS
