/*
 * SecuMailer admin — recipient states as people read them.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "sma-state"

#include "config.h"

#include <glib/gi18n.h>

#include "sma-state.h"

static const struct {
	const gchar *state;
	const gchar *label;
	const gchar *css; /* chip colour: how it went */
} sma_states[] = {
    {"queued", N_("Queued"), "chip-waiting"},
    {"delivered", N_("Delivered over TLS"), "chip-good"},
    {"deferred", N_("Deferred"), "chip-warning"},
    {"held", N_("Held"), "chip-waiting"},
    {"awaiting-registration", N_("Awaiting registration"), "chip-warning"},
    {"invited", N_("Invited"), "chip-waiting"},
    {"pin-sent", N_("Pin code sent"), "chip-waiting"},
    {"opened", N_("Opened"), "chip-good"},
    {"downloaded", N_("Downloaded"), "chip-good"},
    {"bounced", N_("Bounced"), "chip-bad"},
    {"expired", N_("Expired"), "chip-bad"},
    {"revoked", N_("Revoked"), "chip-bad"},
    {"quarantined", N_("Quarantined"), "chip-bad"},
};

const gchar *const *
sma_state_all(void)
{
	static const gchar *all[G_N_ELEMENTS(sma_states) + 1];

	if (all[0] == NULL) {
		for (guint i = 0; i < G_N_ELEMENTS(sma_states); i++)
			all[i] = sma_states[i].state;
	}
	return all;
}

const gchar *
sma_state_label(const gchar *state)
{
	for (guint i = 0; i < G_N_ELEMENTS(sma_states); i++) {
		if (g_strcmp0(sma_states[i].state, state) == 0)
			return _(sma_states[i].label);
	}
	return state;
}

GtkWidget *
sma_state_chip_new(const gchar *state)
{
	GtkWidget *chip = gtk_label_new(sma_state_label(state));

	gtk_widget_add_css_class(chip, "chip");
	for (guint i = 0; i < G_N_ELEMENTS(sma_states); i++) {
		if (g_strcmp0(sma_states[i].state, state) == 0)
			gtk_widget_add_css_class(chip, sma_states[i].css);
	}
	gtk_widget_set_valign(chip, GTK_ALIGN_CENTER);
	return chip;
}

gchar *
sma_format_time(gint64 unix_seconds)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(unix_seconds);
	g_autoptr(GDateTime) now = g_date_time_new_now_local();

	if (dt == NULL)
		return g_strdup("");
	/* today: the time is enough; otherwise the locale's date and time */
	if (g_date_time_get_year(dt) == g_date_time_get_year(now) &&
	    g_date_time_get_day_of_year(dt) == g_date_time_get_day_of_year(now))
		return g_date_time_format(dt, "%X");
	return g_date_time_format(dt, "%x %X");
}
