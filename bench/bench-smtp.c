/*
 * SecuMailer — the benchmark tools' buffered SMTP I/O.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <unistd.h>

#include "bench-smtp.h"

void
bench_conn_init(BenchConn *c, int fd)
{
	c->fd = fd;
	c->ssl = NULL;
	c->len = c->pos = 0;
}

void
bench_conn_close(BenchConn *c)
{
	if (c->ssl != NULL) {
		SSL_shutdown(c->ssl);
		SSL_free(c->ssl);
		c->ssl = NULL;
	}
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static gssize
bench_conn_raw_read(BenchConn *c, gchar *into, gsize size)
{
	if (c->ssl != NULL) {
		int n = SSL_read(c->ssl, into, (int)size);
		return n > 0 ? n : -1;
	}
	for (;;) {
		gssize n = read(c->fd, into, size);
		if (n < 0 && errno == EINTR)
			continue;
		return n > 0 ? n : -1;
	}
}

gboolean
bench_conn_read_line(BenchConn *c, gchar *line, gsize size)
{
	for (;;) {
		gchar *nl = c->pos < c->len ? memchr(c->buf + c->pos, '\n', c->len - c->pos) : NULL;
		if (nl != NULL) {
			gsize n = (gsize)(nl - (c->buf + c->pos));
			gsize keep = n > 0 && c->buf[c->pos + n - 1] == '\r' ? n - 1 : n;
			keep = MIN(keep, size - 1);
			memcpy(line, c->buf + c->pos, keep);
			line[keep] = '\0';
			c->pos += n + 1;
			return TRUE;
		}
		if (c->pos > 0) {
			memmove(c->buf, c->buf + c->pos, c->len - c->pos);
			c->len -= c->pos;
			c->pos = 0;
		}
		if (c->len == sizeof(c->buf))
			c->len = 0; /* an endless line: drop it */
		{
			gssize n = bench_conn_raw_read(c, c->buf + c->len, sizeof(c->buf) - c->len);
			if (n <= 0)
				return FALSE;
			c->len += (gsize)n;
		}
	}
}

gboolean
bench_conn_write(BenchConn *c, const gchar *data, gsize len)
{
	while (len > 0) {
		gssize n;
		if (c->ssl != NULL) {
			int w = SSL_write(c->ssl, data, (int)MIN(len, G_MAXINT));
			n = w > 0 ? w : -1;
		} else {
			n = write(c->fd, data, len);
			if (n < 0 && errno == EINTR)
				continue;
		}
		if (n <= 0)
			return FALSE;
		data += n;
		len -= (gsize)n;
	}
	return TRUE;
}

gboolean
bench_conn_printf(BenchConn *c, const gchar *format, ...)
{
	va_list args;
	g_autofree gchar *text = NULL;

	va_start(args, format);
	text = g_strdup_vprintf(format, args);
	va_end(args);
	return bench_conn_write(c, text, strlen(text));
}

gint
bench_conn_reply(BenchConn *c)
{
	gchar line[1024];

	for (;;) {
		if (!bench_conn_read_line(c, line, sizeof(line)) || strlen(line) < 3)
			return 0;
		if (line[3] != '-')
			return (gint)g_ascii_strtoll(line, NULL, 10);
	}
}

gboolean
bench_parse_address(const gchar *text, gchar **host, guint16 *port)
{
	const gchar *colon = strrchr(text, ':');
	guint64 p = 0;

	if (colon == NULL || !g_ascii_string_to_unsigned(colon + 1, 10, 1, 65535, &p, NULL))
		return FALSE;
	*host = g_strndup(text, (gsize)(colon - text));
	*port = (guint16)p;
	return TRUE;
}
