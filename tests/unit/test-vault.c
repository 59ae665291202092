/*
 * SecuMailer — unit tests: the AEAD envelope and the vault's keys.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>
#include <sys/stat.h>

#include "smd-envelope.h"
#include "smd-error.h"
#include "smd-vault.h"

static void
test_envelope_roundtrip(void)
{
	guint8 key[SMD_ENVELOPE_KEY_SIZE];
	const gchar *text = "Subject: secret\r\n\r\nbody\r\n";
	g_autoptr(GBytes) env = NULL;
	g_autoptr(GBytes) again = NULL;
	g_autoptr(GBytes) plain = NULL;
	gsize len = 0;
	const guint8 *data;

	memset(key, 7, sizeof(key));
	env = smd_envelope_seal(key, "queue-id-1", (const guint8 *)text, strlen(text), NULL);
	data = g_bytes_get_data(env, &len);
	g_assert_cmpuint(len, ==, strlen(text) + SMD_ENVELOPE_OVERHEAD);
	g_assert_cmpuint(data[0], ==, SMD_ENVELOPE_VERSION_1);
	/* the plaintext does not appear in the envelope */
	g_assert_null(g_strstr_len((const gchar *)data, (gssize)len, "secret"));
	/* a fresh IV each time */
	again = smd_envelope_seal(key, "queue-id-1", (const guint8 *)text, strlen(text), NULL);
	g_assert_false(g_bytes_equal(env, again));

	plain = smd_envelope_open(key, "queue-id-1", data, len, NULL);
	g_assert_nonnull(plain);
	g_assert_cmpmem(g_bytes_get_data(plain, NULL), g_bytes_get_size(plain), text, strlen(text));
}

static void
test_envelope_tampered(void)
{
	guint8 key[SMD_ENVELOPE_KEY_SIZE];
	g_autoptr(GBytes) env = NULL;
	g_autofree guint8 *copy = NULL;
	gsize len = 0;

	memset(key, 9, sizeof(key));
	env = smd_envelope_seal(key, "q", (const guint8 *)"hello", 5, NULL);
	g_bytes_get_data(env, &len);
	copy = g_memdup2(g_bytes_get_data(env, NULL), len);

	/* every single flipped bit is caught */
	for (gsize i = 0; i < len * 8; i++) {
		g_autoptr(GError) error = NULL;
		g_autoptr(GBytes) out = NULL;
		copy[i / 8] ^= (guint8)(1u << (i % 8));
		out = smd_envelope_open(key, "q", copy, len, &error);
		g_assert_null(out);
		g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);
		copy[i / 8] ^= (guint8)(1u << (i % 8));
	}
	/* every truncation is caught */
	for (gsize n = 0; n < len; n++) {
		g_autoptr(GError) error = NULL;
		g_assert_null(smd_envelope_open(key, "q", copy, n, &error));
		g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);
	}
	/* bound to its context: another queue id does not open it */
	{
		g_autoptr(GError) error = NULL;
		g_assert_null(smd_envelope_open(key, "other", copy, len, &error));
		g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);
	}
}

static void
test_vault_keys(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("smd-vault-XXXXXX", NULL);
	g_autofree gchar *keyfile = g_build_filename(dir, "master.key", NULL);
	g_autoptr(SmdVault) vault = NULL;
	g_autoptr(SmdVault) reopened = NULL;
	g_autoptr(GBytes) plain = g_bytes_new_static("message body", 12);
	g_autoptr(GBytes) wrapped = NULL;
	g_autoptr(GBytes) env = NULL;
	g_autoptr(GBytes) out = NULL;
	g_autoptr(GError) error = NULL;
	GStatBuf st;

	vault = smd_vault_new(dir, TRUE, &error);
	g_assert_no_error(error);
	g_assert_cmpint(g_stat(keyfile, &st), ==, 0);
	g_assert_cmpuint(st.st_mode & 0777, ==, 0600);
	g_assert_cmpuint(st.st_size, ==, SMD_ENVELOPE_KEY_SIZE);

	env = smd_vault_seal(vault, "qid", plain, &wrapped, &error);
	g_assert_no_error(error);
	/* a restart reads the same master key */
	reopened = smd_vault_new(dir, TRUE, &error);
	g_assert_no_error(error);
	out = smd_vault_open(reopened, "qid", wrapped, env, &error);
	g_assert_no_error(error);
	g_assert_true(g_bytes_equal(out, plain));
	g_clear_pointer(&out, g_bytes_unref);
	out = smd_vault_open(reopened, "other", wrapped, env, &error);
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);
	g_clear_error(&error);

	/* a master key others can read is refused */
	g_assert_cmpint(g_chmod(keyfile, 0644), ==, 0);
	g_clear_object(&reopened);
	reopened = smd_vault_new(dir, TRUE, &error);
	g_assert_null(reopened);
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);
	g_clear_error(&error);

	/* a truncated master key is refused */
	g_assert_true(g_file_set_contents(keyfile, "short", 5, NULL));
	g_assert_cmpint(g_chmod(keyfile, 0600), ==, 0);
	reopened = smd_vault_new(dir, TRUE, &error);
	g_assert_null(reopened);
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);

	/* a missing key is not silently replaced when told not to */
	g_clear_error(&error);
	g_unlink(keyfile);
	reopened = smd_vault_new(dir, FALSE, &error);
	g_assert_null(reopened);
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);
	g_assert_false(g_file_test(keyfile, G_FILE_TEST_EXISTS));

	g_rmdir(dir);
}

/* Metadata sealed under its own key, bound to purpose and message. */
static void
test_vault_meta(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("smd-vault-XXXXXX", NULL);
	g_autofree gchar *keyfile = g_build_filename(dir, "master.key", NULL);
	g_autoptr(SmdVault) vault = smd_vault_new(dir, TRUE, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) sealed = smd_vault_seal_meta(vault, "subject", "q1", "Uitslag", &error);
	g_autofree guint8 *copy = NULL;
	g_autofree gchar *opened = NULL;
	gsize len = 0;
	const guint8 *data;

	g_assert_no_error(error);
	data = g_bytes_get_data(sealed, &len);
	g_assert_cmpuint(len, ==, SMD_ENVELOPE_OVERHEAD + 7);
	g_assert_cmpint(memcmp(data + 1 + SMD_ENVELOPE_IV_SIZE, "Uitslag", 7), !=, 0);
	opened = smd_vault_open_meta(vault, "subject", "q1", data, len, &error);
	g_assert_no_error(error);
	g_assert_cmpstr(opened, ==, "Uitslag");
	/* moved to another message, read for another purpose, or tampered */
	g_assert_null(smd_vault_open_meta(vault, "subject", "q2", data, len, &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);
	g_clear_error(&error);
	g_assert_null(smd_vault_open_meta(vault, "other", "q1", data, len, &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);
	g_clear_error(&error);
	copy = g_memdup2(data, len);
	copy[len - 1] ^= 1;
	g_assert_null(smd_vault_open_meta(vault, "subject", "q1", copy, len, &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);
	g_clear_error(&error);
	g_assert_null(smd_vault_open_meta(vault, "subject", "q1", data, 5, &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);
	g_unlink(keyfile);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/vault/envelope-roundtrip", test_envelope_roundtrip);
	g_test_add_func("/secumailer/vault/envelope-tampered", test_envelope_tampered);
	g_test_add_func("/secumailer/vault/keys", test_vault_keys);
	g_test_add_func("/secumailer/vault/metadata", test_vault_meta);
	return g_test_run();
}
