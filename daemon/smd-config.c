/*
 * SecuMailer — the configuration file.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-config"

#include "config.h"

#include <glib/gi18n.h>
#include <glib/gstdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* a configuration is a few KiB; anything much larger is a mistake */
#define SMD_CONFIG_MAX_SIZE (1024 * 1024)

#include "smd-config.h"
#include "smd-error.h"
#include "smd-sms-http.h"
#include "smd-tls-server.h"
#include "smd-i18n.h"
#include "smd-phone.h"
#include "smd-smtp-parser.h"

/* Every key we know, so a typo is an error rather than silently ignored. */
static const struct {
	const gchar *group;
	const gchar *keys[16];
} smd_config_schema[] = {
    {"smtp",
     {"listen", "hostname", "relay-networks", "max-message-size", "max-recipients", "max-sessions",
      "idle-timeout", "tls-certificate", "tls-key", "max-message-memory", NULL}},
    {"delivery",
     {"routes", "tls-policy", "ca-file", "retry-schedule", "max-queue-lifetime", "max-connections",
      "max-connections-per-domain", "connect-timeout", "command-timeout", NULL}},
    {"portal",
     {"listen", "public-url", "default-country", "show-subject", "registration-networks",
      "tls-certificate", "tls-key", "trusted-proxies", "max-message-memory", NULL}},
    {"sms",
     {"provider", "path", "url", "method", "headers", "body", "content-type", "username",
      "password", "token", "from", "account", "timeout", NULL}},
    {"store", {"directory", "retention", "log-retention", NULL}},
    {"organisation", {"name", "notify-from", "colour", "logo", "language", NULL}},
};

typedef struct {
	const gchar *path;
	GKeyFile *kf;
	GHashTable *lines; /* "group\nkey" or "group" → line number */
} SmdConfigParser;

static guint
smd_config_line(SmdConfigParser *p, const gchar *group, const gchar *key)
{
	g_autofree gchar *id =
	    key != NULL ? g_strdup_printf("%s\n%s", group, key) : g_strdup(group);
	return GPOINTER_TO_UINT(g_hash_table_lookup(p->lines, id));
}

G_GNUC_PRINTF(5, 6)
static gboolean
smd_config_fail(SmdConfigParser *p, const gchar *group, const gchar *key, GError **error,
		const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *msg = NULL;
	guint line = smd_config_line(p, group, key);

	va_start(args, format);
	msg = g_strdup_vprintf(format, args);
	va_end(args);
	if (key != NULL && line > 0)
		g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG, "%s:%u: [%s] %s: %s", p->path, line,
			    group, key, msg);
	else if (key != NULL)
		g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG, "%s: [%s] %s: %s", p->path, group,
			    key, msg);
	else
		g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG, "%s:%u: [%s]: %s", p->path, line,
			    group, msg);
	return FALSE;
}

/* Two keys that only make sense together: the error names the one that
 * is there, with its line, and the one it misses. */
static gboolean
smd_config_pair(SmdConfigParser *p, const gchar *group, const gchar *key_a, const gchar *a,
		const gchar *key_b, const gchar *b, GError **error)
{
	if ((a == NULL) == (b == NULL))
		return TRUE;
	if (a != NULL)
		return smd_config_fail(p, group, key_a, error, _("needs “%s” as well"), key_b);
	return smd_config_fail(p, group, key_b, error, _("needs “%s” as well"), key_a);
}

/* GKeyFile does not report line numbers, so the raw text is scanned
 * once to find where each group and key is, and to catch syntax errors. */
static gboolean
smd_config_scan(SmdConfigParser *p, const gchar *data, gsize len, GError **error)
{
	g_auto(GStrv) lines = NULL;
	g_autofree gchar *group = NULL;
	g_autofree gchar *text = g_strndup(data, len);

	const gchar *end = NULL;

	if (strlen(text) != len || !g_utf8_validate(text, -1, &end)) {
		/* the line of the first bad byte (a NUL stops strlen() there) */
		const gchar *bad = strlen(text) != len && (end == NULL || *end == '\0')
				       ? text + strlen(text)
				       : end;
		guint line = 1;
		for (const gchar *c = text; c < bad; c++)
			line += *c == '\n';
		g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
			    _("%s:%u: the file is not UTF-8 text (a byte that is not, or a NUL)"),
			    p->path, line);
		return FALSE;
	}
	lines = g_strsplit(text, "\n", -1);
	for (guint i = 0; lines[i] != NULL; i++) {
		g_autofree gchar *line = g_strstrip(g_strdup(lines[i]));
		gchar *eq;
		if (line[0] == '\0' || line[0] == '#')
			continue;
		if (line[0] == ';') {
			/* GKeyFile would read it as a key, or fail without a line */
			g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
				    _("%s:%u: a comment starts with “#”, not “;”"), p->path, i + 1);
			return FALSE;
		}
		if (line[0] == '[') {
			gsize n = strlen(line);
			if (line[n - 1] != ']' || n < 3) {
				g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
					    _("%s:%u: malformed group header “%s”"), p->path, i + 1,
					    line);
				return FALSE;
			}
			g_free(group);
			group = g_strndup(line + 1, n - 2);
			if (g_hash_table_contains(p->lines, group)) {
				g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
					    _("%s:%u: group [%s] appears twice"), p->path, i + 1,
					    group);
				return FALSE;
			}
			g_hash_table_insert(p->lines, g_strdup(group), GUINT_TO_POINTER(i + 1));
			continue;
		}
		eq = strchr(line, '=');
		if (eq == NULL || eq == line) {
			g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
				    _("%s:%u: expected “key = value”, found “%s”"), p->path, i + 1,
				    line);
			return FALSE;
		}
		if (group == NULL) {
			g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
				    _("%s:%u: key outside of a group"), p->path, i + 1);
			return FALSE;
		} else {
			g_autofree gchar *key = g_strstrip(g_strndup(line, eq - line));
			g_autofree gchar *id = g_strdup_printf("%s\n%s", group, key);
			if (g_hash_table_contains(p->lines, id)) {
				g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
					    _("%s:%u: [%s] %s: key appears twice"), p->path, i + 1,
					    group, key);
				return FALSE;
			}
			g_hash_table_insert(p->lines, g_steal_pointer(&id),
					    GUINT_TO_POINTER(i + 1));
		}
	}
	return TRUE;
}

