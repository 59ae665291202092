/*
 * SecuMailer — one inbound SMTP connection.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-smtp"

#include "config.h"

#include <glib/gi18n.h>
#include <string.h>
#include <sys/statvfs.h>

#include "smd-common.h"
#include "smd-data-reader.h"
#include "smd-error.h"
#include "smd-smtp-parser.h"
#include "smd-smtp-session.h"
#include "smd-tls-server.h"

#define SMD_SMTP_READ_CHUNK 16384
#define SMD_SMTP_MAX_TEXT_LINE 16384 /* RFC 5322 says 998; real mail is sloppier */
#define SMD_SMTP_MAX_HEADER (256 * 1024)
#define SMD_SMTP_MAX_ERRORS 10
#define SMD_SMTP_MAX_HELO 255
/* a handshake, from the ClientHello to the end, may take this long (or the
 * idle timeout, if shorter): it holds one of GIO's worker threads */
#define SMD_SMTP_HANDSHAKE_TIMEOUT 20
/* what a closing connection may wait for a client that does not read */
#define SMD_SMTP_CLOSE_TIMEOUT 10

typedef enum {
	SMD_SESSION_NEED_HELO, /* greeted (or just after STARTTLS) */
	SMD_SESSION_READY,     /* HELO/EHLO done, no transaction */
	SMD_SESSION_MAIL,      /* MAIL accepted, need RCPT */
	SMD_SESSION_RCPT,      /* at least one RCPT accepted */
	SMD_SESSION_DATA,      /* reading the message */
	SMD_SESSION_ACCEPTING, /* waiting for the store's commit */
	SMD_SESSION_TLS,       /* TLS handshake running */
	SMD_SESSION_REJECTED,  /* not a relay client: only QUIT works */
	SMD_SESSION_CLOSING,   /* flush what is left, then close */
	SMD_SESSION_CLOSED,
} SmdSessionState;

struct _SmdSmtpSession {
	GObject parent_instance;

	/* owned */
	SmdEngine *engine;
	GSocketConnection *socket_conn;
	GIOStream *stream; /* socket_conn or the TLS connection over it */
	GIOStream *tls_pending;
	GTlsCertificate *tls_certificate;
	GByteArray *inbuf;
	GString *outbuf;
	GString *writing; /* the output being written */
	SmdDataReader *data;
	gchar *helo;
	gchar *client_ip;
	gchar *sender;
	GPtrArray *recipients;
	gchar *queue_id;
	gchar *tls_summary;
	GCancellable *cancellable;

	/* borrowed */
	const SmdConfig *config;

	SmdSessionState state;
	gboolean relay_client;
	gboolean esmtp;
	gboolean processing;
	gboolean reading;
	gboolean handshaking;
	guint handshake_deadline; /* timeout source, while a handshake runs */
	guint errors;
	guint64 charged; /* of the engine's intake budget, for self->data */
	guint8 readbuf[SMD_SMTP_READ_CHUNK];
};

G_DEFINE_TYPE(SmdSmtpSession, smd_smtp_session, G_TYPE_OBJECT)

enum { SIGNAL_CLOSED, SIGNAL_LAST };
static guint signals[SIGNAL_LAST];

static void smd_smtp_session_process(SmdSmtpSession *self);
static void smd_smtp_session_pump(SmdSmtpSession *self);
static void smd_smtp_session_handshake_cb(GObject *source, GAsyncResult *result,
					  gpointer user_data);
static void smd_smtp_session_hello_cb(gboolean arrived, gpointer user_data);

G_GNUC_PRINTF(2, 3)
static void
smd_smtp_session_reply(SmdSmtpSession *self, const gchar *format, ...)
{
	va_list args;
	va_start(args, format);
	g_string_append_vprintf(self->outbuf, format, args);
	va_end(args);
	g_string_append(self->outbuf, "\r\n");
}

/* What a message being received holds at its peak: the bytes as they
 * come (a growing array may hold up to twice them), then a copy with our
 * Received line that the engine seals. */
#define SMD_INTAKE_COST(bytes) ((guint64)(bytes)*3)

static void
smd_smtp_session_uncharge(SmdSmtpSession *self)
{
	if (self->charged > 0)
		smd_budget_release(smd_engine_get_intake_budget(self->engine), self->charged);
	self->charged = 0;
}

/* Takes memory for what DATA has kept so far. When there is none, the
 * rest of the message is only read, and answered with 452 (try later):
 * many large messages at once never take more than [smtp]
 * max-message-memory. */
static void
smd_smtp_session_charge(SmdSmtpSession *self)
{
	gsize kept = MIN(smd_data_reader_get_size(self->data), self->config->max_message_size);
	guint64 need = SMD_INTAKE_COST(kept);
	SmdBudget *budget = smd_engine_get_intake_budget(self->engine);
	static gint64 last_logged;

	if (smd_data_reader_get_problems(self->data) &
	    (SMD_DATA_PROBLEM_NO_MEMORY | SMD_DATA_PROBLEM_TOO_BIG)) {
		smd_smtp_session_uncharge(self); /* it keeps nothing more */
		return;
	}
	if (need <= self->charged)
		return;
	if (smd_budget_try_take(budget, self->charged, need - self->charged)) {
		self->charged = need;
		return;
	}
	smd_data_reader_drop(self->data);
	smd_smtp_session_uncharge(self);
	if (g_get_monotonic_time() - last_logged > 60 * G_USEC_PER_SEC) {
		last_logged = g_get_monotonic_time();
		g_warning("%s: messages being received hold %" G_GUINT64_FORMAT
			  " bytes of [smtp] max-message-memory; this one gets 452",
			  self->client_ip, smd_budget_in_use(budget));
	}
}

