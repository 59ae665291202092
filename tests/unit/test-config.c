/*
 * SecuMailer — unit tests: the configuration file.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "smd-config.h"
#include "smd-error.h"

static const gchar *minimal = "[smtp]\n"
			      "listen = 127.0.0.1:2525\n"
			      "hostname = gateway.example.org\n"
			      "relay-networks = 127.0.0.0/8;::1/128\n"
			      "\n"
			      "[delivery]\n"
			      "routes = tls.example=127.0.0.1:2601;plain.example=127.0.0.1:2602\n"
			      "tls-policy = encrypt\n"
			      "\n"
			      "[portal]\n"
			      "listen = 127.0.0.1:8080\n"
			      "public-url = http://127.0.0.1:8080\n"
			      "\n"
			      "[sms]\n"
			      "provider = file\n"
			      "path = /var/lib/secumailer/sms.jsonl\n"
			      "\n"
			      "[store]\n"
			      "directory = /var/lib/secumailer\n"
			      "\n"
			      "[organisation]\n"
			      "name = Example Organisation\n"
			      "notify-from = secure-mail@example.org\n";

static void
test_minimal(void)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdConfig) c =
	    smd_config_load_from_data("t.conf", minimal, strlen(minimal), &error);
	const SmdRoute *route;

	g_assert_no_error(error);
	g_assert_cmpuint(c->smtp_listen->len, ==, 1);
	g_assert_cmpstr(c->smtp_hostname, ==, "gateway.example.org");
	g_assert_cmpuint(c->relay_networks->len, ==, 2);
	g_assert_cmpuint(c->max_message_size, ==, 25 * 1024 * 1024);
	g_assert_cmpuint(c->portal_max_message_memory, ==, 512 * 1024 * 1024);
	g_assert_cmpuint(c->max_message_memory, ==, 1024 * 1024 * 1024);
	g_assert_cmpint(c->tls_policy, ==, SMD_TLS_POLICY_ENCRYPT);
	route = g_hash_table_lookup(c->routes, "plain.example");
	g_assert_nonnull(route);
	g_assert_cmpstr(route->host, ==, "127.0.0.1");
	g_assert_cmpuint(route->port, ==, 2602);
	g_assert_cmpuint(c->max_queue_lifetime, ==, 5 * 86400);
	g_assert_cmpuint(smd_config_retry_delay(c, 1), ==, 300);
	g_assert_cmpuint(smd_config_retry_delay(c, 100), ==, 4 * 3600);
	g_assert_cmpstr(c->store_directory, ==, "/var/lib/secumailer");
}

/* Replaces the line starting with @prefix by @line (or appends it). */
static gchar *
variant(const gchar *prefix, const gchar *line)
{
	g_auto(GStrv) lines = g_strsplit(minimal, "\n", -1);
	GString *out = g_string_new(NULL);
	gboolean done = FALSE;
	for (guint i = 0; lines[i] != NULL; i++) {
		if (!done && prefix != NULL && g_str_has_prefix(lines[i], prefix)) {
			g_string_append_printf(out, "%s\n", line);
			done = TRUE;
			continue;
		}
		g_string_append_printf(out, "%s\n", lines[i]);
	}
	if (!done)
		g_string_append_printf(out, "%s\n", line);
	return g_string_free(out, FALSE);
}

static void
expect_error(const gchar *prefix, const gchar *line, const gchar *needle)
{
	g_autofree gchar *text = variant(prefix, line);
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdConfig) c = smd_config_load_from_data("t.conf", text, strlen(text), &error);
	g_assert_null(c);
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CONFIG);
	if (strstr(error->message, needle) == NULL)
		g_error("“%s” does not contain “%s”", error->message, needle);
}