static gboolean
smd_config_check_known(SmdConfigParser *p, GError **error)
{
	g_auto(GStrv) groups = g_key_file_get_groups(p->kf, NULL);
	for (guint i = 0; groups[i] != NULL; i++) {
		g_auto(GStrv) keys = NULL;
		gint idx = -1;
		for (guint j = 0; j < G_N_ELEMENTS(smd_config_schema); j++) {
			if (g_strcmp0(groups[i], smd_config_schema[j].group) == 0)
				idx = (gint)j;
		}
		if (idx < 0)
			return smd_config_fail(p, groups[i], NULL, error, _("unknown group"));
		keys = g_key_file_get_keys(p->kf, groups[i], NULL, NULL);
		for (guint k = 0; keys != NULL && keys[k] != NULL; k++) {
			if (!g_strv_contains(smd_config_schema[idx].keys, keys[k]))
				return smd_config_fail(p, groups[i], keys[k], error,
						       _("unknown key"));
		}
	}
	return TRUE;
}

/* NULL when absent; an empty value counts as absent. */
static gchar *
smd_config_string(SmdConfigParser *p, const gchar *group, const gchar *key)
{
	g_autofree gchar *value = g_key_file_get_value(p->kf, group, key, NULL);
	if (value == NULL)
		return NULL;
	g_strstrip(value);
	if (value[0] == '\0')
		return NULL;
	return g_steal_pointer(&value);
}

static gboolean
smd_config_required(SmdConfigParser *p, const gchar *group, const gchar *key, gchar **out,
		    GError **error)
{
	*out = smd_config_string(p, group, key);
	if (*out == NULL)
		return smd_config_fail(p, group, key, error, _("this key is required"));
	return TRUE;
}

typedef struct {
	const gchar *suffix;
	guint64 factor;
} SmdUnit;

/* A decimal number with one of @units as its suffix ("" included), in
 * any case unless @exact_case. */
static gboolean
smd_parse_with_unit(const gchar *text, const SmdUnit *units, gboolean exact_case, guint64 max,
		    guint64 *out)
{
	gchar *end = NULL;
	guint64 value;

	if (!g_ascii_isdigit(text[0]))
		return FALSE;
	value = g_ascii_strtoull(text, &end, 10);
	for (const SmdUnit *u = units; u->suffix != NULL; u++) {
		if ((exact_case ? strcmp(end, u->suffix) : g_ascii_strcasecmp(end, u->suffix)) != 0)
			continue;
		if (value > max / u->factor)
			return FALSE;
		*out = value * u->factor;
		return TRUE;
	}
	return FALSE;
}

gboolean
smd_parse_duration(const gchar *text, guint *seconds)
{
	static const SmdUnit units[] = {{"", 1},     {"s", 1},	   {"m", 60},
					{"h", 3600}, {"d", 86400}, {NULL, 0}};
	guint64 value = 0;
	/* lower case only: "1M" is a month to some, and would be a minute */
	if (!smd_parse_with_unit(text, units, TRUE, G_MAXUINT, &value))
		return FALSE;
	*seconds = (guint)value;
	return TRUE;
}

/* [@group] max-message-memory: 1M to 1024G, @default_mib if not set */
static gboolean
smd_config_memory(SmdConfigParser *p, const gchar *group, guint64 default_mib, guint64 *bytes,
		  GError **error)
{
	g_autofree gchar *text = smd_config_string(p, group, "max-message-memory");

	*bytes = default_mib * 1024 * 1024;
	if (text != NULL && (!smd_parse_size(text, bytes) || *bytes < 1024 * 1024 ||
			     *bytes > G_GUINT64_CONSTANT(1024) * 1024 * 1024 * 1024))
		return smd_config_fail(p, group, "max-message-memory", error,
				       _("“%s” is not a size from 1M to 1024G (for example 512M)"),
				       text);
	return TRUE;
}

gboolean
smd_parse_size(const gchar *text, guint64 *bytes)
{
	static const SmdUnit units[] = {
	    {"", 1}, {"K", 1024}, {"M", 1024 * 1024}, {"G", 1024 * 1024 * 1024}, {NULL, 0}};
	return smd_parse_with_unit(text, units, FALSE, G_MAXUINT64, bytes);
}

