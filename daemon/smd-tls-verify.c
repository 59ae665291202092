/*
 * SecuMailer — verification of a TLS peer's certificate chain.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-delivery"

#include "config.h"

#include <glib/gi18n.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "smd-error.h"
#include "smd-tls-verify.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509, X509_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC(X509_STORE_CTX, X509_STORE_CTX_free)

static void
smd_x509_stack_free(STACK_OF(X509) * stack)
{
	sk_X509_pop_free(stack, X509_free);
}

/* ca_file (or "" for the system store) → X509_STORE; main thread only */
static GHashTable *smd_tls_stores = NULL;

static X509_STORE *
smd_tls_get_store(const gchar *ca_file, GError **error)
{
	X509_STORE *store;
	const gchar *key = ca_file != NULL ? ca_file : "";

	if (smd_tls_stores == NULL)
		smd_tls_stores = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
						       (GDestroyNotify)X509_STORE_free);
	store = g_hash_table_lookup(smd_tls_stores, key);
	if (store != NULL)
		return store;
	store = X509_STORE_new();
	if (store == NULL || (ca_file != NULL ? X509_STORE_load_file(store, ca_file)
					      : X509_STORE_set_default_paths(store)) != 1) {
		X509_STORE_free(store);
		g_set_error(error, SMD_ERROR, SMD_ERROR_CRYPTO,
			    _("Cannot load trusted CA certificates from %s"),
			    ca_file != NULL ? ca_file : _("the system store"));
		return NULL;
	}
	g_hash_table_insert(smd_tls_stores, g_strdup(key), store);
	return store;
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
smd_tls_verify_peer(const gchar *ca_file, GTlsCertificate *peer, const gchar *host, GError **error)
{
	X509_STORE *store = smd_tls_get_store(ca_file, error);
	g_autoptr(X509) leaf = NULL;
	g_autoptr(X509_STORE_CTX) ctx = NULL;
	STACK_OF(X509) *chain = NULL;
	X509_VERIFY_PARAM *param;
	gboolean ok;

	if (store == NULL)
		return FALSE;
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
