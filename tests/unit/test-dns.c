/*
 * SecuMailer — unit tests: reading a name server's answer to an MX query
 * (smd_dns_parse_mx(), smd-dns.c). The lookups themselves run against a
 * name server on loopback in test-dns.py and test-attacks.py.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "smd-dns.h"

/* The header of a response with @answers records after the question
 * "live.test MX IN" (at offset 12, for compression pointers 0xc00c). */
static GByteArray *
response(guint8 answers)
{
	static const guint8 head[] = {0x12, 0x34, 0x81, 0x80, 0,   1,	0,   0,	  0,
				      0,    0,	  0,	4,    'l', 'i', 'v', 'e', 4,
				      't',  'e',  's',	't',  0,   0,	15,  0,	  1};
	GByteArray *out = g_byte_array_new();

	g_byte_array_append(out, head, sizeof head);
	out->data[7] = answers;
	return out;
}

/* A record owned by the question's name: @type, then @rdata */
static void
add_record(GByteArray *out, guint8 type, const guint8 *rdata, guint8 len)
{
	const guint8 rr[] = {0xc0, 0x0c, 0, type, 0, 1, 0, 0, 0x0e, 0x10, 0, len};

	g_byte_array_append(out, rr, sizeof rr);
	g_byte_array_append(out, rdata, len);
}

static void
test_mx_records(void)
{
	/* preference 20 "mx2.live.test" (compressed), 10 "mx1.other.test" */
	static const guint8 mx2[] = {0, 20, 3, 'm', 'x', '2', 0xc0, 0x0c};
	static const guint8 mx1[] = {0,	  10,  3,   'm', 'x', '1', 5,	'o', 't',
				     'h', 'e', 'r', 4,	 't', 'e', 's', 't', 0};
	static const guint8 cname[] = {3, 'm', 'x', '3', 0xc0, 0x0c};
	g_autoptr(GByteArray) data = response(3);
	g_autoptr(GError) error = NULL;
	GList *records;
	guint16 pref = 0;
	const gchar *host = NULL;

	add_record(data, 5, cname, sizeof cname); /* not an MX: skipped */
	add_record(data, 15, mx2, sizeof mx2);
	add_record(data, 15, mx1, sizeof mx1);
	records = smd_dns_parse_mx(data->data, data->len, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_list_length(records), ==, 2);
	g_variant_get(records->data, "(q&s)", &pref, &host);
	g_assert_cmpuint(pref, ==, 20);
	g_assert_cmpstr(host, ==, "mx2.live.test");
	g_variant_get(records->next->data, "(q&s)", &pref, &host);
	g_assert_cmpuint(pref, ==, 10);
	g_assert_cmpstr(host, ==, "mx1.other.test");
	g_list_free_full(records, (GDestroyNotify)g_variant_unref);
}

static void
test_null_mx(void)
{
	static const guint8 null_mx[] = {0, 0, 0};
	g_autoptr(GByteArray) data = response(1);
	g_autoptr(GError) error = NULL;
	GList *records;
	const gchar *host = NULL;
	guint16 pref = 1;

	add_record(data, 15, null_mx, sizeof null_mx);
	records = smd_dns_parse_mx(data->data, data->len, &error);
	g_assert_no_error(error);
	g_assert_cmpuint(g_list_length(records), ==, 1);
	g_variant_get(records->data, "(q&s)", &pref, &host);
	g_assert_cmpuint(pref, ==, 0);
	/* RFC 7505: the root, which smd-resolver.c turns into a bounce */
	g_assert_true(host[0] == '\0' || g_str_equal(host, "."));
	g_list_free_full(records, (GDestroyNotify)g_variant_unref);
}

static void
test_no_mx(void)
{
	static const guint8 cname[] = {3, 'm', 'x', '3', 0xc0, 0x0c};
	g_autoptr(GByteArray) data = response(1);
	g_autoptr(GError) error = NULL;

	add_record(data, 5, cname, sizeof cname);
	g_assert_null(smd_dns_parse_mx(data->data, data->len, &error));
	g_assert_error(error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND);
}

static void
test_malformed(void)
{
	static const guint8 mx[] = {0, 10, 3, 'm', 'x', '1', 0xc0, 0x0c};
	static const guint8 loop[] = {0, 10, 0xc0, 0x29}; /* points at itself */
	static const guint8 short_rdata[] = {0, 10};
	g_autoptr(GByteArray) whole = response(1);
	g_autoptr(GByteArray) looping = response(1);
	g_autoptr(GByteArray) too_short = response(1);

	add_record(whole, 15, mx, sizeof mx);
	/* every cut-off answer is an error, never a record read past its end */
	for (guint len = 0; len < whole->len; len++) {
		g_autoptr(GError) error = NULL;
		g_assert_null(smd_dns_parse_mx(whole->data, len, &error));
		g_assert_nonnull(error);
	}
	add_record(looping, 15, loop, sizeof loop);
	add_record(too_short, 15, short_rdata, sizeof short_rdata);
	for (guint i = 0; i < 2; i++) {
		GByteArray *data = i == 0 ? looping : too_short;
		g_autoptr(GError) error = NULL;
		g_assert_null(smd_dns_parse_mx(data->data, data->len, &error));
		g_assert_error(error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE);
	}
}

static void
test_not_a_host_name(void)
{
	/* "x:2525", "[::1]:80" (one label each) and "127.0.0.1" (four) */
	static const guint8 port[] = {0, 10, 6, 'x', ':', '2', '5', '2', '5', 0};
	static const guint8 v6[] = {0, 10, 8, '[', ':', ':', '1', ']', ':', '8', '0', 0};
	static const guint8 v4[] = {0, 10, 3, '1', '2', '7', 1, '0', 1, '0', 1, '1', 0};
	static const guint8 good[] = {0, 20, 3, 'm', 'x', '1', 0xc0, 0x0c};
	const guint8 *const bad[] = {port, v6, v4};
	const guint8 lens[] = {sizeof port, sizeof v6, sizeof v4};

	for (guint i = 0; i < G_N_ELEMENTS(bad); i++) {
		g_autoptr(GByteArray) alone = response(1);
		g_autoptr(GByteArray) with_good = response(2);
		g_autoptr(GError) error = NULL;
		GList *records;
		const gchar *host = NULL;
		guint16 pref = 0;

		add_record(alone, 15, bad[i], lens[i]);
		g_assert_null(smd_dns_parse_mx(alone->data, alone->len, &error));
		g_assert_error(error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE);
		/* next to a proper one: only that one */
		add_record(with_good, 15, bad[i], lens[i]);
		add_record(with_good, 15, good, sizeof good);
		records = smd_dns_parse_mx(with_good->data, with_good->len, NULL);
		g_assert_cmpuint(g_list_length(records), ==, 1);
		g_variant_get(records->data, "(q&s)", &pref, &host);
		g_assert_cmpstr(host, ==, "mx1.live.test");
		g_list_free_full(records, (GDestroyNotify)g_variant_unref);
	}
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/dns/mx-records", test_mx_records);
	g_test_add_func("/secumailer/dns/null-mx", test_null_mx);
	g_test_add_func("/secumailer/dns/no-mx", test_no_mx);
	g_test_add_func("/secumailer/dns/malformed", test_malformed);
	g_test_add_func("/secumailer/dns/not-a-host-name", test_not_a_host_name);
	return g_test_run();
}