gboolean
smd_parse_host_port(const gchar *text, guint16 default_port, gchar **host, guint16 *port)
{
	const gchar *colon;
	g_autofree gchar *h = NULL;
	guint64 p = default_port;

	if (text[0] == '[') {
		const gchar *close = strchr(text, ']');
		if (close == NULL || close == text + 1)
			return FALSE;
		h = g_strndup(text + 1, close - text - 1);
		if (!g_hostname_is_ip_address(h))
			return FALSE;
		colon = close[1] == ':' ? close + 1 : NULL;
		if (colon == NULL && close[1] != '\0')
			return FALSE;
	} else {
		colon = strrchr(text, ':');
		if (colon != NULL && strchr(text, ':') != colon)
			return FALSE; /* a bare IPv6 address needs brackets */
		h = colon != NULL ? g_strndup(text, colon - text) : g_strdup(text);
		if (h[0] == '\0')
			return FALSE;
		if (!g_hostname_is_ip_address(h) && !smd_domain_validate(h, NULL))
			return FALSE;
	}
	if (colon != NULL) {
		gchar *end = NULL;
		if (!g_ascii_isdigit(colon[1]))
			return FALSE;
		p = g_ascii_strtoull(colon + 1, &end, 10);
		if (*end != '\0' || p == 0 || p > 65535)
			return FALSE;
	}
	*host = g_steal_pointer(&h);
	*port = (guint16)p;
	return TRUE;
}

static gboolean
smd_config_duration(SmdConfigParser *p, const gchar *group, const gchar *key, guint default_value,
		    guint *out, GError **error)
{
	g_autofree gchar *value = smd_config_string(p, group, key);
	*out = default_value;
	if (value == NULL)
		return TRUE;
	if (!smd_parse_duration(value, out) || *out == 0)
		return smd_config_fail(
		    p, group, key, error,
		    _("“%s” is not a duration: a number with s, m, h or d in lower "
		      "case (for example 30s, 5m, 2h, 5d)"),
		    value);
	return TRUE;
}

static gboolean
smd_config_uint(SmdConfigParser *p, const gchar *group, const gchar *key, guint default_value,
		guint min, guint max, guint *out, GError **error)
{
	g_autofree gchar *value = smd_config_string(p, group, key);
	guint64 v = 0;
	*out = default_value;
	if (value == NULL)
		return TRUE;
	if (!g_ascii_string_to_unsigned(value, 10, min, max, &v, NULL))
		return smd_config_fail(p, group, key, error,
				       _("“%s” is not a whole number from %u to %u"), value, min,
				       max);
	*out = (guint)v;
	return TRUE;
}

static gboolean
smd_config_file_exists(SmdConfigParser *p, const gchar *group, const gchar *key, const gchar *value,
		       GError **error)
{
	if (value != NULL && !g_file_test(value, G_FILE_TEST_IS_REGULAR))
		return smd_config_fail(p, group, key, error, _("no such file “%s”"), value);
	return TRUE;
}

static void
smd_route_free(SmdRoute *route)
{
	g_free(route->host);
	g_free(route);
}

/* A ';'-separated CIDR list into @out (of GInetAddressMask). */
static gboolean
smd_config_networks(SmdConfigParser *p, const gchar *group, const gchar *key, const gchar *value,
		    GPtrArray *out, GError **error)
{
	g_auto(GStrv) items = g_strsplit(value, ";", -1);
	for (guint i = 0; items[i] != NULL; i++) {
		GInetAddressMask *mask;
		g_strstrip(items[i]);
		if (items[i][0] == '\0')
			continue;
		mask = g_inet_address_mask_new_from_string(items[i], NULL);
		if (mask == NULL)
			return smd_config_fail(p, group, key, error,
					       _("“%s” is not a network such as 192.0.2.0/24"),
					       items[i]);
		g_ptr_array_add(out, mask);
	}
	return TRUE;
}

/* Loaded now, so that a configuration check or a reload finds a bad pair
 * of files (and a key that is not the certificate's), not the next start. */
static gboolean
smd_config_certificate(SmdConfigParser *p, const gchar *group, const gchar *cert_file,
		       const gchar *key_file, GError **error)
{
	g_autoptr(GError) error_local = NULL;
	g_autoptr(GTlsCertificate) cert = NULL;

	if (cert_file == NULL)
		return TRUE;
	cert = smd_tls_certificate_load(cert_file, key_file, &error_local);
	if (cert == NULL)
		return smd_config_fail(p, group, "tls-certificate", error,
				       _("cannot load the certificate and key: %s"),
				       error_local->message);
	return TRUE;
}

