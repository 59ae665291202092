/*
 * SecuMailer — the outbound SMTP client.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-delivery"

#include "config.h"

#include <glib/gi18n.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>

#include "smd-common.h"
#include "smd-error.h"
#include "smd-smtp-client.h"
#include "smd-smtp-reply.h"
#include "smd-tls-verify.h"

#define SMD_CLIENT_READ_CHUNK 8192
/* An open session waits this long for the next message to the same hop,
 * and carries at most this many (Postfix's connection cache does the
 * same): a TLS handshake per message was most of the cost of delivery. */
#define SMD_CLIENT_IDLE_SECONDS 5
#define SMD_CLIENT_MAX_MESSAGES 100
/* A handshake runs on one of GIO's few worker threads until it ends: a
 * server that stalls or trickles it is left after this long (or the
 * command timeout, if shorter), as smd-smtp-session.c does with clients. */
#define SMD_CLIENT_HANDSHAKE_TIMEOUT 60
/* And those threads are the ones inbound STARTTLS, the portal and DNS
 * lookups need too (ten at first): the servers of one recipient domain (a
 * tarpit, or a hostile domain someone had mail sent to) get at most this
 * many handshakes at once; that domain's other connections wait their
 * turn, within the same deadline. */
#define SMD_CLIENT_HANDSHAKES_PER_DOMAIN 2

typedef struct _SmdClient SmdClient;
typedef void (*SmdClientStep)(SmdClient *c, SmdReply *reply);

struct _SmdClient {
	const SmdConfig *config;
	gchar *host;
	guint16 port;
	gchar *server_name;
	gchar *sender;
	GPtrArray *recipients; /* borrowed from the caller, alive until the callback */
	GBytes *message;
	GTask *task; /* borrowed: the task owns this struct */
	GSocketClient *socket_client;
	GSocketConnection *socket_conn;
	GIOStream *stream;
	GByteArray *inbuf;
	guint8 readbuf[SMD_CLIENT_READ_CHUNK];
	gchar *relay;
	SmdTlsInfo tls;
	SmdReply ehlo;
	SmdReply reply; /* being parsed, may span reads */
	gboolean pipelining;
	gboolean require_tls;
	GPtrArray *accepted; /* SmdRecipient* that got 2xx to RCPT */
	guint pending_rcpt;  /* RCPT replies still to read */
	SmdClientStep step;  /* what to do with the next reply */
	gchar *reason;
	SmdHopResult result;
	gboolean finished;
	gchar *key;	 /* the next hop, for reusing sessions */
	gchar *domain;	 /* the recipients', for rationing handshakes */
	guint messages;	 /* sent over this session before */
	gboolean reused; /* an idle session, not yet proven alive (RSET) */
	/* while a handshake runs: its own cancellable, cancelled by the
	 * delivery's or by the deadline */
	GCancellable *handshake_cancel;
	gulong handshake_link;
	guint handshake_deadline;
	gboolean handshake_timed_out;
	gboolean handshake_slot;    /* one of its domain's handshakes */
	gboolean handshake_waiting; /* in its domain's line for one */
	guint handshake_give_up;    /* idle: cancelled while waiting */
};

/* One recipient domain's handshakes: those running and those waiting. */
typedef struct {
	guint running;
	GQueue waiting; /* SmdClient* */
} SmdHandshakeLine;

static GHashTable *smd_client_lines; /* domain → SmdHandshakeLine */

static void smd_client_handshake_cb(GObject *source, GAsyncResult *result, gpointer user_data);

static void
smd_client_handshake_start(SmdClient *c)
{
	g_tls_connection_handshake_async(G_TLS_CONNECTION(c->stream), SMD_TLS_HANDSHAKE_PRIORITY,
					 c->handshake_cancel, smd_client_handshake_cb, c);
}

/* @c gives up its handshake slot, or its place in line for one. */
static void
smd_client_handshake_leave(SmdClient *c)
{
	SmdHandshakeLine *line =
	    smd_client_lines != NULL ? g_hash_table_lookup(smd_client_lines, c->domain) : NULL;
	SmdClient *next;

	if (line == NULL)
		return;
	if (c->handshake_waiting) {
		g_queue_remove(&line->waiting, c);
		c->handshake_waiting = FALSE;
	}
	if (c->handshake_slot) {
		c->handshake_slot = FALSE;
		line->running--;
		if ((next = g_queue_pop_head(&line->waiting)) != NULL) {
			next->handshake_waiting = FALSE;
			next->handshake_slot = TRUE;
			/* cancelled meanwhile: its handshake ends at once, and
			 * its callback, not the give-up, finishes it */
			g_clear_handle_id(&next->handshake_give_up, g_source_remove);
			line->running++;
			smd_client_handshake_start(next);
		}
	}
	if (line->running == 0 && g_queue_is_empty(&line->waiting))
		g_hash_table_remove(smd_client_lines, c->domain);
}

/* Starts @c's handshake now, or once its domain has room. */
static void
smd_client_handshake_enqueue(SmdClient *c)
{
	SmdHandshakeLine *line;

	if (smd_client_lines == NULL)
		smd_client_lines = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
	line = g_hash_table_lookup(smd_client_lines, c->domain);
	if (line == NULL) {
		line = g_new0(SmdHandshakeLine, 1);
		g_queue_init(&line->waiting);
		g_hash_table_insert(smd_client_lines, g_strdup(c->domain), line);
	}
	if (line->running >= SMD_CLIENT_HANDSHAKES_PER_DOMAIN) {
		c->handshake_waiting = TRUE;
		g_queue_push_tail(&line->waiting, c);
		return;
	}
	line->running++;
	c->handshake_slot = TRUE;
	smd_client_handshake_start(c);
}

