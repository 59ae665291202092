/*
 * SecuMailer — fuzz target: the AEAD envelope of everything stored
 * encrypted (smd-envelope.h). With a fixed key and AAD:
 *   1. the input itself is opened as an envelope (truncated, tampered,
 *      foreign): it opens only if it is a real one;
 *   2. a plaintext of an input-chosen length is sealed, opens again to
 *      the same bytes, and no longer opens after one input-chosen bit is
 *      flipped, one byte is cut off, or with another AAD.
 * The IV is random (RAND_bytes) so the sealed bytes differ per run; what
 * is asserted does not.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "smd-envelope.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_AAD "20260101T120000-0001"
#define MAX_PLAINTEXT 4096

static const guint8 fuzz_key[SMD_ENVELOPE_KEY_SIZE] = {
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f,
    0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f,
};

static void
open_input(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) plain = smd_envelope_open(fuzz_key, FUZZ_AAD, data, size, &error);

	if (plain == NULL) {
		g_assert_nonnull(error);
		return;
	}
	g_assert_no_error(error);
	g_assert_cmpuint(size, >=, SMD_ENVELOPE_OVERHEAD);
	g_assert_cmpint(data[0], ==, SMD_ENVELOPE_VERSION_1);
	g_assert_cmpuint(g_bytes_get_size(plain), ==, size - SMD_ENVELOPE_OVERHEAD);
}

static void
assert_does_not_open(const gchar *aad, const guint8 *envelope, gsize len)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) plain = smd_envelope_open(fuzz_key, aad, envelope, len, &error);

	g_assert_null(plain);
	g_assert_nonnull(error);
}

static void
seal_and_tamper(const uint8_t *data, size_t size)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GBytes) sealed = NULL;
	g_autoptr(GBytes) opened = NULL;
	g_autofree guint8 *plaintext = NULL;
	g_autofree guint8 *tampered = NULL;
	gsize len, env_len, bit;
	const guint8 *env;

	if (size < 6)
		return;
	len = ((gsize)data[0] << 8 | data[1]) % (MAX_PLAINTEXT + 1);
	bit = (gsize)data[2] << 24 | (gsize)data[3] << 16 | (gsize)data[4] << 8 | data[5];
	/* the plaintext: the rest of the input, over and over */
	plaintext = g_malloc(MAX(len, 1));
	for (gsize i = 0; i < len; i++)
		plaintext[i] = size > 6 ? data[6 + i % (size - 6)] : (guint8)i;

	sealed = smd_envelope_seal(fuzz_key, FUZZ_AAD, plaintext, len, &error);
	g_assert_no_error(error);
	g_assert_nonnull(sealed);
	env = g_bytes_get_data(sealed, &env_len);
	g_assert_cmpuint(env_len, ==, len + SMD_ENVELOPE_OVERHEAD);
	g_assert_cmpint(env[0], ==, SMD_ENVELOPE_VERSION_1);

	opened = smd_envelope_open(fuzz_key, FUZZ_AAD, env, env_len, &error);
	g_assert_no_error(error);
	g_assert_nonnull(opened);
	g_assert_cmpmem(g_bytes_get_data(opened, NULL), g_bytes_get_size(opened), plaintext, len);

	/* one bit anywhere: version, IV, ciphertext or tag */
	tampered = g_memdup2(env, env_len);
	bit %= env_len * 8;
	tampered[bit / 8] ^= (guint8)(1u << (bit % 8));
	assert_does_not_open(FUZZ_AAD, tampered, env_len);
	/* cut short, or bound to another message */
	assert_does_not_open(FUZZ_AAD, env, env_len - 1);
	assert_does_not_open(FUZZ_AAD "x", env, env_len);
	assert_does_not_open("", env, env_len);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	open_input(data, size);
	seal_and_tamper(data, size);
	return 0;
}
