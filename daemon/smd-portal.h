/*
 * SecuMailer — the portal: libsoup3 pages where a sender registers a
 * recipient's mobile number and a recipient reads a held message after
 * an SMS pin code. Works without JavaScript.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "smd-engine.h"

G_BEGIN_DECLS

#define SMD_TYPE_PORTAL (smd_portal_get_type())
G_DECLARE_FINAL_TYPE(SmdPortal, smd_portal, SMD, PORTAL, GObject)

/* Listens on [portal] listen; NULL with an error if that fails. */
SmdPortal *smd_portal_new(SmdEngine *engine, GError **error);
/* The daemon is stopping: new requests get the busy page (Retry-After)
 * and start nothing, while those under way finish. */
void smd_portal_drain(SmdPortal *self);
void smd_portal_stop(SmdPortal *self);

G_END_DECLS