static void
smd_client_handshake_ended(SmdClient *c)
{
	GCancellable *outer = g_task_get_cancellable(c->task);

	smd_client_handshake_leave(c);
	g_clear_handle_id(&c->handshake_give_up, g_source_remove);
	g_clear_handle_id(&c->handshake_deadline, g_source_remove);
	if (c->handshake_link != 0 && outer != NULL)
		g_cancellable_disconnect(outer, c->handshake_link);
	c->handshake_link = 0;
	g_clear_object(&c->handshake_cancel);
}

/* A session kept open after its transaction. */
typedef struct {
	gchar *key;
	GSocketConnection *socket_conn;
	GIOStream *stream;
	gchar *relay;
	SmdTlsInfo tls;
	SmdReply ehlo;
	guint messages;
	guint timeout_id;
} SmdIdleSession;

static GHashTable *smd_client_idle; /* key → GQueue of SmdIdleSession, newest first */

static void
smd_client_free(gpointer p)
{
	SmdClient *c = p;
	smd_client_handshake_ended(c);
	smd_config_unref(c->config);
	g_free(c->host);
	g_free(c->server_name);
	g_free(c->sender);
	g_clear_pointer(&c->message, g_bytes_unref);
	g_clear_object(&c->socket_client);
	/* never block the main loop on a peer's close_notify */
	if (c->stream != NULL) {
		g_signal_handlers_disconnect_by_data(c->stream, c);
		g_io_stream_close_async(c->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
	}
	g_clear_object(&c->stream);
	g_clear_object(&c->socket_conn);
	g_byte_array_unref(c->inbuf);
	g_free(c->relay);
	smd_tls_info_clear(&c->tls);
	smd_reply_clear(&c->ehlo);
	smd_reply_clear(&c->reply);
	g_ptr_array_unref(c->accepted);
	g_free(c->reason);
	g_free(c->key);
	g_free(c->domain);
	g_free(c);
}

static void
smd_idle_session_quit_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	GIOStream *stream = user_data;
	g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, NULL);
	/* the close does not wait for the peer */
	g_io_stream_close_async(stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
	g_object_unref(stream);
}

static void
smd_idle_session_free(SmdIdleSession *idle)
{
	g_clear_handle_id(&idle->timeout_id, g_source_remove);
	if (idle->stream != NULL) /* a courtesy QUIT, then the close */
		g_output_stream_write_all_async(
		    g_io_stream_get_output_stream(idle->stream), "QUIT\r\n", 6, G_PRIORITY_DEFAULT,
		    NULL, smd_idle_session_quit_cb, g_object_ref(idle->stream));
	g_clear_object(&idle->stream);
	g_clear_object(&idle->socket_conn);
	g_free(idle->relay);
	smd_tls_info_clear(&idle->tls);
	smd_reply_clear(&idle->ehlo);
	g_free(idle->key);
	g_free(idle);
}

static gboolean
smd_idle_session_expire_cb(gpointer user_data)
{
	SmdIdleSession *idle = user_data;
	GQueue *queue = g_hash_table_lookup(smd_client_idle, idle->key);

	idle->timeout_id = 0;
	if (queue != NULL) {
		g_queue_remove(queue, idle);
		if (g_queue_is_empty(queue))
			g_hash_table_remove(smd_client_idle, idle->key);
	}
	smd_idle_session_free(idle);
	return G_SOURCE_REMOVE;
}

/* Keeps @c's session for the next message to the same hop; FALSE when it
 * cannot be (the caller ends it with QUIT). */
static gboolean
smd_client_park(SmdClient *c)
{
	SmdIdleSession *idle;
	GQueue *queue;

	if (c->messages + 1 >= SMD_CLIENT_MAX_MESSAGES || c->inbuf->len > 0 || c->stream == NULL)
		return FALSE;
	if (smd_client_idle == NULL)
		smd_client_idle = g_hash_table_new_full(g_str_hash, g_str_equal, g_free,
							(GDestroyNotify)g_queue_free);
	queue = g_hash_table_lookup(smd_client_idle, c->key);
	if (queue == NULL) {
		queue = g_queue_new();
		g_hash_table_insert(smd_client_idle, g_strdup(c->key), queue);
	}
	idle = g_new0(SmdIdleSession, 1);
	idle->key = g_strdup(c->key);
	g_signal_handlers_disconnect_by_data(c->stream, c);
	idle->stream = g_steal_pointer(&c->stream);
	idle->socket_conn = g_steal_pointer(&c->socket_conn);
	idle->relay = g_strdup(c->relay);
	smd_tls_info_copy(&idle->tls, &c->tls);
	smd_reply_init(&idle->ehlo);
	for (guint i = 0; i < c->ehlo.lines->len; i++)
		g_ptr_array_add(idle->ehlo.lines, g_strdup(g_ptr_array_index(c->ehlo.lines, i)));
	idle->ehlo.code = c->ehlo.code;
	idle->ehlo.complete = TRUE;
	idle->messages = c->messages + 1;
	idle->timeout_id =
	    g_timeout_add_seconds(SMD_CLIENT_IDLE_SECONDS, smd_idle_session_expire_cb, idle);
	g_queue_push_head(queue, idle);
	return TRUE;
}

