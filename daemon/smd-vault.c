/*
 * SecuMailer — the vault's keys.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-vault"

#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <string.h>
#include <unistd.h>

#include "smd-common.h"
#include "smd-envelope.h"
#include "smd-error.h"
#include "smd-vault.h"

struct _SmdVault {
	GObject parent_instance;
	guint8 kek[SMD_ENVELOPE_KEY_SIZE]; /* key-wrapping key */
	guint8 mac_key[SMD_ENVELOPE_KEY_SIZE];
	guint8 meta_key[SMD_ENVELOPE_KEY_SIZE]; /* metadata kept after the body */
};

G_DEFINE_TYPE(SmdVault, smd_vault, G_TYPE_OBJECT)

static void
smd_vault_finalize(GObject *object)
{
	SmdVault *self = SMD_VAULT(object);
	OPENSSL_cleanse(self->kek, sizeof(self->kek));
	OPENSSL_cleanse(self->mac_key, sizeof(self->mac_key));
	G_OBJECT_CLASS(smd_vault_parent_class)->finalize(object);
}

static void
smd_vault_class_init(SmdVaultClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = smd_vault_finalize;
}

static void
smd_vault_init(SmdVault *self)
{
}

/* Creates the master key with O_EXCL so two starts never race to two keys. */
static gboolean
smd_vault_create_master_key(const gchar *path, GError **error)
{
	guint8 key[SMD_ENVELOPE_KEY_SIZE];
	int fd;
	ssize_t written;

	if (RAND_bytes(key, sizeof(key)) != 1) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO, _("No random numbers available"));
		return FALSE;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		OPENSSL_cleanse(key, sizeof(key));
		if (errno == EEXIST)
			return TRUE;
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    _("Cannot create master key %s: %s"), path, g_strerror(errno));
		return FALSE;
	}
	written = write(fd, key, sizeof(key));
	OPENSSL_cleanse(key, sizeof(key));
	if (written != (ssize_t)sizeof(key) || fsync(fd) != 0) {
		int saved = errno;
		close(fd);
		g_unlink(path);
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
			    _("Cannot write master key %s: %s"), path, g_strerror(saved));
		return FALSE;
	}
	close(fd);
	/* the directory entry must be on disk too before anything is
	 * encrypted under this key */
	{
		g_autofree gchar *dir = g_path_get_dirname(path);
		int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 || fsync(dfd) != 0) {
			int saved = errno;
			if (dfd >= 0)
				close(dfd);
			g_set_error(error, G_IO_ERROR, g_io_error_from_errno(saved),
				    _("Cannot sync directory %s: %s"), dir, g_strerror(saved));
			return FALSE;
		}
		close(dfd);
	}
	g_info("created a new master key %s", path);
	return TRUE;
}

static gboolean
smd_vault_load_master_key(const gchar *path, guint8 *key, GError **error)
{
	struct stat st;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	guint8 buf[SMD_ENVELOPE_KEY_SIZE + 1]; /* one more to catch a longer file */
	ssize_t n;

	if (fd < 0) {
		g_set_error(error, G_IO_ERROR, g_io_error_from_errno(errno),
			    _("Cannot open master key %s: %s"), path, g_strerror(errno));
		return FALSE;
	}
	if (fstat(fd, &st) != 0 || (st.st_mode & 0077) != 0) {
		close(fd);
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO,
			    _("Master key %s must be readable by its owner only (mode 0600)"),
			    path);
		return FALSE;
	}
	n = read(fd, buf, sizeof(buf));
	close(fd);
	if (n == SMD_ENVELOPE_KEY_SIZE)
		memcpy(key, buf, SMD_ENVELOPE_KEY_SIZE);
	OPENSSL_cleanse(buf, sizeof(buf));
	if (n != SMD_ENVELOPE_KEY_SIZE) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO,
			    _("Master key %s is not %u bytes long"), path,
			    (guint)SMD_ENVELOPE_KEY_SIZE);
		return FALSE;
	}
	return TRUE;
}

/* HKDF-SHA256 so the master key itself never encrypts data directly and
 * later key purposes can be derived from it independently. */
static gboolean
smd_vault_derive(const guint8 *master, const gchar *info, guint8 *out, GError **error)
{
	g_autoptr(EVP_PKEY_CTX) pctx = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t out_len = SMD_ENVELOPE_KEY_SIZE;

	if (pctx == NULL || EVP_PKEY_derive_init(pctx) <= 0 ||
	    EVP_PKEY_CTX_set_hkdf_md(pctx, EVP_sha256()) <= 0 ||
	    EVP_PKEY_CTX_set1_hkdf_key(pctx, master, SMD_ENVELOPE_KEY_SIZE) <= 0 ||
	    EVP_PKEY_CTX_add1_hkdf_info(pctx, (const guint8 *)info, (int)strlen(info)) <= 0 ||
	    EVP_PKEY_derive(pctx, out, &out_len) <= 0 || out_len != SMD_ENVELOPE_KEY_SIZE) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO, _("Key derivation failed"));
		return FALSE;
	}
	return TRUE;
}

