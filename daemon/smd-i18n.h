/*
 * SecuMailer — translations per call: the portal answers each visitor in
 * their language, and e-mails go out in the organisation's.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Marks a string for xgettext (po/meson.build: --keyword=L_:2) and
 * translates it into @lang. */
#define L_(lang, text) smd_i18n_get((lang), (text))

/* (the result is a format when the message is one: checked like it) */
const gchar *smd_i18n_get(const gchar *lang, const gchar *msgid) G_GNUC_FORMAT(2);
const gchar *smd_i18n_nget(const gchar *lang, const gchar *singular, const gchar *plural, gulong n)
    G_GNUC_FORMAT(2) G_GNUC_FORMAT(3);
/* Shipped (po/LINGUAS and English) and its catalogue found. */
gboolean smd_i18n_supported(const gchar *lang);
/* Shipped, whether its catalogue is installed or not. */
gboolean smd_i18n_is_shipped(const gchar *lang);
/* The shipped languages, as "en, nl". */
gchar *smd_i18n_shipped_list(void);
/* The file @lang's catalogue is read from. */
gchar *smd_i18n_catalog_path(const gchar *lang);
const gchar *smd_i18n_negotiate(const gchar *accept_language, const gchar *fallback);
/* The languages of "nl+en" (a NULL-terminated vector, first one first). */
gchar **smd_i18n_split(const gchar *languages);
/* Text built once per language of @languages ("nl+en"), joined by
 * @separator, first language first. */
typedef gchar *(*SmdI18nBuild)(const gchar *lang, gpointer data);
gchar *smd_i18n_join(const gchar *languages, const gchar *separator, SmdI18nBuild build,
		     gpointer data);
/* A date and time as people of @lang write it. */
gchar *smd_i18n_format_time(const gchar *lang, gint64 unix_seconds);
/* For tests: read catalogues from @localedir from now on. */
void smd_i18n_set_localedir(const gchar *localedir);

G_END_DECLS