static SmdIdleSession *
smd_client_take_idle(const gchar *key)
{
	GQueue *queue = smd_client_idle != NULL ? g_hash_table_lookup(smd_client_idle, key) : NULL;
	SmdIdleSession *idle = queue != NULL ? g_queue_pop_head(queue) : NULL;

	if (queue != NULL && g_queue_is_empty(queue))
		g_hash_table_remove(smd_client_idle, key);
	if (idle != NULL)
		g_clear_handle_id(&idle->timeout_id, g_source_remove);
	return idle;
}

/* Ends every idle session (shutdown). */
void
smd_smtp_client_close_idle(void)
{
	GHashTableIter iter;
	gpointer queue;

	if (smd_client_idle == NULL)
		return;
	g_hash_table_iter_init(&iter, smd_client_idle);
	while (g_hash_table_iter_next(&iter, NULL, &queue)) {
		SmdIdleSession *idle;
		while ((idle = g_queue_pop_head(queue)) != NULL)
			smd_idle_session_free(idle);
	}
	g_clear_pointer(&smd_client_idle, g_hash_table_unref);
}

static void
smd_client_finish(SmdClient *c, SmdHopResult result, const gchar *reason)
{
	GTask *task = c->task;
	if (c->finished)
		return;
	c->finished = TRUE;
	c->result = result;
	if (reason != NULL && reason != c->reason) {
		g_free(c->reason);
		c->reason = g_strdup(reason);
	}
	g_task_return_int(task, result);
	g_object_unref(task);
}

/* Every recipient without an outcome yet gets @outcome with @reply. */
static void
smd_client_set_all(SmdClient *c, GPtrArray *rcpts, SmdOutcome outcome, const gchar *reply)
{
	for (guint i = 0; i < rcpts->len; i++) {
		SmdRecipient *r = g_ptr_array_index(rcpts, i);
		r->outcome = outcome;
		g_free(r->reply);
		r->reply = g_strdup(reply);
		g_free(r->relay);
		r->relay = g_strdup(c->relay);
		smd_tls_info_copy(&r->tls, &c->tls);
	}
}

static SmdOutcome
smd_client_outcome_for(guint code)
{
	if (code >= 200 && code < 300)
		return SMD_OUTCOME_DELIVERED;
	if (code >= 500)
		return SMD_OUTCOME_BOUNCED;
	return SMD_OUTCOME_DEFERRED;
}

static void smd_client_read(SmdClient *c);
static void smd_client_read_cb(GObject *source, GAsyncResult *result, gpointer user_data);

static void smd_client_connect(SmdClient *c);
static void smd_client_greeting_cb(SmdClient *c, SmdReply *reply);

static void
smd_client_fail_io(SmdClient *c, const gchar *what, const GError *error)
{
	g_autofree gchar *reason =
	    g_strdup_printf("%s: %s", what, error != NULL ? error->message : "");
	if (c->reused) {
		/* the server ended the idle session: nothing was sent, start over */
		smd_client_connect(c);
		return;
	}
	if (c->step == smd_client_greeting_cb) {
		/* connected, but no server answers: as good as unreachable */
		g_autofree gchar *why = g_strdup_printf(_("no greeting from %s: %s"),
							c->relay != NULL ? c->relay : c->host,
							error != NULL ? error->message : "");
		smd_client_finish(c, SMD_HOP_UNREACHABLE, why);
		return;
	}
	if (c->step == NULL || c->accepted->len == 0) {
		smd_client_finish(c, SMD_HOP_TRY_NEXT, reason);
		return;
	}
	/* lost during the transaction: the accepted recipients and those not
	 * answered yet try again later; refusals already given stand */
	{
		g_autoptr(GPtrArray) open = g_ptr_array_copy(c->accepted, NULL, NULL);
		guint answered = c->recipients->len - c->pending_rcpt;
		for (guint i = answered; c->pending_rcpt > 0 && i < c->recipients->len; i++)
			g_ptr_array_add(open, g_ptr_array_index(c->recipients, i));
		smd_client_set_all(c, open, SMD_OUTCOME_DEFERRED, reason);
	}
	smd_client_finish(c, SMD_HOP_DONE, NULL);
}

/* Parses complete reply lines from the buffer into @reply. */
static gboolean
smd_client_parse(SmdClient *c, SmdReply *reply, GError **error)
{
	while (!reply->complete) {
		guint8 *nl = c->inbuf->len > 0 ? memchr(c->inbuf->data, '\n', c->inbuf->len) : NULL;
		gsize len;
		if (nl == NULL) {
			if (c->inbuf->len > SMD_SMTP_MAX_REPLY_LINE) {
				g_set_error(error, SMD_ERROR, SMD_ERROR_PROTOCOL,
					    _("Reply line too long"));
				return FALSE;
			}
			return TRUE;
		}
		len = nl - c->inbuf->data;
		if (!smd_reply_feed_line(reply, (const gchar *)c->inbuf->data,
					 len > 0 && nl[-1] == '\r' ? len - 1 : len, error))
			return FALSE;
		g_byte_array_remove_range(c->inbuf, 0, (guint)(len + 1));
	}
	return TRUE;
}

