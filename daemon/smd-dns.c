/*
 * SecuMailer — the process's GResolver, on threads of our own.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define _GNU_SOURCE /* EAI_NODATA, EAI_ADDRFAMILY */
#define G_LOG_DOMAIN "smd-delivery"

#include "config.h"

#include <arpa/nameser.h>
#include <glib/gi18n.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <string.h>

#include "smd-dns.h"

struct _SmdDns {
	GResolver parent_instance;
	GResolver *gio; /* GIO's own: reverse and SRV lookups, other record types */
};

G_DEFINE_TYPE(SmdDns, smd_dns, G_TYPE_RESOLVER)

static GThreadPool *smd_dns_pool;

typedef enum { SMD_DNS_NAME, SMD_DNS_MX } SmdDnsKind;

/* One lookup, owned by its worker thread. Cancellation ends the task at
 * once; the thread, stuck in the C library until its timeout, then
 * throws its answer away. */
typedef struct {
	SmdDnsKind kind;
	gchar *name;
	gint family; /* AF_UNSPEC, AF_INET or AF_INET6 */
	GTask *task;
	GCancellable *cancellable;
	gulong cancelled_id;
	gint ended; /* atomic: the task has its result */
} SmdDnsLookup;

static void
smd_dns_free_records(GList *records)
{
	g_list_free_full(records, (GDestroyNotify)g_variant_unref);
}

static GList *
smd_dns_query_name(const gchar *name, gint family, GError **error)
{
	struct addrinfo hints = {0};
	struct addrinfo *res = NULL;
	GList *addresses = NULL;
	gint rc;

	/* as GIO's resolver: addresses of a family only where the machine has
	 * one configured; one entry per address (stream sockets) */
	hints.ai_flags = AI_ADDRCONFIG;
	hints.ai_family = family;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	rc = getaddrinfo(name, NULL, &hints, &res);
	if (rc != 0) {
		gint code = rc == EAI_AGAIN ? G_RESOLVER_ERROR_TEMPORARY_FAILURE
			    : rc == EAI_NONAME || rc == EAI_NODATA || rc == EAI_ADDRFAMILY
				? G_RESOLVER_ERROR_NOT_FOUND
				: G_RESOLVER_ERROR_INTERNAL;
		g_set_error(error, G_RESOLVER_ERROR, code, _("Cannot resolve %s: %s"), name,
			    gai_strerror(rc));
		return NULL;
	}
	for (struct addrinfo *ai = res; ai != NULL; ai = ai->ai_next) {
		g_autoptr(GSocketAddress) sa =
		    g_socket_address_new_from_native(ai->ai_addr, ai->ai_addrlen);
		if (G_IS_INET_SOCKET_ADDRESS(sa))
			addresses = g_list_prepend(addresses,
						   g_object_ref(g_inet_socket_address_get_address(
						       G_INET_SOCKET_ADDRESS(sa))));
	}
	freeaddrinfo(res);
	if (addresses == NULL)
		g_set_error(error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
			    _("Cannot resolve %s: %s"), name, _("no usable address"));
	return g_list_reverse(addresses);
}

/* Letters, digits, '-', '_' and dots, not an address; "" is the null MX */
static gboolean
smd_dns_is_host_name(const gchar *host)
{
	for (const gchar *c = host; *c != '\0'; c++) {
		if (!g_ascii_isalnum(*c) && *c != '-' && *c != '_' && *c != '.')
			return FALSE;
	}
	return !g_hostname_is_ip_address(host);
}

GList *
smd_dns_parse_mx(const guint8 *answer, gsize len, GError **error)
{
	ns_msg msg;
	GList *records = NULL;
	gboolean skipped = FALSE;

	if (len > G_MAXINT || ns_initparse(answer, (int)len, &msg) < 0)
		goto malformed;
	for (guint i = 0; i < ns_msg_count(msg, ns_s_an); i++) {
		ns_rr rr;
		gchar host[NS_MAXDNAME];

		if (ns_parserr(&msg, ns_s_an, (int)i, &rr) < 0)
			goto malformed;
		/* a CNAME on the way, or anything else, is not an MX */
		if (ns_rr_type(rr) != ns_t_mx || ns_rr_class(rr) != ns_c_in)
			continue;
		if (ns_rr_rdlen(rr) < 3 || dn_expand(ns_msg_base(msg), ns_msg_end(msg),
						     ns_rr_rdata(rr) + 2, host, sizeof(host)) < 0)
			goto malformed;
		/* a host name and nothing else: GSocketClient would read
		 * "host:port", "[::1]:8080" or an address literal, and a hostile
		 * domain could send us to any port of any machine */
		if (!smd_dns_is_host_name(host)) {
			skipped = TRUE;
			continue;
		}
		records = g_list_prepend(records, g_variant_ref_sink(g_variant_new(
						      "(qs)", ns_get16(ns_rr_rdata(rr)), host)));
	}
	if (records == NULL && skipped)
		goto malformed;
	if (records == NULL)
		g_set_error_literal(error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_NOT_FOUND,
				    _("no MX record"));
	return g_list_reverse(records);

malformed:
	smd_dns_free_records(records);
	g_set_error_literal(error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE,
			    _("malformed answer from the name server"));
	return NULL;
}

