/*
 * SecuMailer — fuzz target: a name server's answer to an MX query, as the
 * daemon reads it (smd_dns_parse_mx(), smd-dns.h).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdint.h>

#include "smd-dns.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	GList *records = smd_dns_parse_mx(data, size, &error);

	/* records or an error, never both, never neither */
	g_assert_true((records == NULL) == (error != NULL));
	for (GList *l = records; l != NULL; l = l->next)
		g_assert_true(g_variant_is_of_type(l->data, G_VARIANT_TYPE("(qs)")));
	g_list_free_full(records, (GDestroyNotify)g_variant_unref);
	return 0;
}