/* Runs c->step once a complete reply is buffered, else reads more. */
static void
smd_client_dispatch(SmdClient *c)
{
	g_auto(SmdReply) reply = {0};
	g_autoptr(GError) error = NULL;
	SmdClientStep step;

	if (!smd_client_parse(c, &c->reply, &error)) {
		smd_client_fail_io(c, _("protocol error"), error);
		return;
	}
	if (!c->reply.complete) {
		g_input_stream_read_async(g_io_stream_get_input_stream(c->stream), c->readbuf,
					  sizeof(c->readbuf), G_PRIORITY_DEFAULT,
					  g_task_get_cancellable(c->task), smd_client_read_cb, c);
		return;
	}
	reply = c->reply;
	smd_reply_init(&c->reply);
	step = c->step;
	c->step = NULL;
	step(c, &reply);
}

static void
smd_client_read_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdClient *c = user_data;
	g_autoptr(GError) error = NULL;
	gssize n = g_input_stream_read_finish(G_INPUT_STREAM(source), result, &error);

	if (n <= 0) {
		if (n == 0)
			g_set_error(&error, SMD_ERROR, SMD_ERROR_PROTOCOL,
				    _("connection closed by the server"));
		smd_client_fail_io(c, _("read failed"), error);
		return;
	}
	g_byte_array_append(c->inbuf, c->readbuf, (guint)n);
	smd_client_dispatch(c);
}

static void
smd_client_read(SmdClient *c)
{
	smd_client_dispatch(c);
}

static void
smd_client_write_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdClient *c = user_data;
	g_autoptr(GError) error = NULL;
	if (!g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, &error)) {
		smd_client_fail_io(c, _("write failed"), error);
		return;
	}
	g_object_set_data(G_OBJECT(c->task), "smd-writing", NULL);
	smd_client_read(c);
}

/* Sends @data and then reads one reply for @step. */
static void
smd_client_send(SmdClient *c, GBytes *data, SmdClientStep step)
{
	gsize len = 0;
	gconstpointer buf = g_bytes_get_data(data, &len);
	c->step = step;
	g_object_set_data_full(G_OBJECT(c->task), "smd-writing", g_bytes_ref(data),
			       (GDestroyNotify)g_bytes_unref);
	g_output_stream_write_all_async(g_io_stream_get_output_stream(c->stream), buf, len,
					G_PRIORITY_DEFAULT, g_task_get_cancellable(c->task),
					smd_client_write_cb, c);
}

G_GNUC_PRINTF(3, 4)
static void
smd_client_command(SmdClient *c, SmdClientStep step, const gchar *format, ...)
{
	va_list args;
	GString *line = g_string_new(NULL);
	g_autoptr(GBytes) bytes = NULL;
	va_start(args, format);
	g_string_append_vprintf(line, format, args);
	va_end(args);
	g_string_append(line, "\r\n");
	bytes = g_string_free_to_bytes(line);
	smd_client_send(c, bytes, step);
}

static void
smd_client_quit_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdClient *c = user_data;
	/* QUIT is a courtesy: its reply does not change anything */
	g_output_stream_write_all_finish(G_OUTPUT_STREAM(source), result, NULL, NULL);
	smd_client_finish(c, c->result, c->reason);
}

/* Politely ends the session; the result is already decided. */
static void
smd_client_quit(SmdClient *c, SmdHopResult result, const gchar *reason)
{
	c->result = result;
	if (reason != c->reason) {
		g_free(c->reason);
		c->reason = g_strdup(reason);
	}
	c->step = NULL;
	g_output_stream_write_all_async(g_io_stream_get_output_stream(c->stream), "QUIT\r\n", 6,
					G_PRIORITY_DEFAULT, g_task_get_cancellable(c->task),
					smd_client_quit_cb, c);
}

static void
smd_client_data_end_cb(SmdClient *c, SmdReply *reply)
{
	g_autofree gchar *text = smd_reply_to_string(reply);
	smd_client_set_all(c, c->accepted, smd_client_outcome_for(reply->code), text);
	/* the session stays open for the next message to this hop */
	if (smd_client_park(c)) {
		smd_client_finish(c, SMD_HOP_DONE, NULL);
		return;
	}
	smd_client_quit(c, SMD_HOP_DONE, NULL);
}

static void
smd_client_data_cb(SmdClient *c, SmdReply *reply)
{
	g_autoptr(GBytes) stuffed = NULL;
	if (reply->code != 354) {
		g_autofree gchar *text = smd_reply_to_string(reply);
		smd_client_set_all(c, c->accepted,
				   smd_client_outcome_for(reply->code < 400 ? 451 : reply->code),
				   text);
		smd_client_quit(c, SMD_HOP_DONE, NULL);
		return;
	}
	stuffed = smd_smtp_dot_stuff(c->message);
	smd_client_send(c, stuffed, smd_client_data_end_cb);
}

static void
smd_client_send_rcpt(SmdClient *c, guint idx, SmdClientStep step)
{
	SmdRecipient *r = g_ptr_array_index(c->recipients, idx);
	smd_client_command(c, step, "RCPT TO:<%s>", r->address);
}

