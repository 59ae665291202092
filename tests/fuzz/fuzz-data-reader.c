/*
 * SecuMailer — fuzz target: the DATA framing state machine
 * (smd-data-reader.h). The first three bytes choose the limits and the
 * points where the stream is cut into feeds; the rest is what the client
 * sends after DATA. The same stream fed whole and fed in pieces must come
 * out the same: status, bytes used, problems, size, and the message
 * unless it is too big (then only its size counts).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "smd-data-reader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_MESSAGES 8

typedef struct {
	gsize max_size;
	gsize max_line;
	gsize max_header;
} Limits;

typedef struct {
	SmdDataStatus status;
	gsize end; /* where the reader stopped, in the whole stream */
	SmdDataProblem problems;
	gsize size;
	GBytes *message;
} Outcome;

static void
outcome_clear(Outcome *o)
{
	g_clear_pointer(&o->message, g_bytes_unref);
}

/* xorshift32: feed sizes from the seed, the same for the same input */
static guint32
next_random(guint32 *state)
{
	guint32 x = *state;
	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	*state = x;
	return x;
}

static gsize
next_feed_size(guint32 *state)
{
	guint32 r = next_random(state);
	switch (r & 3) {
	case 0:
		return 1;
	case 1:
		return (r >> 2) % 8; /* 0 too: an empty feed is allowed */
	case 2:
		return (r >> 2) % 64;
	default:
		return (r >> 2) % 1024;
	}
}

/* Feeds @buf from @start on, whole (@seed 0) or in pieces. */
static void
run(const guint8 *buf, gsize len, gsize start, const Limits *limits, guint32 seed, Outcome *out)
{
	g_autoptr(SmdDataReader) reader =
	    smd_data_reader_new(limits->max_size, limits->max_line, limits->max_header);
	guint32 state = seed;
	gsize pos = start;

	out->status = SMD_DATA_MORE;
	while (pos < len) {
		gsize chunk = len - pos;
		gsize consumed = G_MAXSIZE;
		SmdDataStatus status;

		if (seed != 0) {
			gsize piece = next_feed_size(&state);
			chunk = MIN(piece, chunk);
		}
		status = smd_data_reader_feed(reader, buf + pos, chunk, &consumed);

		g_assert_cmpuint(consumed, <=, chunk);
		if (status == SMD_DATA_MORE) {
			g_assert_cmpuint(consumed, ==, chunk);
			pos += chunk;
			continue;
		}
		if (status == SMD_DATA_DONE) {
			/* "." CRLF ends it: the rest is the next command */
			g_assert_cmpuint(consumed, >=, 1);
			g_assert_cmpint(buf[pos + consumed - 1], ==, '\n');
		} else {
			g_assert_true(status == SMD_DATA_BARE_LF || status == SMD_DATA_BARE_CR ||
				      status == SMD_DATA_NUL);
		}
		pos += consumed;
		out->status = status;
		break;
	}
	out->end = pos;
	out->problems = smd_data_reader_get_problems(reader);
	out->size = smd_data_reader_get_size(reader);
	out->message = smd_data_reader_steal_message(reader);
}

static void
check_message(const Outcome *o, const Limits *limits)
{
	gsize len = 0;
	const guint8 *msg = g_bytes_get_data(o->message, &len);
	gboolean too_big = (o->problems & SMD_DATA_PROBLEM_TOO_BIG) != 0;

	g_assert_cmpuint(len, <=, o->size);
	g_assert_cmpuint(len, <=, limits->max_size);
	g_assert_true(too_big == (o->size > limits->max_size));
	if (!too_big)
		g_assert_cmpuint(len, ==, o->size);
	/* only CRLF line ends, no NUL: nothing a later hop could read as
	 * a line end or an end of data that this reader did not */
	for (gsize i = 0; i < len; i++) {
		g_assert_cmpint(msg[i], !=, '\0');
		if (msg[i] == '\r')
			g_assert_true(i + 1 < len && msg[i + 1] == '\n');
		if (msg[i] == '\n')
			g_assert_true(i > 0 && msg[i - 1] == '\r');
	}
	if (o->status == SMD_DATA_DONE && !too_big && len > 0)
		g_assert_true(len >= 2 && msg[len - 2] == '\r' && msg[len - 1] == '\n');
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const gsize max_sizes[] = {1024 * 1024, 64, 512, 4096};
	static const gsize max_lines[] = {16384, 80, 998, 16};
	static const gsize max_headers[] = {256 * 1024, 64, 1024, 8};
	Limits limits;
	guint32 seed;
	gsize pos = 3;

	if (size < 3)
		return 0;
	limits.max_size = max_sizes[data[2] & 3];
	limits.max_line = max_lines[(data[2] >> 2) & 3];
	limits.max_header = max_headers[(data[2] >> 4) & 3];
	seed = ((guint32)data[0] << 8 | data[1]) * 2654435761U + 1; /* never 0 */

	/* message after message, as a pipelining client sends them */
	for (guint n = 0; n < MAX_MESSAGES && pos < size; n++) {
		Outcome whole = {0};
		Outcome pieces = {0};

		run(data, size, pos, &limits, 0, &whole);
		run(data, size, pos, &limits, (seed + n) | 1, &pieces);
		check_message(&whole, &limits);
		check_message(&pieces, &limits);
		g_assert_cmpint(whole.status, ==, pieces.status);
		g_assert_cmpuint(whole.end, ==, pieces.end);
		g_assert_cmpint(whole.problems, ==, pieces.problems);
		g_assert_cmpuint(whole.size, ==, pieces.size);
		/* a message too big is refused: what was kept of it is no answer */
		if ((whole.problems & SMD_DATA_PROBLEM_TOO_BIG) == 0)
			g_assert_true(g_bytes_equal(whole.message, pieces.message));
		pos = whole.end;
		outcome_clear(&whole);
		outcome_clear(&pieces);
		if (whole.status != SMD_DATA_DONE)
			break;
	}
	return 0;
}