static void
smd_smtp_session_reset_transaction(SmdSmtpSession *self)
{
	g_clear_pointer(&self->sender, g_free);
	g_clear_pointer(&self->queue_id, g_free);
	g_ptr_array_set_size(self->recipients, 0);
	g_clear_pointer(&self->data, smd_data_reader_free);
	smd_smtp_session_uncharge(self);
}

static void
smd_smtp_session_close(SmdSmtpSession *self)
{
	if (self->state == SMD_SESSION_CLOSED)
		return;
	self->state = SMD_SESSION_CLOSED;
	g_cancellable_cancel(self->cancellable);
	g_clear_handle_id(&self->handshake_deadline, g_source_remove);
	/* a TLS close writes close_notify from a worker thread; a client that
	 * stopped reading must not keep that thread for the idle timeout */
	g_socket_set_timeout(g_socket_connection_get_socket(self->socket_conn),
			     MIN(self->config->idle_timeout, SMD_SMTP_CLOSE_TIMEOUT));
	/* asynchronously: never block the main loop on a TLS close_notify */
	g_io_stream_close_async(self->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
	g_signal_emit(self, signals[SIGNAL_CLOSED], 0);
	g_object_unref(self); /* the reference the connection held */
}

static void
smd_smtp_session_write_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdSmtpSession *self = user_data;
	g_autoptr(GError) error = NULL;

	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, &error)) {
		g_debug("%s: write failed: %s", self->client_ip, error->message);
		g_string_truncate(self->writing, 0);
		smd_smtp_session_close(self);
		g_object_unref(self);
		return;
	}
	g_string_truncate(self->writing, 0);
	smd_smtp_session_pump(self);
	g_object_unref(self);
}

static void
smd_smtp_session_read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdSmtpSession *self = user_data;
	g_autoptr(GError) error = NULL;
	gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, &error);

	self->reading = FALSE;
	if (self->state == SMD_SESSION_CLOSED) {
		g_object_unref(self);
		return;
	}
	if (n < 0 && g_error_matches(error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT)) {
		g_info("%s: idle timeout", self->client_ip);
		smd_smtp_session_reply(self, "421 4.4.2 %s %s", self->config->smtp_hostname,
				       _("Idle timeout, closing connection"));
		self->state = SMD_SESSION_CLOSING;
		smd_smtp_session_pump(self);
		g_object_unref(self);
		return;
	}
	if (n <= 0) {
		/* a transaction without a 250 was never accepted: nothing is lost */
		if (n < 0)
			g_debug("%s: read failed: %s", self->client_ip, error->message);
		smd_smtp_session_close(self);
		g_object_unref(self);
		return;
	}
	g_byte_array_append(self->inbuf, self->readbuf, (guint)n);
	smd_smtp_session_process(self);
	g_object_unref(self);
}

/* Drives I/O: write what is pending, else close if asked, else read. One
 * operation at a time, so output order is the order of the commands. */
static void
smd_smtp_session_pump(SmdSmtpSession *self)
{
	if (self->state == SMD_SESSION_CLOSED || self->writing->len > 0 || self->reading)
		return;
	if (self->outbuf->len > 0) {
		/* replies go before new sessions' handshakes and commands: the
		 * accept latency's tail stays short on a busy loop (bench/relay).
		 * Never reads: a client streaming DATA would keep a source of
		 * high priority ready and starve delivery, signals, the portal */
		GString *tmp = self->writing;
		self->writing = self->outbuf;
		self->outbuf = tmp;
		g_output_stream_write_all_async(g_io_stream_get_output_stream(self->stream),
						self->writing->str, self->writing->len,
						G_PRIORITY_HIGH, self->cancellable,
						smd_smtp_session_write_cb, g_object_ref(self));
		return;
	}
	if (self->state == SMD_SESSION_CLOSING) {
		smd_smtp_session_close(self);
		return;
	}
	if (self->state == SMD_SESSION_TLS && !self->handshaking) {
		/* STARTTLS: the 220 went out in plaintext; the handshake starts
		 * when the ClientHello is here (smd_smtp_session_hello_cb) */
		self->handshaking = TRUE;
		g_object_unref(self->stream);
		self->stream = g_steal_pointer(&self->tls_pending);
		g_source_unref(smd_tls_hello_wait(g_socket_connection_get_socket(self->socket_conn),
						  self->cancellable, smd_smtp_session_hello_cb,
						  g_object_ref(self), g_object_unref));
		return;
	}
	if (self->state == SMD_SESSION_ACCEPTING || self->state == SMD_SESSION_TLS)
		return; /* resumed by their callbacks */
	self->reading = TRUE;
	g_input_stream_read_async(g_io_stream_get_input_stream(self->stream), self->readbuf,
				  sizeof(self->readbuf), G_PRIORITY_DEFAULT, self->cancellable,
				  smd_smtp_session_read_cb, g_object_ref(self));
}

