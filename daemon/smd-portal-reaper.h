/*
 * SecuMailer — closes the portal's keep-alive connections that their
 * client has left. libsoup before 3.3 never notices a client closing an
 * idle keep-alive connection (fixed upstream in 3.3: "Don't leak idle
 * connections closed by the client"); Debian 12 has 3.2, and each such
 * connection kept a descriptor in CLOSE_WAIT for good (found by
 * bench/soak). Also closes connections idle for longer than a browser
 * would keep one, so idle sockets cannot pile up.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

typedef struct _SmdPortalReaper SmdPortalReaper;

SmdPortalReaper *smd_portal_reaper_new(SoupServer *server);
void smd_portal_reaper_free(SmdPortalReaper *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdPortalReaper, smd_portal_reaper_free)

/* How many connections it closed so far (tests, the log). */
guint smd_portal_reaper_get_closed(SmdPortalReaper *self);

G_END_DECLS
