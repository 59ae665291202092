/*
 * SecuMailer — the portal's reading of what a visitor sends: the path,
 * the cookies, the client's address behind a proxy. Pure functions on
 * untrusted text, apart from the server (tests/fuzz/fuzz-portal-request.c).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* /r/TOKEN, /m/TOKEN, /m/TOKEN/ACTION, /m/TOKEN/attachment/INDEX */
typedef struct {
	gchar *token;
	gboolean registration; /* /r/ rather than /m/ */
	gchar *action;	       /* "" when there is none */
	gint index;	       /* /m/TOKEN/attachment/INDEX, else -1 */
} SmdPortalRoute;

void smd_portal_route_clear(SmdPortalRoute *route);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(SmdPortalRoute, smd_portal_route_clear)
gboolean smd_portal_route_parse(const gchar *path, SmdPortalRoute *route);

/* Where the language switch on the page for @path leads: the path
 * itself, or for a form's answer the link's page; "/" for anything that
 * is not plainly a path of ours. */
gchar *smd_portal_switch_path(const gchar *path, gboolean post);

/* The value of cookie @name in a Cookie header, or NULL. */
gchar *smd_portal_cookie_value(const gchar *header, const gchar *name);

/* The client's address: @peer, or behind a trusted proxy (@proxies, of
 * GInetAddressMask) the last hop X-Forwarded-For names. */
gchar *smd_portal_forwarded_client(const gchar *peer, const gchar *forwarded, GPtrArray *proxies);

G_END_DECLS
