/*
 * SecuMailer — unit tests: SMS providers, against an HTTP server in this
 * process on loopback.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib/gstdio.h>
#include <string.h>

#include "smd-config.h"
#include "smd-error.h"
#include "smd-sms-http.h"
#include "smd-sms-provider.h"

/* ------------------------------------------------ a tiny HTTP capture */

typedef struct {
	GSocketService *service;
	guint16 port;
	guint status; /* what to answer */
	gchar *request_line;
	GPtrArray *headers;
	gchar *body;
} Capture;

static void
capture_clear(Capture *c)
{
	g_clear_pointer(&c->request_line, g_free);
	g_clear_pointer(&c->headers, g_ptr_array_unref);
	g_clear_pointer(&c->body, g_free);
}

static gboolean
capture_incoming(GSocketService *service, GSocketConnection *conn, GObject *source, gpointer data)
{
	Capture *c = data;
	g_autoptr(GDataInputStream) in =
	    g_data_input_stream_new(g_io_stream_get_input_stream(G_IO_STREAM(conn)));
	GOutputStream *out = g_io_stream_get_output_stream(G_IO_STREAM(conn));
	g_autofree gchar *response = NULL;
	gsize content_length = 0;

	capture_clear(c);
	c->headers = g_ptr_array_new_with_free_func(g_free);
	g_data_input_stream_set_newline_type(in, G_DATA_STREAM_NEWLINE_TYPE_CR_LF);
	c->request_line = g_data_input_stream_read_line(in, NULL, NULL, NULL);
	for (;;) {
		gchar *line = g_data_input_stream_read_line(in, NULL, NULL, NULL);
		if (line == NULL || line[0] == '\0') {
			g_free(line);
			break;
		}
		if (g_ascii_strncasecmp(line, "Content-Length:", 15) == 0)
			content_length = (gsize)g_ascii_strtoull(line + 15, NULL, 10);
		g_ptr_array_add(c->headers, line);
	}
	c->body = g_malloc0(content_length + 1);
	g_input_stream_read_all(G_INPUT_STREAM(in), c->body, content_length, NULL, NULL, NULL);
	response = g_strdup_printf(
	    "HTTP/1.1 %u X\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}", c->status);
	g_output_stream_write_all(out, response, strlen(response), NULL, NULL, NULL);
	g_io_stream_close(G_IO_STREAM(conn), NULL, NULL);
	return TRUE;
}

static void
capture_start(Capture *c)
{
	g_autoptr(GError) error = NULL;
	c->service = g_socket_service_new();
	c->port = g_socket_listener_add_any_inet_port(G_SOCKET_LISTENER(c->service), NULL, &error);
	g_assert_no_error(error);
	g_signal_connect(c->service, "incoming", G_CALLBACK(capture_incoming), c);
	c->status = 200;
}

static void
capture_stop(Capture *c)
{
	g_socket_service_stop(c->service);
	g_socket_listener_close(G_SOCKET_LISTENER(c->service));
	g_clear_object(&c->service);
	capture_clear(c);
}

static gboolean
capture_has_header(Capture *c, const gchar *header)
{
	for (guint i = 0; i < c->headers->len; i++) {
		if (g_ascii_strcasecmp(g_ptr_array_index(c->headers, i), header) == 0)
			return TRUE;
	}
	return FALSE;
}

typedef struct {
	GMainLoop *loop;
	gboolean ok;
	GError *error;
} SendResult;

static void
send_cb(GObject *source, GAsyncResult *result, gpointer data)
{
	SendResult *r = data;
	r->ok = smd_sms_provider_send_finish(SMD_SMS_PROVIDER(source), result, &r->error);
	g_main_loop_quit(r->loop);
}

/* Sends through a provider configured by @sms_group; the main loop runs
 * meanwhile so the capture server can answer. */