static gboolean
smd_config_parse_smtp(SmdConfigParser *p, SmdConfig *c, GError **error)
{
	g_autofree gchar *listen = NULL;
	g_autofree gchar *networks = NULL;
	g_autofree gchar *size = NULL;
	g_auto(GStrv) items = NULL;

	if (!smd_config_required(p, "smtp", "listen", &listen, error))
		return FALSE;
	items = g_strsplit(listen, ";", -1);
	for (guint i = 0; items[i] != NULL; i++) {
		g_autofree gchar *host = NULL;
		guint16 port = 0;
		g_autoptr(GInetAddress) addr = NULL;
		g_strstrip(items[i]);
		if (items[i][0] == '\0')
			continue;
		if (!smd_parse_host_port(items[i], 25, &host, &port) ||
		    (addr = g_inet_address_new_from_string(host)) == NULL)
			return smd_config_fail(p, "smtp", "listen", error,
					       _("“%s” is not an IP address with a port, "
						 "such as 127.0.0.1:2525 or [::1]:25"),
					       items[i]);
		g_ptr_array_add(c->smtp_listen, g_inet_socket_address_new(addr, port));
	}
	if (c->smtp_listen->len == 0)
		return smd_config_fail(p, "smtp", "listen", error, _("no address given"));

	if (!smd_config_required(p, "smtp", "hostname", &c->smtp_hostname, error))
		return FALSE;
	if (!smd_domain_validate(c->smtp_hostname, NULL) ||
	    g_hostname_is_ip_address(c->smtp_hostname))
		return smd_config_fail(p, "smtp", "hostname", error, _("“%s” is not a host name"),
				       c->smtp_hostname);

	/* never an open relay: without this key nobody may send */
	if (!smd_config_required(p, "smtp", "relay-networks", &networks, error) ||
	    !smd_config_networks(p, "smtp", "relay-networks", networks, c->relay_networks, error))
		return FALSE;
	if (c->relay_networks->len == 0)
		return smd_config_fail(p, "smtp", "relay-networks", error,
				       _("names no network: nobody could send"));
	for (guint i = 0; i < c->relay_networks->len; i++) {
		GInetAddressMask *mask = g_ptr_array_index(c->relay_networks, i);
		g_autofree gchar *text = g_inet_address_mask_to_string(mask);
		if (g_inet_address_mask_get_length(mask) == 0)
			g_warning("%s: [smtp] relay-networks: %s is every address: anyone who can "
				  "connect may send through this gateway",
				  p->path, text);
	}

	size = smd_config_string(p, "smtp", "max-message-size");
	c->max_message_size = 25 * 1024 * 1024;
	if (size != NULL && (!smd_parse_size(size, &c->max_message_size) ||
			     c->max_message_size < 1024 || c->max_message_size > G_MAXINT32))
		return smd_config_fail(p, "smtp", "max-message-size", error,
				       _("“%s” is not a size from 1K to 2047M (for example 25M)"),
				       size);
	if (!smd_config_uint(p, "smtp", "max-recipients", 1000, 1, 100000, &c->max_recipients,
			     error))
		return FALSE;
	if (!smd_config_uint(p, "smtp", "max-sessions", 200, 1, 100000, &c->max_sessions, error))
		return FALSE;
	if (!smd_config_memory(p, "smtp", 1024, &c->max_message_memory, error))
		return FALSE;
	if (!smd_config_duration(p, "smtp", "idle-timeout", 300, &c->idle_timeout, error))
		return FALSE;

	c->tls_certificate = smd_config_string(p, "smtp", "tls-certificate");
	c->tls_key = smd_config_string(p, "smtp", "tls-key");
	if (!smd_config_file_exists(p, "smtp", "tls-certificate", c->tls_certificate, error) ||
	    !smd_config_file_exists(p, "smtp", "tls-key", c->tls_key, error))
		return FALSE;
	if (!smd_config_pair(p, "smtp", "tls-certificate", c->tls_certificate, "tls-key",
			     c->tls_key, error))
		return FALSE;
	return smd_config_certificate(p, "smtp", c->tls_certificate, c->tls_key, error);
}

