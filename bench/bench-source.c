/*
 * SecuMailer — bench-source: the load of bench/relay, the same for both
 * relays. SESSIONS threads send MESSAGES messages of SIZE bytes, one per
 * connection (as an organisation's mail server hands them over), in the
 * clear or with STARTTLS (Postfix's smtp-source has no TLS), resuming TLS
 * sessions like a mail server would. It times each message from the end
 * of DATA to the 250 (accept latency) and prints one JSON object.
 *
 *   bench-source --server HOST:PORT [--starttls] --messages N --sessions S
 *                --size BYTES [--rate MSG_PER_S]
 *
 * With --rate, message i starts no earlier than i/RATE seconds after the
 * start: the latency at a given offered load rather than at saturation.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench-smtp.h"

static gchar *host;
static guint16 port;
static gboolean starttls;
static gint total = 1000, sessions = 20, size = 10240;
static gdouble rate; /* messages per second offered; 0: as fast as it goes */
static gint64 start; /* monotonic µs */
static gint next;    /* atomic: the next message to send */
static gint failed;  /* atomic */
static gchar *body;  /* the DATA, ending in CRLF.CRLF */
static SSL_CTX *tls_ctx;
static GMutex latency_lock;
static GArray *latencies; /* gdouble, ms */
static gint resumed;	  /* STARTTLS sessions the relay let us resume */

static gboolean
send_one(SSL_SESSION **session)
{
	struct sockaddr_in sa = {0};
	BenchConn *c = g_new0(BenchConn, 1);
	int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	gboolean ok = FALSE;
	gint64 t0;

	sa.sin_family = AF_INET;
	sa.sin_port = htons(port);
	inet_pton(AF_INET, host, &sa.sin_addr);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	bench_conn_init(c, fd);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || bench_conn_reply(c) != 220 ||
	    !bench_conn_printf(c, "EHLO source.bench\r\n") || bench_conn_reply(c) != 250)
		goto out;
	if (starttls) {
		if (!bench_conn_printf(c, "STARTTLS\r\n") || bench_conn_reply(c) != 220)
			goto out;
		c->len = c->pos = 0;
		c->ssl = SSL_new(tls_ctx);
		SSL_set_fd(c->ssl, fd);
		if (*session != NULL)
			SSL_set_session(c->ssl, *session);
		if (SSL_connect(c->ssl) != 1)
			goto out;
		if (SSL_session_reused(c->ssl))
			g_atomic_int_inc(&resumed);
		if (!bench_conn_printf(c, "EHLO source.bench\r\n") || bench_conn_reply(c) != 250)
			goto out;
	}
	if (!bench_conn_printf(c, "MAIL FROM:<sender@bench.test>\r\n") ||
	    bench_conn_reply(c) != 250 || !bench_conn_printf(c, "RCPT TO:<rcpt@bench.test>\r\n") ||
	    bench_conn_reply(c) != 250 || !bench_conn_printf(c, "DATA\r\n") ||
	    bench_conn_reply(c) != 354 || !bench_conn_write(c, body, strlen(body)))
		goto out;
	t0 = g_get_monotonic_time();
	if (bench_conn_reply(c) != 250)
		goto out;
	{
		gdouble ms = (gdouble)(g_get_monotonic_time() - t0) / 1000.0;
		g_mutex_lock(&latency_lock);
		g_array_append_val(latencies, ms);
		g_mutex_unlock(&latency_lock);
	}
	bench_conn_printf(c, "QUIT\r\n");
	bench_conn_reply(c);
	ok = TRUE;
	if (c->ssl != NULL) {
		/* the next connection resumes this session, as MTAs do */
		SSL_SESSION *s = SSL_get1_session(c->ssl);
		if (s != NULL) {
			if (*session != NULL)
				SSL_SESSION_free(*session);
			*session = s;
		}
	}
out:
	bench_conn_close(c);
	g_free(c);
	return ok;
}

