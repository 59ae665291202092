/*
 * SecuMailer — pure SMTP command-line parsing.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-smtp"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>

#include "smd-error.h"
#include "smd-smtp-parser.h"

/* RFC 5321 §4.5.3.1: local part 64, whole path 256 octets. */
#define SMD_MAX_LOCAL_PART 64
#define SMD_MAX_ADDRESS 254
#define SMD_MAX_DOMAIN 253
#define SMD_MAX_PARAMS 16

SmdLineStatus
smd_line_scan(const guint8 *buf, gsize len, gsize max_len, gsize *line_len)
{
	for (gsize i = 0; i < len; i++) {
		guint8 c = buf[i];
		if (c == '\0')
			return SMD_LINE_NUL;
		if (c == '\n')
			return SMD_LINE_BARE_LF;
		if (c == '\r') {
			if (i + 1 >= len)
				return i + 2 > max_len ? SMD_LINE_TOO_LONG : SMD_LINE_INCOMPLETE;
			if (buf[i + 1] != '\n')
				return SMD_LINE_BARE_CR;
			if (i + 2 > max_len)
				return SMD_LINE_TOO_LONG;
			*line_len = i + 2;
			return SMD_LINE_COMPLETE;
		}
		if (i + 2 >= max_len)
			return SMD_LINE_TOO_LONG;
	}
	return SMD_LINE_INCOMPLETE;
}

void
smd_command_clear(SmdCommand *cmd)
{
	g_clear_pointer(&cmd->arg, g_free);
	cmd->verb = SMD_VERB_UNKNOWN;
}

static const struct {
	const gchar *name;
	SmdVerb verb;
} smd_verbs[] = {
    {"HELO", SMD_VERB_HELO}, {"EHLO", SMD_VERB_EHLO},	      {"MAIL", SMD_VERB_MAIL},
    {"RCPT", SMD_VERB_RCPT}, {"DATA", SMD_VERB_DATA},	      {"RSET", SMD_VERB_RSET},
    {"NOOP", SMD_VERB_NOOP}, {"QUIT", SMD_VERB_QUIT},	      {"VRFY", SMD_VERB_VRFY},
    {"HELP", SMD_VERB_HELP}, {"STARTTLS", SMD_VERB_STARTTLS}, {"BDAT", SMD_VERB_BDAT},
    {"EXPN", SMD_VERB_EXPN},
};

gboolean
smd_command_parse(const gchar *line, gsize len, SmdCommand *cmd, GError **error)
{
	gsize verb_len = 0;
	const gchar *rest;
	const gchar *end = line + len;

	smd_command_clear(cmd);
	while (verb_len < len && line[verb_len] != ' ')
		verb_len++;
	for (guint i = 0; i < G_N_ELEMENTS(smd_verbs); i++) {
		if (strlen(smd_verbs[i].name) == verb_len &&
		    g_ascii_strncasecmp(line, smd_verbs[i].name, verb_len) == 0) {
			cmd->verb = smd_verbs[i].verb;
			break;
		}
	}
	rest = line + verb_len;
	while (rest < end && *rest == ' ')
		rest++;

	/* MAIL FROM: and RCPT TO: carry a keyword before the path. */
	if (cmd->verb == SMD_VERB_MAIL || cmd->verb == SMD_VERB_RCPT) {
		const gchar *kw = cmd->verb == SMD_VERB_MAIL ? "FROM:" : "TO:";
		gsize kw_len = strlen(kw);
		if ((gsize)(end - rest) < kw_len || g_ascii_strncasecmp(rest, kw, kw_len) != 0) {
			g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
				    cmd->verb == SMD_VERB_MAIL ? _("Syntax: MAIL FROM:<address>")
							       : _("Syntax: RCPT TO:<address>"));
			return FALSE;
		}
		rest += kw_len;
		/* Tolerate "MAIL FROM: <a@b>" as most MTAs do. */
		while (rest < end && *rest == ' ')
			rest++;
	}
	while (end > rest && end[-1] == ' ')
		end--;
	cmd->arg = g_strndup(rest, end - rest);
	return TRUE;
}

void
smd_path_clear(SmdPath *path)
{
	g_clear_pointer(&path->address, g_free);
	g_clear_pointer(&path->domain, g_free);
	g_clear_pointer(&path->params, g_hash_table_unref);
}

static gboolean
smd_is_atext(gchar c)
{
	return g_ascii_isalnum(c) || strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

gboolean
smd_domain_validate(const gchar *domain, GError **error)
{
	gsize len = strlen(domain);
	gsize label = 0;

	if (len == 0 || len > SMD_MAX_DOMAIN) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA, _("Invalid domain length"));
		return FALSE;
	}
	for (gsize i = 0; i <= len; i++) {
		gchar c = domain[i];
		if (c == '.' || c == '\0') {
			/* no empty labels, none starting or ending with '-' */
			if (label == 0 || label > 63 || domain[i - 1] == '-' ||
			    domain[i - label] == '-') {
				g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
					    _("Invalid domain name"));
				return FALSE;
			}
			label = 0;
			continue;
		}
		if (!g_ascii_isalnum(c) && c != '-') {
			g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
				    _("Invalid domain name"));
			return FALSE;
		}
		label++;
	}
	return TRUE;
}

