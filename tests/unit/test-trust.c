/*
 * SecuMailer — unit tests: the trust store a configuration loads, and
 * that a changed file is read again.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>

#include "smd-error.h"
#include "smd-tls-verify.h"

/* a self-signed CA certificate for DNS:@name, written to @path */
static void
make_ca(const gchar *dir, const gchar *name, const gchar *path)
{
	g_autofree gchar *key = g_build_filename(dir, "key.pem", NULL);
	g_autofree gchar *subject = g_strdup_printf("/CN=%s", name);
	g_autofree gchar *san = g_strdup_printf("subjectAltName=DNS:%s", name);
	const gchar *argv[] = {
	    "openssl", "req",	"-x509", "-newkey", "ec",    "-pkeyopt", "ec_paramgen_curve:P-256",
	    "-nodes",  "-days", "1",	 "-subj",   subject, "-addext",	 san,
	    "-keyout", key,	"-out",	 path,	    NULL};
	gint status = -1;
	g_autoptr(GError) error = NULL;

	g_assert_true(g_spawn_sync(NULL, (gchar **)argv, NULL,
				   G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL |
				       G_SPAWN_STDERR_TO_DEV_NULL,
				   NULL, NULL, NULL, NULL, &status, &error));
	g_assert_no_error(error);
	g_assert_cmpint(status, ==, 0);
}

static gboolean
verifies(SmdTrust *trust, const gchar *cert_path, const gchar *host)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GTlsCertificate) cert = g_tls_certificate_new_from_file(cert_path, &error);
	g_assert_no_error(error);
	return smd_tls_verify_peer(trust, cert, host, NULL);
}

static void
test_file(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("smd-trust-XXXXXX", NULL);
	g_autofree gchar *a = g_build_filename(dir, "a.pem", NULL);
	g_autofree gchar *b = g_build_filename(dir, "b.pem", NULL);
	g_autofree gchar *ca_file = g_build_filename(dir, "trusted.pem", NULL);
	g_autofree gchar *key = g_build_filename(dir, "key.pem", NULL);
	g_autofree gchar *pem = NULL;
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdTrust) first = NULL;
	g_autoptr(SmdTrust) again = NULL;
	g_autoptr(SmdTrust) changed = NULL;

	make_ca(dir, "a.test", a);
	make_ca(dir, "b.test", b);
	g_assert_true(g_file_get_contents(a, &pem, NULL, NULL));
	g_assert_true(g_file_set_contents(ca_file, pem, -1, NULL));

	first = smd_trust_load(ca_file, &error);
	g_assert_no_error(error);
	g_assert_true(verifies(first, a, "a.test"));
	g_assert_false(verifies(first, a, "other.test"));
	g_assert_false(verifies(first, b, "b.test"));
	/* unchanged: the same store, not read again */
	again = smd_trust_load(ca_file, &error);
	g_assert_no_error(error);
	g_assert_true(again == first);

	/* rewritten in place, the same size, within the same clock tick as
	 * like as not: a new store with the new CA; the old one still
	 * answers for whoever holds it */
	g_clear_pointer(&pem, g_free);
	g_assert_true(g_file_get_contents(b, &pem, NULL, NULL));
	g_assert_true(
	    g_file_set_contents_full(ca_file, pem, -1, G_FILE_SET_CONTENTS_NONE, 0644, NULL));
	changed = smd_trust_load(ca_file, &error);
	g_assert_no_error(error);
	g_assert_true(changed != first);
	g_assert_cmpuint(smd_trust_serial(changed), !=, smd_trust_serial(first));
	g_assert_true(verifies(changed, b, "b.test"));
	g_assert_false(verifies(changed, a, "a.test"));
	g_assert_true(verifies(first, a, "a.test"));

	g_assert_true(g_file_set_contents(ca_file, "no certificate here\n", -1, NULL));
	g_assert_null(smd_trust_load(ca_file, &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);
	g_clear_error(&error);
	g_assert_null(smd_trust_load("/nonexistent/ca.pem", &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CRYPTO);

	g_clear_error(&error);
	g_assert_false(smd_tls_verify_peer(NULL, NULL, "a.test", &error) || error == NULL);
	g_unlink(a);
	g_unlink(b);
	g_unlink(ca_file);
	g_unlink(key);
	g_rmdir(dir);
}

static void
test_system(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdTrust) first = smd_trust_load(NULL, &error);
	g_autoptr(SmdTrust) again = NULL;

	g_assert_no_error(error);
	g_assert_nonnull(first);
	again = smd_trust_load(NULL, &error);
	g_assert_no_error(error);
	g_assert_true(again == first);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/trust/file", test_file);
	g_test_add_func("/secumailer/trust/system", test_system);
	return g_test_run();
}
