/*
 * SecuMailer — the DATA framing state machine (RFC 5321 §4.1.1.4, §4.5.2).
 * Pure: bytes in, message bytes out. Only CRLF ends a line and only
 * CRLF "." CRLF ends the data; a bare CR, bare LF or NUL is fatal
 * (SMTP smuggling, CVE-2023-51764 class).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
	SMD_DATA_MORE,	  /* all input consumed, the data goes on */
	SMD_DATA_DONE,	  /* end of data seen; the rest of the input is commands */
	SMD_DATA_BARE_LF, /* fatal framing violations: */
	SMD_DATA_BARE_CR,
	SMD_DATA_NUL,
} SmdDataStatus;

/* Non-fatal problems found by the end of the data; the data is
 * consumed to its end so the session can answer and go on. */
typedef enum {
	SMD_DATA_PROBLEM_NONE = 0,
	SMD_DATA_PROBLEM_TOO_BIG = 1 << 0,
	SMD_DATA_PROBLEM_LINE_TOO_LONG = 1 << 1,
	SMD_DATA_PROBLEM_HEADER_TOO_BIG = 1 << 2,
	SMD_DATA_PROBLEM_NO_MEMORY = 1 << 3, /* smd_data_reader_drop() */
} SmdDataProblem;

typedef struct _SmdDataReader SmdDataReader;

SmdDataReader *smd_data_reader_new(gsize max_size, gsize max_line, gsize max_header);
void smd_data_reader_free(SmdDataReader *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdDataReader, smd_data_reader_free)

/* Feeds @len bytes; *@consumed says how many were used (all of them
 * unless DONE or a fatal status). */
SmdDataStatus smd_data_reader_feed(SmdDataReader *self, const guint8 *buf, gsize len,
				   gsize *consumed);

SmdDataProblem smd_data_reader_get_problems(SmdDataReader *self);
/* Size of the message as sent (after un-stuffing), even when too big. */
gsize smd_data_reader_get_size(SmdDataReader *self);
/* Frees what is kept and keeps nothing more: the session has no memory
 * left for this message. The data is still read to its end. */
void smd_data_reader_drop(SmdDataReader *self);
/* Takes the message bytes (CRLF line ends, dots un-stuffed). */
GBytes *smd_data_reader_steal_message(SmdDataReader *self);

G_END_DECLS
