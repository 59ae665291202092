/*
 * SecuMailer — ends portal connections that never finish a request
 * (slowloris): libsoup 3.2's server has no read timeout, so a client that
 * opens connections and sends nothing, or a few bytes a minute, would
 * hold a descriptor each for as long as it likes.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* how long a client has from connecting (or its last answer) to the end
 * of its request: headers and the small form bodies the portal takes */
#define SMD_PORTAL_READ_TIMEOUT 20

typedef struct _SmdPortalReaper SmdPortalReaper;

SmdPortalReaper *smd_portal_reaper_new(SoupServer *server);
void smd_portal_reaper_free(SmdPortalReaper *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdPortalReaper, smd_portal_reaper_free)

G_END_DECLS