static gboolean
smd_config_parse_delivery(SmdConfigParser *p, SmdConfig *c, GError **error)
{
	g_autofree gchar *routes = smd_config_string(p, "delivery", "routes");
	g_autofree gchar *policy = smd_config_string(p, "delivery", "tls-policy");
	g_autofree gchar *schedule = smd_config_string(p, "delivery", "retry-schedule");

	if (routes != NULL) {
		g_auto(GStrv) items = g_strsplit(routes, ";", -1);
		for (guint i = 0; items[i] != NULL; i++) {
			gchar *eq;
			g_autofree gchar *name = NULL;
			g_autofree gchar *domain = NULL;
			SmdRoute *route;
			g_strstrip(items[i]);
			if (items[i][0] == '\0')
				continue;
			eq = strchr(items[i], '=');
			if (eq == NULL)
				return smd_config_fail(
				    p, "delivery", "routes", error,
				    _("“%s” is not of the form domain=host:port"), items[i]);
			name = g_strndup(items[i], eq - items[i]);
			domain = g_ascii_strdown(g_strstrip(name), -1);
			/* "*": every domain without a route of its own (a smarthost) */
			if (g_strcmp0(domain, "*") != 0 && !smd_domain_validate(domain, NULL))
				return smd_config_fail(p, "delivery", "routes", error,
						       _("“%s” is not a domain name"), domain);
			route = g_new0(SmdRoute, 1);
			if (!smd_parse_host_port(g_strstrip(eq + 1), 25, &route->host,
						 &route->port)) {
				smd_route_free(route);
				return smd_config_fail(
				    p, "delivery", "routes", error,
				    _("“%s” is not a host with an optional port"), eq + 1);
			}
			if (g_hash_table_contains(c->routes, domain)) {
				smd_route_free(route);
				return smd_config_fail(p, "delivery", "routes", error,
						       _("“%s” has two routes"), domain);
			}
			g_hash_table_insert(c->routes, g_steal_pointer(&domain), route);
		}
	}

	c->tls_policy = SMD_TLS_POLICY_ENCRYPT;
	if (policy != NULL) {
		if (g_strcmp0(policy, "encrypt") == 0)
			c->tls_policy = SMD_TLS_POLICY_ENCRYPT;
		else if (g_strcmp0(policy, "verify") == 0)
			c->tls_policy = SMD_TLS_POLICY_VERIFY;
		else
			return smd_config_fail(p, "delivery", "tls-policy", error,
					       _("“%s” is neither “encrypt” nor “verify”"), policy);
	}
	c->ca_file = smd_config_string(p, "delivery", "ca-file");
	if (!smd_config_file_exists(p, "delivery", "ca-file", c->ca_file, error))
		return FALSE;
	if (c->ca_file != NULL) {
		g_autoptr(GError) error_local = NULL;
		c->trust = smd_trust_load(c->ca_file, &error_local);
		if (c->trust == NULL)
			return smd_config_fail(p, "delivery", "ca-file", error,
					       _("cannot load the CA certificates: %s"),
					       error_local->message);
	}

	/* Postfix-like default: quick first retries, then every few hours */
	if (schedule == NULL)
		schedule = g_strdup("5m;10m;20m;40m;1h;2h;4h");
	{
		g_auto(GStrv) items = g_strsplit(schedule, ";", -1);
		for (guint i = 0; items[i] != NULL; i++) {
			guint secs = 0;
			g_strstrip(items[i]);
			if (items[i][0] == '\0')
				continue;
			if (!smd_parse_duration(items[i], &secs) || secs == 0)
				return smd_config_fail(
				    p, "delivery", "retry-schedule", error,
				    _("“%s” is not a duration: a number with s, m, h or d in lower "
				      "case (for example 30s, 5m, 2h, 5d)"),
				    items[i]);
			g_array_append_val(c->retry_schedule, secs);
		}
		if (c->retry_schedule->len == 0)
			return smd_config_fail(p, "delivery", "retry-schedule", error,
					       _("no delay given"));
	}
	/* RFC 5321 §4.5.4.1: give up after 4-5 days */
	if (!smd_config_duration(p, "delivery", "max-queue-lifetime", 5 * 86400,
				 &c->max_queue_lifetime, error))
		return FALSE;
	if (!smd_config_uint(p, "delivery", "max-connections", 20, 1, 1000, &c->max_connections,
			     error))
		return FALSE;
	/* half of the slots by default: a domain whose servers stall (a
	 * tarpit, an outage that accepts and then hangs) cannot hold them all */
	if (!smd_config_uint(p, "delivery", "max-connections-per-domain", 10, 1, 1000,
			     &c->max_connections_per_domain, error))
		return FALSE;
	if (!smd_config_duration(p, "delivery", "connect-timeout", 30, &c->connect_timeout, error))
		return FALSE;
	if (!smd_config_duration(p, "delivery", "command-timeout", 300, &c->command_timeout, error))
		return FALSE;
	return TRUE;
}

