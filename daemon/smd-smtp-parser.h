/*
 * SecuMailer — pure SMTP command-line parsing (no I/O), shared by the
 * intake session, the unit tests and the fuzz targets.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* RFC 5321 §4.5.3.1.4 says 512 octets; ESMTP parameters need more. */
#define SMD_SMTP_MAX_COMMAND_LINE 2048

typedef enum {
	SMD_LINE_COMPLETE,   /* a whole line ending in CRLF */
	SMD_LINE_INCOMPLETE, /* no line end yet: read more */
	SMD_LINE_BARE_LF,    /* LF without CR: smuggling, reject */
	SMD_LINE_BARE_CR,    /* CR not followed by LF */
	SMD_LINE_NUL,	     /* a NUL byte */
	SMD_LINE_TOO_LONG,   /* no CRLF within the limit */
} SmdLineStatus;

SmdLineStatus smd_line_scan(const guint8 *buf, gsize len, gsize max_len, gsize *line_len);

typedef enum {
	SMD_VERB_UNKNOWN,
	SMD_VERB_HELO,
	SMD_VERB_EHLO,
	SMD_VERB_MAIL,
	SMD_VERB_RCPT,
	SMD_VERB_DATA,
	SMD_VERB_RSET,
	SMD_VERB_NOOP,
	SMD_VERB_QUIT,
	SMD_VERB_VRFY,
	SMD_VERB_HELP,
	SMD_VERB_STARTTLS,
	SMD_VERB_BDAT,
	SMD_VERB_EXPN,
} SmdVerb;

typedef struct {
	SmdVerb verb;
	gchar *arg; /* what follows the verb (or "FROM:"/"TO:"), trimmed; may be "" */
} SmdCommand;

void smd_command_clear(SmdCommand *cmd);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(SmdCommand, smd_command_clear)

/* @line is without the CRLF. Returns FALSE (with @error) when a MAIL/RCPT
 * lacks its FROM:/TO: keyword. An unknown verb is not an error. */
gboolean smd_command_parse(const gchar *line, gsize len, SmdCommand *cmd, GError **error);

typedef struct {
	gchar *address;	    /* "" for the null reverse-path <> */
	gchar *domain;	    /* lower-cased, NULL for <> */
	GHashTable *params; /* upper-cased keyword → value or "" */
} SmdPath;

void smd_path_clear(SmdPath *path);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC(SmdPath, smd_path_clear)

/* Parses "<local@domain> KEY=VALUE ..." as in MAIL FROM / RCPT TO.
 * The error message is a fit reply text; the code is in @reply_code. */
gboolean smd_path_parse(const gchar *arg, gboolean allow_null, SmdPath *path, guint *reply_code,
			const gchar **enhanced, GError **error);

/* RFC 5321 mailbox syntax: dot-atom or quoted local part, a domain name.
 * Address literals and source routes are refused. On success @domain
 * receives the lower-cased domain. */
gboolean smd_address_validate(const gchar *address, gchar **domain, GError **error);

/* Validate and lower-case a domain name (LDH labels, 1..253 chars). */
gboolean smd_domain_validate(const gchar *domain, GError **error);

G_END_DECLS
