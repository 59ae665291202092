/*
 * SecuMailer — what our two TLS servers share (see smd-tls-server.h).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "smd-tls-server.h"

#include <glib/gi18n.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/socket.h>

#define SMD_TLS_HANDSHAKE_RECORD 0x16
#define SMD_TLS_CLIENT_HELLO 1
#define SMD_TLS_RECORD_HEADER 5
#define SMD_TLS_RECORD_MAX 16384 /* a TLSPlaintext fragment's limit */
#define SMD_TLS_HANDSHAKE_HEADER 4
/* A ClientHello larger than this is refused: browsers' are below 2 KiB
 * (post-quantum key shares included), the records carrying it ~16 KiB. */
#define SMD_TLS_HELLO_MAX 16384
#define SMD_TLS_PEEK_MAX (SMD_TLS_HELLO_MAX + 8 * SMD_TLS_RECORD_HEADER)

static gboolean
smd_tls_key_matches(const gchar *cert_file, const gchar *key_file)
{
	BIO *cert_bio = BIO_new_file(cert_file, "r");
	BIO *key_bio = BIO_new_file(key_file, "r");
	X509 *cert = cert_bio != NULL ? PEM_read_bio_X509(cert_bio, NULL, NULL, NULL) : NULL;
	EVP_PKEY *key = key_bio != NULL ? PEM_read_bio_PrivateKey(key_bio, NULL, NULL, NULL) : NULL;
	gboolean matches = cert != NULL && key != NULL && X509_check_private_key(cert, key) == 1;

	EVP_PKEY_free(key);
	X509_free(cert);
	BIO_free(key_bio);
	BIO_free(cert_bio);
	return matches;
}

GTlsCertificate *
smd_tls_certificate_load(const gchar *cert_file, const gchar *key_file, GError **error)
{
	g_autoptr(GTlsCertificate) cert =
	    g_tls_certificate_new_from_files(cert_file, key_file, error);

	if (cert == NULL)
		return NULL;
	if (!smd_tls_key_matches(cert_file, key_file)) {
		g_set_error(error, G_TLS_ERROR, G_TLS_ERROR_BAD_CERTIFICATE,
			    _("the private key in %s does not belong to the certificate in %s"),
			    key_file, cert_file);
		return NULL;
	}
	return g_steal_pointer(&cert);
}

GIOStream *
smd_tls_server_connection_new(GIOStream *base, GTlsCertificate *certificate, GError **error)
{
	return g_initable_new(g_tls_backend_get_server_connection_type(g_tls_backend_get_default()),
			      NULL, error, "base-io-stream", base, "certificate", certificate,
			      "database", NULL, NULL);
}

typedef struct {
	GSocket *socket;
	gsize need; /* bytes to wait for before looking again */
	SmdTlsHelloFunc func;
	gpointer user_data;
	GDestroyNotify notify;
} SmdTlsHello;

static void
smd_tls_hello_free(SmdTlsHello *w)
{
	if (w->notify != NULL)
		w->notify(w->user_data);
	g_object_unref(w->socket);
	g_free(w);
}

/* Poll reports the socket readable once this much is here (or it ends):
 * no wake-up for each fragment a slow client sends. */
static void
smd_tls_hello_need(SmdTlsHello *w, gsize bytes)
{
	w->need = bytes;
	g_socket_set_option(w->socket, SOL_SOCKET, SO_RCVLOWAT, (gint)bytes, NULL);
}

SmdHelloScan
smd_tls_hello_scan(const guint8 *data, gsize len, gsize *need)
{
	guint8 header[SMD_TLS_HANDSHAKE_HEADER];
	gsize have = 0; /* handshake bytes in whole or partial records */
	gsize pos = 0;

	while (pos + SMD_TLS_RECORD_HEADER <= len) {
		gsize size = (gsize)data[pos + 3] << 8 | data[pos + 4];
		gsize body = MIN(size, len - pos - SMD_TLS_RECORD_HEADER);

		if (data[pos] != SMD_TLS_HANDSHAKE_RECORD || size == 0 || size > SMD_TLS_RECORD_MAX)
			return SMD_HELLO_BAD;
		for (gsize i = 0; i < body && have + i < SMD_TLS_HANDSHAKE_HEADER; i++)
			header[have + i] = data[pos + SMD_TLS_RECORD_HEADER + i];
		have += body;
		if (have >= SMD_TLS_HANDSHAKE_HEADER) {
			gsize hello = SMD_TLS_HANDSHAKE_HEADER +
				      ((gsize)header[1] << 16 | (gsize)header[2] << 8 | header[3]);

			if (header[0] != SMD_TLS_CLIENT_HELLO || hello > SMD_TLS_HELLO_MAX)
				return SMD_HELLO_BAD;
			if (have >= hello)
				return SMD_HELLO_WHOLE;
		}
		if (body < size) { /* the rest of this record */
			*need = pos + SMD_TLS_RECORD_HEADER + size;
			return SMD_HELLO_PARTIAL;
		}
		pos += SMD_TLS_RECORD_HEADER + size;
	}
	*need = pos + SMD_TLS_RECORD_HEADER; /* the next record's header */
	return SMD_HELLO_PARTIAL;
}

static gboolean
smd_tls_hello_readable_cb(GSocket *socket, GIOCondition condition, gpointer user_data)
{
	SmdTlsHello *w = user_data;
	gssize avail = g_socket_get_available_bytes(socket);
	g_autofree guint8 *data = NULL;
	GInputVector vec;
	gint flags = G_SOCKET_MSG_PEEK;
	gsize need = 0;
	SmdHelloScan scan = SMD_HELLO_BAD;

	/* readable with less than asked for: the client closed */
	if (avail >= (gssize)w->need) {
		vec.size = MIN((gsize)avail, SMD_TLS_PEEK_MAX);
		vec.buffer = data = g_malloc(vec.size);
		if (g_socket_receive_message(socket, NULL, &vec, 1, NULL, NULL, &flags, NULL,
					     NULL) == (gssize)vec.size)
			scan = smd_tls_hello_scan(data, vec.size, &need);
	}
	if (scan == SMD_HELLO_PARTIAL && need <= SMD_TLS_PEEK_MAX) {
		smd_tls_hello_need(w, need);
		return G_SOURCE_CONTINUE;
	}
	smd_tls_hello_need(w, 1);
	w->func(scan == SMD_HELLO_WHOLE, w->user_data);
	return G_SOURCE_REMOVE;
}

GSource *
smd_tls_hello_wait(GSocket *socket, GCancellable *cancellable, SmdTlsHelloFunc func,
		   gpointer user_data, GDestroyNotify notify)
{
	SmdTlsHello *w = g_new0(SmdTlsHello, 1);
	GSource *source = g_socket_create_source(socket, G_IO_IN, cancellable);

	w->socket = g_object_ref(socket);
	w->func = func;
	w->user_data = user_data;
	w->notify = notify;
	smd_tls_hello_need(w, SMD_TLS_RECORD_HEADER);
	g_source_set_callback(source, G_SOURCE_FUNC(smd_tls_hello_readable_cb), w,
			      (GDestroyNotify)smd_tls_hello_free);
	g_source_attach(source, g_main_context_get_thread_default());
	return source;
}