static void
smd_smtp_session_consume(SmdSmtpSession *self, gsize len)
{
	g_byte_array_remove_range(self->inbuf, 0, (guint)len);
}

static gboolean
smd_smtp_session_count_error(SmdSmtpSession *self)
{
	if (++self->errors < SMD_SMTP_MAX_ERRORS)
		return FALSE;
	smd_smtp_session_reply(self, "421 4.7.0 %s %s", self->config->smtp_hostname,
			       _("Too many errors, closing connection"));
	self->state = SMD_SESSION_CLOSING;
	return TRUE;
}

static gboolean
smd_smtp_session_helo_valid(const gchar *arg)
{
	gsize len = strlen(arg);
	if (len == 0 || len > SMD_SMTP_MAX_HELO)
		return FALSE;
	for (gsize i = 0; i < len; i++) {
		if ((guchar)arg[i] <= 32 || (guchar)arg[i] >= 127)
			return FALSE;
	}
	return TRUE;
}

static void
smd_smtp_session_cmd_helo(SmdSmtpSession *self, const SmdCommand *cmd)
{
	const SmdConfig *config = self->config;

	if (!smd_smtp_session_helo_valid(cmd->arg)) {
		smd_smtp_session_reply(self, "501 5.5.4 %s", _("Syntax: EHLO hostname"));
		smd_smtp_session_count_error(self);
		return;
	}
	smd_smtp_session_reset_transaction(self);
	g_free(self->helo);
	self->helo = g_strdup(cmd->arg);
	self->esmtp = cmd->verb == SMD_VERB_EHLO;
	self->state = SMD_SESSION_READY;
	if (!self->esmtp) {
		smd_smtp_session_reply(self, "250 %s", config->smtp_hostname);
		return;
	}
	smd_smtp_session_reply(self, "250-%s", config->smtp_hostname);
	smd_smtp_session_reply(self, "250-PIPELINING");
	smd_smtp_session_reply(self, "250-SIZE %" G_GUINT64_FORMAT, config->max_message_size);
	smd_smtp_session_reply(self, "250-8BITMIME");
	if (self->tls_certificate != NULL && self->tls_summary == NULL)
		smd_smtp_session_reply(self, "250-STARTTLS");
	smd_smtp_session_reply(self, "250 ENHANCEDSTATUSCODES");
}

static gboolean
smd_smtp_session_handshake_deadline_cb(gpointer user_data)
{
	SmdSmtpSession *self = user_data;

	self->handshake_deadline = 0;
	g_info("%s: TLS handshake not finished in time", self->client_ip);
	/* wakes the worker thread; smd_smtp_session_handshake_cb closes */
	g_cancellable_cancel(self->cancellable);
	return G_SOURCE_REMOVE;
}

/* A handshake holds one of GIO's few worker threads from its start to its
 * end: before, a hundred clients that said STARTTLS and nothing more took
 * TLS from everyone (test-attacks). So it starts once the ClientHello is
 * here (smd_tls_hello_wait(); the socket's idle timeout applies), and then
 * has a deadline, so a client that stalls later frees the thread soon. */
static void
smd_smtp_session_hello_cb(gboolean arrived, gpointer user_data)
{
	SmdSmtpSession *self = user_data;

	if (self->state == SMD_SESSION_CLOSED)
		return;
	if (!arrived) {
		g_info("%s: no TLS handshake", self->client_ip);
		smd_smtp_session_close(self);
		return;
	}
	self->handshake_deadline =
	    g_timeout_add_seconds(MIN(self->config->idle_timeout, SMD_SMTP_HANDSHAKE_TIMEOUT),
				  smd_smtp_session_handshake_deadline_cb, self);
	g_tls_connection_handshake_async(G_TLS_CONNECTION(self->stream), SMD_TLS_HANDSHAKE_PRIORITY,
					 self->cancellable, smd_smtp_session_handshake_cb,
					 g_object_ref(self));
}

static void
smd_smtp_session_handshake_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdSmtpSession *self = user_data;
	GTlsConnection *tls = G_TLS_CONNECTION(source);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *cipher = NULL;

	g_clear_handle_id(&self->handshake_deadline, g_source_remove);
	if (self->state == SMD_SESSION_CLOSED) {
		g_object_unref(self);
		return;
	}
	if (!g_tls_connection_handshake_finish(tls, result, &error)) {
		g_info("%s: TLS handshake failed: %s", self->client_ip, error->message);
		smd_smtp_session_close(self);
		g_object_unref(self);
		return;
	}
	cipher = g_tls_connection_get_ciphersuite_name(tls); /* transfer full */
	self->tls_summary = g_strdup_printf(
	    "version=%s cipher=%s",
	    g_tls_connection_get_protocol_version(tls) == G_TLS_PROTOCOL_VERSION_TLS_1_3 ? "TLSv1.3"
	    : g_tls_connection_get_protocol_version(tls) == G_TLS_PROTOCOL_VERSION_TLS_1_2
		? "TLSv1.2"
		: "TLS",
	    cipher);
	g_debug("%s: TLS established, %s", self->client_ip, self->tls_summary);
	/* RFC 3207 §4.2: forget everything learnt before TLS */
	self->handshaking = FALSE;
	self->state = SMD_SESSION_NEED_HELO;
	g_clear_pointer(&self->helo, g_free);
	smd_smtp_session_process(self);
	g_object_unref(self);
}