static void
smd_client_rcpt_cb(SmdClient *c, SmdReply *reply)
{
	guint idx = c->recipients->len - c->pending_rcpt;
	SmdRecipient *r = g_ptr_array_index(c->recipients, idx);

	if (reply->code >= 200 && reply->code < 300) {
		g_ptr_array_add(c->accepted, r);
	} else {
		/* decided now, whatever DATA gets */
		g_autoptr(GPtrArray) one = g_ptr_array_new();
		g_autofree gchar *text = smd_reply_to_string(reply);
		g_ptr_array_add(one, r);
		smd_client_set_all(c, one, smd_client_outcome_for(reply->code), text);
	}
	if (--c->pending_rcpt > 0) {
		c->step = smd_client_rcpt_cb;
		if (c->pipelining)
			smd_client_read(c);
		else
			smd_client_send_rcpt(c, idx + 1, smd_client_rcpt_cb);
		return;
	}
	if (c->accepted->len == 0) {
		smd_client_quit(c, SMD_HOP_DONE, NULL);
		return;
	}
	smd_client_command(c, smd_client_data_cb, "DATA");
}

static void
smd_client_mail_cb(SmdClient *c, SmdReply *reply)
{
	GString *rcpts;
	g_autoptr(GBytes) bytes = NULL;

	if (reply->code < 200 || reply->code >= 300) {
		g_autofree gchar *text = smd_reply_to_string(reply);
		smd_client_set_all(c, c->recipients, smd_client_outcome_for(reply->code), text);
		smd_client_quit(c, SMD_HOP_DONE, NULL);
		return;
	}
	c->pending_rcpt = c->recipients->len;
	if (!c->pipelining) {
		smd_client_send_rcpt(c, 0, smd_client_rcpt_cb);
		return;
	}
	/* RFC 2920: all RCPTs in one write, replies read in order */
	rcpts = g_string_new(NULL);
	for (guint i = 0; i < c->recipients->len; i++) {
		SmdRecipient *r = g_ptr_array_index(c->recipients, i);
		g_string_append_printf(rcpts, "RCPT TO:<%s>\r\n", r->address);
	}
	bytes = g_string_free_to_bytes(rcpts);
	smd_client_send(c, bytes, smd_client_rcpt_cb);
}

static gboolean
smd_client_message_is_8bit(GBytes *message)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(message, &len);
	for (gsize i = 0; i < len; i++) {
		if (data[i] & 0x80)
			return TRUE;
	}
	return FALSE;
}

/* Starts the transaction with the capabilities in @reply. */
static void
smd_client_start_mail(SmdClient *c, SmdReply *reply)
{
	GString *mail = g_string_new(NULL);
	g_autoptr(GBytes) bytes = NULL;

	smd_reply_clear(&c->ehlo);
	smd_reply_init(&c->ehlo);
	for (guint i = 0; i < reply->lines->len; i++)
		g_ptr_array_add(c->ehlo.lines, g_strdup(g_ptr_array_index(reply->lines, i)));
	c->ehlo.code = reply->code;
	c->ehlo.complete = TRUE;
	c->pipelining = smd_reply_has_extension(&c->ehlo, "PIPELINING");

	g_string_append_printf(mail, "MAIL FROM:<%s>", c->sender);
	if (smd_reply_has_extension(&c->ehlo, "SIZE"))
		g_string_append_printf(mail, " SIZE=%" G_GSIZE_FORMAT,
				       g_bytes_get_size(c->message));
	if (smd_reply_has_extension(&c->ehlo, "8BITMIME") && smd_client_message_is_8bit(c->message))
		g_string_append(mail, " BODY=8BITMIME");
	g_string_append(mail, "\r\n");
	bytes = g_string_free_to_bytes(mail);
	smd_client_send(c, bytes, smd_client_mail_cb);
}

static void
smd_client_ehlo_tls_cb(SmdClient *c, SmdReply *reply)
{
	if (reply->code != 250) {
		g_autofree gchar *text = smd_reply_to_string(reply);
		smd_client_quit(c, SMD_HOP_TRY_NEXT, text);
		return;
	}
	/* RFC 3207 §4.2: only what the server says inside TLS counts */
	smd_client_start_mail(c, reply);
}

static const gchar *
smd_client_tls_version(GTlsProtocolVersion version)
{
	switch (version) {
	case G_TLS_PROTOCOL_VERSION_TLS_1_0:
		return "TLSv1.0";
	case G_TLS_PROTOCOL_VERSION_TLS_1_1:
		return "TLSv1.1";
	case G_TLS_PROTOCOL_VERSION_TLS_1_2:
		return "TLSv1.2";
	case G_TLS_PROTOCOL_VERSION_TLS_1_3:
		return "TLSv1.3";
	default:
		return "unknown";
	}
}

/* A handshake that did not happen: failed, over its deadline (running or
 * waiting for its turn), or its delivery cancelled. */
static void
smd_client_handshake_failed(SmdClient *c, const GError *error)
{
	g_autofree gchar *reason = NULL;

	if (c->handshake_timed_out) {
		reason =
		    g_strdup_printf(_("TLS handshake not finished in %u s"),
				    MIN(c->config->command_timeout, SMD_CLIENT_HANDSHAKE_TIMEOUT));
		smd_client_finish(c, SMD_HOP_TRY_NEXT, reason);
		return;
	}
	reason = g_strdup_printf(_("TLS handshake failed: %s"), error->message);
	/* a dropped or timed-out connection says nothing about the
	 * server's TLS: try again rather than hold the message */
	smd_client_finish(c, error->domain == G_IO_ERROR ? SMD_HOP_TRY_NEXT : SMD_HOP_NO_TLS,
			  reason);
}