static GList *
smd_dns_query_mx(const gchar *name, GError **error)
{
	struct __res_state res;
	g_autofree guint8 *answer = NULL;
	gint len, herr;

	memset(&res, 0, sizeof(res));
	/* a state of its own: /etc/resolv.conf as it is now, thread-safe */
	if (res_ninit(&res) != 0) {
		g_set_error_literal(error, G_RESOLVER_ERROR, G_RESOLVER_ERROR_TEMPORARY_FAILURE,
				    _("cannot read the resolver configuration"));
		return NULL;
	}
	answer = g_malloc(NS_MAXMSG); /* large answers come over TCP */
	len = res_nquery(&res, name, ns_c_in, ns_t_mx, answer, NS_MAXMSG);
	herr = res.res_h_errno;
	res_nclose(&res);
	if (len < 0) {
		gint code = herr == HOST_NOT_FOUND || herr == NO_DATA
				? G_RESOLVER_ERROR_NOT_FOUND
				: G_RESOLVER_ERROR_TEMPORARY_FAILURE;
		/* (smd-resolver.c says which domain) */
		g_set_error_literal(error, G_RESOLVER_ERROR, code,
				    herr == HOST_NOT_FOUND ? _("no such domain")
				    : herr == NO_DATA	   ? _("no MX record")
							   : _("the name servers did not answer"));
		return NULL;
	}
	return smd_dns_parse_mx(answer, (gsize)MIN(len, NS_MAXMSG), error);
}

/* Gives the task its result unless cancellation was first; frees @l */
static void
smd_dns_end(SmdDnsLookup *l, GList *result, GError *error)
{
	if (g_atomic_int_compare_and_exchange(&l->ended, 0, 1)) {
		if (result != NULL)
			g_task_return_pointer(l->task, result,
					      l->kind == SMD_DNS_MX
						  ? (GDestroyNotify)smd_dns_free_records
						  : (GDestroyNotify)g_resolver_free_addresses);
		else
			g_task_return_error(l->task, error);
	} else {
		if (l->kind == SMD_DNS_MX)
			smd_dns_free_records(result);
		else
			g_resolver_free_addresses(result);
		g_clear_error(&error);
	}
	/* waits if the handler runs right now in another thread */
	g_cancellable_disconnect(l->cancellable, l->cancelled_id);
	g_clear_object(&l->cancellable);
	g_object_unref(l->task);
	g_free(l->name);
	g_free(l);
}

static void
smd_dns_work(gpointer data, gpointer user_data)
{
	SmdDnsLookup *l = data;
	GError *error = NULL;
	GList *result = NULL;

	if (!g_cancellable_set_error_if_cancelled(l->cancellable, &error))
		result = l->kind == SMD_DNS_MX ? smd_dns_query_mx(l->name, &error)
					       : smd_dns_query_name(l->name, l->family, &error);
	smd_dns_end(l, result, error);
}

static void
smd_dns_cancelled_cb(GCancellable *cancellable, gpointer user_data)
{
	SmdDnsLookup *l = user_data;

	if (g_atomic_int_compare_and_exchange(&l->ended, 0, 1))
		g_task_return_new_error(l->task, G_IO_ERROR, G_IO_ERROR_CANCELLED,
					_("The lookup of %s was cancelled"), l->name);
}

static void
smd_dns_start(SmdDns *self, SmdDnsKind kind, const gchar *name, gint family,
	      GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data,
	      gpointer tag)
{
	SmdDnsLookup *l = g_new0(SmdDnsLookup, 1);

	l->kind = kind;
	l->name = g_strdup(name);
	l->family = family;
	l->task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(l->task, tag);
	if (cancellable != NULL) {
		l->cancellable = g_object_ref(cancellable);
		l->cancelled_id =
		    g_cancellable_connect(cancellable, G_CALLBACK(smd_dns_cancelled_cb), l, NULL);
	}
	g_thread_pool_push(smd_dns_pool, l, NULL);
}

