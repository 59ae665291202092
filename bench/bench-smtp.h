/*
 * SecuMailer — what the benchmark's load generator and sink share: a
 * buffered line reader and writer over a socket, in the clear or TLS.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <openssl/ssl.h>

typedef struct {
	int fd;
	SSL *ssl; /* NULL until STARTTLS */
	gchar buf[65536];
	gsize len, pos;
} BenchConn;

void bench_conn_init(BenchConn *c, int fd);
void bench_conn_close(BenchConn *c);
/* A line without its CRLF into @line (at most @size - 1 bytes); FALSE at
 * the end of the stream or on an error. */
gboolean bench_conn_read_line(BenchConn *c, gchar *line, gsize size);
gboolean bench_conn_write(BenchConn *c, const gchar *data, gsize len);
gboolean bench_conn_printf(BenchConn *c, const gchar *format, ...) G_GNUC_PRINTF(2, 3);
/* Reads a (multi-line) reply; its code, or 0 on an error. */
gint bench_conn_reply(BenchConn *c);
/* "host:port" → a sockaddr for 127.0.0.1-style numeric hosts. */
gboolean bench_parse_address(const gchar *text, gchar **host, guint16 *port);
