/*
 * SecuMailer — the portal's reading of what a visitor sends.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "smd-portal-request.h"
#include "smd-token.h"

void
smd_portal_route_clear(SmdPortalRoute *route)
{
	g_clear_pointer(&route->token, g_free);
	g_clear_pointer(&route->action, g_free);
}

gboolean
smd_portal_route_parse(const gchar *path, SmdPortalRoute *route)
{
	g_auto(GStrv) parts = g_strsplit(path, "/", 5);
	guint n = g_strv_length(parts);

	memset(route, 0, sizeof(*route));
	route->index = -1;
	if (n < 3 || parts[0][0] != '\0' ||
	    (g_strcmp0(parts[1], "r") != 0 && g_strcmp0(parts[1], "m") != 0) ||
	    !smd_token_is_well_formed(parts[2]) ||
	    (n > 4 && g_strcmp0(parts[3], "attachment") != 0))
		return FALSE;
	route->token = g_strdup(parts[2]);
	route->registration = g_strcmp0(parts[1], "r") == 0;
	if (n > 4) {
		guint64 i = 0;
		if (g_ascii_string_to_unsigned(parts[4], 10, 0, 10000, &i, NULL))
			route->index = (gint)i;
	}
	route->action = g_strdup(n > 3 ? parts[3] : "");
	return TRUE;
}

gchar *
smd_portal_switch_path(const gchar *path, gboolean post)
{
	g_auto(GStrv) parts = g_strsplit(path, "/", 4);
	g_autofree gchar *result = post && g_strv_length(parts) >= 3
				       ? g_strdup_printf("/%s/%s", parts[1], parts[2])
				       : g_strdup(path);

	/* it goes into an href: only what our own paths are made of */
	for (const gchar *p = result; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '/' && *p != '-' && *p != '_')
			return g_strdup("/");
	}
	return g_steal_pointer(&result);
}

/* Not soup_header_parse_semi_param_list(): it matches names regardless of
 * case and keeps the first, so "__HOST-smd_csrf=x" tossed in from a sibling
 * domain (no __Host- protection under another case) or sent first for a
 * longer Path would stand in for ours. Names match exactly here, and a
 * name sent twice counts as absent: we fail closed (no session, a new
 * CSRF token). */
gchar *
smd_portal_cookie_value(const gchar *header, const gchar *name)
{
	g_auto(GStrv) pairs = NULL;
	g_autofree gchar *found = NULL;
	gsize name_len = strlen(name);

	if (header == NULL)
		return NULL;
	pairs = g_strsplit(header, ";", -1);
	for (gchar **p = pairs; *p != NULL; p++) {
		gchar *pair = g_strstrip(*p);
		gchar *value;
		gsize len;
		if (strncmp(pair, name, name_len) != 0 || pair[name_len] != '=')
			continue;
		if (found != NULL)
			return NULL; /* twice: which one is ours is unknowable */
		value = pair + name_len + 1;
		len = strlen(value);
		if (len >= 2 && value[0] == '"' && value[len - 1] == '"')
			found = g_strndup(value + 1, len - 2);
		else
			found = g_strdup(value);
	}
	return g_steal_pointer(&found);
}

gchar *
smd_portal_forwarded_client(const gchar *peer, const gchar *forwarded, GPtrArray *proxies)
{
	g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(peer != NULL ? peer : "");
	gboolean trusted = FALSE;

	for (guint i = 0; addr != NULL && proxies != NULL && i < proxies->len; i++)
		trusted =
		    trusted || g_inet_address_mask_matches(g_ptr_array_index(proxies, i), addr);
	/* earlier entries are the client's to forge: only the last hop counts */
	if (trusted && forwarded != NULL) {
		const gchar *last = strrchr(forwarded, ',');
		g_autofree gchar *candidate =
		    g_strstrip(g_strdup(last != NULL ? last + 1 : forwarded));
		if (g_hostname_is_ip_address(candidate))
			return g_steal_pointer(&candidate);
	}
	return g_strdup(peer != NULL ? peer : "unknown");
}