/* Cancelled while waiting for its turn: no handshake to wake. */
static gboolean
smd_client_handshake_give_up_cb(gpointer user_data)
{
	SmdClient *c = user_data;
	g_autoptr(GError) error = NULL;

	c->handshake_give_up = 0;
	if (!g_cancellable_set_error_if_cancelled(c->handshake_cancel, &error))
		g_set_error_literal(&error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "timed out");
	smd_client_handshake_ended(c);
	smd_client_handshake_failed(c, error);
	return G_SOURCE_REMOVE;
}

/* Ends the handshake: the running one through its cancellable (which
 * wakes the worker thread), one waiting for its turn from an idle. */
static void
smd_client_handshake_stop(SmdClient *c)
{
	g_cancellable_cancel(c->handshake_cancel);
	if (c->handshake_waiting && c->handshake_give_up == 0)
		c->handshake_give_up = g_idle_add(smd_client_handshake_give_up_cb, c);
}

static void
smd_client_cancel_handshake_cb(GCancellable *delivery, gpointer user_data)
{
	smd_client_handshake_stop(user_data);
}

static gboolean
smd_client_handshake_deadline_cb(gpointer user_data)
{
	SmdClient *c = user_data;

	c->handshake_deadline = 0;
	c->handshake_timed_out = TRUE;
	smd_client_handshake_stop(c);
	return G_SOURCE_REMOVE;
}

static void
smd_client_handshake_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdClient *c = user_data;
	GTlsConnection *tls = G_TLS_CONNECTION(source);
	g_autoptr(GError) error = NULL;
	GTlsCertificate *peer;

	smd_client_handshake_ended(c);
	if (!g_tls_connection_handshake_finish(tls, result, &error)) {
		smd_client_handshake_failed(c, error);
		return;
	}
	peer = g_tls_connection_get_peer_certificate(tls);
	c->tls.version =
	    g_strdup(smd_client_tls_version(g_tls_connection_get_protocol_version(tls)));
	/* (transfer full): ours to keep */
	c->tls.cipher = g_tls_connection_get_ciphersuite_name(tls);
	if (peer != NULL) {
		g_autoptr(GByteArray) der = NULL;
		g_autoptr(GError) verify_error = NULL;
		g_object_get(peer, "certificate", &der, NULL);
		if (der != NULL)
			c->tls.peer_sha256 = smd_sha256_hex(der->data, der->len);
		c->tls.verified =
		    smd_tls_verify_peer(c->config->trust, peer, c->server_name, &verify_error);
		if (!c->tls.verified)
			g_debug("%s: %s", c->relay, verify_error->message);
		if (!c->tls.verified && c->config->tls_policy == SMD_TLS_POLICY_VERIFY) {
			/* the handshake should already have failed; never send anyway */
			g_autofree gchar *reason =
			    g_strdup_printf("%s (tls-policy=verify)", verify_error->message);
			smd_client_finish(c, SMD_HOP_NO_TLS, reason);
			return;
		}
	} else if (c->config->tls_policy == SMD_TLS_POLICY_VERIFY) {
		smd_client_finish(c, SMD_HOP_NO_TLS, _("server sent no certificate"));
		return;
	}
	g_debug("%s: TLS %s %s", c->relay, c->tls.version, c->tls.cipher);
	smd_client_command(c, smd_client_ehlo_tls_cb, "EHLO %s", c->config->smtp_hostname);
}

static gboolean
smd_client_accept_certificate(GTlsConnection *conn, GTlsCertificate *peer_cert,
			      GTlsCertificateFlags errors, gpointer user_data)
{
	SmdClient *c = user_data;
	/* tls-policy=encrypt: like Postfix's level "encrypt", the channel is
	 * encrypted whatever the certificate; whether it verified is recorded
	 * after the handshake. verify: our own chain and name check decides
	 * (the connection has no GIO trust database, see smd-tls-verify.h). */
	if (c->config->tls_policy == SMD_TLS_POLICY_ENCRYPT)
		return TRUE;
	return smd_tls_verify_peer(c->config->trust, peer_cert, c->server_name, NULL);
}

static void
smd_client_starttls_cb(SmdClient *c, SmdReply *reply)
{
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocketConnectable) identity = NULL;
	GIOStream *tls;

	if (reply->code != 220) {
		g_autofree gchar *text = smd_reply_to_string(reply);
		g_autofree gchar *reason = g_strdup_printf(_("STARTTLS refused: %s"), text);
		smd_client_quit(c, SMD_HOP_NO_TLS, reason);
		return;
	}
	/* anything sent along with the 220 was injected before TLS: do not
	 * believe it, and do not go on with this server */
	if (c->inbuf->len > 0) {
		smd_client_finish(
		    c, SMD_HOP_NO_TLS,
		    _("server sent data after its STARTTLS reply (response injection)"));
		return;
	}
	identity = g_network_address_new(c->server_name, c->port);
	/* no GIO trust database: building it costs ~6 ms per connection with
	 * glib-networking 2.74; smd_tls_verify_peer() checks the chain instead */
	tls = g_initable_new(g_tls_backend_get_client_connection_type(g_tls_backend_get_default()),
			     NULL, &error, "base-io-stream", c->stream, "server-identity", identity,
			     "database", NULL, NULL);
	if (tls == NULL) {
		g_autofree gchar *reason =
		    g_strdup_printf(_("TLS not available: %s"), error->message);
		smd_client_finish(c, SMD_HOP_NO_TLS, reason);
		return;
	}
	g_signal_connect(tls, "accept-certificate", G_CALLBACK(smd_client_accept_certificate), c);
	g_object_unref(c->stream);
	c->stream = tls;
	c->handshake_cancel = g_cancellable_new();
	if (g_task_get_cancellable(c->task) != NULL)
		c->handshake_link =
		    g_cancellable_connect(g_task_get_cancellable(c->task),
					  G_CALLBACK(smd_client_cancel_handshake_cb), c, NULL);
	c->handshake_deadline =
	    g_timeout_add_seconds(MIN(c->config->command_timeout, SMD_CLIENT_HANDSHAKE_TIMEOUT),
				  smd_client_handshake_deadline_cb, c);
	if (g_cancellable_is_cancelled(c->handshake_cancel))
		smd_client_handshake_start(c); /* ends at once, needs no turn */
	else
		smd_client_handshake_enqueue(c);
}

