/*
 * SecuMailer — translations per call.
 *
 * gettext knows one language per process (the locale); the portal must
 * answer a Dutch and an English visitor at the same moment, and e-mails
 * follow the organisation's language whatever the daemon's locale is.
 * So the compiled catalogues (.mo, the same files gettext reads, from
 * LOCALEDIR or $SECUMAILER_LOCALEDIR) are read here, once per language,
 * checked against their size, and looked up by message. English is the
 * source language and needs no catalogue. Plural forms: the languages
 * shipped (nl, en) use "n != 1".
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-i18n"

#include "config.h"

#include <string.h>

#include "smd-i18n.h"

#define SMD_MO_MAGIC 0x950412deU
#define SMD_MO_MAGIC_SWAPPED 0xde120495U

typedef struct {
	const gchar *text; /* inside the mapped file */
	guint32 len;	   /* all plural forms, NUL-separated */
} SmdTranslation;

typedef struct {
	GMappedFile *file;
	GHashTable *strings; /* msgid (singular) → SmdTranslation */
} SmdCatalog;

static GMutex smd_i18n_lock;
static GHashTable *smd_i18n_catalogs; /* language → SmdCatalog, or NULL when there is none */
static gchar *smd_i18n_localedir;

static void
smd_catalog_free(SmdCatalog *catalog)
{
	if (catalog == NULL)
		return;
	g_hash_table_unref(catalog->strings);
	g_mapped_file_unref(catalog->file);
	g_free(catalog);
}

static guint32
smd_mo_word(const guint8 *data, gsize offset, gboolean swapped)
{
	guint32 v;
	memcpy(&v, data + offset, sizeof(v));
	return swapped ? GUINT32_SWAP_LE_BE(v) : v;
}

/* A string of the table at @table, entry @i: its length and offset, both
 * inside the file and NUL-terminated, or FALSE. */
static gboolean
smd_mo_string(const guint8 *data, gsize size, gboolean swapped, guint32 table, guint32 i,
	      guint32 *len, guint32 *offset)
{
	gsize entry = (gsize)table + (gsize)i * 8;

	if (entry + 8 > size)
		return FALSE;
	*len = smd_mo_word(data, entry, swapped);
	*offset = smd_mo_word(data, entry + 4, swapped);
	return (gsize)*offset + *len < size && data[*offset + *len] == '\0';
}

gchar *
smd_i18n_catalog_path(const gchar *lang)
{
	const gchar *dir = smd_i18n_localedir != NULL ? smd_i18n_localedir
			   : g_getenv("SECUMAILER_LOCALEDIR") != NULL
			       ? g_getenv("SECUMAILER_LOCALEDIR")
			       : LOCALEDIR;

	return g_build_filename(dir, lang, "LC_MESSAGES", GETTEXT_PACKAGE ".mo", NULL);
}

static SmdCatalog *
smd_catalog_load(const gchar *lang)
{
	g_autofree gchar *path = smd_i18n_catalog_path(lang);
	g_autoptr(GError) error = NULL;
	g_autoptr(GMappedFile) file = g_mapped_file_new(path, FALSE, &error);
	SmdCatalog *catalog;
	const guint8 *data;
	gsize size;
	guint32 magic, n, originals, translations;
	gboolean swapped;

	if (file == NULL) {
		g_debug("no catalogue for %s: %s", lang, error->message);
		return NULL;
	}
	data = (const guint8 *)g_mapped_file_get_contents(file);
	size = g_mapped_file_get_length(file);
	if (size < 20) {
		g_warning("%s: not a message catalogue", path);
		return NULL;
	}
	memcpy(&magic, data, sizeof(magic));
	if (magic != SMD_MO_MAGIC && magic != SMD_MO_MAGIC_SWAPPED) {
		g_warning("%s: not a message catalogue", path);
		return NULL;
	}
	swapped = magic == SMD_MO_MAGIC_SWAPPED;
	n = smd_mo_word(data, 8, swapped);
	originals = smd_mo_word(data, 12, swapped);
	translations = smd_mo_word(data, 16, swapped);
	catalog = g_new0(SmdCatalog, 1);
	catalog->file = g_steal_pointer(&file);
	catalog->strings = g_hash_table_new_full(g_str_hash, g_str_equal, NULL, g_free);
	for (guint32 i = 0; i < n; i++) {
		guint32 olen, ooff, tlen, toff;
		SmdTranslation *t;

		if (!smd_mo_string(data, size, swapped, originals, i, &olen, &ooff) ||
		    !smd_mo_string(data, size, swapped, translations, i, &tlen, &toff)) {
			g_warning("%s: damaged at entry %u; using what came before", path, i);
			break;
		}
		if (olen == 0 || tlen == 0) /* the header, or untranslated */
			continue;
		t = g_new0(SmdTranslation, 1);
		t->text = (const gchar *)data + toff;
		t->len = tlen;
		/* "singular\0plural" is found by its singular */
		g_hash_table_insert(catalog->strings, (gpointer)(data + ooff), t);
	}
	g_debug("catalogue %s: %u messages", path, g_hash_table_size(catalog->strings));
	return catalog;
}

static SmdCatalog *
smd_i18n_catalog(const gchar *lang)
{
	SmdCatalog *catalog;
	gpointer found;

	if (lang == NULL || g_str_equal(lang, "en"))
		return NULL;
	g_mutex_lock(&smd_i18n_lock);
	if (smd_i18n_catalogs == NULL)
		smd_i18n_catalogs = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
							  (GDestroyNotify)smd_catalog_free);
	if (g_hash_table_lookup_extended(smd_i18n_catalogs, lang, NULL, &found)) {
		catalog = found;
	} else {
		catalog = smd_catalog_load(lang);
		g_hash_table_insert(smd_i18n_catalogs, g_strdup(lang), catalog);
	}
	g_mutex_unlock(&smd_i18n_lock);
	return catalog;
}

