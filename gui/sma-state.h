/*
 * SecuMailer admin — recipient states as people read them.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gtk/gtk.h>

G_BEGIN_DECLS

/* The states in the order of DESIGN.md, NULL-terminated. */
const gchar *const *sma_state_all(void);
/* "delivered" → "Delivered over TLS" (translated). */
const gchar *sma_state_label(const gchar *state);
/* A status chip: the label, coloured by how it went. */
GtkWidget *sma_state_chip_new(const gchar *state);
/* Local time of a unix time, as the desktop's locale writes it. */
gchar *sma_format_time(gint64 unix_seconds);

G_END_DECLS