static gpointer
worker(gpointer data)
{
	SSL_SESSION *session = NULL;
	gint i;

	while ((i = g_atomic_int_add(&next, 1)) < total) {
		if (rate > 0) {
			gint64 due = start + (gint64)((gdouble)i * G_USEC_PER_SEC / rate);
			gint64 now = g_get_monotonic_time();
			if (due > now)
				g_usleep((gulong)(due - now));
		}
		if (!send_one(&session))
			g_atomic_int_inc(&failed);
	}
	if (session != NULL)
		SSL_SESSION_free(session);
	return NULL;
}

static int
compare_doubles(gconstpointer a, gconstpointer b)
{
	gdouble x = *(const gdouble *)a, y = *(const gdouble *)b;
	return x < y ? -1 : x > y;
}

static gdouble
percentile(gdouble p)
{
	guint i;
	if (latencies->len == 0)
		return 0;
	i = (guint)(p * (latencies->len - 1) + 0.5);
	return g_array_index(latencies, gdouble, i);
}

int
main(int argc, char **argv)
{
	g_autofree gchar *server = NULL;
	const GOptionEntry entries[] = {
	    {"server", 0, 0, G_OPTION_ARG_STRING, &server, "host:port", NULL},
	    {"starttls", 0, 0, G_OPTION_ARG_NONE, &starttls, "use STARTTLS", NULL},
	    {"messages", 0, 0, G_OPTION_ARG_INT, &total, "how many", NULL},
	    {"sessions", 0, 0, G_OPTION_ARG_INT, &sessions, "in parallel", NULL},
	    {"size", 0, 0, G_OPTION_ARG_INT, &size, "bytes per message", NULL},
	    {"rate", 0, 0, G_OPTION_ARG_DOUBLE, &rate, "messages per second offered", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new("- SMTP load for bench/relay");
	g_autoptr(GError) error = NULL;
	g_autoptr(GPtrArray) threads = g_ptr_array_new();
	GString *data = g_string_new(NULL);
	gint64 t0;
	gdouble seconds;

	/* a peer that hangs up must not end the benchmark */
	signal(SIGPIPE, SIG_IGN);
	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error) || server == NULL ||
	    !bench_parse_address(server, &host, &port)) {
		g_printerr("usage: bench-source --server HOST:PORT [--starttls] --messages N "
			   "--sessions S --size BYTES [--rate MSG_PER_S]\n");
		return EXIT_FAILURE;
	}
	g_string_append(data, "From: <sender@bench.test>\r\nTo: <rcpt@bench.test>\r\n"
			      "Subject: bench\r\nMessage-ID: <bench@source.bench>\r\n\r\n");
	while (data->len < (gsize)size)
		g_string_append(data, "The quick brown fox jumps over the lazy dog, and over the "
				      "relay, twice.\r\n");
	g_string_append(data, ".\r\n");
	body = g_string_free(data, FALSE);
	tls_ctx = SSL_CTX_new(TLS_client_method());
	SSL_CTX_set_verify(tls_ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_session_cache_mode(tls_ctx, SSL_SESS_CACHE_CLIENT);
	latencies = g_array_new(FALSE, FALSE, sizeof(gdouble));

	t0 = start = g_get_monotonic_time();
	for (gint i = 0; i < sessions; i++)
		g_ptr_array_add(threads, g_thread_new("source", worker, NULL));
	for (guint i = 0; i < threads->len; i++)
		g_thread_join(g_ptr_array_index(threads, i));
	seconds = (gdouble)(g_get_monotonic_time() - t0) / G_USEC_PER_SEC;
	g_array_sort(latencies, compare_doubles);
	g_print("{\"sent\": %u, \"failed\": %d, \"seconds\": %.3f, \"per_second\": %.1f, "
		"\"p50_ms\": %.2f, \"p99_ms\": %.2f, \"resumed\": %d}\n",
		latencies->len, g_atomic_int_get(&failed), seconds,
		(gdouble)latencies->len / seconds, percentile(0.5), percentile(0.99),
		g_atomic_int_get(&resumed));
	return g_atomic_int_get(&failed) == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
