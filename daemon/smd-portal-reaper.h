/*
 * SecuMailer — ends portal connections that never finish a request
 * (slowloris): libsoup 3.2's server has no read timeout, so a client that
 * opens connections and sends nothing, or a few bytes a minute, would
 * hold a descriptor each for as long as it likes. Nor has it a write
 * timeout: a client that stops reading an answer would hold the answer,
 * and the memory of the message it came from (smd-budget.h).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <libsoup/soup.h>

G_BEGIN_DECLS

/* how long a client has from connecting (or its last answer) to the end
 * of its request: headers and the small form bodies the portal takes */
#define SMD_PORTAL_READ_TIMEOUT 20
/* while an answer waits for its client, the client must take at least
 * this much of it in each such span of seconds, or the connection ends */
#define SMD_PORTAL_SEND_TIMEOUT 30
#define SMD_PORTAL_SEND_MIN_BYTES (32 * 1024)

typedef struct _SmdPortalReaper SmdPortalReaper;

SmdPortalReaper *smd_portal_reaper_new(SoupServer *server);
void smd_portal_reaper_free(SmdPortalReaper *self);
/* A connection accepted outside libsoup and given to it with
 * soup_server_accept_iostream() (the HTTPS portal's, smd-portal-tls.c):
 * @remote is the address object passed there, @socket its socket. Call it
 * before handing the connection over. */
void smd_portal_reaper_adopt(SmdPortalReaper *self, GSocketAddress *remote, GSocket *socket);
/* Whether the client of @msg, whose request is read, has closed its
 * connection: then nobody waits for the answer. */
gboolean smd_portal_reaper_client_gone(SmdPortalReaper *self, SoupServerMessage *msg);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdPortalReaper, smd_portal_reaper_free)

G_END_DECLS