static void
test_errors_name_line_and_key(void)
{
	expect_error("listen = 127", "listen = nowhere", "t.conf:2: [smtp] listen:");
	expect_error("hostname", "hostname = bad host", "t.conf:3: [smtp] hostname:");
	expect_error("relay-networks", "relay-networks = 10.0.0.0/99",
		     "t.conf:4: [smtp] relay-networks:");
	expect_error("routes", "routes = tls.example", "t.conf:7: [delivery] routes:");
	expect_error("routes", "routes = tls.example=127.0.0.1:99999",
		     "t.conf:7: [delivery] routes:");
	expect_error("tls-policy", "tls-policy = maybe", "t.conf:8: [delivery] tls-policy:");
	expect_error("public-url", "public-url = ftp://x", "t.conf:12: [portal] public-url:");
	expect_error("public-url", "public-url = https://", "t.conf:12: [portal] public-url:");
	expect_error("public-url", "public-url = http:foo", "t.conf:12: [portal] public-url:");
	expect_error("public-url", "public-url = https://x.example/?a=b",
		     "t.conf:12: [portal] public-url:");
	expect_error("public-url", "public-url = https://x.example/portal",
		     "has a path: the portal needs a host name");
	expect_error("provider", "provider = http\nurl = https://", "t.conf:16: [sms] url:");
	expect_error("provider", "provider = http\ncontent-type = text/plain",
		     "t.conf:16: [sms] content-type:");
	expect_error("path", "path = /", "t.conf:16: [sms] path:");
	expect_error("path", "path = relative/sms.jsonl", "t.conf:16: [sms] path:");
	expect_error("hostname", "hostname = 127.0.0.1", "t.conf:3: [smtp] hostname:");
	expect_error("provider", "provider = pigeon", "t.conf:15: [sms] provider:");
	expect_error("directory", "directory = relative/path", "t.conf:19: [store] directory:");
	expect_error("directory", "directory = /var/lib/secumailer\nretention = 1M",
		     "t.conf:20: [store] retention: “1M” is not a duration");
	expect_error("notify-from", "notify-from = not an address",
		     "t.conf:23: [organisation] notify-from:");
	expect_error(NULL, "[smtp2]", "t.conf:25: [smtp2]: unknown group");
	expect_error("hostname", "hostnme = x", "t.conf:3: [smtp] hostnme: unknown key");
	expect_error("relay-networks", "relay-networks = 127.0.0.0/8\nmax-message-size = abc",
		     "t.conf:5: [smtp] max-message-size:");
	expect_error("relay-networks", "relay-networks = 127.0.0.0/8\nmax-message-memory = 2T",
		     "t.conf:5: [smtp] max-message-memory:");
	expect_error("relay-networks", "relay-networks = 127.0.0.0/8\nmax-recipients = 0",
		     "[smtp] max-recipients:");
	expect_error("relay-networks", "relay-networks = 127.0.0.0/8\nidle-timeout = 5 minutes",
		     "[smtp] idle-timeout:");
	expect_error("relay-networks",
		     "relay-networks = 127.0.0.0/8\ntls-certificate = /nonexistent.pem",
		     "[smtp] tls-certificate: no such file");
	expect_error("hostname", "garbage line", "t.conf:3: expected");
	expect_error("hostname", "listen = 127.0.0.1:25",
		     "t.conf:3: [smtp] listen: key appears twice");
	expect_error("public-url", "public-url = http://127.0.0.1:8080\ndefault-country = XX",
		     "t.conf:13: [portal] default-country:");
	expect_error("public-url", "public-url = http://127.0.0.1:8080\nshow-subject = yes",
		     "t.conf:13: [portal] show-subject:");
	expect_error("public-url", "public-url = http://127.0.0.1:8080\nmax-message-memory = 512K",
		     "t.conf:13: [portal] max-message-memory:");
	expect_error("public-url", "public-url = http://127.0.0.1:8080\nmax-message-memory = lots",
		     "t.conf:13: [portal] max-message-memory:");
	expect_error("public-url", "public-url = http://127.0.0.1:8080\nregistration-networks = x",
		     "t.conf:13: [portal] registration-networks:");
	expect_error("notify-from", "notify-from = a@b.example\ncolour = blue",
		     "t.conf:24: [organisation] colour:");
	expect_error("notify-from", "notify-from = a@b.example\nlogo = /etc/passwd",
		     "t.conf:24: [organisation] logo:");
	/* of two keys that go together, the one present is named, with its line */
	expect_error("listen = 127.0.0.1:8080", "",
		     "t.conf:12: [portal] public-url: needs “listen” as well");
	expect_error("public-url", "", "t.conf:11: [portal] listen: needs “public-url” as well");
	expect_error("relay-networks", "relay-networks = 127.0.0.0/8\ntls-key = /etc/passwd",
		     "t.conf:5: [smtp] tls-key: needs “tls-certificate” as well");
	expect_error("routes", "routes = a.example=127.0.0.1:1; A.example = 127.0.0.1:2",
		     "t.conf:7: [delivery] routes: “a.example” has two routes");
	expect_error("hostname", "; a comment", "t.conf:3: a comment starts with “#”, not “;”");
	expect_error("hostname", "hostname = bad\xff", "t.conf:3: the file is not UTF-8 text");
	/* relay-networks is required: never an open relay by omission */
	expect_error("relay-networks", "", "[smtp] relay-networks: this key is required");
	expect_error("relay-networks", "relay-networks = ; ;",
		     "t.conf:4: [smtp] relay-networks: names no network");
}