static void
smd_client_ehlo_cb(SmdClient *c, SmdReply *reply)
{
	if (reply->code != 250) {
		g_autofree gchar *text = smd_reply_to_string(reply);
		g_autofree gchar *reason = g_strdup_printf(_("EHLO refused: %s"), text);
		/* no EHLO, no STARTTLS; a 4xx may be passing, try elsewhere */
		smd_client_quit(c, reply->code < 500 ? SMD_HOP_TRY_NEXT : SMD_HOP_NO_TLS, reason);
		return;
	}
	if (!smd_reply_has_extension(reply, "STARTTLS")) {
		if (!c->require_tls) {
			/* a notification without content may go in plaintext */
			smd_client_start_mail(c, reply);
			return;
		}
		smd_client_quit(c, SMD_HOP_NO_TLS, _("server does not offer STARTTLS"));
		return;
	}
	smd_client_command(c, smd_client_starttls_cb, "STARTTLS");
}

static void
smd_client_greeting_cb(SmdClient *c, SmdReply *reply)
{
	if (reply->code != 220) {
		g_autofree gchar *text = smd_reply_to_string(reply);
		g_autofree gchar *reason = g_strdup_printf(_("greeting: %s"), text);
		smd_client_quit(c, SMD_HOP_UNREACHABLE, reason);
		return;
	}
	smd_client_command(c, smd_client_ehlo_cb, "EHLO %s", c->config->smtp_hostname);
}

static void
smd_client_connect_cb(GObject *source, GAsyncResult *result, gpointer user_data)
{
	SmdClient *c = user_data;
	g_autoptr(GError) error = NULL;
	g_autoptr(GSocketAddress) remote = NULL;

	c->socket_conn =
	    g_socket_client_connect_to_host_finish(G_SOCKET_CLIENT(source), result, &error);
	if (c->socket_conn == NULL) {
		g_autofree gchar *reason = g_strdup_printf(_("cannot connect to %s:%u: %s"),
							   c->host, c->port, error->message);
		smd_client_finish(c, SMD_HOP_UNREACHABLE, reason);
		return;
	}
	remote = g_socket_connection_get_remote_address(c->socket_conn, NULL);
	if (G_IS_INET_SOCKET_ADDRESS(remote)) {
		g_autofree gchar *ip = g_inet_address_to_string(
		    g_inet_socket_address_get_address(G_INET_SOCKET_ADDRESS(remote)));
		c->relay = g_strdup_printf("%s[%s]:%u", c->host, ip, c->port);
	} else {
		c->relay = g_strdup_printf("%s:%u", c->host, c->port);
	}
	g_socket_set_timeout(g_socket_connection_get_socket(c->socket_conn),
			     c->config->command_timeout);
	/* small commands, each waiting for its answer: no Nagle delay */
	g_socket_set_option(g_socket_connection_get_socket(c->socket_conn), IPPROTO_TCP,
			    TCP_NODELAY, 1, NULL);
	c->stream = G_IO_STREAM(g_object_ref(c->socket_conn));
	c->step = smd_client_greeting_cb;
	smd_client_read(c);
}

/* A fresh connection (again, when an idle session turned out dead). */
static void
smd_client_connect(SmdClient *c)
{
	if (c->stream != NULL) {
		g_signal_handlers_disconnect_by_data(c->stream, c);
		g_io_stream_close_async(c->stream, G_PRIORITY_DEFAULT, NULL, NULL, NULL);
	}
	g_clear_object(&c->stream);
	g_clear_object(&c->socket_conn);
	g_clear_pointer(&c->relay, g_free);
	smd_tls_info_clear(&c->tls);
	g_byte_array_set_size(c->inbuf, 0);
	smd_reply_clear(&c->reply);
	smd_reply_init(&c->reply);
	c->reused = FALSE;
	c->messages = 0;
	c->step = NULL;
	g_clear_object(&c->socket_client);
	c->socket_client = g_socket_client_new();
	g_socket_client_set_timeout(c->socket_client, c->config->connect_timeout);
	/* straight to the next hop: no proxy from the environment or desktop
	 * settings (Postfix has none either), and no proxy lookup per
	 * connection on GIO's shared worker threads */
	g_socket_client_set_enable_proxy(c->socket_client, FALSE);
	g_socket_client_connect_to_host_async(c->socket_client, c->host, c->port,
					      g_task_get_cancellable(c->task),
					      smd_client_connect_cb, c);
}

