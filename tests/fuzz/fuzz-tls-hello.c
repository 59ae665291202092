/*
 * SecuMailer — fuzz target: the first bytes a TLS client sends to the
 * portal or after STARTTLS, as the daemon looks at them before it lets a
 * handshake start (smd_tls_hello_scan(), smd-tls-server.h). Every prefix
 * of the input is looked at as it would arrive.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdint.h>

#include "smd-tls-server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	SmdHelloScan last = SMD_HELLO_PARTIAL;
	gsize waiting_for = 0;

	/* byte by byte for the first 2 KiB (a browser's ClientHello), then
	 * the whole: more bytes never take back an answer */
	for (gsize len = 0; len <= size; len = len < 2048 ? len + 1 : MAX(len + 1, size)) {
		gsize need = 0;
		SmdHelloScan scan = smd_tls_hello_scan(data, len, &need);

		if (last == SMD_HELLO_WHOLE || last == SMD_HELLO_BAD)
			g_assert_cmpint(scan, ==, last);
		if (scan == SMD_HELLO_PARTIAL) {
			/* more to wait for, and no earlier than promised before */
			g_assert_cmpuint(need, >, len);
			g_assert_cmpuint(need, >=, waiting_for);
			waiting_for = need;
		}
		last = scan;
	}
	return 0;
}
