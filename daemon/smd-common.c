/*
 * SecuMailer — small shared helpers.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-common"

#include "config.h"

#include <openssl/rand.h>

#include "smd-common.h"

/* A queue id: 80 random bits in lower-case base32hex, unique enough to
 * name a message in logs and to bind its encrypted body to it. */
gchar *
smd_random_id(void)
{
	static const gchar alphabet[] = "0123456789abcdefghijklmnopqrstuv";
	guint8 raw[16];
	GString *id = g_string_sized_new(17);

	if (RAND_bytes(raw, sizeof(raw)) != 1)
		g_error("the system random number generator failed");
	for (guint i = 0; i < 16; i++)
		g_string_append_c(id, alphabet[raw[i] & 0x1f]);
	return g_string_free(id, FALSE);
}

gchar *
smd_sha256_hex(const guint8 *data, gsize len)
{
	return g_compute_checksum_for_data(G_CHECKSUM_SHA256, data, len);
}

gchar *
smd_rfc5322_date(GDateTime *dt)
{
	static const gchar *const days[] = {"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"};
	static const gchar *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					      "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	gint64 offset = g_date_time_get_utc_offset(dt) / G_TIME_SPAN_MINUTE;
	return g_strdup_printf(
	    "%s, %02d %s %04d %02d:%02d:%02d %c%02d%02d", days[g_date_time_get_day_of_week(dt) - 1],
	    g_date_time_get_day_of_month(dt), months[g_date_time_get_month(dt) - 1],
	    g_date_time_get_year(dt), g_date_time_get_hour(dt), g_date_time_get_minute(dt),
	    g_date_time_get_second(dt), offset < 0 ? '-' : '+', (int)(ABS(offset) / 60),
	    (int)(ABS(offset) % 60));
}

GBytes *
smd_message_header_section(GBytes *message)
{
	gsize len = 0;
	const gchar *data = g_bytes_get_data(message, &len);
	const gchar *end = g_strstr_len(data, (gssize)len, "\r\n\r\n");
	return g_bytes_new(data, end != NULL ? (gsize)(end - data) + 2 : len);
}
