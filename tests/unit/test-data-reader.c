/*
 * SecuMailer — unit tests: the DATA framing state machine.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <string.h>

#include "smd-data-reader.h"

#define MAX_SIZE (1024 * 1024)

/* Feeds @input in chunks of @chunk bytes; returns the final status. */
static SmdDataStatus
feed(SmdDataReader *r, const gchar *input, gsize len, gsize chunk, gsize *rest_at)
{
	gsize off = 0;
	while (off < len) {
		gsize n = MIN(chunk, len - off);
		gsize consumed = 0;
		SmdDataStatus st =
		    smd_data_reader_feed(r, (const guint8 *)input + off, n, &consumed);
		if (st != SMD_DATA_MORE) {
			*rest_at = off + consumed;
			return st;
		}
		g_assert_cmpuint(consumed, ==, n);
		off += n;
	}
	*rest_at = len;
	return SMD_DATA_MORE;
}

static void
test_end_and_unstuffing(void)
{
	const gchar *input =
	    "Subject: x\r\n\r\n..leading dot\r\n.\r\nline\r\n.\r\nMAIL FROM:<a@b>\r\n";
	const gchar *expect = "Subject: x\r\n\r\n.leading dot\r\n";
	gsize len = strlen(input);

	/* every chunk size, so a boundary falls at every position */
	for (gsize chunk = 1; chunk <= len; chunk++) {
		g_autoptr(SmdDataReader) r = smd_data_reader_new(MAX_SIZE, 1000, 1000);
		g_autoptr(GBytes) msg = NULL;
		gsize rest = 0;
		g_assert_cmpint(feed(r, input, len, chunk, &rest), ==, SMD_DATA_DONE);
		msg = smd_data_reader_steal_message(r);
		g_assert_cmpmem(g_bytes_get_data(msg, NULL), g_bytes_get_size(msg), expect,
				strlen(expect));
		g_assert_cmpstr(input + rest, ==, "line\r\n.\r\nMAIL FROM:<a@b>\r\n");
		g_assert_cmpint(smd_data_reader_get_problems(r), ==, SMD_DATA_PROBLEM_NONE);
	}
}

static void
test_empty_message(void)
{
	g_autoptr(SmdDataReader) r = smd_data_reader_new(MAX_SIZE, 1000, 1000);
	g_autoptr(GBytes) msg = NULL;
	gsize rest = 0;
	g_assert_cmpint(feed(r, ".\r\n", 3, 3, &rest), ==, SMD_DATA_DONE);
	msg = smd_data_reader_steal_message(r);
	g_assert_cmpuint(g_bytes_get_size(msg), ==, 0);
}

/* The SMTP smuggling end-of-data variants (CVE-2023-51764 class): each
 * must be a fatal framing error, never an end of data. */
static void
test_smuggling_rejected(void)
{
	const struct {
		const gchar *data;
		gsize len;
	} cases[] = {
	    {"a\r\nb\n.\nMAIL", 12},	   {"a\r\nb\n.\r\nMAIL", 13}, {"a\r\nb\r.\nMAIL", 12},
	    {"a\r\nb\r.\r\nMAIL", 13},	   {"a\r\nb\r\n.\nMAIL", 13}, {"a\r\nb\r\n.\rMAIL", 13},
	    {"a\r\nb\r\n\0.\r\nMAIL", 15},
	};
	for (guint i = 0; i < G_N_ELEMENTS(cases); i++) {
		for (gsize chunk = 1; chunk <= cases[i].len; chunk++) {
			g_autoptr(SmdDataReader) r = smd_data_reader_new(MAX_SIZE, 1000, 1000);
			gsize rest = 0;
			SmdDataStatus st = feed(r, cases[i].data, cases[i].len, chunk, &rest);
			if (st != SMD_DATA_BARE_LF && st != SMD_DATA_BARE_CR && st != SMD_DATA_NUL)
				g_error("case %u chunk %" G_GSIZE_FORMAT ": status %d", i, chunk,
					st);
		}
	}
}

static void
test_too_big(void)
{
	g_autoptr(SmdDataReader) r = smd_data_reader_new(16, 1000, 1000);
	const gchar *input = "0123456789\r\n0123456789\r\n.\r\n";
	gsize rest = 0;
	g_assert_cmpint(feed(r, input, strlen(input), 5, &rest), ==, SMD_DATA_DONE);
	g_assert_true(smd_data_reader_get_problems(r) & SMD_DATA_PROBLEM_TOO_BIG);
	g_assert_cmpuint(smd_data_reader_get_size(r), ==, 24);
	g_assert_cmpuint(rest, ==, strlen(input));
}

static void
test_limits(void)
{
	g_autoptr(SmdDataReader) r = smd_data_reader_new(MAX_SIZE, 10, 20);
	g_autoptr(SmdDataReader) h = smd_data_reader_new(MAX_SIZE, 100, 20);
	const gchar *long_line = "A: 0123456789012\r\n\r\n.\r\n";
	const gchar *big_header = "A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\nbody\r\n.\r\n";
	gsize rest = 0;

	g_assert_cmpint(feed(r, long_line, strlen(long_line), 4, &rest), ==, SMD_DATA_DONE);
	g_assert_true(smd_data_reader_get_problems(r) & SMD_DATA_PROBLEM_LINE_TOO_LONG);
	g_assert_cmpint(feed(h, big_header, strlen(big_header), 64, &rest), ==, SMD_DATA_DONE);
	g_assert_cmpint(smd_data_reader_get_problems(h), ==, SMD_DATA_PROBLEM_HEADER_TOO_BIG);
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/data/end-and-unstuffing", test_end_and_unstuffing);
	g_test_add_func("/secumailer/data/empty-message", test_empty_message);
	g_test_add_func("/secumailer/data/smuggling-rejected", test_smuggling_rejected);
	g_test_add_func("/secumailer/data/too-big", test_too_big);
	g_test_add_func("/secumailer/data/limits", test_limits);
	return g_test_run();
}
