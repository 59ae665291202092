/*
 * SecuMailer — error domain shared by every part of the daemon.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define SMD_ERROR (smd_error_quark())

/* Keep in sync with the D-Bus error names in smd-error.c. */
typedef enum {
	SMD_ERROR_INTERNAL,	/* a bug or an unexpected library failure */
	SMD_ERROR_CONFIG,	/* the configuration file is wrong */
	SMD_ERROR_INVALID_DATA, /* malformed input from a peer or a file */
	SMD_ERROR_NOT_FOUND,	/* no such message, recipient or key */
	SMD_ERROR_STORE,	/* the database failed */
	SMD_ERROR_CRYPTO,	/* encryption or authentication failed */
	SMD_ERROR_PROTOCOL,	/* a remote SMTP server broke the protocol */
	SMD_ERROR_TEMPORARY,	/* try again later (4xx, timeouts) */
	SMD_ERROR_PERMANENT,	/* will never work (5xx) */
	SMD_ERROR_NO_TLS,	/* the peer could not give us the TLS we require */
	SMD_ERROR_STORE_FULL,	/* the disk holding the store is full */
	SMD_ERROR_LAST
} SmdError;

GQuark smd_error_quark(void);

G_END_DECLS
