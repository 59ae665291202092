/*
 * SecuMailer — verification of a TLS peer's certificate chain.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-delivery"

#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "smd-common.h"
#include "smd-error.h"
#include "smd-tls-verify.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE_CTX, X509_STORE_CTX_free)

static void
smd_x509_stack_free(STACK_OF(X509) * stack)
{
	sk_X509_pop_free(stack, X509_free);
}

/* a CA bundle larger than this is a mistake (the system's is ~200 KiB) */
#define SMD_TRUST_MAX_FILE (16 * 1024 * 1024)

struct _SmdTrust {
	gatomicrefcount ref_count;
	X509_STORE *store;
	guint serial;
	gchar *sha256; /* of the file it was read from, as it was then */
};

/* path ("" for the system store) → the SmdTrust last loaded from it */
static GHashTable *smd_trusts = NULL;
static GMutex smd_trusts_lock;
static guint smd_trust_serials = 0;

SmdTrust *
smd_trust_ref(SmdTrust *trust)
{
	g_atomic_ref_count_inc(&trust->ref_count);
	return trust;
}

void
smd_trust_unref(SmdTrust *trust)
{
	if (trust == NULL || !g_atomic_ref_count_dec(&trust->ref_count))
		return;
	X509_STORE_free(trust->store);
	g_free(trust->sha256);
	g_free(trust);
}

guint
smd_trust_serial(const SmdTrust *trust)
{
	return trust->serial;
}

/* What is in @path now, as a digest: a file rewritten in place within the
 * same clock tick and at the same size looks unchanged to stat(). An
 * absent file has a digest too (the system may have no bundle). */
static gchar *
smd_trust_digest(const gchar *path, GError **error)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	GStatBuf st;

	if (g_stat(path, &st) != 0)
		return g_strdup("absent");
	if (st.st_size > SMD_TRUST_MAX_FILE) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO,
			    _("Cannot load trusted CA certificates from %s: larger than %d MiB"),
			    path, SMD_TRUST_MAX_FILE / (1024 * 1024));
		return NULL;
	}
	if (!g_file_get_contents(path, &data, &len, error))
		return NULL;
	return smd_sha256_hex((const guint8 *)data, len);
}

SmdTrust *
smd_trust_load(const gchar *ca_file, GError **error)
{
	/* the system's bundle as OpenSSL finds it (Debian:
	 * /etc/ssl/certs/ca-certificates.crt, which update-ca-certificates
	 * rewrites, or $SSL_CERT_FILE); its hashed directory is read on
	 * demand, and a certificate taken out of it alone stays in a store
	 * that has looked it up until the bundle changes too */
	const gchar *env = g_getenv(X509_get_default_cert_file_env()); /* SSL_CERT_FILE */
	const gchar *path = ca_file != NULL		    ? ca_file
			    : env != NULL && env[0] != '\0' ? env
							    : X509_get_default_cert_file();
	const gchar *key = ca_file != NULL ? ca_file : "";
	g_autoptr(GMutexLocker) locker = g_mutex_locker_new(&smd_trusts_lock);
	g_autofree gchar *sha256 = smd_trust_digest(path, error);
	SmdTrust *trust;

	if (sha256 == NULL)
		return NULL;
	if (smd_trusts == NULL)
		smd_trusts = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						   (GDestroyNotify)smd_trust_unref);
	trust = g_hash_table_lookup(smd_trusts, key);
	if (trust != NULL && g_str_equal(trust->sha256, sha256))
		return smd_trust_ref(trust);

	/* the file may change again between the digest and the load: then
	 * the next load sees another digest and reads it once more */
	trust = g_new0(SmdTrust, 1);
	g_atomic_ref_count_init(&trust->ref_count);
	trust->sha256 = g_steal_pointer(&sha256);
	trust->store = X509_STORE_new();
	if (trust->store == NULL ||
	    (ca_file != NULL ? X509_STORE_load_file(trust->store, ca_file)
			     : X509_STORE_set_default_paths(trust->store)) != 1) {
		smd_trust_unref(trust);
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO,
			    _("Cannot load trusted CA certificates from %s"),
			    ca_file != NULL ? ca_file : _("the system store"));
		return NULL;
	}
	trust->serial = ++smd_trust_serials;
	g_hash_table_replace(smd_trusts, g_strdup(key), smd_trust_ref(trust));
	return trust;
}

static X509 *
smd_tls_to_x509(GTlsCertificate *cert)
{
	g_autoptr(GByteArray) der = NULL;
	const guint8 *p;
	g_object_get(cert, "certificate", &der, NULL);
	if (der == NULL)
		return NULL;
	p = der->data;
	return d2i_X509(NULL, &p, (long)der->len);
}

gboolean
smd_tls_verify_peer(SmdTrust *trust, GTlsCertificate *peer, const gchar *host, GError **error)
{
	X509_STORE *store = trust != NULL ? trust->store : NULL;
	g_autoptr(X509) leaf = NULL;
	g_autoptr(X509_STORE_CTX) ctx = NULL;
	STACK_OF(X509) *chain = NULL;
	X509_VERIFY_PARAM *param;
	gboolean ok;

	if (store == NULL) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO,
			    _("No trusted CA certificates loaded"));
		return FALSE;
	}
	leaf = smd_tls_to_x509(peer);
	if (leaf == NULL) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO,
			    _("Peer certificate cannot be parsed"));
		return FALSE;
	}
	chain = sk_X509_new_null();
	for (GTlsCertificate *c = g_tls_certificate_get_issuer(peer); c != NULL;
	     c = g_tls_certificate_get_issuer(c)) {
		X509 *x = smd_tls_to_x509(c);
		if (x != NULL)
			sk_X509_push(chain, x);
	}
	ctx = X509_STORE_CTX_new();
	if (ctx == NULL || X509_STORE_CTX_init(ctx, store, leaf, chain) != 1) {
		smd_x509_stack_free(chain);
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO,
			    _("Cannot verify the peer certificate"));
		return FALSE;
	}
	param = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_purpose(param, X509_PURPOSE_SSL_SERVER);
	X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
	if (g_hostname_is_ip_address(host))
		X509_VERIFY_PARAM_set1_ip_asc(param, host);
	else
		X509_VERIFY_PARAM_set1_host(param, host, 0);
	ok = X509_verify_cert(ctx) == 1;
	if (!ok)
		g_set_error(error, SMD_ERROR, SMD_ERROR_NO_TLS, _("certificate not verified: %s"),
			    X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	smd_x509_stack_free(chain);
	return ok;
}
