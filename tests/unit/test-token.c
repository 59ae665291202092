/*
 * SecuMailer — unit tests: link tokens, pins and keyed MACs.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "smd-token.h"
#include "smd-vault.h"

static void
test_tokens(void)
{
	g_autoptr(GHashTable) seen = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
	for (guint i = 0; i < 1000; i++) {
		gchar *t = smd_token_new();
		g_autofree gchar *h = smd_token_hash(t);
		g_assert_true(smd_token_is_well_formed(t));
		g_assert_cmpuint(strlen(h), ==, 64);
		g_assert_false(g_hash_table_contains(seen, t));
		g_hash_table_add(seen, t);
	}
	g_assert_false(smd_token_is_well_formed("short"));
	g_assert_false(smd_token_is_well_formed("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/"));
	g_assert_false(smd_token_is_well_formed(NULL));
}

static void
test_pins(void)
{
	guint counts[10] = {0};
	for (guint i = 0; i < 2000; i++) {
		g_autofree gchar *pin = smd_pin_new();
		g_assert_true(smd_pin_is_well_formed(pin));
		counts[pin[0] - '0']++;
	}
	/* every first digit occurs: no obvious bias or truncation */
	for (guint d = 0; d < 10; d++)
		g_assert_cmpuint(counts[d], >, 100);
	g_assert_false(smd_pin_is_well_formed("12345"));
	g_assert_false(smd_pin_is_well_formed("12345a"));
	g_assert_true(smd_secure_equal("123456", "123456"));
	g_assert_false(smd_secure_equal("123456", "123457"));
	g_assert_false(smd_secure_equal("123456", "1234567"));
}

static void
test_mac(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("smd-mac-XXXXXX", NULL);
	g_autofree gchar *keyfile = g_build_filename(dir, "master.key", NULL);
	g_autoptr(SmdVault) vault = smd_vault_new(dir, TRUE, NULL);
	g_autofree gchar *a = smd_vault_mac(vault, "pin", "7:123456");
	g_autofree gchar *b = smd_vault_mac(vault, "pin", "7:123456");
	g_autofree gchar *c = smd_vault_mac(vault, "pin", "8:123456");
	g_autofree gchar *d = smd_vault_mac(vault, "other", "7:123456");
	g_assert_cmpstr(a, ==, b);
	g_assert_cmpstr(a, !=, c);
	g_assert_cmpstr(a, !=, d);
	g_assert_cmpuint(strlen(a), ==, 64);
	g_unlink(keyfile);
	g_rmdir(dir);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/token/tokens", test_tokens);
	g_test_add_func("/secumailer/token/pins", test_pins);
	g_test_add_func("/secumailer/token/mac", test_mac);
	return g_test_run();
}
