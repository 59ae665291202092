/*
 * SecuMailer admin — a small stacked bar chart of the last days: people
 * would rather look than read. Drawn with GtkSnapshot, labelled with
 * Pango; the numbers are also in the cards above and in the tooltip.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-chart"

#include "config.h"

#include <glib/gi18n.h>

#include "sma-chart.h"

#define SMA_CHART_MAX_DAYS 14

struct _SmaChart {
	GtkWidget parent_instance;

	guint n_days;
	gint64 day[SMA_CHART_MAX_DAYS];
	guint counts[SMA_CHART_MAX_DAYS][SMA_CHART_SERIES];
};

G_DEFINE_TYPE(SmaChart, sma_chart, GTK_TYPE_WIDGET)

/* the same colours as the legend (style.css) */
static const GdkRGBA sma_chart_colours[SMA_CHART_SERIES] = {
    {0.149f, 0.635f, 0.412f, 1.f}, /* over TLS: green */
    {0.110f, 0.443f, 0.847f, 1.f}, /* portal: blue */
    {0.898f, 0.647f, 0.039f, 1.f}, /* waiting: yellow */
    {0.753f, 0.110f, 0.157f, 1.f}, /* failed: red */
};

void
sma_chart_set_days(SmaChart *self, GVariant *days)
{
	GVariantIter iter;
	gint64 at;
	guint a, b, c, d;
	GString *tip = g_string_new(NULL);

	g_return_if_fail(SMA_IS_CHART(self));
	self->n_days = 0;
	g_variant_iter_init(&iter, days);
	while (self->n_days < SMA_CHART_MAX_DAYS &&
	       g_variant_iter_next(&iter, "(xuuuu)", &at, &a, &b, &c, &d)) {
		g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(at);
		g_autofree gchar *date = dt != NULL ? g_date_time_format(dt, "%x") : g_strdup("");
		self->day[self->n_days] = at;
		self->counts[self->n_days][0] = a;
		self->counts[self->n_days][1] = b;
		self->counts[self->n_days][2] = c;
		self->counts[self->n_days][3] = d;
		self->n_days++;
		/* TRANSLATORS: a day in the chart's tooltip: date, then counts */
		g_string_append_printf(tip,
				       _("%s: %u over TLS, %u via the portal, %u waiting, "
					 "%u failed\n"),
				       date, a, b, c, d);
	}
	if (tip->len > 0)
		g_string_truncate(tip, tip->len - 1);
	gtk_widget_set_tooltip_text(GTK_WIDGET(self), tip->str);
	g_string_free(tip, TRUE);
	gtk_widget_queue_draw(GTK_WIDGET(self));
}

guint
sma_chart_get_n_days(SmaChart *self)
{
	return self->n_days;
}

static void
sma_chart_snapshot(GtkWidget *widget, GtkSnapshot *snapshot)
{
	SmaChart *self = SMA_CHART(widget);
	const float width = (float)gtk_widget_get_width(widget);
	const float height = (float)gtk_widget_get_height(widget);
	const float label_height = 24.f;
	float slot, bar, plot;
	guint max = 1;
	GdkRGBA fg;

	if (self->n_days == 0 || width < 10 || height < label_height + 10)
		return;
	gtk_style_context_get_color(gtk_widget_get_style_context(widget), &fg);
	for (guint i = 0; i < self->n_days; i++) {
		guint sum = 0;
		for (guint s = 0; s < SMA_CHART_SERIES; s++)
			sum += self->counts[i][s];
		max = MAX(max, sum);
	}
	slot = width / (float)self->n_days;
	bar = slot * 0.6f;
	plot = height - label_height;
	for (guint i = 0; i < self->n_days; i++) {
		g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(self->day[i]);
		g_autofree gchar *name = dt != NULL ? g_date_time_format(dt, "%a") : g_strdup("");
		PangoLayout *layout = gtk_widget_create_pango_layout(widget, name);
		float x = slot * (float)i + (slot - bar) / 2.f;
		float y = plot;
		int lw, lh;

		for (guint s = 0; s < SMA_CHART_SERIES; s++) {
			float h = plot * (float)self->counts[i][s] / (float)max;
			if (h <= 0.f)
				continue;
			y -= h;
			gtk_snapshot_append_color(snapshot, &sma_chart_colours[s],
						  &GRAPHENE_RECT_INIT(x, y, bar, h));
		}
		pango_layout_get_pixel_size(layout, &lw, &lh);
		gtk_snapshot_save(snapshot);
		gtk_snapshot_translate(
		    snapshot, &GRAPHENE_POINT_INIT(slot * (float)i + (slot - (float)lw) / 2.f,
						   plot + (label_height - (float)lh) / 2.f));
		gtk_snapshot_append_layout(snapshot, layout, &fg);
		gtk_snapshot_restore(snapshot);
		g_object_unref(layout);
	}
}

static void
sma_chart_measure(GtkWidget *widget, GtkOrientation orientation, int for_size, int *minimum,
		  int *natural, int *minimum_baseline, int *natural_baseline)
{
	*minimum = orientation == GTK_ORIENTATION_HORIZONTAL ? 200 : 160;
	*natural = orientation == GTK_ORIENTATION_HORIZONTAL ? 600 : 220;
}

static void
sma_chart_class_init(SmaChartClass *klass)
{
	GtkWidgetClass *widget_class = GTK_WIDGET_CLASS(klass);

	widget_class->snapshot = sma_chart_snapshot;
	widget_class->measure = sma_chart_measure;
	gtk_widget_class_set_css_name(widget_class, "chart");
	gtk_widget_class_set_accessible_role(widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
sma_chart_init(SmaChart *self)
{
}
