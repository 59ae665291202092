/*
 * SecuMailer — the DATA framing state machine.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-smtp"

#include "config.h"

#include "smd-data-reader.h"

typedef enum {
	SMD_DR_BOL,    /* at the beginning of a line */
	SMD_DR_DOT,    /* a '.' at the beginning of a line */
	SMD_DR_DOT_CR, /* ".\r" at the beginning of a line */
	SMD_DR_MID,    /* inside a line */
	SMD_DR_CR,     /* a CR inside a line, waiting for its LF */
} SmdDataState;

struct _SmdDataReader {
	SmdDataState state;
	GByteArray *out;
	gsize size;
	gsize line_len;
	gsize header_size;
	gboolean in_header;
	gsize max_size;
	gsize max_line;
	gsize max_header;
	SmdDataProblem problems;
};

SmdDataReader *
smd_data_reader_new(gsize max_size, gsize max_line, gsize max_header)
{
	SmdDataReader *self = g_new0(SmdDataReader, 1);
	self->state = SMD_DR_BOL;
	self->out = g_byte_array_sized_new(MIN(max_size, 64 * 1024));
	self->in_header = TRUE;
	self->max_size = max_size;
	self->max_line = max_line;
	self->max_header = max_header;
	return self;
}

void
smd_data_reader_free(SmdDataReader *self)
{
	if (self->out != NULL)
		g_byte_array_unref(self->out);
	g_free(self);
}

static void
smd_data_reader_emit(SmdDataReader *self, const guint8 *buf, gsize len)
{
	self->size += len;
	self->line_len += len;
	if (self->size > self->max_size) {
		/* keep consuming to the end, but keep nothing: it gets 552 */
		if (!(self->problems & SMD_DATA_PROBLEM_TOO_BIG)) {
			g_byte_array_unref(self->out);
			self->out = g_byte_array_new();
		}
		self->problems |= SMD_DATA_PROBLEM_TOO_BIG;
		return;
	}
	if (self->problems & SMD_DATA_PROBLEM_NO_MEMORY)
		return;
	g_byte_array_append(self->out, buf, len);
}

static void
smd_data_reader_end_line(SmdDataReader *self)
{
	/* line_len includes the CRLF just emitted */
	if (self->line_len > self->max_line)
		self->problems |= SMD_DATA_PROBLEM_LINE_TOO_LONG;
	if (self->in_header) {
		self->header_size += self->line_len;
		if (self->line_len == 2)
			self->in_header = FALSE;
		else if (self->header_size > self->max_header)
			self->problems |= SMD_DATA_PROBLEM_HEADER_TOO_BIG;
	}
	self->line_len = 0;
}

SmdDataStatus
smd_data_reader_feed(SmdDataReader *self, const guint8 *buf, gsize len, gsize *consumed)
{
	static const guint8 crlf[] = {'\r', '\n'};
	gsize i = 0;

	while (i < len) {
		guint8 c = buf[i];
		if (c == '\0') {
			*consumed = i;
			return SMD_DATA_NUL;
		}
		switch (self->state) {
		case SMD_DR_BOL:
			if (c == '.') {
				self->state = SMD_DR_DOT;
				self->line_len = 1; /* the stuffed dot counts on the wire */
				i++;
				continue;
			}
			self->state = SMD_DR_MID;
			continue; /* handle the byte as inside a line */
		case SMD_DR_DOT:
			if (c == '\r') {
				self->state = SMD_DR_DOT_CR;
				i++;
				continue;
			}
			if (c == '\n') {
				*consumed = i;
				return SMD_DATA_BARE_LF;
			}
			/* a stuffed line: the leading dot is dropped */
			self->state = SMD_DR_MID;
			continue;
		case SMD_DR_DOT_CR:
			if (c != '\n') {
				*consumed = i;
				return SMD_DATA_BARE_CR;
			}
			*consumed = i + 1;
			return SMD_DATA_DONE;
		case SMD_DR_MID: {
			gsize start = i;
			/* copy the run of ordinary bytes in one go */
			while (i < len && buf[i] != '\r' && buf[i] != '\n' && buf[i] != '\0')
				i++;
			if (i > start)
				smd_data_reader_emit(self, buf + start, i - start);
			if (i >= len || buf[i] == '\0')
				continue;
			if (buf[i] == '\n') {
				*consumed = i;
				return SMD_DATA_BARE_LF;
			}
			self->state = SMD_DR_CR;
			i++;
			continue;
		}
		case SMD_DR_CR:
			if (c != '\n') {
				*consumed = i;
				return SMD_DATA_BARE_CR;
			}
			smd_data_reader_emit(self, crlf, sizeof(crlf));
			smd_data_reader_end_line(self);
			self->state = SMD_DR_BOL;
			i++;
			continue;
		default:
			g_assert_not_reached();
		}
	}
	*consumed = len;
	return SMD_DATA_MORE;
}

SmdDataProblem
smd_data_reader_get_problems(SmdDataReader *self)
{
	return self->problems;
}

gsize
smd_data_reader_get_size(SmdDataReader *self)
{
	return self->size;
}

void
smd_data_reader_drop(SmdDataReader *self)
{
	self->problems |= SMD_DATA_PROBLEM_NO_MEMORY;
	g_byte_array_unref(self->out);
	self->out = g_byte_array_new();
}

GBytes *
smd_data_reader_steal_message(SmdDataReader *self)
{
	GByteArray *out = g_steal_pointer(&self->out);
	self->out = g_byte_array_new();
	return g_byte_array_free_to_bytes(out);
}