static gboolean
send_with(const gchar *sms_group, const gchar *to, const gchar *text, GError **error)
{
	g_autofree gchar *conf =
	    g_strdup_printf("[smtp]\nlisten = 127.0.0.1:2525\nhostname = gw.example\n"
			    "relay-networks = 127.0.0.0/8\n[store]\ndirectory = /tmp\n"
			    "[sms]\n%s\n",
			    sms_group);
	g_autoptr(SmdConfig) config =
	    smd_config_load_from_data("t.conf", conf, strlen(conf), error);
	g_autoptr(SmdSmsProvider) provider = NULL;
	g_autoptr(GMainLoop) loop = g_main_loop_new(NULL, FALSE);
	SendResult r = {.loop = loop};

	if (config == NULL)
		return FALSE;
	provider = smd_sms_provider_new_from_config(config, error);
	if (provider == NULL)
		return FALSE;
	smd_sms_provider_send_async(provider, to, text, NULL, send_cb, &r);
	g_main_loop_run(loop);
	if (!r.ok)
		g_propagate_error(error, r.error);
	return r.ok;
}

/* ------------------------------------------------------------- tests */

static void
test_json_escape(void)
{
	g_autofree gchar *s = smd_json_escape("a\"b\\c\nd\x01é");
	g_assert_cmpstr(s, ==, "a\\\"b\\\\c\\nd\\u0001é");
}

static void
test_file(void)
{
	g_autofree gchar *dir = g_dir_make_tmp("smd-sms-XXXXXX", NULL);
	g_autofree gchar *path = g_build_filename(dir, "sms.jsonl", NULL);
	g_autofree gchar *group = g_strdup_printf("provider = file\npath = %s", path);
	g_autofree gchar *contents = NULL;
	g_autoptr(GError) error = NULL;

	g_assert_true(send_with(group, "+31612345678", "Your code is 123456", &error));
	g_assert_true(send_with(group, "+31612345678", "quote \" and\nnewline", &error));
	g_assert_true(g_file_get_contents(path, &contents, NULL, NULL));
	g_assert_cmpstr(contents, ==,
			"{\"to\": \"+31612345678\", \"text\": \"Your code is 123456\"}\n"
			"{\"to\": \"+31612345678\", \"text\": \"quote \\\" and\\nnewline\"}\n");
	g_unlink(path);
	g_rmdir(dir);
}