static void
smd_client_rset_cb(SmdClient *c, SmdReply *reply)
{
	g_auto(SmdReply) ehlo = {0};

	if (reply->code != 250) {
		smd_client_connect(c);
		return;
	}
	/* alive: the transaction goes on as after EHLO inside TLS */
	c->reused = FALSE;
	smd_reply_init(&ehlo);
	for (guint i = 0; i < c->ehlo.lines->len; i++)
		g_ptr_array_add(ehlo.lines, g_strdup(g_ptr_array_index(c->ehlo.lines, i)));
	ehlo.code = c->ehlo.code;
	ehlo.complete = TRUE;
	smd_client_start_mail(c, &ehlo);
}

/* Takes over an idle session; RSET proves it is still there. */
static void
smd_client_reuse(SmdClient *c, SmdIdleSession *idle)
{
	c->stream = g_steal_pointer(&idle->stream);
	c->socket_conn = g_steal_pointer(&idle->socket_conn);
	c->relay = g_strdup(idle->relay);
	smd_tls_info_copy(&c->tls, &idle->tls);
	smd_reply_clear(&c->ehlo);
	smd_reply_init(&c->ehlo);
	for (guint i = 0; i < idle->ehlo.lines->len; i++)
		g_ptr_array_add(c->ehlo.lines, g_strdup(g_ptr_array_index(idle->ehlo.lines, i)));
	c->ehlo.code = idle->ehlo.code;
	c->ehlo.complete = TRUE;
	c->messages = idle->messages;
	c->reused = TRUE;
	smd_idle_session_free(idle);
	smd_client_command(c, smd_client_rset_cb, "RSET");
}

void
smd_smtp_client_deliver_async(const SmdConfig *config, const gchar *host, guint16 port,
			      const gchar *server_name, const gchar *sender, GPtrArray *recipients,
			      GBytes *message, gboolean require_tls, GCancellable *cancellable,
			      GAsyncReadyCallback callback, gpointer user_data)
{
	SmdClient *c = g_new0(SmdClient, 1);
	GTask *task = g_task_new(NULL, cancellable, callback, user_data);

	c->config = smd_config_ref(config);
	c->host = g_strdup(host);
	c->port = port;
	c->server_name = g_strdup(server_name);
	c->sender = g_strdup(sender);
	c->recipients = recipients;
	c->message = g_bytes_ref(message);
	c->require_tls = require_tls;
	c->inbuf = g_byte_array_new();
	c->accepted = g_ptr_array_new();
	c->task = task;
	smd_reply_init(&c->ehlo);
	smd_reply_init(&c->reply);
	/* the result is the outcome we decided, also when cancelled later */
	g_task_set_check_cancellable(task, FALSE);
	g_task_set_task_data(task, c, smd_client_free);
	g_task_set_source_tag(task, smd_smtp_client_deliver_async);

	/* the policy and the trust store are part of the hop: a session
	 * checked under a weaker policy, or against CAs a reload has since
	 * changed, is never taken again */
	{
		const gchar *address = ((SmdRecipient *)g_ptr_array_index(recipients, 0))->address;
		const gchar *at = strrchr(address, '@');

		/* all recipients of a delivery share their domain (a job) */
		c->domain = g_ascii_strdown(at != NULL ? at + 1 : address, -1);
	}
	c->key = g_strdup_printf(
	    "%s|%u|%s|%d|%d|%u", host, port, server_name != NULL ? server_name : "", require_tls,
	    (int)config->tls_policy, config->trust != NULL ? smd_trust_serial(config->trust) : 0);
	{
		SmdIdleSession *idle = smd_client_take_idle(c->key);
		if (idle != NULL) {
			smd_client_reuse(c, idle);
			return;
		}
	}
	smd_client_connect(c);
}

SmdHopResult
smd_smtp_client_deliver_finish(GAsyncResult *result, gchar **reason)
{
	SmdClient *c = g_task_get_task_data(G_TASK(result));
	if (reason != NULL)
		*reason = g_strdup(c->reason);
	return (SmdHopResult)g_task_propagate_int(G_TASK(result), NULL);
}

GBytes *
smd_smtp_dot_stuff(GBytes *message)
{
	gsize len = 0;
	const guint8 *data = g_bytes_get_data(message, &len);
	GByteArray *out = g_byte_array_sized_new((guint)(len + len / 64 + 8));
	gsize i = 0;

	while (i < len) {
		gsize start = i;
		/* one line: a stuffed dot first, its bytes, then exactly CRLF */
		if (data[i] == '.')
			g_byte_array_append(out, (const guint8 *)".", 1);
		while (i < len && data[i] != '\r' && data[i] != '\n')
			i++;
		g_byte_array_append(out, data + start, (guint)(i - start));
		g_byte_array_append(out, (const guint8 *)"\r\n", 2);
		/* CRLF, bare CR and bare LF all end the line as one CRLF */
		if (i < len && data[i] == '\r' && i + 1 < len && data[i + 1] == '\n')
			i += 2;
		else if (i < len)
			i++;
	}
	g_byte_array_append(out, (const guint8 *)".\r\n", 3);
	return g_byte_array_free_to_bytes(out);
}
