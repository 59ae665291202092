/*
 * SecuMailer — bench-static: what libsoup itself can serve on this
 * machine, for bench/portal. One thread and one main loop, like the
 * portal, answering fixed pages from memory: the ceiling of any portal
 * built on libsoup, next to nginx's.
 *
 *   bench-static --listen HOST:PORT --page /PATH=FILE [--page ...]
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <libsoup/soup.h>
#include <stdlib.h>
#include <string.h>

static void
serve(SoupServer *server, SoupServerMessage *msg, const char *path, GHashTable *query,
      gpointer user_data)
{
	GBytes *page = g_hash_table_lookup(user_data, path);
	if (page == NULL) {
		soup_server_message_set_status(msg, SOUP_STATUS_NOT_FOUND, NULL);
		return;
	}
	soup_server_message_set_status(msg, SOUP_STATUS_OK, NULL);
	soup_server_message_set_response(msg, "text/html; charset=utf-8", SOUP_MEMORY_STATIC,
					 g_bytes_get_data(page, NULL), g_bytes_get_size(page));
}

int
main(int argc, char **argv)
{
	g_autofree gchar *listen = NULL;
	g_auto(GStrv) pages = NULL;
	const GOptionEntry entries[] = {
	    {"listen", 0, 0, G_OPTION_ARG_STRING, &listen, "host:port", NULL},
	    {"page", 0, 0, G_OPTION_ARG_STRING_ARRAY, &pages, "/path=file", NULL},
	    {NULL}};
	g_autoptr(GOptionContext) context = g_option_context_new("- libsoup's ceiling");
	g_autoptr(GError) error = NULL;
	g_autoptr(GHashTable) table =
	    g_hash_table_new_full(g_str_hash, g_str_equal, g_free, (GDestroyNotify)g_bytes_unref);
	g_autoptr(SoupServer) server = NULL;
	g_autoptr(GSocketAddress) address = NULL;
	g_autoptr(GMainLoop) loop = NULL;
	const gchar *colon;

	g_option_context_add_main_entries(context, entries, NULL);
	if (!g_option_context_parse(context, &argc, &argv, &error) || listen == NULL ||
	    (colon = strrchr(listen, ':')) == NULL) {
		g_printerr("usage: bench-static --listen HOST:PORT --page /PATH=FILE ...\n");
		return EXIT_FAILURE;
	}
	for (gchar **p = pages; p != NULL && *p != NULL; p++) {
		g_auto(GStrv) kv = g_strsplit(*p, "=", 2);
		gchar *data = NULL;
		gsize len = 0;
		if (kv[1] == NULL || !g_file_get_contents(kv[1], &data, &len, &error)) {
			g_printerr("bench-static: %s\n", error != NULL ? error->message : *p);
			return EXIT_FAILURE;
		}
		g_hash_table_insert(table, g_strdup(kv[0]), g_bytes_new_take(data, len));
	}
	{
		g_autofree gchar *host = g_strndup(listen, (gsize)(colon - listen));
		address = g_inet_socket_address_new_from_string(host, (guint)atoi(colon + 1));
	}
	server = soup_server_new("server-header", "bench-static", NULL);
	soup_server_add_handler(server, NULL, serve, table, NULL);
	if (address == NULL || !soup_server_listen(server, address, 0, &error)) {
		g_printerr("bench-static: cannot listen on %s: %s\n", listen,
			   error != NULL ? error->message : "bad address");
		return EXIT_FAILURE;
	}
	loop = g_main_loop_new(NULL, FALSE);
	g_main_loop_run(loop);
	return EXIT_SUCCESS;
}