SmdVault *
smd_vault_new(const gchar *directory, gboolean allow_create, GError **error)
{
	g_autoptr(SmdVault) self = g_object_new(SMD_TYPE_VAULT, NULL);
	g_autofree gchar *path = g_build_filename(directory, SMD_MASTER_KEY_FILE, NULL);
	guint8 master[SMD_ENVELOPE_KEY_SIZE];
	gboolean ok;

	if (!g_file_test(path, G_FILE_TEST_EXISTS) && !allow_create) {
		/* a new key could never open what is stored: refuse, loudly */
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO,
			    _("Master key %s is missing but the store holds messages; restore "
			      "it from a backup (a new key cannot decrypt them)"),
			    path);
		return NULL;
	}
	if (!smd_vault_create_master_key(path, error))
		return NULL;
	if (!smd_vault_load_master_key(path, master, error))
		return NULL;
	ok = smd_vault_derive(master, "secumailer/key-wrap/v1", self->kek, error) &&
	     smd_vault_derive(master, "secumailer/mac/v1", self->mac_key, error) &&
	     smd_vault_derive(master, "secumailer/metadata/v1", self->meta_key, error);
	OPENSSL_cleanse(master, sizeof(master));
	if (!ok)
		return NULL;
	return g_steal_pointer(&self);
}

GBytes *
smd_vault_seal(SmdVault *self, const gchar *queue_id, GBytes *plaintext, GBytes **wrapped_key,
	       GError **error)
{
	guint8 key[SMD_ENVELOPE_KEY_SIZE];
	g_autoptr(GBytes) envelope = NULL;
	g_autoptr(GBytes) wrapped = NULL;
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(plaintext, &len);

	g_return_val_if_fail(SMD_IS_VAULT(self), NULL);

	if (RAND_bytes(key, sizeof(key)) != 1) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO, _("No random numbers available"));
		return NULL;
	}
	envelope = smd_envelope_seal(key, queue_id, data, len, error);
	if (envelope != NULL)
		wrapped = smd_envelope_seal(self->kek, queue_id, key, sizeof(key), error);
	OPENSSL_cleanse(key, sizeof(key));
	if (wrapped == NULL)
		return NULL;
	*wrapped_key = g_steal_pointer(&wrapped);
	return g_steal_pointer(&envelope);
}

GBytes *
smd_vault_open(SmdVault *self, const gchar *queue_id, GBytes *wrapped_key, GBytes *envelope,
	       GError **error)
{
	g_autoptr(GBytes) key = NULL;
	gsize len = 0;
	const guint8 *data;

	g_return_val_if_fail(SMD_IS_VAULT(self), NULL);

	data = g_bytes_get_data(wrapped_key, &len);
	key = smd_envelope_open(self->kek, queue_id, data, len, error);
	if (key == NULL)
		return NULL;
	if (g_bytes_get_size(key) != SMD_ENVELOPE_KEY_SIZE) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO, _("Wrapped key has a wrong size"));
		return NULL;
	}
	data = g_bytes_get_data(envelope, &len);
	return smd_envelope_open(g_bytes_get_data(key, NULL), queue_id, data, len, error);
}

gchar *
smd_vault_mac(SmdVault *self, const gchar *purpose, const gchar *data)
{
	guint8 out[EVP_MAX_MD_SIZE];
	unsigned int out_len = 0;
	g_autofree gchar *input = NULL;
	GString *hex = g_string_new(NULL);

	g_return_val_if_fail(SMD_IS_VAULT(self), NULL);
	/* the purpose is part of the input: a MAC for one use is useless
	 * for another */
	input = g_strdup_printf("%s\n%s", purpose, data);
	HMAC(EVP_sha256(), self->mac_key, sizeof(self->mac_key), (const guint8 *)input,
	     strlen(input), out, &out_len);
	for (guint i = 0; i < out_len; i++)
		g_string_append_printf(hex, "%02x", out[i]);
	return g_string_free(hex, FALSE);
}

/* Metadata (the subject) outlives the body, so it has its own key rather
 * than the per-message one that is destroyed with the body; @purpose and
 * @queue_id are bound as associated data so a value cannot be moved. */
GBytes *
smd_vault_seal_meta(SmdVault *self, const gchar *purpose, const gchar *queue_id, const gchar *text,
		    GError **error)
{
	g_autofree gchar *aad = g_strdup_printf("%s:%s", purpose, queue_id);

	g_return_val_if_fail(SMD_IS_VAULT(self), NULL);
	return smd_envelope_seal(self->meta_key, aad, (const guint8 *)text, strlen(text), error);
}

gchar *
smd_vault_open_meta(SmdVault *self, const gchar *purpose, const gchar *queue_id,
		    const guint8 *sealed, gsize len, GError **error)
{
	g_autofree gchar *aad = g_strdup_printf("%s:%s", purpose, queue_id);
	g_autoptr(GBytes) plain = NULL;
	gsize plain_len = 0;
	const gchar *data;

	g_return_val_if_fail(SMD_IS_VAULT(self), NULL);
	plain = smd_envelope_open(self->meta_key, aad, sealed, len, error);
	if (plain == NULL)
		return NULL;
	data = g_bytes_get_data(plain, &plain_len);
	return g_strndup(data, plain_len);
}
