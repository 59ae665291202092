/*
 * SecuMailer — next hops for a recipient domain.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-delivery"

#include "config.h"

#include <glib/gi18n.h>

#include "smd-error.h"
#include "smd-resolver.h"

void
smd_hop_free(SmdHop *hop)
{
	g_free(hop->host);
	g_free(hop);
}

static SmdHop *
smd_hop_new(const gchar *host, guint16 port, guint16 preference)
{
	SmdHop *hop = g_new0(SmdHop, 1);
	hop->host = g_strdup(host);
	hop->port = port;
	hop->preference = preference;
	return hop;
}

static gint
smd_hop_compare(gconstpointer a, gconstpointer b)
{
	const SmdHop *ha = *(SmdHop *const *)a;
	const SmdHop *hb = *(SmdHop *const *)b;
	return (gint)ha->preference - (gint)hb->preference;
}

void
smd_resolver_sort_hops(GPtrArray *hops)
{
	/* shuffle first, then a stable sort keeps equal preferences shuffled */
	for (guint i = hops->len; i > 1; i--) {
		guint j = g_random_int_range(0, (gint32)i);
		gpointer tmp = hops->pdata[i - 1];
		hops->pdata[i - 1] = hops->pdata[j];
		hops->pdata[j] = tmp;
	}
	g_ptr_array_sort(hops, smd_hop_compare);
}

static void
smd_resolver_address_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	const gchar *domain = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autolist(GInetAddress) addresses =
	    g_resolver_lookup_by_name_finish(G_RESOLVER(source), result, &error);
	GPtrArray *hops;

	if (addresses == NULL) {
		if (g_error_matches(error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND))
			g_task_return_new_error(task, SMD_ERROR, SMD_ERROR_NOT_FOUND,
						_("Domain %s has no mail server and no address"),
						domain);
		else
			g_task_return_new_error(task, SMD_ERROR, SMD_ERROR_TEMPORARY,
						_("Address lookup for %s failed: %s"), domain,
						error->message);
		return;
	}
	hops = g_ptr_array_new_with_free_func((GDestroyNotify)smd_hop_free);
	g_ptr_array_add(hops, smd_hop_new(domain, 25, 0));
	g_task_return_pointer(task, hops, (GDestroyNotify)g_ptr_array_unref);
}

static void
smd_resolver_mx_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	const gchar *domain = g_task_get_task_data(task);
	g_autoptr(GError) error = NULL;
	g_autolist(GVariant) records =
	    g_resolver_lookup_records_finish(G_RESOLVER(source), result, &error);
	g_autoptr(GPtrArray) hops = g_ptr_array_new_with_free_func((GDestroyNotify)smd_hop_free);

	if (records == NULL) {
		if (g_error_matches(error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND)) {
			/* RFC 5321 §5.1: no MX, the domain itself is the host, if it
			 * exists at all: ask for its addresses to tell */
			GCancellable *cancellable = g_task_get_cancellable(task);
			/* (the task is stolen last: argument order is unspecified) */
			g_resolver_lookup_by_name_async(G_RESOLVER(source), domain, cancellable,
							smd_resolver_address_cb,
							g_steal_pointer(&task));
			return;
		}
		g_task_return_new_error(task, SMD_ERROR, SMD_ERROR_TEMPORARY,
					_("MX lookup for %s failed: %s"), domain, error->message);
		return;
	}
	for (GList *l = records; l != NULL; l = l->next) {
		guint16 pref = 0;
		const gchar *host = NULL;
		g_variant_get(l->data, "(q&s)", &pref, &host);
		/* RFC 7505 null MX: the domain accepts no mail */
		if (host[0] == '\0' || g_strcmp0(host, ".") == 0) {
			g_task_return_new_error(task, SMD_ERROR, SMD_ERROR_PERMANENT,
						_("Domain %s does not accept mail (null MX)"),
						domain);
			return;
		}
		g_ptr_array_add(hops, smd_hop_new(host, 25, pref));
	}
	smd_resolver_sort_hops(hops);
	g_task_return_pointer(task, g_steal_pointer(&hops), (GDestroyNotify)g_ptr_array_unref);
}

void
smd_resolver_lookup_async(const SmdConfig *config, const gchar *domain, GCancellable *cancellable,
			  GAsyncReadyCallback callback, gpointer user_data)
{
	g_autoptr(GTask) task = g_task_new(NULL, cancellable, callback, user_data);
	const SmdRoute *route = g_hash_table_lookup(config->routes, domain);
	g_autoptr(GResolver) resolver = NULL;

	if (route == NULL) /* the smarthost for all other domains, if any */
		route = g_hash_table_lookup(config->routes, "*");

	g_task_set_source_tag(task, smd_resolver_lookup_async);
	g_task_set_task_data(task, g_strdup(domain), g_free);
	if (route != NULL) {
		GPtrArray *hops = g_ptr_array_new_with_free_func((GDestroyNotify)smd_hop_free);
		g_ptr_array_add(hops, smd_hop_new(route->host, route->port, 0));
		g_task_return_pointer(task, hops, (GDestroyNotify)g_ptr_array_unref);
		return;
	}
	resolver = g_resolver_get_default();
	g_resolver_lookup_records_async(resolver, domain, G_RESOLVER_RECORD_MX, cancellable,
					smd_resolver_mx_cb, g_steal_pointer(&task));
}

GPtrArray *
smd_resolver_lookup_finish(GAsyncResult *result, GError **error)
{
	return g_task_propagate_pointer(G_TASK(result), error);
}