static gboolean
smd_local_part_validate(const gchar *local, gsize len, GError **error)
{
	if (len == 0 || len > SMD_MAX_LOCAL_PART) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
			    _("Invalid local part length"));
		return FALSE;
	}
	if (local[0] == '"') {
		/* quoted-string: printable ASCII, backslash escapes */
		if (len < 2 || local[len - 1] != '"')
			goto bad;
		for (gsize i = 1; i < len - 1; i++) {
			guchar c = local[i];
			if (c == '\\') {
				if (++i >= len - 1 || (guchar)local[i] < 32 ||
				    (guchar)local[i] > 126)
					goto bad;
				continue;
			}
			if (c == '"' || c < 32 || c > 126)
				goto bad;
		}
		return TRUE;
	}
	/* dot-atom: atext runs separated by single dots */
	for (gsize i = 0; i < len; i++) {
		if (local[i] == '.') {
			if (i == 0 || i == len - 1 || local[i + 1] == '.')
				goto bad;
			continue;
		}
		if (!smd_is_atext(local[i]))
			goto bad;
	}
	return TRUE;
bad:
	g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA, _("Invalid local part"));
	return FALSE;
}

gboolean
smd_address_validate(const gchar *address, gchar **domain, GError **error)
{
	const gchar *at;
	gsize len = strlen(address);

	if (len > SMD_MAX_ADDRESS) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA, _("Address too long"));
		return FALSE;
	}
	if (address[0] == '@') {
		g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
			    _("Source routes are not accepted"));
		return FALSE;
	}
	at = strrchr(address, '@');
	if (at == NULL) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
			    _("Address must be of the form local-part@domain"));
		return FALSE;
	}
	if (at[1] == '[') {
		g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
			    _("Address literals are not accepted"));
		return FALSE;
	}
	if (!smd_local_part_validate(address, at - address, error))
		return FALSE;
	if (!smd_domain_validate(at + 1, error))
		return FALSE;
	if (domain != NULL)
		*domain = g_ascii_strdown(at + 1, -1);
	return TRUE;
}

static gboolean
smd_param_keyword_valid(const gchar *kw)
{
	if (!g_ascii_isalnum(kw[0]))
		return FALSE;
	for (const gchar *p = kw; *p != '\0'; p++) {
		if (!g_ascii_isalnum(*p) && *p != '-')
			return FALSE;
	}
	return TRUE;
}

gboolean
smd_path_parse(const gchar *arg, gboolean allow_null, SmdPath *path, guint *reply_code,
	       const gchar **enhanced, GError **error)
{
	const gchar *close;
	g_autofree gchar *address = NULL;
	g_autoptr(GHashTable) params = NULL;
	g_auto(GStrv) tokens = NULL;
	g_autoptr(GError) error_local = NULL;

	smd_path_clear(path);
	*reply_code = 501;
	*enhanced = "5.5.4";

	if (arg[0] != '<' || (close = strchr(arg, '>')) == NULL) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
			    _("Address must be enclosed in <>"));
		return FALSE;
	}
	address = g_strndup(arg + 1, close - arg - 1);
	if (strchr(address, '<') != NULL || strchr(address, ' ') != NULL) {
		*reply_code = 553;
		*enhanced = "5.1.3";
		g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA, _("Invalid address syntax"));
		return FALSE;
	}
	if (close[1] != '\0' && close[1] != ' ') {
		g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
			    _("Unexpected characters after the address"));
		return FALSE;
	}

	if (address[0] == '\0') {
		if (!allow_null) {
			*reply_code = 553;
			*enhanced = "5.1.3";
			g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
				    _("A recipient address is required"));
			return FALSE;
		}
	} else if (!smd_address_validate(address, &path->domain, &error_local)) {
		*reply_code = 553;
		*enhanced = "5.1.3";
		g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA, "%s", error_local->message);
		return FALSE;
	}

	params = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	tokens = g_strsplit(close + 1, " ", -1);
	for (guint i = 0; tokens[i] != NULL; i++) {
		gchar *eq;
		g_autofree gchar *kw = NULL;
		if (tokens[i][0] == '\0')
			continue;
		if (g_hash_table_size(params) >= SMD_MAX_PARAMS) {
			*enhanced = "5.5.4";
			g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
				    _("Too many parameters"));
			return FALSE;
		}
		eq = strchr(tokens[i], '=');
		kw = g_ascii_strup(tokens[i], eq != NULL ? eq - tokens[i] : -1);
		if (!smd_param_keyword_valid(kw) || g_hash_table_contains(params, kw)) {
			g_set_error(error, SMD_ERROR, SMD_ERROR_INVALID_DATA,
				    _("Invalid parameter"));
			return FALSE;
		}
		g_hash_table_insert(params, g_steal_pointer(&kw),
				    g_strdup(eq != NULL ? eq + 1 : ""));
	}

	path->address = g_steal_pointer(&address);
	path->params = g_steal_pointer(&params);
	return TRUE;
}