static void
test_http_generic(void)
{
	Capture c = {0};
	g_autofree gchar *group = NULL;
	g_autoptr(GError) error = NULL;

	capture_start(&c);
	group = g_strdup_printf("provider = http\nurl = http://127.0.0.1:%u/send\ntoken = s3cret\n"
				"headers = X-Tenant: clinic\n"
				"body = {\"to\": \"{to}\", \"message\": \"{text}\"}",
				c.port);
	g_assert_true(send_with(group, "+31612345678", "Code \"1\"\n", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(c.request_line, ==, "POST /send HTTP/1.1");
	g_assert_true(capture_has_header(&c, "Authorization: Bearer s3cret"));
	g_assert_true(capture_has_header(&c, "Content-Type: application/json"));
	g_assert_true(capture_has_header(&c, "X-Tenant: clinic"));
	g_assert_cmpstr(c.body, ==,
			"{\"to\": \"+31612345678\", \"message\": \"Code \\\"1\\\"\\n\"}");
	capture_stop(&c);
}

static void
test_http_twilio(void)
{
	Capture c = {0};
	g_autofree gchar *group = NULL;
	g_autoptr(GError) error = NULL;

	capture_start(&c);
	group =
	    g_strdup_printf("provider = twilio\naccount = AC123\npassword = tok\nfrom = +3197010\n"
			    "url = http://127.0.0.1:%u/2010-04-01/Accounts/{account}/Messages.json",
			    c.port);
	g_assert_true(send_with(group, "+31612345678", "Code 1 & more", &error));
	g_assert_no_error(error);
	g_assert_cmpstr(c.request_line, ==,
			"POST /2010-04-01/Accounts/AC123/Messages.json HTTP/1.1");
	/* base64("AC123:tok") */
	g_assert_true(capture_has_header(&c, "Authorization: Basic QUMxMjM6dG9r"));
	g_assert_cmpstr(c.body, ==, "To=%2B31612345678&From=%2B3197010&Body=Code%201%20%26%20more");
	capture_stop(&c);
}

static void
test_http_messagebird(void)
{
	Capture c = {0};
	g_autofree gchar *group = NULL;
	g_autoptr(GError) error = NULL;

	capture_start(&c);
	group = g_strdup_printf("provider = messagebird\ntoken = live_key\nfrom = Clinic\n"
				"url = http://127.0.0.1:%u/messages",
				c.port);
	g_assert_true(send_with(group, "+31612345678", "Hi", &error));
	g_assert_no_error(error);
	g_assert_true(capture_has_header(&c, "Authorization: AccessKey live_key"));
	g_assert_cmpstr(
	    c.body, ==,
	    "{\"recipients\": [\"+31612345678\"], \"originator\": \"Clinic\", \"body\": \"Hi\"}");
	capture_stop(&c);
}

static void
test_http_errors(void)
{
	Capture c = {0};
	g_autofree gchar *group = NULL;
	g_autofree gchar *closed = NULL;
	g_autoptr(GError) error = NULL;
	guint16 port;

	capture_start(&c);
	group =
	    g_strdup_printf("provider = http\nurl = http://127.0.0.1:%u/send\nbody = x", c.port);
	c.status = 503;
	g_assert_false(send_with(group, "+31612345678", "x", &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_TEMPORARY);
	g_clear_error(&error);
	c.status = 401;
	g_assert_false(send_with(group, "+31612345678", "x", &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_PERMANENT);
	g_clear_error(&error);
	port = c.port;
	capture_stop(&c);

	/* nobody listening: a clear error, quickly */
	closed = g_strdup_printf("provider = http\nurl = http://127.0.0.1:%u/send\nbody = x\n"
				 "timeout = 5s",
				 port);
	g_assert_false(send_with(closed, "+31612345678", "x", &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_TEMPORARY);
}

static void
test_config_refuses_plain_http(void)
{
	g_autoptr(GError) error = NULL;
	g_assert_false(send_with("provider = http\nurl = http://sms.example.com/send\nbody = x",
				 "+31612345678", "x", &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "[sms] url:"));
	g_clear_error(&error);
	g_assert_false(send_with("provider = twilio\naccount = AC1", "+31612345678", "x", &error));
	g_assert_error(error, SMD_ERROR, SMD_ERROR_CONFIG);
	g_assert_nonnull(strstr(error->message, "[sms] password: required"));
}

/* Values are encoded for the body's type, whatever the case of its name
 * or its parameters: never put in raw. */
static void
test_expand_by_content_type(void)
{
	g_autofree gchar *json = smd_sms_http_expand(
	    "{\"text\": \"{text}\"}", "Application/JSON; charset=utf-8", "+31", "a\"b", NULL, NULL);
	g_autofree gchar *form = smd_sms_http_expand(
	    "text={text}", "application/x-www-form-urlencoded", "+31", "a&b=c", NULL, NULL);

	g_assert_cmpstr(json, ==, "{\"text\": \"a\\\"b\"}");
	g_assert_cmpstr(form, ==, "text=a%26b%3Dc");
	g_assert_true(smd_sms_http_content_type_known("APPLICATION/JSON"));
	g_assert_false(smd_sms_http_content_type_known("text/plain"));
	g_assert_false(smd_sms_http_content_type_known("application/jsonx"));
}

int
main(int argc, char **argv)
{
	g_test_init(&argc, &argv, NULL);
	g_test_add_func("/secumailer/sms/json-escape", test_json_escape);
	g_test_add_func("/secumailer/sms/expand-by-content-type", test_expand_by_content_type);
	g_test_add_func("/secumailer/sms/file", test_file);
	g_test_add_func("/secumailer/sms/http-generic", test_http_generic);
	g_test_add_func("/secumailer/sms/http-twilio", test_http_twilio);
	g_test_add_func("/secumailer/sms/http-messagebird", test_http_messagebird);
	g_test_add_func("/secumailer/sms/http-errors", test_http_errors);
	g_test_add_func("/secumailer/sms/config-refuses-plain-http",
			test_config_refuses_plain_http);
	return g_test_run();
}