/* https only, except to this machine (tests, a local relay) */
static gboolean
smd_config_url_allowed(const gchar *url)
{
	g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	const gchar *host;
	if (uri == NULL || g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0')
		return FALSE;
	host = g_uri_get_host(uri);
	if (g_strcmp0(g_uri_get_scheme(uri), "https") == 0)
		return TRUE;
	return g_strcmp0(g_uri_get_scheme(uri), "http") == 0 &&
	       (g_strcmp0(host, "127.0.0.1") == 0 || g_strcmp0(host, "::1") == 0 ||
		g_strcmp0(host, "localhost") == 0);
}

static gboolean
smd_config_parse_portal_extra(SmdConfigParser *p, SmdConfig *c, GError **error)
{
	g_autofree gchar *show = smd_config_string(p, "portal", "show-subject");
	g_autofree gchar *networks = smd_config_string(p, "portal", "registration-networks");
	g_autofree gchar *proxies = smd_config_string(p, "portal", "trusted-proxies");

	c->portal_tls_certificate = smd_config_string(p, "portal", "tls-certificate");
	c->portal_tls_key = smd_config_string(p, "portal", "tls-key");
	if (!smd_config_file_exists(p, "portal", "tls-certificate", c->portal_tls_certificate,
				    error) ||
	    !smd_config_file_exists(p, "portal", "tls-key", c->portal_tls_key, error))
		return FALSE;
	if (!smd_config_pair(p, "portal", "tls-certificate", c->portal_tls_certificate, "tls-key",
			     c->portal_tls_key, error) ||
	    !smd_config_certificate(p, "portal", c->portal_tls_certificate, c->portal_tls_key,
				    error))
		return FALSE;
	c->portal_default_country = smd_config_string(p, "portal", "default-country");
	if (c->portal_default_country == NULL)
		c->portal_default_country = g_strdup("NL");
	if (!smd_phone_country_known(c->portal_default_country))
		return smd_config_fail(p, "portal", "default-country", error,
				       _("“%s” is not a country code we know (such as NL, BE, DE)"),
				       c->portal_default_country);
	if (show != NULL && g_strcmp0(show, "true") != 0 && g_strcmp0(show, "false") != 0)
		return smd_config_fail(p, "portal", "show-subject", error,
				       _("“%s” is neither true nor false"), show);
	c->portal_show_subject = g_strcmp0(show, "true") == 0;
	if (!smd_config_memory(p, "portal", 512, &c->portal_max_message_memory, error))
		return FALSE;
	if (networks != NULL && !smd_config_networks(p, "portal", "registration-networks", networks,
						     c->registration_networks, error))
		return FALSE;
	if (proxies != NULL && !smd_config_networks(p, "portal", "trusted-proxies", proxies,
						    c->portal_trusted_proxies, error))
		return FALSE;
	c->org_colour = smd_config_string(p, "organisation", "colour");
	if (c->org_colour != NULL) {
		gboolean valid = strlen(c->org_colour) == 7 && c->org_colour[0] == '#';
		for (guint i = 1; valid && i < 7; i++)
			valid = g_ascii_isxdigit(c->org_colour[i]);
		if (!valid)
			return smd_config_fail(p, "organisation", "colour", error,
					       _("“%s” is not a colour such as #1c5d99"),
					       c->org_colour);
	}
	c->org_logo = smd_config_string(p, "organisation", "logo");
	if (c->org_logo != NULL && !g_str_has_suffix(c->org_logo, ".png") &&
	    !g_str_has_suffix(c->org_logo, ".jpg") && !g_str_has_suffix(c->org_logo, ".svg"))
		return smd_config_fail(p, "organisation", "logo", error,
				       _("“%s” is not a .png, .jpg or .svg file"), c->org_logo);
	return smd_config_file_exists(p, "organisation", "logo", c->org_logo, error);
}

static gboolean
smd_config_parse_sms(SmdConfigParser *p, SmdConfig *c, GError **error)
{
	const gchar *known[] = {"file", "http", "twilio", "messagebird", NULL};
	g_autofree gchar *headers = smd_config_string(p, "sms", "headers");
	const gchar *needs[4] = {NULL};

	if (!smd_config_parse_portal_extra(p, c, error))
		return FALSE;
	if (!smd_config_pair(p, "portal", "listen", c->portal_listen, "public-url",
			     c->portal_public_url, error))
		return FALSE;
	c->sms_provider = smd_config_string(p, "sms", "provider");
	if (c->sms_provider == NULL)
		c->sms_provider = g_strdup("file");
	if (!g_strv_contains(known, c->sms_provider))
		return smd_config_fail(p, "sms", "provider", error,
				       _("unknown provider “%s” (known: file, http, twilio, "
					 "messagebird)"),
				       c->sms_provider);
	c->sms_path = smd_config_string(p, "sms", "path");
	if (c->sms_path != NULL &&
	    (!g_path_is_absolute(c->sms_path) || g_file_test(c->sms_path, G_FILE_TEST_IS_DIR)))
		/* found now, not when the first pin code cannot be sent */
		return smd_config_fail(p, "sms", "path", error,
				       _("“%s” is not the absolute path of a file"), c->sms_path);
	c->sms_url = smd_config_string(p, "sms", "url");
	c->sms_method = smd_config_string(p, "sms", "method");
	c->sms_body = smd_config_string(p, "sms", "body");
	c->sms_content_type = smd_config_string(p, "sms", "content-type");
	if (c->sms_content_type != NULL && !smd_sms_http_content_type_known(c->sms_content_type))
		return smd_config_fail(p, "sms", "content-type", error,
				       _("“%s” is neither application/json nor "
					 "application/x-www-form-urlencoded"),
				       c->sms_content_type);
	c->sms_username = smd_config_string(p, "sms", "username");
	c->sms_password = smd_config_string(p, "sms", "password");
	c->sms_token = smd_config_string(p, "sms", "token");
	c->sms_from = smd_config_string(p, "sms", "from");
	c->sms_account = smd_config_string(p, "sms", "account");
	c->sms_headers = headers != NULL ? g_strsplit(headers, ";", -1) : g_new0(gchar *, 1);
	for (guint i = 0; c->sms_headers[i] != NULL; i++) {
		g_strstrip(c->sms_headers[i]);
		if (c->sms_headers[i][0] != '\0' && strchr(c->sms_headers[i], ':') == NULL)
			return smd_config_fail(p, "sms", "headers", error,
					       _("“%s” is not of the form Name: value"),
					       c->sms_headers[i]);
	}
	if (!smd_config_duration(p, "sms", "timeout", 10, &c->sms_timeout, error))
		return FALSE;
	if (c->sms_method != NULL && g_strcmp0(c->sms_method, "POST") != 0 &&
	    g_strcmp0(c->sms_method, "PUT") != 0)
		return smd_config_fail(p, "sms", "method", error, _("“%s” is neither POST nor PUT"),
				       c->sms_method);
	if (c->sms_url != NULL && !smd_config_url_allowed(c->sms_url))
		return smd_config_fail(p, "sms", "url", error,
				       _("“%s” is not an https URL (plain http only to this "
					 "machine)"),
				       c->sms_url);

	/* what each provider cannot work without */
	if (g_strcmp0(c->sms_provider, "file") == 0) {
		/* path defaults to sms.jsonl in the store directory */
	} else if (g_strcmp0(c->sms_provider, "http") == 0) {
		needs[0] = "url";
		needs[1] = "body";
	} else if (g_strcmp0(c->sms_provider, "twilio") == 0) {
		needs[0] = "account";
		needs[1] = "password";
		needs[2] = "from";
	} else {
		needs[0] = "token";
		needs[1] = "from";
	}
	for (guint i = 0; needs[i] != NULL; i++) {
		g_autofree gchar *v = smd_config_string(p, "sms", needs[i]);
		if (v == NULL)
			return smd_config_fail(p, "sms", needs[i], error,
					       _("required for provider “%s”"), c->sms_provider);
	}
	return TRUE;
}

/* [organisation] language: e-mails and SMS in one language, or two in one
 * message ("nl+en"); each must have its catalogue installed. */
static gboolean
smd_config_parse_language(SmdConfigParser *p, SmdConfig *c, GError **error)
{
	g_auto(GStrv) langs = NULL;

	c->org_language = smd_config_string(p, "organisation", "language");
	if (c->org_language == NULL)
		c->org_language = g_strdup("en");
	langs = smd_i18n_split(c->org_language);
	if (g_strv_length(langs) > 2 ||
	    (langs[0] != NULL && langs[1] != NULL && g_str_equal(langs[0], langs[1])))
		return smd_config_fail(p, "organisation", "language", error,
				       _("“%s”: one language, or two joined by “+”"),
				       c->org_language);
	for (guint i = 0; langs[i] != NULL; i++) {
		g_autofree gchar *path = NULL;
		g_autofree gchar *shipped = NULL;

		if (smd_i18n_supported(langs[i]))
			continue;
		if (smd_i18n_is_shipped(langs[i])) {
			path = smd_i18n_catalog_path(langs[i]);
			return smd_config_fail(p, "organisation", "language", error,
					       _("the “%s” translation is not installed: %s "
						 "cannot be read"),
					       langs[i], path);
		}
		shipped = smd_i18n_shipped_list();
		return smd_config_fail(p, "organisation", "language", error,
				       _("“%s” is not a language SecuMailer has (it has: %s)"),
				       langs[i], shipped);
	}
	return TRUE;
}

static gboolean
smd_config_parse_rest(SmdConfigParser *p, SmdConfig *c, GError **error)
{
	c->portal_listen = smd_config_string(p, "portal", "listen");
	if (c->portal_listen != NULL) {
		g_autofree gchar *host = NULL;
		guint16 port = 0;
		if (!smd_parse_host_port(c->portal_listen, 443, &host, &port) ||
		    !g_hostname_is_ip_address(host))
			return smd_config_fail(p, "portal", "listen", error,
					       _("“%s” is not an IP address with a port"),
					       c->portal_listen);
	}
	c->portal_public_url = smd_config_string(p, "portal", "public-url");
	if (c->portal_public_url != NULL) {
		g_autoptr(GUri) uri = g_uri_parse(c->portal_public_url, G_URI_FLAGS_NONE, NULL);
		if (uri == NULL || (g_strcmp0(g_uri_get_scheme(uri), "https") != 0 &&
				    g_strcmp0(g_uri_get_scheme(uri), "http") != 0))
			return smd_config_fail(p, "portal", "public-url", error,
					       _("“%s” is not an http or https URL"),
					       c->portal_public_url);
		if (g_uri_get_host(uri) == NULL || g_uri_get_host(uri)[0] == '\0' ||
		    g_uri_get_query(uri) != NULL || g_uri_get_fragment(uri) != NULL ||
		    g_uri_get_userinfo(uri) != NULL)
			return smd_config_fail(
			    p, "portal", "public-url", error,
			    _("“%s” is not the base of a web address (a host name, maybe a "
			      "port; no query, fragment or user name)"),
			    c->portal_public_url);
		/* the portal's pages link to /m/…, /r/… and /static/…: a proxy
		 * that maps a path onto it would leave every one of them broken */
		if (g_uri_get_path(uri)[0] != '\0' && g_strcmp0(g_uri_get_path(uri), "/") != 0)
			return smd_config_fail(
			    p, "portal", "public-url", error,
			    _("“%s” has a path: the portal needs a host name (or a port) of its "
			      "own, as in https://portal.example.org"),
			    c->portal_public_url);
		/* as GUri read it: "HTTPS://…" is https to the portal's cookies too */
		g_free(c->portal_public_url);
		c->portal_public_url = g_uri_to_string(uri);
	}

	if (!smd_config_parse_sms(p, c, error))
		return FALSE;

	if (!smd_config_required(p, "store", "directory", &c->store_directory, error))
		return FALSE;
	if (!g_path_is_absolute(c->store_directory))
		return smd_config_fail(p, "store", "directory", error,
				       _("“%s” is not an absolute path"), c->store_directory);
	if (!smd_config_duration(p, "store", "retention", 30 * 86400, &c->retention, error))
		return FALSE;
	if (!smd_config_duration(p, "store", "log-retention", 365 * 86400, &c->log_retention,
				 error))
		return FALSE;
	if (c->sms_path == NULL)
		c->sms_path = g_build_filename(c->store_directory, "sms.jsonl", NULL);

	c->org_name = smd_config_string(p, "organisation", "name");
	c->org_notify_from = smd_config_string(p, "organisation", "notify-from");
	if (c->org_notify_from != NULL && !smd_address_validate(c->org_notify_from, NULL, NULL))
		return smd_config_fail(p, "organisation", "notify-from", error,
				       _("“%s” is not an e-mail address"), c->org_notify_from);
	return smd_config_parse_language(p, c, error);
}

SmdConfig *
smd_config_load_from_data(const gchar *path, const gchar *data, gsize len, GError **error)
{
	g_autoptr(SmdConfig) c = g_new0(SmdConfig, 1);
	g_autoptr(GKeyFile) kf = g_key_file_new();
	g_autoptr(GHashTable) lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	g_autoptr(GError) error_local = NULL;
	SmdConfigParser p = {.path = path, .kf = kf, .lines = lines};

	g_atomic_ref_count_init(&c->ref_count);
	c->path = g_strdup(path);
	c->smtp_listen = g_ptr_array_new_with_free_func(g_object_unref);
	c->relay_networks = g_ptr_array_new_with_free_func(g_object_unref);
	c->registration_networks = g_ptr_array_new_with_free_func(g_object_unref);
	c->portal_trusted_proxies = g_ptr_array_new_with_free_func(g_object_unref);
	c->routes =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)smd_route_free);
	c->retry_schedule = g_array_new(FALSE, FALSE, sizeof(guint));

	/* a byte order mark, as some Windows editors write: not part of [smtp] */
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0) {
		data += 3;
		len -= 3;
	}
	if (!smd_config_scan(&p, data, len, error))
		return NULL;
	if (!g_key_file_load_from_data(kf, data, len, G_KEY_FILE_NONE, &error_local)) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG, "%s: %s", path,
			    error_local->message);
		return NULL;
	}
	if (!smd_config_check_known(&p, error) || !smd_config_parse_smtp(&p, c, error) ||
	    !smd_config_parse_delivery(&p, c, error) || !smd_config_parse_rest(&p, c, error))
		return NULL;
	return g_steal_pointer(&c);
}