const gchar *
smd_i18n_get(const gchar *lang, const gchar *msgid)
{
	SmdCatalog *catalog = smd_i18n_catalog(lang);
	SmdTranslation *t = catalog != NULL ? g_hash_table_lookup(catalog->strings, msgid) : NULL;

	return t != NULL ? t->text : msgid;
}

const gchar *
smd_i18n_nget(const gchar *lang, const gchar *singular, const gchar *plural, gulong n)
{
	SmdCatalog *catalog = smd_i18n_catalog(lang);
	SmdTranslation *t =
	    catalog != NULL ? g_hash_table_lookup(catalog->strings, singular) : NULL;
	const gchar *form;

	if (t == NULL)
		return n == 1 ? singular : plural;
	form = t->text;
	if (n != 1) {
		/* the second form, if the catalogue has one */
		gsize first = strlen(t->text);
		if (first < t->len)
			form = t->text + first + 1;
	}
	return form;
}

/* The languages SecuMailer ships (po/LINGUAS and English): anything else
 * a visitor sends is not even looked for, so no cookie or query can make
 * the daemon open files or grow a cache. */
static const gchar *const smd_i18n_shipped[] = {"en", "nl", NULL};

gboolean
smd_i18n_is_shipped(const gchar *lang)
{
	return lang != NULL && g_strv_contains((const gchar *const *)smd_i18n_shipped, lang);
}

gchar *
smd_i18n_shipped_list(void)
{
	return g_strjoinv(", ", (gchar **)smd_i18n_shipped);
}

gboolean
smd_i18n_supported(const gchar *lang)
{
	for (guint i = 0; lang != NULL && smd_i18n_shipped[i] != NULL; i++) {
		if (g_str_equal(lang, smd_i18n_shipped[i]))
			return g_str_equal(lang, "en") || smd_i18n_catalog(lang) != NULL;
	}
	return FALSE;
}

/* The best language of an Accept-Language header that we have, by its
 * q-values ("nl-NL,nl;q=0.9,en;q=0.8"), or @fallback. */
const gchar *
smd_i18n_negotiate(const gchar *accept_language, const gchar *fallback)
{
	g_auto(GStrv) ranges = NULL;
	const gchar *const *known = smd_i18n_shipped;
	const gchar *best = NULL;
	gdouble best_q = 0.0;

	if (accept_language == NULL || strlen(accept_language) > 1000)
		return fallback;
	ranges = g_strsplit(accept_language, ",", 50);
	for (guint i = 0; ranges[i] != NULL; i++) {
		g_auto(GStrv) parts = g_strsplit(ranges[i], ";", 4);
		g_autofree gchar *tag = NULL;
		gchar *dash;
		gdouble q = 1.0;

		/* "nl,", ",," and ";q=1" have empty items: skip them */
		if (parts[0] == NULL || g_strstrip(parts[0])[0] == '\0')
			continue;
		tag = g_ascii_strdown(parts[0], -1);
		dash = strchr(tag, '-');
		if (dash != NULL)
			*dash = '\0';
		for (guint j = 1; parts[j] != NULL; j++) {
			const gchar *param = g_strstrip(parts[j]);
			if (g_str_has_prefix(param, "q="))
				q = g_ascii_strtod(param + 2, NULL);
		}
		for (guint k = 0; known[k] != NULL; k++) {
			/* earlier wins a tie: the visitor's order */
			if (g_str_equal(tag, known[k]) && q > best_q && smd_i18n_supported(tag)) {
				best = known[k];
				best_q = q;
			}
		}
	}
	return best != NULL ? best : fallback;
}

gchar **
smd_i18n_split(const gchar *languages)
{
	return g_strsplit(languages != NULL && languages[0] != '\0' ? languages : "en", "+", 4);
}

gchar *
smd_i18n_join(const gchar *languages, const gchar *separator, SmdI18nBuild build, gpointer data)
{
	g_auto(GStrv) langs = smd_i18n_split(languages);
	GString *out = g_string_new(NULL);

	for (guint i = 0; langs[i] != NULL; i++) {
		g_autofree gchar *part = build(g_intern_string(langs[i]), data);
		if (i > 0)
			g_string_append(out, separator);
		g_string_append(out, part);
	}
	return g_string_free(out, FALSE);
}

gchar *
smd_i18n_format_time(const gchar *lang, gint64 unix_seconds)
{
	g_autoptr(GDateTime) dt = g_date_time_new_from_unix_local(unix_seconds);

	if (dt == NULL)
		return g_strdup("");
	/* TRANSLATORS: a date and time in e-mails and on the portal, as a
	 * GDateTime format: numbers only, month names would come out in the
	 * daemon's locale; for example "%d-%m-%Y %H:%M" */
	return g_date_time_format(dt, L_(lang, "%Y-%m-%d %H:%M"));
}

void
smd_i18n_set_localedir(const gchar *localedir)
{
	g_mutex_lock(&smd_i18n_lock);
	g_free(smd_i18n_localedir);
	smd_i18n_localedir = g_strdup(localedir);
	g_clear_pointer(&smd_i18n_catalogs, g_hash_table_unref);
	g_mutex_unlock(&smd_i18n_lock);
}
