/*
 * SecuMailer — fuzz target: the configuration file (smd-config.h), and
 * the value parsers it uses (durations, sizes, host:port) on every
 * "key = value" line.
 *
 * Nothing here writes a file: smd_config_load_from_data() only tests and
 * reads the files a configuration names (certificates, the CA file, the
 * logo) and the catalogues; it creates none (the store directory and the
 * SMS file are made by the daemon later, not by loading).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "smd-config.h"
#include "smd-i18n.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_VALUE_LINES 64

static void
check_config(const SmdConfig *c)
{
	g_assert_cmpstr(c->path, ==, "fuzz.conf");
	g_assert_cmpuint(c->smtp_listen->len, >=, 1);
	g_assert_nonnull(c->smtp_hostname);
	g_assert_nonnull(c->relay_networks);
	g_assert_true(c->max_message_size >= 1024 && c->max_message_size <= G_MAXINT32);
	g_assert_cmpuint(c->max_recipients, >=, 1);
	g_assert_cmpuint(c->idle_timeout, >=, 1);
	g_assert_true((c->tls_certificate == NULL) == (c->tls_key == NULL));
	g_assert_cmpuint(c->retry_schedule->len, >=, 1);
	for (guint attempt = 0; attempt <= c->retry_schedule->len + 2; attempt++)
		g_assert_cmpuint(smd_config_retry_delay(c, attempt), >=, 1);
	g_assert_true((c->portal_listen == NULL) == (c->portal_public_url == NULL));
	g_assert_nonnull(c->portal_default_country);
	g_assert_nonnull(c->sms_provider);
	g_assert_nonnull(c->sms_path);
	g_assert_nonnull(c->sms_headers);
	g_assert_nonnull(c->store_directory);
	g_assert_true(g_path_is_absolute(c->store_directory));
	g_assert_nonnull(c->org_language);
}

static void
check_value(const gchar *value)
{
	guint seconds = 0;
	guint64 bytes = 0;
	g_autofree gchar *host = NULL;
	guint16 port = 0;

	smd_parse_duration(value, &seconds);
	smd_parse_size(value, &bytes);
	if (smd_parse_host_port(value, 25, &host, &port)) {
		g_assert_nonnull(host);
		g_assert_cmpstr(host, !=, "");
		g_assert_cmpuint(port, >=, 1);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static gsize initialised = 0;
	g_autoptr(SmdConfig) config = NULL;
	g_autoptr(GError) error = NULL;
	g_autofree gchar *text = NULL;
	g_auto(GStrv) lines = NULL;

	if (g_once_init_enter(&initialised)) {
		/* [organisation] language looks for the build tree's catalogues */
		smd_i18n_set_localedir(SMD_FUZZ_LOCALEDIR);
		g_once_init_leave(&initialised, 1);
	}

	config = smd_config_load_from_data("fuzz.conf", (const gchar *)data, size, &error);
	if (config == NULL) {
		/* every refusal says why, and names the file */
		g_assert_nonnull(error);
		g_assert_nonnull(strstr(error->message, "fuzz.conf"));
	} else {
		g_assert_no_error(error);
		check_config(config);
	}

	text = g_strndup((const gchar *)data, size);
	lines = g_strsplit(text, "\n", MAX_VALUE_LINES);
	for (guint i = 0; lines[i] != NULL; i++) {
		const gchar *eq = strchr(lines[i], '=');
		check_value(g_strstrip(eq != NULL ? lines[i] + (eq - lines[i]) + 1 : lines[i]));
	}
	return 0;
}
