/*
 * SecuMailer — the portal's parts shared between its files.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "smd-mime-view.h"
#include "smd-portal-store.h"
#include "smd-portal.h"

G_BEGIN_DECLS

/* One page: a status, a title and the inside of <main>. */
typedef struct {
	const gchar *lang; /* static: "en", "nl" */
	guint status;
	gchar *title;
	GString *body;
} SmdPage;

SmdPage *smd_page_new(const gchar *lang, guint status, const gchar *title);
void smd_page_free(SmdPage *page);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdPage, smd_page_free)
/* The whole document around the page. */
gchar *smd_page_render(const SmdPage *page, const gchar *org_name, gboolean theme, gboolean logo,
		       const gchar *path);

SmdPage *smd_page_not_found(const gchar *lang);
SmdPage *smd_page_expired(const gchar *lang);
SmdPage *smd_page_withdrawn(const gchar *lang);
SmdPage *smd_page_locked(const gchar *lang);
SmdPage *smd_page_no_number(const gchar *lang);
SmdPage *smd_page_forbidden(const gchar *lang);
SmdPage *smd_page_refused(const gchar *lang, guint status);
SmdPage *smd_page_busy(const gchar *lang);
SmdPage *smd_page_restarting(const gchar *lang);
SmdPage *smd_page_registration_closed(const gchar *lang);
SmdPage *smd_page_registration(const gchar *lang, const SmdLink *link, const gchar *action,
			       const gchar *csrf, const gchar *phone, const gchar *error);
SmdPage *smd_page_stored(const gchar *lang, const gchar *address, const gchar *masked);
SmdPage *smd_page_recipient(const gchar *lang, const SmdLink *link, const gchar *token,
			    const gchar *csrf);
SmdPage *smd_page_pin(const gchar *lang, const gchar *token, const gchar *csrf, const gchar *masked,
		      const gchar *notice, const gchar *error);
SmdPage *smd_page_sms_failed(const gchar *lang, const gchar *token, const gchar *csrf);
SmdPage *smd_page_message(const gchar *lang, const SmdMimeView *view, const gchar *token,
			  const gchar *csrf);

G_END_DECLS