static gint
smd_dns_family(GResolverNameLookupFlags flags)
{
	if (flags & G_RESOLVER_NAME_LOOKUP_FLAGS_IPV4_ONLY)
		return AF_INET;
	if (flags & G_RESOLVER_NAME_LOOKUP_FLAGS_IPV6_ONLY)
		return AF_INET6;
	return AF_UNSPEC;
}

static void
smd_dns_lookup_by_name_with_flags_async(GResolver *resolver, const gchar *hostname,
					GResolverNameLookupFlags flags, GCancellable *cancellable,
					GAsyncReadyCallback callback, gpointer user_data)
{
	smd_dns_start(SMD_DNS(resolver), SMD_DNS_NAME, hostname, smd_dns_family(flags), cancellable,
		      callback, user_data, smd_dns_lookup_by_name_with_flags_async);
}

static void
smd_dns_lookup_by_name_async(GResolver *resolver, const gchar *hostname, GCancellable *cancellable,
			     GAsyncReadyCallback callback, gpointer user_data)
{
	smd_dns_lookup_by_name_with_flags_async(resolver, hostname,
						G_RESOLVER_NAME_LOOKUP_FLAGS_DEFAULT, cancellable,
						callback, user_data);
}

static GList *
smd_dns_lookup_finish(GResolver *resolver, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, resolver), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

static GList *
smd_dns_lookup_by_name_with_flags(GResolver *resolver, const gchar *hostname,
				  GResolverNameLookupFlags flags, GCancellable *cancellable,
				  GError **error)
{
	/* in the caller's thread, which chose to block */
	if (g_cancellable_set_error_if_cancelled(cancellable, error))
		return NULL;
	return smd_dns_query_name(hostname, smd_dns_family(flags), error);
}

static GList *
smd_dns_lookup_by_name(GResolver *resolver, const gchar *hostname, GCancellable *cancellable,
		       GError **error)
{
	return smd_dns_lookup_by_name_with_flags(
	    resolver, hostname, G_RESOLVER_NAME_LOOKUP_FLAGS_DEFAULT, cancellable, error);
}

/* Other record types: GIO's resolver answers, into a task of ours */
static void
smd_dns_gio_records_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	GList *records = g_resolver_lookup_records_finish(G_RESOLVER(source), result, &error);

	if (records != NULL)
		g_task_return_pointer(task, records, (GDestroyNotify)smd_dns_free_records);
	else
		g_task_return_error(task, error);
}

static void
smd_dns_lookup_records_async(GResolver *resolver, const gchar *rrname,
			     GResolverRecordType record_type, GCancellable *cancellable,
			     GAsyncReadyCallback callback, gpointer user_data)
{
	SmdDns *self = SMD_DNS(resolver);
	GTask *task;

	if (record_type == G_RESOLVER_RECORD_MX) {
		smd_dns_start(self, SMD_DNS_MX, rrname, AF_UNSPEC, cancellable, callback, user_data,
			      smd_dns_lookup_records_async);
		return;
	}
	task = g_task_new(self, cancellable, callback, user_data);
	g_task_set_source_tag(task, smd_dns_lookup_records_async);
	g_resolver_lookup_records_async(self->gio, rrname, record_type, cancellable,
					smd_dns_gio_records_cb, task);
}

static GList *
smd_dns_lookup_records(GResolver *resolver, const gchar *rrname, GResolverRecordType record_type,
		       GCancellable *cancellable, GError **error)
{
	if (record_type == G_RESOLVER_RECORD_MX) {
		if (g_cancellable_set_error_if_cancelled(cancellable, error))
			return NULL;
		return smd_dns_query_mx(rrname, error);
	}
	return g_resolver_lookup_records(SMD_DNS(resolver)->gio, rrname, record_type, cancellable,
					 error);
}

/* Reverse and SRV lookups (the daemon makes none): GIO's resolver */
static gchar *
smd_dns_lookup_by_address(GResolver *resolver, GInetAddress *address, GCancellable *cancellable,
			  GError **error)
{
	return g_resolver_lookup_by_address(SMD_DNS(resolver)->gio, address, cancellable, error);
}

static void
smd_dns_gio_address_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	gchar *name = g_resolver_lookup_by_address_finish(G_RESOLVER(source), result, &error);

	if (name != NULL)
		g_task_return_pointer(task, name, g_free);
	else
		g_task_return_error(task, error);
}

