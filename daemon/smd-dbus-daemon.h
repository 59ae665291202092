/*
 * SecuMailer — the D-Bus front end of the admin API: owns
 * org.secumailer.Gateway1, checks that the caller may, translates calls to
 * the engine and the store, and nothing more.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <gio/gio.h>

#include "smd-engine.h"

G_BEGIN_DECLS

#define SMD_TYPE_DBUS_DAEMON (smd_dbus_daemon_get_type())
G_DECLARE_FINAL_TYPE(SmdDbusDaemon, smd_dbus_daemon, SMD, DBUS_DAEMON, GObject)

/* Without @authorize every caller may do everything: only for
 * --session-bus --no-polkit (development, tests). */
SmdDbusDaemon *smd_dbus_daemon_new(SmdEngine *engine, GBusType bus_type, gboolean authorize);

G_END_DECLS