/* A byte order mark (Notepad) is not part of the first group's name;
 * a NUL is named with its line. */
static void
test_bom_and_nul(void)
{
	g_autofree gchar *text = g_strconcat("\xef\xbb\xbf", minimal, NULL);
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdConfig) c = smd_config_load_from_data("t.conf", text, strlen(text), &error);
	const gchar nul[] = "[smtp]\nlisten = 127.0.0.1:25\0\n";

	g_assert_no_error(error);
	g_assert_nonnull(c);
	g_assert_null(smd_config_load_from_data("t.conf", nul, sizeof(nul) - 1, &error));
	g_assert_nonnull(strstr(error->message, "t.conf:2: the file is not UTF-8 text"));
}

/* The portal's cookies and HSTS follow the scheme as GUri reads it. */
static void
test_public_url_normalised(void)
{
	g_autofree gchar *text = variant("public-url", "public-url = HTTPS://portal.example:8443");
	g_autoptr(GError) error = NULL;
	g_autoptr(SmdConfig) c = smd_config_load_from_data("t.conf", text, strlen(text), &error);

	g_assert_no_error(error);
	g_assert_cmpstr(c->portal_public_url, ==, "https://portal.example:8443");
}

static void
test_parsers(void)
{
	guint secs = 0;
	guint64 bytes = 0;
	g_autofree gchar *host = NULL;
	guint16 port = 0;

	g_assert_true(smd_parse_duration("90", &secs));
	g_assert_cmpuint(secs, ==, 90);
	g_assert_true(smd_parse_duration("5d", &secs));
	g_assert_cmpuint(secs, ==, 5 * 86400);
	g_assert_false(smd_parse_duration("5w", &secs));
	/* "1M" would be a minute to the parser and a month to some readers */
	g_assert_false(smd_parse_duration("1M", &secs));
	g_assert_false(smd_parse_duration("2H", &secs));
	g_assert_false(smd_parse_duration("-1", &secs));
	g_assert_true(smd_parse_size("25M", &bytes));
	g_assert_cmpuint(bytes, ==, 25 * 1024 * 1024);
	g_assert_false(smd_parse_size("25MB", &bytes));
	g_assert_true(smd_parse_size("512m", &bytes));
	g_assert_cmpuint(bytes, ==, 512 * 1024 * 1024);
	g_assert_true(smd_parse_host_port("[::1]:2525", 25, &host, &port));
	g_assert_cmpstr(host, ==, "::1");
	g_assert_cmpuint(port, ==, 2525);
	g_clear_pointer(&host, g_free);
	g_assert_true(smd_parse_host_port("mx.example.org", 25, &host, &port));
	g_assert_cmpuint(port, ==, 25);
	g_clear_pointer(&host, g_free);
	g_assert_false(smd_parse_host_port("::1:25", 25, &host, &port));
	g_assert_false(smd_parse_host_port("host:0", 25, &host, &port));
	g_assert_false(smd_parse_host_port(":25", 25, &host, &port));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/config/minimal", test_minimal);
	g_test_add_func("/secumailer/config/errors-name-line-and-key",
			test_errors_name_line_and_key);
	g_test_add_func("/secumailer/config/parsers", test_parsers);
	g_test_add_func("/secumailer/config/public-url-normalised", test_public_url_normalised);
	g_test_add_func("/secumailer/config/bom-and-nul", test_bom_and_nul);
	return g_test_run();
}
