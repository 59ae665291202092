/*
 * SecuMailer — bench-sink: a fast SMTP sink with STARTTLS (Postfix's
 * smtp-sink has none), the next hop of both relays in bench/relay. A
 * thread per connection, any number of messages per connection (so a
 * relay that reuses connections can), pipelining, TLS from OpenSSL with
 * its in-memory session cache. It counts messages and writes the count to
 * a file ten times a second.
 *
 *   bench-sink --listen 127.0.0.1:PORT [--cert C --key K] --count-file F
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <openssl/err.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-smtp.h"

static SSL_CTX *tls_ctx;  /* NULL: no STARTTLS offered */
static gint messages;	  /* atomic */
static gint connections;  /* atomic */
static gint tls_sessions; /* atomic: handshakes, resumed ones apart */
static gint tls_resumed;  /* atomic */

static gboolean
command_is(const gchar *line, const gchar *verb)
{
	return g_ascii_strncasecmp(line, verb, strlen(verb)) == 0;
}

static gpointer
serve(gpointer data)
{
	BenchConn *c = g_new0(BenchConn, 1);
	gchar line[2048];

	bench_conn_init(c, GPOINTER_TO_INT(data));
	g_atomic_int_inc(&connections);
	if (!bench_conn_printf(c, "220 sink.bench ESMTP\r\n"))
		goto done;
	while (bench_conn_read_line(c, line, sizeof(line))) {
		if (command_is(line, "EHLO")) {
			bench_conn_printf(c,
					  "250-sink.bench\r\n250-PIPELINING\r\n250-8BITMIME\r\n%s"
					  "250 SIZE 104857600\r\n",
					  tls_ctx != NULL && c->ssl == NULL ? "250-STARTTLS\r\n"
									    : "");
		} else if (command_is(line, "HELO")) {
			bench_conn_printf(c, "250 sink.bench\r\n");
		} else if (command_is(line, "STARTTLS") && tls_ctx != NULL && c->ssl == NULL) {
			bench_conn_printf(c, "220 2.0.0 Ready to start TLS\r\n");
			c->len = c->pos = 0; /* nothing pipelined survives STARTTLS */
			c->ssl = SSL_new(tls_ctx);
			SSL_set_fd(c->ssl, c->fd);
			if (SSL_accept(c->ssl) != 1)
				break;
			g_atomic_int_inc(&tls_sessions);
			if (SSL_session_reused(c->ssl))
				g_atomic_int_inc(&tls_resumed);
		} else if (command_is(line, "MAIL") || command_is(line, "RCPT") ||
			   command_is(line, "RSET") || command_is(line, "NOOP")) {
			bench_conn_printf(c, "250 2.0.0 Ok\r\n");
		} else if (command_is(line, "DATA")) {
			bench_conn_printf(c, "354 End data with <CR><LF>.<CR><LF>\r\n");
			while (bench_conn_read_line(c, line, sizeof(line)) &&
			       strcmp(line, ".") != 0)
				;
			g_atomic_int_inc(&messages);
			bench_conn_printf(c, "250 2.0.0 Ok: queued\r\n");
		} else if (command_is(line, "QUIT")) {
			bench_conn_printf(c, "221 2.0.0 Bye\r\n");
			break;
		} else {
			bench_conn_printf(c, "502 5.5.2 Not here\r\n");
		}
	}
done:
	bench_conn_close(c);
	g_free(c);
	return NULL;
}

static gpointer
report(gpointer data)
{
	const gchar *path = data;
	g_autofree gchar *tmp = g_strdup_printf("%s.tmp", path);

	for (;;) {
		FILE *f = fopen(tmp, "w");
		if (f != NULL) {
			fprintf(f, "%d %d %d %d\n", g_atomic_int_get(&messages),
				g_atomic_int_get(&connections), g_atomic_int_get(&tls_sessions),
				g_atomic_int_get(&tls_resumed));
			fclose(f);
			rename(tmp, path);
		}
		g_usleep(100000);
	}
	return NULL;
}

int
main(int argc, char **argv)
{
	g_autofree gchar *listen_at = NULL, *cert = NULL, *key = NULL, *count_file = NULL;
	g_autofree gchar *host = NULL;
	const GOptionEntry entries[] = {
	    {"listen", 0, 0, G_OPTION_ARG_STRING, &listen_at, "host:port", NULL},
	    {"cert", 0, 0, G_OPTION_ARG_FILENAME, &cert, "certificate (PEM): offer STARTTLS", NULL},
	    {"key", 0, 0, G_OPTION_ARG_FILENAME, &key, "its key (PEM)", NULL},
	    {"count-file", 0, 0, G_OPTION_ARG_FILENAME, &count_file,
	     "where to write: messages connections tls-handshakes resumed", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new("- SMTP sink for bench/relay");
	g_autoptr(GError) error = NULL;
	struct sockaddr_in sa = {0};
	guint16 port = 0;
	int fd, one = 1;

	/* a peer that hangs up must not end the benchmark */
	signal(SIGPIPE, SIG_IGN);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error) || listen_at == NULL ||
	    count_file == NULL || !bench_parse_address(listen_at, &host, &port)) {
		g_printerr(
		    "usage: bench-sink --listen HOST:PORT [--cert C --key K] --count-file F\n");
		return EXIT_FAILURE;
	}
	if (cert != NULL) {
		tls_ctx = SSL_CTX_new(TLS_server_method());
		if (SSL_CTX_use_certificate_chain_file(tls_ctx, cert) != 1 ||
		    SSL_CTX_use_PrivateKey_file(tls_ctx, key, SSL_FILETYPE_PEM) != 1) {
			ERR_print_errors_fp(stderr);
			return EXIT_FAILURE;
		}
		SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_SERVER);
	}
	fd = socket(AF_INET, SOCK_STREAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	inet_pton(AF_INET, host, &sa.sin_addr);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 512) != 0) {
		perror("bench-sink: listen");
		return EXIT_FAILURE;
	}
	g_thread_unref(g_thread_new("report", report, count_file));
	for (;;) {
		int client = accept(fd, NULL, NULL);
		if (client < 0)
			continue;
		setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		g_thread_unref(g_thread_new("serve", serve, GINT_TO_POINTER(client)));
	}
}
