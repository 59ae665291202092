/*
 * SecuMailer admin — the overview: today's and this week's counts (over
 * TLS, via the portal, waiting, failed) and a chart of the last 7 days,
 * from GetStatistics; refreshed a moment after events arrive.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-overview"

#include "config.h"

#include <glib/gi18n.h>

#include "sma-chart.h"
#include "sma-overview-page.h"
#include "sma-page.h"

struct _SmaOverviewPage {
	AdwBin parent_instance;

	/* template widgets */
	GtkBox *today_box;
	GtkBox *week_box;
	GtkBox *legend_box;
	SmaChart *chart;

	/* borrowed: the cards' numbers */
	GtkLabel *figures[2][SMA_CHART_SERIES];

	/* owned */
	SmaClient *client;
	GCancellable *cancellable;
};

static void sma_overview_page_iface_init(SmaPageInterface *iface);

G_DEFINE_TYPE_WITH_CODE(SmaOverviewPage, sma_overview_page, ADW_TYPE_BIN,
			G_IMPLEMENT_INTERFACE(SMA_TYPE_PAGE, sma_overview_page_iface_init))

static const gchar *sma_overview_series[SMA_CHART_SERIES] = {
    N_("Delivered over TLS"), N_("Via the portal"), N_("Waiting"), N_("Failed")};
static const gchar *sma_overview_css[SMA_CHART_SERIES] = {"series-tls", "series-portal",
							  "series-waiting", "series-failed"};

const gchar *
sma_overview_page_get_figure(SmaOverviewPage *self, gboolean week, guint series)
{
	g_return_val_if_fail(series < SMA_CHART_SERIES, NULL);
	return gtk_label_get_label(self->figures[week ? 1 : 0][series]);
}

static void
sma_overview_page_stats_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	g_autoptr(SmaOverviewPage) self = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GVariant) stats = NULL;
	g_autoptr(GVariant) days = NULL;
	guint sums[2][SMA_CHART_SERIES] = {{0}};
	GVariantIter iter;
	gint64 at;
	guint c[SMA_CHART_SERIES];
	guint n = 0;

	if (!smd_dbus_gateway1_call_get_statistics_finish(SMD_DBUS_GATEWAY1(source), &stats, result,
							  &error)) {
		sma_page_call_failed(GTK_WIDGET(self), self->client, error);
		return;
	}
	days = g_variant_lookup_value(stats, "days", G_VARIANT_TYPE("a(xuuuu)"));
	if (days == NULL)
		return;
	n = (guint)g_variant_n_children(days);
	g_variant_iter_init(&iter, days);
	for (guint i = 0; g_variant_iter_next(&iter, "(xuuuu)", &at, &c[0], &c[1], &c[2], &c[3]);
	     i++) {
		for (guint s = 0; s < SMA_CHART_SERIES; s++) {
			sums[1][s] += c[s];
			if (i + 1 == n)
				sums[0][s] = c[s];
		}
	}
	for (guint w = 0; w < 2; w++) {
		for (guint s = 0; s < SMA_CHART_SERIES; s++) {
			/* the locale's digit grouping: 12 345 or 12,345 */
			g_autofree gchar *text = g_strdup_printf("%'u", sums[w][s]);
			gtk_label_set_label(self->figures[w][s], text);
		}
	}
	sma_chart_set_days(self->chart, days);
}

static void
sma_overview_page_reload(SmaPage *page)
{
	SmaOverviewPage *self = SMA_OVERVIEW_PAGE(page);
	SmdDbusGateway1 *proxy = sma_client_get_proxy(self->client);

	if (proxy == NULL)
		return;
	smd_dbus_gateway1_call_get_statistics(proxy, sma_page_restart(&self->cancellable),
					      sma_overview_page_stats_cb, g_object_ref(self));
}

/* Many events come in bursts: count once they settle. */
static void
sma_overview_page_event_cb(SmaClient *client, const gchar *kind, const gchar *queue_id,
			   const gchar *recipient, SmaOverviewPage *self)
{
	sma_page_reload_soon(SMA_PAGE(self), 1000);
}

static void
sma_overview_page_set_client(SmaPage *page, SmaClient *client)
{
	SmaOverviewPage *self = SMA_OVERVIEW_PAGE(page);

	g_set_object(&self->client, client);
	g_signal_connect_object(client, "event-added", G_CALLBACK(sma_overview_page_event_cb), self,
				0);
}

static void
sma_overview_page_iface_init(SmaPageInterface *iface)
{
	iface->set_client = sma_overview_page_set_client;
	iface->reload = sma_overview_page_reload;
}

static GtkWidget *
sma_overview_page_card(GtkLabel **figure, guint series)
{
	GtkWidget *card = gtk_box_new(GTK_ORIENTATION_VERTICAL, 6);
	GtkWidget *number = gtk_label_new("–");
	GtkWidget *caption = gtk_label_new(_(sma_overview_series[series]));

	gtk_widget_add_css_class(card, "card");
	gtk_widget_add_css_class(card, "stat-card");
	gtk_widget_add_css_class(card, sma_overview_css[series]);
	gtk_widget_add_css_class(number, "title-1");
	gtk_widget_add_css_class(caption, "dim-label");
	gtk_label_set_wrap(GTK_LABEL(caption), TRUE);
	gtk_label_set_justify(GTK_LABEL(caption), GTK_JUSTIFY_CENTER);
	gtk_box_append(GTK_BOX(card), number);
	gtk_box_append(GTK_BOX(card), caption);
	*figure = GTK_LABEL(number);
	return card;
}

static void
sma_overview_page_dispose(GObject *object)
{
	SmaOverviewPage *self = SMA_OVERVIEW_PAGE(object);

	g_cancellable_cancel(self->cancellable);
	g_clear_object(&self->cancellable);
	g_clear_object(&self->client);
	/* AdwBin drops its child (and the template with it) */
	G_OBJECT_CLASS(sma_overview_page_parent_class)->dispose(object);
}

static void
sma_overview_page_class_init(SmaOverviewPageClass *klass)
{
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	G_OBJECT_CLASS(klass)->dispose = sma_overview_page_dispose;
	g_type_ensure(SMA_TYPE_CHART);
	gtk_widget_class_set_template_from_resource(widget_class,
						    "/org/secumailer/Admin/sma-overview-page.ui");
	gtk_widget_class_bind_template_child(widget_class, SmaOverviewPage, today_box);
	gtk_widget_class_bind_template_child(widget_class, SmaOverviewPage, week_box);
	gtk_widget_class_bind_template_child(widget_class, SmaOverviewPage, legend_box);
	gtk_widget_class_bind_template_child(widget_class, SmaOverviewPage, chart);
}

static void
sma_overview_page_init(SmaOverviewPage *self)
{
	gtk_widget_init_template(GTK_WIDGET(self));
	for (guint s = 0; s < SMA_CHART_SERIES; s++) {
		GtkWidget *key = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 6);
		GtkWidget *swatch = gtk_box_new(GTK_ORIENTATION_HORIZONTAL, 0);

		gtk_box_append(self->today_box, sma_overview_page_card(&self->figures[0][s], s));
		gtk_box_append(self->week_box, sma_overview_page_card(&self->figures[1][s], s));
		gtk_widget_add_css_class(swatch, "swatch");
		gtk_widget_add_css_class(swatch, sma_overview_css[s]);
		gtk_widget_set_valign(swatch, GTK_ALIGN_CENTER);
		gtk_box_append(GTK_BOX(key), swatch);
		gtk_box_append(GTK_BOX(key), gtk_label_new(_(sma_overview_series[s])));
		gtk_box_append(self->legend_box, key);
	}
}