static void
smd_smtp_session_cmd_starttls(SmdSmtpSession *self, const SmdCommand *cmd)
{
	g_autoptr(GError) error = NULL;
	GIOStream *tls;

	if (self->tls_certificate == NULL || self->tls_summary != NULL) {
		smd_smtp_session_reply(self, "502 5.5.1 %s", _("STARTTLS not available"));
		return;
	}
	if (cmd->arg[0] != '\0') {
		smd_smtp_session_reply(self, "501 5.5.4 %s", _("Syntax: STARTTLS"));
		return;
	}
	if (self->state != SMD_SESSION_READY) {
		smd_smtp_session_reply(self, "503 5.5.1 %s",
				       _("Send EHLO first and no transaction"));
		return;
	}
	tls = smd_tls_server_connection_new(self->stream, self->tls_certificate, &error);
	if (tls == NULL) {
		g_warning("cannot start TLS: %s", error->message);
		smd_smtp_session_reply(self, "454 4.7.0 %s",
				       _("TLS not available due to temporary reason"));
		return;
	}
	smd_smtp_session_reply(self, "220 2.0.0 %s", _("Ready to start TLS"));
	/* Plaintext pipelined behind STARTTLS must never be taken as sent
	 * inside TLS (CVE-2011-0411 class): throw it away. */
	g_byte_array_set_size(self->inbuf, 0);
	/* swapped in once the 220 has gone out in plaintext */
	self->tls_pending = tls;
	self->state = SMD_SESSION_TLS;
}

/* Whether the store has room for 1.5 × @size bytes: its file system's
 * free space, and the database's free pages, which new rows take first (a
 * queue that filled the disk and left again gives back no file system
 * space). When it cannot be asked, the commit will tell. */
static gboolean
smd_smtp_session_room_for(SmdSmtpSession *self, guint64 size)
{
	struct statvfs fs;
	guint64 room;

	if (statvfs(self->config->store_directory, &fs) != 0)
		return TRUE;
	room = (guint64)fs.f_bavail * fs.f_frsize +
	       smd_store_reusable_bytes(smd_engine_get_store(self->engine));
	return room >= size + size / 2;
}

/* Said once a minute at most, while it lasts. */
static void
smd_smtp_session_low_on_room(SmdSmtpSession *self)
{
	static gint64 said_at = 0;
	gint64 now = g_get_monotonic_time();

	if (said_at != 0 && now - said_at < 60 * G_USEC_PER_SEC)
		return;
	said_at = now;
	g_warning("the file system of [store] directory %s has less room than one and a half "
		  "times [smtp] max-message-size: new mail gets 452 until there is more",
		  self->config->store_directory);
}

static void
smd_smtp_session_cmd_mail(SmdSmtpSession *self, const SmdCommand *cmd)
{
	g_auto(SmdPath) path = {0};
	g_autoptr(GError) error = NULL;
	guint code = 0;
	const gchar *enhanced = NULL;
	const gchar *body;
	const gchar *size;
	GHashTableIter iter;
	gpointer key;

	if (self->state == SMD_SESSION_NEED_HELO) {
		smd_smtp_session_reply(self, "503 5.5.1 %s", _("Send HELO or EHLO first"));
		return;
	}
	if (self->state != SMD_SESSION_READY) {
		smd_smtp_session_reply(self, "503 5.5.1 %s", _("Nested MAIL command"));
		return;
	}
	if (!smd_path_parse(cmd->arg, TRUE, &path, &code, &enhanced, &error)) {
		smd_smtp_session_reply(self, "%u %s %s", code, enhanced, error->message);
		smd_smtp_session_count_error(self);
		return;
	}
	g_hash_table_iter_init(&iter, path.params);
	while (g_hash_table_iter_next(&iter, &key, NULL)) {
		if (!self->esmtp || (g_strcmp0(key, "SIZE") != 0 && g_strcmp0(key, "BODY") != 0)) {
			smd_smtp_session_reply(self, "555 5.5.4 %s",
					       _("Unsupported MAIL parameter"));
			return;
		}
	}
	body = g_hash_table_lookup(path.params, "BODY");
	if (body != NULL && g_ascii_strcasecmp(body, "7BIT") != 0 &&
	    g_ascii_strcasecmp(body, "8BITMIME") != 0) {
		smd_smtp_session_reply(self, "501 5.5.4 %s", _("BODY must be 7BIT or 8BITMIME"));
		return;
	}
	size = g_hash_table_lookup(path.params, "SIZE");
	if (size != NULL) {
		guint64 n = 0;
		if (!g_ascii_string_to_unsigned(size, 10, 0, G_MAXUINT64, &n, NULL)) {
			/* digits past 2^64 are a number, and too large */
			if (size[0] == '\0' || size[strspn(size, "0123456789")] != '\0') {
				smd_smtp_session_reply(self, "501 5.5.4 %s",
						       _("SIZE must be a number"));
				return;
			}
			n = G_MAXUINT64;
		}
		if (n > self->config->max_message_size) {
			smd_smtp_session_reply(self, "552 5.3.4 %s",
					       _("Message size exceeds fixed limit"));
			return;
		}
	}
	/* As Postfix: intake stops while the store's file system still has
	 * room for one and a half times the largest message. What is queued
	 * must still be delivered, and every outcome and every deletion of a
	 * body is a write too: on a disk filled to the last byte they all
	 * fail, and nothing leaves the queue. (Any SIZE= announced is at most
	 * max-message-size, checked above.) */
	if (!smd_smtp_session_room_for(self, self->config->max_message_size)) {
		smd_smtp_session_low_on_room(self);
		smd_smtp_session_reply(self, "452 4.3.1 %s",
				       _("Insufficient system storage, try again later"));
		return;
	}
	self->sender = g_strdup(path.address);
	self->state = SMD_SESSION_MAIL;
	smd_smtp_session_reply(self, "250 2.1.0 %s", _("Ok"));
}

