/*
 * SecuMailer admin — main: locale, then the application.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gi18n.h>
#include <locale.h>

#include "sma-application.h"

int
main(int argc, char **argv)
{
	g_autoptr(SmaApplication) app = NULL;

	(void)setlocale(LC_ALL, ""); /* on failure the C locale: English */
	/* $SECUMAILER_LOCALEDIR: the catalogues of a build tree */
	bindtextdomain(GETTEXT_PACKAGE, g_getenv("SECUMAILER_LOCALEDIR") != NULL
					    ? g_getenv("SECUMAILER_LOCALEDIR")
					    : LOCALEDIR);
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);
	g_set_application_name(_("SecuMailer Admin"));

	app = sma_application_new();
	return g_application_run(G_APPLICATION(app), argc, argv);
}
