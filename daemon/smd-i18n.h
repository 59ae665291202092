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

const gchar *smd_i18n_get(const gchar *lang, const gchar *msgid);
const gchar *smd_i18n_nget(const gchar *lang, const gchar *singular, const gchar *plural, gulong n);
gboolean smd_i18n_supported(const gchar *lang);
const gchar *smd_i18n_negotiate(const gchar *accept_language, const gchar *fallback);
/* The languages of "nl+en" (a NULL-terminated vector, first one first). */
gchar **smd_i18n_split(const gchar *languages);
/* For tests: read catalogues from @localedir from now on. */
void smd_i18n_set_localedir(const gchar *localedir);

G_END_DECLS
