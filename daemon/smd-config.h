/*
 * SecuMailer — the configuration file (GKeyFile). Every error names the
 * file, the line and the key; nothing starts half-configured.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "smd-tls-verify.h"

G_BEGIN_DECLS

typedef enum {
	SMD_TLS_POLICY_ENCRYPT, /* STARTTLS required, certificate not checked */
	SMD_TLS_POLICY_VERIFY,	/* certificate must chain to a CA and match the MX */
} SmdTlsPolicy;

typedef struct {
	gchar *host;
	guint16 port;
} SmdRoute;

/* Reference-counted: whatever outlives a reload (a session, a delivery)
 * holds the configuration it started with, and the last one frees it. */
typedef struct {
	gatomicrefcount ref_count;
	gchar *path; /* the file it was read from */

	/* [smtp] */
	GPtrArray *smtp_listen; /* of GSocketAddress */
	gchar *smtp_hostname;
	GPtrArray *relay_networks; /* of GInetAddressMask */
	guint64 max_message_size;
	guint max_recipients;
	guint max_sessions;
	guint64 max_message_memory; /* messages being received at once */
	guint idle_timeout;	    /* seconds */
	gchar *tls_certificate;
	gchar *tls_key;

	/* [delivery] */
	GHashTable *routes; /* lower-case domain → SmdRoute */
	SmdTlsPolicy tls_policy;
	gchar *ca_file;
	/* what ca-file (or, from smd_config_load(), the system) trusts, read
	 * with the configuration: a reload takes a changed file in */
	SmdTrust *trust;
	GArray *retry_schedule; /* of guint seconds */
	guint max_queue_lifetime;
	guint max_connections;
	guint max_connections_per_domain;
	guint connect_timeout;
	guint command_timeout;

	/* [portal] */
	gchar *portal_listen;
	gchar *portal_public_url;
	gchar *portal_default_country; /* ISO 3166, for national numbers */
	gchar *portal_tls_certificate; /* direct HTTPS, without a proxy */
	gchar *portal_tls_key;
	gboolean portal_show_subject;
	GPtrArray *registration_networks;  /* of GInetAddressMask; empty: anyone */
	GPtrArray *portal_trusted_proxies; /* of GInetAddressMask */
	guint64 portal_max_message_memory; /* messages shown or downloaded at once */

	/* [sms] */
	gchar *sms_provider; /* file, http, twilio, messagebird */
	gchar *sms_path;
	gchar *sms_url;
	gchar *sms_method;
	gchar **sms_headers;
	gchar *sms_body;
	gchar *sms_content_type;
	gchar *sms_username;
	gchar *sms_password;
	gchar *sms_token;
	gchar *sms_from;
	gchar *sms_account;
	guint sms_timeout;

	/* [store] */
	gchar *store_directory;
	guint retention;
	guint log_retention; /* seconds the log and the metadata of finished mail are kept */

	/* [organisation] */
	gchar *org_name;
	gchar *org_notify_from;
	gchar *org_colour;   /* "#1c5d99" */
	gchar *org_logo;     /* a PNG, JPEG or SVG file */
	gchar *org_language; /* "en", "nl", or both: "nl+en" (first one first) */
} SmdConfig;

SmdConfig *smd_config_load(const gchar *path, GError **error);
SmdConfig *smd_config_load_from_data(const gchar *path, const gchar *data, gsize len,
				     GError **error);
const SmdConfig *smd_config_ref(const SmdConfig *config);
void smd_config_unref(const SmdConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdConfig, smd_config_unref)

/* Delay before attempt number @attempt (1 = first retry). */
guint smd_config_retry_delay(const SmdConfig *config, guint attempt);

/* "30s", "5m", "2h", "5d" or plain seconds. */
gboolean smd_parse_duration(const gchar *text, guint *seconds);
/* "1048576", "512K", "25M", "1G". */
gboolean smd_parse_size(const gchar *text, guint64 *bytes);
/* "host:port", "[v6]:port"; @default_port when no port is given. */
gboolean smd_parse_host_port(const gchar *text, guint16 default_port, gchar **host, guint16 *port);

G_END_DECLS