static void
smd_dns_lookup_by_address_async(GResolver *resolver, GInetAddress *address,
				GCancellable *cancellable, GAsyncReadyCallback callback,
				gpointer user_data)
{
	GTask *task = g_task_new(resolver, cancellable, callback, user_data);

	g_task_set_source_tag(task, smd_dns_lookup_by_address_async);
	g_resolver_lookup_by_address_async(SMD_DNS(resolver)->gio, address, cancellable,
					   smd_dns_gio_address_cb, task);
}

static gchar *
smd_dns_lookup_by_address_finish(GResolver *resolver, GAsyncResult *result, GError **error)
{
	g_return_val_if_fail(g_task_is_valid(result, resolver), NULL);
	return g_task_propagate_pointer(G_TASK(result), error);
}

static GList *
smd_dns_lookup_service(GResolver *resolver, const gchar *rrname, GCancellable *cancellable,
		       GError **error)
{
	/* the base class builds rrname and calls this; so does GIO's */
	return G_RESOLVER_GET_CLASS(SMD_DNS(resolver)->gio)
	    ->lookup_service(SMD_DNS(resolver)->gio, rrname, cancellable, error);
}

static void
smd_dns_gio_service_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(GTask) task = user_data;
	GError *error = NULL;
	GList *targets =
	    G_RESOLVER_GET_CLASS(source)->lookup_service_finish(G_RESOLVER(source), result, &error);

	if (targets != NULL)
		g_task_return_pointer(task, targets, (GDestroyNotify)g_resolver_free_targets);
	else
		g_task_return_error(task, error);
}

static void
smd_dns_lookup_service_async(GResolver *resolver, const gchar *rrname, GCancellable *cancellable,
			     GAsyncReadyCallback callback, gpointer user_data)
{
	GResolver *gio = SMD_DNS(resolver)->gio;
	GTask *task = g_task_new(resolver, cancellable, callback, user_data);

	g_task_set_source_tag(task, smd_dns_lookup_service_async);
	G_RESOLVER_GET_CLASS(gio)->lookup_service_async(gio, rrname, cancellable,
							smd_dns_gio_service_cb, task);
}

static void
smd_dns_finalize(GObject *object)
{
	g_clear_object(&SMD_DNS(object)->gio);
	G_OBJECT_CLASS(smd_dns_parent_class)->finalize(object);
}

static void
smd_dns_class_init(SmdDnsClass *klass)
{
	GResolverClass *resolver_class = G_RESOLVER_CLASS(klass);

	G_OBJECT_CLASS(klass)->finalize = smd_dns_finalize;
	resolver_class->lookup_by_name = smd_dns_lookup_by_name;
	resolver_class->lookup_by_name_async = smd_dns_lookup_by_name_async;
	resolver_class->lookup_by_name_finish = smd_dns_lookup_finish;
	resolver_class->lookup_by_name_with_flags = smd_dns_lookup_by_name_with_flags;
	resolver_class->lookup_by_name_with_flags_async = smd_dns_lookup_by_name_with_flags_async;
	resolver_class->lookup_by_name_with_flags_finish = smd_dns_lookup_finish;
	resolver_class->lookup_records = smd_dns_lookup_records;
	resolver_class->lookup_records_async = smd_dns_lookup_records_async;
	resolver_class->lookup_records_finish = smd_dns_lookup_finish;
	resolver_class->lookup_by_address = smd_dns_lookup_by_address;
	resolver_class->lookup_by_address_async = smd_dns_lookup_by_address_async;
	resolver_class->lookup_by_address_finish = smd_dns_lookup_by_address_finish;
	resolver_class->lookup_service = smd_dns_lookup_service;
	resolver_class->lookup_service_async = smd_dns_lookup_service_async;
	resolver_class->lookup_service_finish = smd_dns_lookup_finish;
	/* threads on demand, up to SMD_DNS_THREADS; idle ones are shared
	 * with GLib's other pools and end after a while */
	smd_dns_pool = g_thread_pool_new(smd_dns_work, NULL, SMD_DNS_THREADS, FALSE, NULL);
}

static void
smd_dns_init(SmdDns *self)
{
}

void
smd_dns_install(void)
{
	g_autoptr(GResolver) current = g_resolver_get_default();
	SmdDns *self;

	if (SMD_IS_DNS(current))
		return;
	self = g_object_new(SMD_TYPE_DNS, NULL);
	self->gio = g_steal_pointer(&current);
	g_resolver_set_default(G_RESOLVER(self));
	g_object_unref(self);
}
