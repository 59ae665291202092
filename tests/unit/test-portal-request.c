/*
 * SecuMailer — unit tests: how the portal reads paths, cookies and the
 * client's address.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "smd-portal-request.h"

#define TOKEN "AbCdEfGhIjKlMnOpQrStUvWxYz012345"

static void
test_route(void)
{
	const struct {
		const gchar *path;
		gboolean ok;
		gboolean registration;
		const gchar *action;
		gint index;
	} cases[] = {
	    {"/m/" TOKEN, TRUE, FALSE, "", -1},
	    {"/r/" TOKEN, TRUE, TRUE, "", -1},
	    {"/m/" TOKEN "/view", TRUE, FALSE, "view", -1},
	    {"/m/" TOKEN "/attachment/3", TRUE, FALSE, "attachment", 3},
	    {"/m/" TOKEN "/attachment/99999", TRUE, FALSE, "attachment", -1},
	    {"/m/" TOKEN "/attachment/1/x", TRUE, FALSE, "attachment", -1},
	    {"/m/" TOKEN "/view/1", FALSE, FALSE, NULL, -1},
	    {"/x/" TOKEN, FALSE, FALSE, NULL, -1},
	    {"/m/short", FALSE, FALSE, NULL, -1},
	    {"m/" TOKEN, FALSE, FALSE, NULL, -1},
	    {"/", FALSE, FALSE, NULL, -1},
	    {"", FALSE, FALSE, NULL, -1},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_auto(SmdPortalRoute) route = {0};
		gboolean ok = smd_portal_route_parse(cases[i].path, &route);
		g_assert_cmpint(ok, ==, cases[i].ok);
		if (!ok)
			continue;
		g_assert_cmpstr(route.token, ==, TOKEN);
		g_assert_cmpint(route.registration, ==, cases[i].registration);
		g_assert_cmpstr(route.action, ==, cases[i].action);
		g_assert_cmpint(route.index, ==, cases[i].index);
	}
}

static void
test_switch_path(void)
{
	g_autofree gchar *get = smd_portal_switch_path("/m/" TOKEN "/view", FALSE);
	g_autofree gchar *post = smd_portal_switch_path("/m/" TOKEN "/login", TRUE);
	g_autofree gchar *odd = smd_portal_switch_path("/m/\"><script>", FALSE);
	g_assert_cmpstr(get, ==, "/m/" TOKEN "/view");
	g_assert_cmpstr(post, ==, "/m/" TOKEN);
	g_assert_cmpstr(odd, ==, "/");
}

static void
test_cookie(void)
{
	const struct {
		const gchar *header;
		const gchar *expect;
	} cases[] = {
	    {"__Host-smd_csrf=good", "good"},
	    {"a=1; __Host-smd_csrf=good; b=2", "good"},
	    {"a=1;__Host-smd_csrf=\"good\"", "good"},
	    /* another case is another cookie, never ours */
	    {"__HOST-smd_csrf=evil", NULL},
	    {"__HOST-smd_csrf=evil; __Host-smd_csrf=good", "good"},
	    /* twice: cannot tell which is ours, so none */
	    {"__Host-smd_csrf=evil; __Host-smd_csrf=good", NULL},
	    /* a longer name that starts with ours */
	    {"__Host-smd_csrfx=evil", NULL},
	    {"x__Host-smd_csrf=evil", NULL},
	    {"__Host-smd_csrf", NULL},
	    {"", NULL},
	};
	g_assert_null(smd_portal_cookie_value(NULL, "__Host-smd_csrf"));
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		g_autofree gchar *value =
		    smd_portal_cookie_value(cases[i].header, "__Host-smd_csrf");
		g_assert_cmpstr(value, ==, cases[i].expect);
	}
}

static void
test_forwarded(void)
{
	g_autoptr(GPtrArray) proxies = g_ptr_array_new_with_free_func(g_object_unref);
	g_autofree gchar *direct = NULL, *via = NULL, *forged = NULL, *junk = NULL;

	g_ptr_array_add(proxies, g_inet_address_mask_new_from_string("127.0.0.1/32", NULL));
	direct = smd_portal_forwarded_client("192.0.2.7", "198.51.100.1", proxies);
	via = smd_portal_forwarded_client("127.0.0.1", "203.0.113.9", proxies);
	/* only the hop the proxy added counts: earlier ones are the client's */
	forged = smd_portal_forwarded_client("127.0.0.1", "10.0.0.1, 203.0.113.9", proxies);
	junk = smd_portal_forwarded_client("127.0.0.1", "not-an-address", proxies);
	g_assert_cmpstr(direct, ==, "192.0.2.7");
	g_assert_cmpstr(via, ==, "203.0.113.9");
	g_assert_cmpstr(forged, ==, "203.0.113.9");
	g_assert_cmpstr(junk, ==, "127.0.0.1");
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/portal-request/route", test_route);
	g_test_add_func("/secumailer/portal-request/switch-path", test_switch_path);
	g_test_add_func("/secumailer/portal-request/cookie", test_cookie);
	g_test_add_func("/secumailer/portal-request/forwarded", test_forwarded);
	return g_test_run();
}