/* RFC 5321 §2.4: the local part is case-sensitive, the domain is not. */
static gboolean
smd_smtp_session_same_address(const gchar *a, const gchar *b)
{
	const gchar *at_a = strrchr(a, '@');
	const gchar *at_b = strrchr(b, '@');
	if (at_a == NULL || at_b == NULL || at_a - a != at_b - b)
		return FALSE;
	return strncmp(a, b, at_a - a) == 0 && g_ascii_strcasecmp(at_a, at_b) == 0;
}

static void
smd_smtp_session_cmd_rcpt(SmdSmtpSession *self, const SmdCommand *cmd)
{
	g_auto(SmdPath) path = {0};
	g_autoptr(GError) error = NULL;
	guint code = 0;
	const gchar *enhanced = NULL;

	if (self->state != SMD_SESSION_MAIL && self->state != SMD_SESSION_RCPT) {
		smd_smtp_session_reply(self, "503 5.5.1 %s", _("Need MAIL before RCPT"));
		return;
	}
	if (!smd_path_parse(cmd->arg, FALSE, &path, &code, &enhanced, &error)) {
		smd_smtp_session_reply(self, "%u %s %s", code, enhanced, error->message);
		smd_smtp_session_count_error(self);
		return;
	}
	if (g_hash_table_size(path.params) > 0) {
		smd_smtp_session_reply(self, "555 5.5.4 %s", _("Unsupported RCPT parameter"));
		return;
	}
	if (self->recipients->len >= self->config->max_recipients) {
		/* RFC 5321 §4.5.3.1.10: 452, the client sends the rest later */
		smd_smtp_session_reply(self, "452 4.5.3 %s", _("Too many recipients"));
		return;
	}
	for (guint i = 0; i < self->recipients->len; i++) {
		if (smd_smtp_session_same_address(g_ptr_array_index(self->recipients, i),
						  path.address)) {
			smd_smtp_session_reply(self, "250 2.1.5 %s", _("Ok (duplicate recipient)"));
			return;
		}
	}
	g_ptr_array_add(self->recipients, g_strdup(path.address));
	self->state = SMD_SESSION_RCPT;
	smd_smtp_session_reply(self, "250 2.1.5 %s", _("Ok"));
}

static void
smd_smtp_session_cmd_data(SmdSmtpSession *self, const SmdCommand *cmd)
{
	if (cmd->arg[0] != '\0') {
		smd_smtp_session_reply(self, "501 5.5.4 %s", _("Syntax: DATA"));
		return;
	}
	if (self->state != SMD_SESSION_RCPT) {
		smd_smtp_session_reply(self, "503 5.5.1 %s",
				       self->state == SMD_SESSION_MAIL
					   ? _("Need RCPT before DATA")
					   : _("Need MAIL before DATA"));
		return;
	}
	self->data = smd_data_reader_new(self->config->max_message_size, SMD_SMTP_MAX_TEXT_LINE,
					 SMD_SMTP_MAX_HEADER);
	self->state = SMD_SESSION_DATA;
	smd_smtp_session_reply(self, "354 %s", _("End data with <CR><LF>.<CR><LF>"));
}

