/*
 * SecuMailer — error domain shared by every part of the daemon.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-error"

#include "config.h"

#include <gio/gio.h>

#include "smd-error.h"

/* Registered as D-Bus error names so the admin app receives typed errors. */
static const GDBusErrorEntry smd_error_entries[] = {
    {SMD_ERROR_INTERNAL, "org.secumailer.Gateway1.Error.Internal"},
    {SMD_ERROR_CONFIG, "org.secumailer.Gateway1.Error.Config"},
    {SMD_ERROR_INVALID_DATA, "org.secumailer.Gateway1.Error.InvalidData"},
    {SMD_ERROR_NOT_FOUND, "org.secumailer.Gateway1.Error.NotFound"},
    {SMD_ERROR_STORE, "org.secumailer.Gateway1.Error.Store"},
    {SMD_ERROR_CRYPTO, "org.secumailer.Gateway1.Error.Crypto"},
    {SMD_ERROR_PROTOCOL, "org.secumailer.Gateway1.Error.Protocol"},
    {SMD_ERROR_TEMPORARY, "org.secumailer.Gateway1.Error.Temporary"},
    {SMD_ERROR_PERMANENT, "org.secumailer.Gateway1.Error.Permanent"},
    {SMD_ERROR_NO_TLS, "org.secumailer.Gateway1.Error.NoTls"},
    {SMD_ERROR_STORE_FULL, "org.secumailer.Gateway1.Error.StoreFull"},
};

G_STATIC_ASSERT(G_N_ELEMENTS(smd_error_entries) == SMD_ERROR_LAST);

GQuark
smd_error_quark(void)
{
	static gsize quark = 0;
	g_dbus_error_register_error_domain("smd-error-quark", &quark, smd_error_entries,
					   G_N_ELEMENTS(smd_error_entries));
	return (GQuark)quark;
}