SmdConfig *
smd_config_load(const gchar *path, GError **error)
{
	g_autofree gchar *data = NULL;
	gsize len = 0;
	g_autoptr(GError) error_local = NULL;
	g_autoptr(SmdConfig) config = NULL;
	GStatBuf st;

	/* a FIFO would hang the start, /dev/zero fill the memory */
	if (g_stat(path, &st) == 0) {
		if (!S_ISREG(st.st_mode)) {
			g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG, _("%s: not a regular file"),
				    path);
			return NULL;
		}
		if (st.st_size > SMD_CONFIG_MAX_SIZE) {
			g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
				    _("%s: larger than %d KiB, too large for a configuration file"),
				    path, SMD_CONFIG_MAX_SIZE / 1024);
			return NULL;
		}
	}
	if (!g_file_get_contents(path, &data, &len, &error_local)) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG, "%s", error_local->message);
		return NULL;
	}
	config = smd_config_load_from_data(path, data, len, error);
	/* here, not in the parser: the fuzzer and the unit tests need no
	 * system store (tens of milliseconds) */
	if (config != NULL && config->trust == NULL) {
		config->trust = smd_trust_load(NULL, &error_local);
		if (config->trust == NULL) {
			g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
				    "%s: [delivery] ca-file: %s", path, error_local->message);
			return NULL;
		}
	}
	return g_steal_pointer(&config);
}

