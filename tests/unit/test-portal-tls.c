/*
 * SecuMailer — unit tests for the HTTPS portal's front door: which client
 * a TLS handshake counts against (smd-portal-tls.c). Its behaviour under
 * stalled handshakes is tested on the real daemon (test-attacks.py).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "smd-portal-tls.h"

static gchar *
client_key(const gchar *text)
{
	g_autoptr(GInetAddress) address = g_inet_address_new_from_string(text);

	g_assert_nonnull(address);
	return smd_portal_tls_client_key(address);
}

static void
test_client_key(void)
{
	g_autofree gchar *v4 = client_key("192.0.2.7");
	g_autofree gchar *v4b = client_key("192.0.2.8");
	g_autofree gchar *mapped = client_key("::ffff:192.0.2.7");
	g_autofree gchar *v6a = client_key("2001:db8:1:2:aaaa::1");
	g_autofree gchar *v6b = client_key("2001:db8:1:2:bbbb::2");
	g_autofree gchar *v6c = client_key("2001:db8:1:3::1");

	g_assert_cmpstr(v4, ==, "192.0.2.7");
	g_assert_cmpstr(v4, !=, v4b);
	/* a dual-stack listener sees IPv4 clients so: each is its own client,
	 * not all of them one ::ffff:0:0/64 */
	g_assert_cmpstr(mapped, ==, "192.0.2.7");
	g_assert_cmpstr(v6a, ==, "2001:0db8:0001:0002::/64");
	g_assert_cmpstr(v6a, ==, v6b); /* one /64, one customer */
	g_assert_cmpstr(v6a, !=, v6c);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/portal-tls/client-key", test_client_key);
	return g_test_run();
}
