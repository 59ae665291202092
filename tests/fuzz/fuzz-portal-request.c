/*
 * SecuMailer — fuzz target: what a portal visitor sends, read as the
 * portal reads it (smd-portal-request.h, soup_form_decode(),
 * smd_i18n_negotiate()). The input is fields separated by LF:
 *
 *   path LF method LF Cookie LF peer address LF X-Forwarded-For LF
 *   form body LF Accept-Language LF ?lang= value
 *
 * A missing field is a missing header (the path is then "").
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>
#include <stdint.h>
#include <string.h>

#include "smd-i18n.h"
#include "smd-portal-request.h"
#include "smd-token.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	FIELD_PATH,
	FIELD_METHOD,
	FIELD_COOKIE,
	FIELD_PEER,
	FIELD_FORWARDED,
	FIELD_FORM,
	FIELD_ACCEPT_LANGUAGE,
	FIELD_LANG,
	N_FIELDS
};

static GPtrArray *
trusted_proxies(void)
{
	static const gchar *const masks[] = {"127.0.0.0/8", "::1/128", "10.0.0.0/8",
					     "2001:db8::/32"};
	static GPtrArray *proxies = NULL;

	if (proxies == NULL) {
		proxies = g_ptr_array_new_with_free_func(g_object_unref);
		for (guint i = 0; i < G_N_ELEMENTS(masks); i++)
			g_ptr_array_add(proxies,
					g_inet_address_mask_new_from_string(masks[i], NULL));
	}
	return proxies;
}

static gboolean
peer_is_trusted(const gchar *peer)
{
	g_autoptr(GInetAddress) addr = g_inet_address_new_from_string(peer != NULL ? peer : "");
	GPtrArray *proxies = trusted_proxies();

	for (guint i = 0; addr != NULL && i < proxies->len; i++) {
		if (g_inet_address_mask_matches(g_ptr_array_index(proxies, i), addr))
			return TRUE;
	}
	return FALSE;
}

static void
check_route(const gchar *path, gboolean post)
{
	g_auto(SmdPortalRoute) route = {0};
	gboolean ok = smd_portal_route_parse(path, &route);
	g_autofree gchar *switch_path = smd_portal_switch_path(path, post);

	/* it goes into an href: only what our own paths are made of */
	g_assert(switch_path != NULL);
	for (const gchar *p = switch_path; *p != '\0'; p++)
		g_assert_true(g_ascii_isalnum(*p) || *p == '/' || *p == '-' || *p == '_');
	if (!ok) {
		g_assert_null(route.token);
		g_assert_null(route.action);
		return;
	}
	g_assert_true(smd_token_is_well_formed(route.token));
	g_assert_nonnull(route.action);
	g_assert_cmpint(route.index, >=, -1);
	g_assert_cmpint(route.index, <=, 10000);
	g_assert_true(g_str_has_prefix(path, route.registration ? "/r/" : "/m/"));
	/* a page of ours links back to a page of ours, never elsewhere */
	g_assert_true(g_str_equal(switch_path, "/") || g_str_has_prefix(switch_path, "/r/") ||
		      g_str_has_prefix(switch_path, "/m/"));
}

static void
check_cookies(const gchar *header)
{
	static const gchar *const names[] = {"smd_lang", "smd_csrf", "__Host-smd_csrf",
					     "smd_session", "__Host-smd_session"};

	for (guint i = 0; i < G_N_ELEMENTS(names); i++) {
		g_autofree gchar *value = smd_portal_cookie_value(header, names[i]);
		if (header == NULL)
			g_assert_null(value);
		if (value != NULL && i == 0)
			smd_i18n_supported(value);
		if (value != NULL && i > 0)
			smd_token_is_well_formed(value);
	}
}

static void
check_client(const gchar *peer, const gchar *forwarded)
{
	g_autofree gchar *client = smd_portal_forwarded_client(peer, forwarded, trusted_proxies());

	g_assert_nonnull(client);
	if (g_strcmp0(client, peer != NULL ? peer : "unknown") != 0) {
		/* only a trusted proxy may name another address, and only one */
		g_assert_true(peer_is_trusted(peer));
		g_assert_nonnull(forwarded);
		g_assert_true(g_hostname_is_ip_address(client));
	}
}

static void
check_form(const gchar *body)
{
	g_autoptr(GHashTable) form = NULL;

	if (body == NULL)
		return;
	form = soup_form_decode(body);
	if (form != NULL) {
		GHashTableIter iter;
		gpointer key, value;
		g_hash_table_iter_init(&iter, form);
		while (g_hash_table_iter_next(&iter, &key, &value)) {
			g_assert_nonnull(key);
			g_assert_nonnull(value);
		}
	}
}

static void
check_language(const gchar *accept, const gchar *lang)
{
	static const gchar *const fallbacks[] = {"en", "nl"};

	for (guint i = 0; i < G_N_ELEMENTS(fallbacks); i++) {
		const gchar *chosen = smd_i18n_negotiate(accept, fallbacks[i]);
		g_assert_true(chosen == fallbacks[i] || g_str_equal(chosen, "en") ||
			      g_str_equal(chosen, "nl"));
		if (chosen != fallbacks[i])
			g_assert_true(smd_i18n_supported(chosen));
	}
	if (lang != NULL)
		smd_i18n_supported(lang);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static gsize initialised = 0;
	gchar *fields[N_FIELDS] = {NULL};
	gsize pos = 0;

	if (g_once_init_enter(&initialised)) {
		/* the catalogues of the build tree, not those installed */
		smd_i18n_set_localedir(SMD_FUZZ_LOCALEDIR);
		g_once_init_leave(&initialised, 1);
	}

	for (guint i = 0; i < N_FIELDS && pos <= size; i++) {
		const guint8 *sep = memchr(data + pos, '\n', size - pos);
		gsize len = sep != NULL ? (gsize)(sep - (data + pos)) : size - pos;
		fields[i] = g_strndup((const gchar *)data + pos, len);
		if (sep == NULL)
			break;
		pos += len + 1;
	}

	check_route(fields[FIELD_PATH] != NULL ? fields[FIELD_PATH] : "",
		    g_strcmp0(fields[FIELD_METHOD], "POST") == 0);
	check_route(fields[FIELD_PATH] != NULL ? fields[FIELD_PATH] : "",
		    g_strcmp0(fields[FIELD_METHOD], "POST") != 0);
	check_cookies(fields[FIELD_COOKIE]);
	check_client(fields[FIELD_PEER], fields[FIELD_FORWARDED]);
	check_form(fields[FIELD_FORM]);
	check_language(fields[FIELD_ACCEPT_LANGUAGE], fields[FIELD_LANG]);

	for (guint i = 0; i < N_FIELDS; i++)
		g_free(fields[i]);
	return 0;
}