static void
smd_smtp_session_dispatch(SmdSmtpSession *self, const gchar *line, gsize len)
{
	g_auto(SmdCommand) cmd = {0};
	g_autoptr(GError) error = NULL;

	if (!smd_command_parse(line, len, &cmd, &error)) {
		smd_smtp_session_reply(self, "501 5.5.4 %s", error->message);
		smd_smtp_session_count_error(self);
		return;
	}
	if (cmd.verb == SMD_VERB_QUIT) {
		smd_smtp_session_reply(self, "221 2.0.0 %s", _("Bye"));
		self->state = SMD_SESSION_CLOSING;
		return;
	}
	if (self->state == SMD_SESSION_REJECTED) {
		smd_smtp_session_reply(self, "554 5.7.1 %s",
				       _("Access denied: this client may not relay"));
		smd_smtp_session_count_error(self);
		return;
	}
	switch (cmd.verb) {
	case SMD_VERB_HELO:
	case SMD_VERB_EHLO:
		smd_smtp_session_cmd_helo(self, &cmd);
		break;
	case SMD_VERB_STARTTLS:
		smd_smtp_session_cmd_starttls(self, &cmd);
		break;
	case SMD_VERB_MAIL:
		smd_smtp_session_cmd_mail(self, &cmd);
		break;
	case SMD_VERB_RCPT:
		smd_smtp_session_cmd_rcpt(self, &cmd);
		break;
	case SMD_VERB_DATA:
		smd_smtp_session_cmd_data(self, &cmd);
		break;
	case SMD_VERB_RSET:
		smd_smtp_session_reset_transaction(self);
		if (self->state != SMD_SESSION_NEED_HELO)
			self->state = SMD_SESSION_READY;
		smd_smtp_session_reply(self, "250 2.0.0 %s", _("Ok"));
		break;
	case SMD_VERB_NOOP:
		smd_smtp_session_reply(self, "250 2.0.0 %s", _("Ok"));
		break;
	case SMD_VERB_VRFY:
		smd_smtp_session_reply(
		    self, "252 2.5.2 %s",
		    _("Cannot VRFY user, but will accept message and attempt delivery"));
		break;
	case SMD_VERB_HELP:
		smd_smtp_session_reply(
		    self, "214 2.0.0 %s",
		    _("Commands: EHLO HELO STARTTLS MAIL RCPT DATA RSET NOOP VRFY HELP QUIT"));
		break;
	case SMD_VERB_EXPN:
		smd_smtp_session_reply(self, "502 5.5.1 %s", _("EXPN not supported"));
		break;
	case SMD_VERB_BDAT:
		/* not offered: what follows would be chunk data, not commands */
		smd_smtp_session_reply(self, "502 5.5.1 %s",
				       _("CHUNKING not supported, closing connection"));
		self->state = SMD_SESSION_CLOSING;
		break;
	case SMD_VERB_QUIT:
	case SMD_VERB_UNKNOWN:
	default:
		smd_smtp_session_reply(self, "500 5.5.2 %s", _("Command unrecognized"));
		smd_smtp_session_count_error(self);
		break;
	}
}

static gchar *
smd_smtp_session_received_header(SmdSmtpSession *self)
{
	g_autoptr(GDateTime) now = g_date_time_new_now_local();
	g_autofree gchar *date = smd_rfc5322_date(now);
	const gchar *proto = self->tls_summary != NULL ? "ESMTPS" : self->esmtp ? "ESMTP" : "SMTP";
	GString *hdr = g_string_new(NULL);

	/* RFC 5321 §4.4 trace field; TLS details of this hop as RFC 8314 asks */
	g_string_append_printf(
	    hdr, "Received: from %s ([%s])\r\n\tby %s (SecuMailer) with %s id %s", self->helo,
	    self->client_ip, self->config->smtp_hostname, proto, self->queue_id);
	if (self->tls_summary != NULL)
		g_string_append_printf(hdr, "\r\n\t(%s)", self->tls_summary);
	if (self->recipients->len == 1)
		g_string_append_printf(hdr, "\r\n\tfor <%s>",
				       (const gchar *)g_ptr_array_index(self->recipients, 0));
	g_string_append_printf(hdr, ";\r\n\t%s\r\n", date);
	return g_string_free(hdr, FALSE);
}

static void
smd_smtp_session_accept_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdSmtpSession *self = user_data;
	g_autoptr(GError) error = NULL;

	if (!smd_engine_accept_finish(SMD_ENGINE(source), result, &error)) {
		/* never 250 unless it is on disk: the client keeps the message */
		g_warning("%s: cannot store message: %s", self->client_ip, error->message);
		if (g_error_matches(error, SMD_ERROR, SMD_ERROR_STORE_FULL))
			smd_smtp_session_reply(self, "452 4.3.1 %s",
					       _("Insufficient system storage, try again later"));
		else
			smd_smtp_session_reply(self, "451 4.3.0 %s",
					       _("Local error in processing, try again later"));
	} else {
		smd_smtp_session_reply(self, "250 2.0.0 %s %s", _("Ok: queued as"), self->queue_id);
	}
	if (self->state == SMD_SESSION_CLOSED) {
		g_object_unref(self);
		return;
	}
	smd_smtp_session_reset_transaction(self);
	self->state = SMD_SESSION_READY;
	smd_smtp_session_process(self);
	g_object_unref(self);
}