const SmdConfig *
smd_config_ref(const SmdConfig *config)
{
	g_atomic_ref_count_inc(&((SmdConfig *)config)->ref_count);
	return config;
}

void
smd_config_unref(const SmdConfig *config)
{
	SmdConfig *c = (SmdConfig *)config;

	if (c == NULL || !g_atomic_ref_count_dec(&c->ref_count))
		return;
	g_free(c->path);
	g_clear_pointer(&c->smtp_listen, g_ptr_array_unref);
	g_free(c->smtp_hostname);
	g_clear_pointer(&c->relay_networks, g_ptr_array_unref);
	g_free(c->tls_certificate);
	g_free(c->tls_key);
	g_clear_pointer(&c->routes, g_hash_table_unref);
	g_free(c->ca_file);
	g_clear_pointer(&c->trust, smd_trust_unref);
	g_clear_pointer(&c->retry_schedule, g_array_unref);
	g_free(c->portal_listen);
	g_free(c->portal_public_url);
	g_free(c->portal_default_country);
	g_free(c->portal_tls_certificate);
	g_free(c->portal_tls_key);
	g_clear_pointer(&c->registration_networks, g_ptr_array_unref);
	g_clear_pointer(&c->portal_trusted_proxies, g_ptr_array_unref);
	g_free(c->org_colour);
	g_free(c->org_logo);
	g_free(c->org_language);
	g_free(c->sms_provider);
	g_free(c->sms_path);
	g_free(c->sms_url);
	g_free(c->sms_method);
	g_strfreev(c->sms_headers);
	g_free(c->sms_body);
	g_free(c->sms_content_type);
	g_free(c->sms_username);
	g_free(c->sms_password);
	g_free(c->sms_token);
	g_free(c->sms_from);
	g_free(c->sms_account);
	g_free(c->store_directory);
	g_free(c->org_name);
	g_free(c->org_notify_from);
	g_free(c);
}

guint
smd_config_retry_delay(const SmdConfig *config, guint attempt)
{
	GArray *s = config->retry_schedule;
	guint idx = attempt == 0 ? 0 : MIN(attempt - 1, s->len - 1);
	return g_array_index(s, guint, idx);
}
