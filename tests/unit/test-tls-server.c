/*
 * SecuMailer — unit tests: when a ClientHello counts as arrived, so that a
 * TLS handshake may start (smd-tls-server.c). The wait itself is tested on
 * the real daemon (test-attacks.py).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include "smd-tls-server.h"

/* A handshake record header for @len bytes. */
static void
record(GByteArray *out, gsize len)
{
	guint8 header[] = {0x16, 0x03, 0x01, (guint8)(len >> 8), (guint8)len};

	g_byte_array_append(out, header, sizeof header);
}

/* A ClientHello handshake message of @body bytes after its header. */
static GByteArray *
hello(gsize body)
{
	GByteArray *msg = g_byte_array_new();
	guint8 header[] = {0x01, (guint8)(body >> 16), (guint8)(body >> 8), (guint8)body};

	g_byte_array_append(msg, header, sizeof header);
	for (gsize i = 0; i < body; i++)
		g_byte_array_append(msg, (const guint8 *)"x", 1);
	return msg;
}

static void
test_one_record(void)
{
	g_autoptr(GByteArray) msg = hello(500);
	g_autoptr(GByteArray) data = g_byte_array_new();
	gsize need = 0;

	record(data, msg->len);
	g_byte_array_append(data, msg->data, msg->len);
	g_assert_cmpint(smd_tls_hello_scan(data->data, data->len, &need), ==, SMD_HELLO_WHOLE);
	/* with more behind it (early data) */
	g_byte_array_append(data, (const guint8 *)"\x17\x03\x03", 3);
	g_assert_cmpint(smd_tls_hello_scan(data->data, data->len, &need), ==, SMD_HELLO_WHOLE);
	/* a part: wait for the end of the record */
	g_assert_cmpint(smd_tls_hello_scan(data->data, 40, &need), ==, SMD_HELLO_PARTIAL);
	g_assert_cmpuint(need, ==, 5 + 504);
	g_assert_cmpint(smd_tls_hello_scan(data->data, 3, &need), ==, SMD_HELLO_PARTIAL);
	g_assert_cmpuint(need, ==, 5);
}

/* the message spread over records, the first of one byte: not arrived
 * until its last byte is here */
static void
test_spanning_records(void)
{
	g_autoptr(GByteArray) msg = hello(300);
	g_autoptr(GByteArray) data = g_byte_array_new();
	gsize need = 0;

	record(data, 1);
	g_byte_array_append(data, msg->data, 1);
	g_assert_cmpint(smd_tls_hello_scan(data->data, data->len, &need), ==, SMD_HELLO_PARTIAL);
	g_assert_cmpuint(need, ==, data->len + 5);
	record(data, msg->len - 1);
	g_byte_array_append(data, msg->data + 1, msg->len - 1);
	g_assert_cmpint(smd_tls_hello_scan(data->data, data->len - 1, &need), ==,
			SMD_HELLO_PARTIAL);
	g_assert_cmpuint(need, ==, data->len);
	g_assert_cmpint(smd_tls_hello_scan(data->data, data->len, &need), ==, SMD_HELLO_WHOLE);
}

static void
test_not_a_hello(void)
{
	static const guint8 http[] = "GET / HTTP/1.1\r\n";
	static const guint8 alert[] = {0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x28};
	static const guint8 empty[] = {0x16, 0x03, 0x01, 0x00, 0x00};
	static const guint8 server_hello[] = {0x16, 0x03, 0x01, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00};
	g_autoptr(GByteArray) huge = g_byte_array_new();
	gsize need = 0;

	g_assert_cmpint(smd_tls_hello_scan(http, sizeof http - 1, &need), ==, SMD_HELLO_BAD);
	g_assert_cmpint(smd_tls_hello_scan(alert, sizeof alert, &need), ==, SMD_HELLO_BAD);
	g_assert_cmpint(smd_tls_hello_scan(empty, sizeof empty, &need), ==, SMD_HELLO_BAD);
	g_assert_cmpint(smd_tls_hello_scan(server_hello, sizeof server_hello, &need), ==,
			SMD_HELLO_BAD);
	/* a ClientHello announced larger than any browser's */
	record(huge, 4);
	g_byte_array_append(huge, (const guint8 *)"\x01\x01\x00\x00", 4);
	g_assert_cmpint(smd_tls_hello_scan(huge->data, huge->len, &need), ==, SMD_HELLO_BAD);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/tls-server/one-record", test_one_record);
	g_test_add_func("/secumailer/tls-server/spanning-records", test_spanning_records);
	g_test_add_func("/secumailer/tls-server/not-a-hello", test_not_a_hello);
	return g_test_run();
}