static void
smd_smtp_session_end_of_data(SmdSmtpSession *self)
{
	SmdDataProblem problems = smd_data_reader_get_problems(self->data);
	g_autoptr(SmdIncoming) incoming = NULL;
	g_autoptr(GBytes) body = NULL;
	g_autofree gchar *received = NULL;
	GByteArray *full;
	gsize body_len = 0;
	gconstpointer body_data;

	if (problems & SMD_DATA_PROBLEM_TOO_BIG) {
		smd_smtp_session_reply(self, "552 5.3.4 %s", _("Message size exceeds fixed limit"));
	} else if (problems & SMD_DATA_PROBLEM_HEADER_TOO_BIG) {
		smd_smtp_session_reply(self, "552 5.3.4 %s", _("Message header section too large"));
	} else if (problems & SMD_DATA_PROBLEM_LINE_TOO_LONG) {
		smd_smtp_session_reply(self, "554 5.6.0 %s",
				       _("Message contains a line that is too long"));
	} else if (problems & SMD_DATA_PROBLEM_NO_MEMORY) {
		smd_smtp_session_reply(self, "452 4.3.1 %s",
				       _("Insufficient system storage, try again later"));
	}
	if (problems != SMD_DATA_PROBLEM_NONE) {
		smd_smtp_session_reset_transaction(self);
		self->state = SMD_SESSION_READY;
		return;
	}

	self->queue_id = smd_random_id();
	received = smd_smtp_session_received_header(self);
	body = smd_data_reader_steal_message(self->data);
	body_data = g_bytes_get_data(body, &body_len);
	full = g_byte_array_sized_new((guint)(strlen(received) + body_len));
	g_byte_array_append(full, (const guint8 *)received, (guint)strlen(received));
	g_byte_array_append(full, body_data, (guint)body_len);

	incoming = smd_incoming_new();
	incoming->queue_id = g_strdup(self->queue_id);
	incoming->sender = g_strdup(self->sender);
	for (guint i = 0; i < self->recipients->len; i++)
		g_ptr_array_add(incoming->recipients,
				g_strdup(g_ptr_array_index(self->recipients, i)));
	incoming->client_address = g_strdup(self->client_ip);
	incoming->helo = g_strdup(self->helo);
	incoming->inbound_tls = g_strdup(self->tls_summary);
	incoming->message = g_byte_array_free_to_bytes(full);

	self->state = SMD_SESSION_ACCEPTING;
	smd_engine_accept_async(self->engine, g_steal_pointer(&incoming),
				smd_smtp_session_accept_cb, g_object_ref(self));
}

static void
smd_smtp_session_framing_error(SmdSmtpSession *self, const gchar *what)
{
	g_message("%s: closing connection: %s", self->client_ip, what);
	/* no message from a stream that could be smuggling a second one */
	smd_smtp_session_reset_transaction(self);
	smd_smtp_session_reply(self, "554 5.5.2 %s", what);
	self->state = SMD_SESSION_CLOSING;
}

static gboolean
smd_smtp_session_step_data(SmdSmtpSession *self)
{
	gsize consumed = 0;
	SmdDataStatus status =
	    smd_data_reader_feed(self->data, self->inbuf->data, self->inbuf->len, &consumed);

	if (status == SMD_DATA_MORE || status == SMD_DATA_DONE)
		smd_smtp_session_charge(self);
	switch (status) {
	case SMD_DATA_MORE:
		smd_smtp_session_consume(self, consumed);
		return FALSE;
	case SMD_DATA_DONE:
		smd_smtp_session_consume(self, consumed);
		smd_smtp_session_end_of_data(self);
		return self->state == SMD_SESSION_READY;
	case SMD_DATA_BARE_LF:
		smd_smtp_session_framing_error(
		    self, _("Bare LF in message data is not allowed (only CRLF ends a line)"));
		return FALSE;
	case SMD_DATA_BARE_CR:
		smd_smtp_session_framing_error(
		    self, _("Bare CR in message data is not allowed (only CRLF ends a line)"));
		return FALSE;
	case SMD_DATA_NUL:
	default:
		smd_smtp_session_framing_error(self, _("NUL byte in message data is not allowed"));
		return FALSE;
	}
}

static gboolean
smd_smtp_session_step_command(SmdSmtpSession *self)
{
	gsize line_len = 0;
	g_autofree gchar *line = NULL;

	switch (smd_line_scan(self->inbuf->data, self->inbuf->len, SMD_SMTP_MAX_COMMAND_LINE,
			      &line_len)) {
	case SMD_LINE_INCOMPLETE:
		return FALSE;
	case SMD_LINE_TOO_LONG:
		smd_smtp_session_framing_error(self, _("Command line too long"));
		return FALSE;
	case SMD_LINE_BARE_LF:
		smd_smtp_session_framing_error(
		    self, _("Bare LF in command is not allowed (only CRLF ends a line)"));
		return FALSE;
	case SMD_LINE_BARE_CR:
		smd_smtp_session_framing_error(self, _("Bare CR in command is not allowed"));
		return FALSE;
	case SMD_LINE_NUL:
		smd_smtp_session_framing_error(self, _("NUL byte in command is not allowed"));
		return FALSE;
	case SMD_LINE_COMPLETE:
	default:
		break;
	}
	line = g_strndup((const gchar *)self->inbuf->data, line_len - 2);
	smd_smtp_session_consume(self, line_len);
	smd_smtp_session_dispatch(self, line, line_len - 2);
	return TRUE;
}

/* Handles everything complete in the input buffer, then pumps I/O. */
static void
smd_smtp_session_process(SmdSmtpSession *self)
{
	if (self->processing)
		return;
	self->processing = TRUE;
	for (;;) {
		gboolean progress;
		if (self->state == SMD_SESSION_CLOSING || self->state == SMD_SESSION_CLOSED ||
		    self->state == SMD_SESSION_ACCEPTING || self->state == SMD_SESSION_TLS)
			break;
		if (self->state == SMD_SESSION_DATA)
			progress = smd_smtp_session_step_data(self);
		else
			progress = smd_smtp_session_step_command(self);
		if (!progress)
			break;
	}
	self->processing = FALSE;
	smd_smtp_session_pump(self);
}

SmdSmtpSession *
smd_smtp_session_new(SmdEngine *engine, GSocketConnection *connection,
		     GTlsCertificate *tls_certificate, gboolean relay_client)
{
	SmdSmtpSession *self = g_object_new(SMD_TYPE_SMTP_SESSION, NULL);
	g_autoptr(GSocketAddress) remote = g_socket_connection_get_remote_address(connection, NULL);

	self->engine = g_object_ref(engine);
	self->config = smd_config_ref(smd_engine_get_config(engine));
	self->socket_conn = g_object_ref(connection);
	self->stream = G_IO_STREAM(g_object_ref(connection));
	if (tls_certificate != NULL)
		self->tls_certificate = g_object_ref(tls_certificate);
	self->relay_client = relay_client;
	if (G_IS_INET_SOCKET_ADDRESS(remote))
		self->client_ip = g_inet_address_to_string(
		    g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(remote)));
	else
		self->client_ip = g_strdup("unknown");
	/* the idle timeout: any read or write that waits longer fails */
	g_socket_set_timeout(g_socket_connection_get_socket(connection),
			     self->config->idle_timeout);
	return self;
}

void
smd_smtp_session_start(SmdSmtpSession *self)
{
	const SmdConfig *config = self->config;

	g_object_ref(self); /* released in close() */
	if (!self->relay_client) {
		g_message("%s: refused: not in relay-networks", self->client_ip);
		smd_smtp_session_reply(self, "554 5.7.1 %s %s", config->smtp_hostname,
				       _("Access denied: this client may not relay"));
		self->state = SMD_SESSION_REJECTED;
		/* a refused client gets a short while to read and QUIT, so idle
		 * strangers cannot fill max-sessions */
		g_socket_set_timeout(g_socket_connection_get_socket(self->socket_conn),
				     MIN(self->config->idle_timeout, 10));
	} else {
		smd_smtp_session_reply(self, "220 %s ESMTP SecuMailer", config->smtp_hostname);
		self->state = SMD_SESSION_NEED_HELO;
	}
	smd_smtp_session_pump(self);
}

void
smd_smtp_session_refuse(SmdSmtpSession *self, const gchar *reply)
{
	g_object_ref(self); /* released in close() */
	smd_smtp_session_reply(self, "%s", reply);
	self->state = SMD_SESSION_CLOSING;
	smd_smtp_session_pump(self);
}

static void
smd_smtp_session_finalize(GObject *object)
{
	SmdSmtpSession *self = SMD_SMTP_SESSION(object);

	g_clear_pointer(&self->data, smd_data_reader_free);
	smd_smtp_session_uncharge(self);
	g_clear_pointer(&self->config, smd_config_unref);
	g_clear_object(&self->engine);
	g_clear_object(&self->socket_conn);
	g_clear_object(&self->stream);
	g_clear_object(&self->tls_pending);
	g_clear_object(&self->tls_certificate);
	g_byte_array_unref(self->inbuf);
	g_string_free(self->outbuf, TRUE);
	g_string_free(self->writing, TRUE);
	g_clear_pointer(&self->data, smd_data_reader_free);
	g_free(self->helo);
	g_free(self->client_ip);
	g_free(self->sender);
	g_ptr_array_unref(self->recipients);
	g_free(self->queue_id);
	g_free(self->tls_summary);
	g_clear_object(&self->cancellable);
	G_OBJECT_CLASS(smd_smtp_session_parent_class)->finalize(object);
}

static void
smd_smtp_session_class_init(SmdSmtpSessionClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = smd_smtp_session_finalize;
	signals[SIGNAL_CLOSED] = g_signal_new("closed", G_TYPE_FROM_CLASS(klass), G_SIGNAL_RUN_LAST,
					      0, NULL, NULL, NULL, G_TYPE_NONE, 0);
}

static void
smd_smtp_session_init(SmdSmtpSession *self)
{
	self->inbuf = g_byte_array_sized_new(SMD_SMTP_READ_CHUNK);
	self->outbuf = g_string_new(NULL);
	self->writing = g_string_new(NULL);
	self->recipients = g_ptr_array_new_with_free_func(g_free);
	self->cancellable = g_cancellable_new();
}
