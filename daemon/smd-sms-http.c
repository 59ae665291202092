/*
 * SecuMailer — SMS through an HTTP API with libcurl.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-sms"

#include "config.h"

#include <curl/curl.h>
#include <glib/gi18n.h>
#include <string.h>

#include "smd-error.h"
#include "smd-sms-http.h"

G_DEFINE_AUTOPTR_CLEANUP_FUNC(CURL, curl_easy_cleanup)
typedef struct curl_slist SmdCurlSlist;
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdCurlSlist, curl_slist_free_all)

#define SMD_SMS_FORM "application/x-www-form-urlencoded"
#define SMD_SMS_JSON "application/json"
/* provider answers are read only this far; they are never shown */
#define SMD_SMS_MAX_RESPONSE (64 * 1024)

struct _SmdSmsHttp {
	SmdSmsProvider parent_instance;
	gchar *url;
	gchar *method;
	gchar **headers;
	gchar *body;
	gchar *content_type;
	gchar *username;
	gchar *password;
	gchar *from;
	gchar *account;
	guint timeout;
};

G_DEFINE_TYPE(SmdSmsHttp, smd_sms_http, SMD_TYPE_SMS_PROVIDER)

static gboolean
smd_sms_http_is(const gchar *content_type, const gchar *media_type)
{
	gsize n = strlen(media_type);
	return g_ascii_strncasecmp(content_type, media_type, n) == 0 &&
	       (content_type[n] == '\0' || content_type[n] == ';' || content_type[n] == ' ');
}

gboolean
smd_sms_http_content_type_known(const gchar *content_type)
{
	return smd_sms_http_is(content_type, SMD_SMS_JSON) ||
	       smd_sms_http_is(content_type, SMD_SMS_FORM);
}

static gchar *
smd_sms_http_encode(const gchar *value, const gchar *content_type)
{
	if (value == NULL)
		return g_strdup("");
	if (smd_sms_http_is(content_type, SMD_SMS_FORM))
		return g_uri_escape_string(value, NULL, FALSE);
	/* JSON, and anything else the configuration let through: escaped */
	return smd_json_escape(value);
}

gchar *
smd_sms_http_expand(const gchar *template, const gchar *content_type, const gchar *to,
		    const gchar *text, const gchar *from, const gchar *account)
{
	const struct {
		const gchar *name;
		const gchar *value;
	} vars[] = {{"{to}", to}, {"{text}", text}, {"{from}", from}, {"{account}", account}};
	GString *out = g_string_new(NULL);

	for (const gchar *p = template; *p != '\0';) {
		gboolean done = FALSE;
		for (guint i = 0; i < G_N_ELEMENTS(vars) && !done; i++) {
			gsize n = strlen(vars[i].name);
			if (strncmp(p, vars[i].name, n) == 0) {
				g_autofree gchar *v =
				    smd_sms_http_encode(vars[i].value, content_type);
				g_string_append(out, v);
				p += n;
				done = TRUE;
			}
		}
		if (!done)
			g_string_append_c(out, *p++);
	}
	return g_string_free(out, FALSE);
}

static size_t
smd_sms_http_write_cb(char *ptr, size_t size, size_t nmemb, void *user_data)
{
	GString *response = user_data;
	gsize len = size * nmemb;
	if (response->len + len > SMD_SMS_MAX_RESPONSE)
		return 0; /* aborts the transfer */
	g_string_append_len(response, ptr, (gssize)len);
	return len;
}

static gboolean
smd_sms_http_url_is_local(const gchar *url)
{
	g_autoptr(GUri) uri = g_uri_parse(url, G_URI_FLAGS_NONE, NULL);
	const gchar *host = uri != NULL ? g_uri_get_host(uri) : NULL;
	return g_strcmp0(host, "127.0.0.1") == 0 || g_strcmp0(host, "::1") == 0 ||
	       g_strcmp0(host, "localhost") == 0;
}

static gboolean
smd_sms_http_send(SmdSmsProvider *provider, const gchar *to, const gchar *text,
		  GCancellable *cancellable, GError **error)
{
	SmdSmsHttp *self = SMD_SMS_HTTP(provider);
	g_autoptr(CURL) curl = curl_easy_init();
	g_autoptr(SmdCurlSlist) headers = NULL;
	g_autoptr(GString) response = g_string_new(NULL);
	g_autofree gchar *url = NULL;
	g_autofree gchar *body = NULL;
	g_autofree gchar *ctype = g_strdup_printf("Content-Type: %s", self->content_type);
	gchar errbuf[CURL_ERROR_SIZE] = "";
	long status = 0;
	CURLcode rc;

	if (curl == NULL) {
		g_set_error(error, SMD_ERROR, SMD_ERROR_INTERNAL,
			    _("Cannot start an HTTP request"));
		return FALSE;
	}
	/* the URL takes values as path segments, the body as the type says */
	url = smd_sms_http_expand(self->url, SMD_SMS_FORM, to, text, self->from, self->account);
	body = smd_sms_http_expand(self->body, self->content_type, to, text, self->from,
				   self->account);
	headers = curl_slist_append(headers, ctype);
	for (guint i = 0; self->headers[i] != NULL; i++) {
		if (self->headers[i][0] != '\0')
			headers = curl_slist_append(headers, self->headers[i]);
	}

	/* pinned down: https only (http to this machine), bounded in time,
	 * no redirects, no signals from the resolver in a thread */
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR,
			 smd_sms_http_url_is_local(url) ? "http,https" : "https");
	curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, (long)MIN(self->timeout, 10));
	curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)self->timeout);
	curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, self->method);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, smd_sms_http_write_cb);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, response);
	curl_easy_setopt(curl, CURLOPT_USERAGENT, "SecuMailer/" PACKAGE_VERSION);
	if (self->username != NULL) {
		curl_easy_setopt(curl, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(curl, CURLOPT_USERNAME, self->username);
		curl_easy_setopt(curl, CURLOPT_PASSWORD,
				 self->password != NULL ? self->password : "");
	}

	rc = curl_easy_perform(curl);
	if (rc != CURLE_OK) {
		/* the error text names the host, never the credentials */
		g_set_error(error, SMD_ERROR, SMD_ERROR_TEMPORARY,
			    _("SMS provider unreachable: %s"),
			    errbuf[0] != '\0' ? errbuf : curl_easy_strerror(rc));
		return FALSE;
	}
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
	if (status < 200 || status >= 300) {
		g_set_error(error, SMD_ERROR,
			    status >= 500 || status == 429 ? SMD_ERROR_TEMPORARY
							   : SMD_ERROR_PERMANENT,
			    _("SMS provider refused the message (HTTP %ld)"), status);
		return FALSE;
	}
	return TRUE;
}

SmdSmsProvider *
smd_sms_http_new(const SmdConfig *config, GError **error)
{
	static gsize curl_ready = 0;
	SmdSmsHttp *self;
	const gchar *provider = config->sms_provider;
	g_autoptr(GPtrArray) headers = g_ptr_array_new_with_free_func(g_free);

	/* not thread-safe: done once, before any request runs in a thread */
	if (g_once_init_enter(&curl_ready)) {
		curl_global_init(CURL_GLOBAL_DEFAULT);
		g_once_init_leave(&curl_ready, 1);
	}
	self = g_object_new(SMD_TYPE_SMS_HTTP, NULL);
	self->method = g_strdup(config->sms_method != NULL ? config->sms_method : "POST");
	self->timeout = config->sms_timeout;
	self->from = g_strdup(config->sms_from);
	self->account = g_strdup(config->sms_account);
	self->username = g_strdup(config->sms_username);
	self->password = g_strdup(config->sms_password);

	if (g_strcmp0(provider, "twilio") == 0) {
		/* Twilio Messages API: form fields, basic auth with the account SID */
		self->url = g_strdup(config->sms_url != NULL
					 ? config->sms_url
					 : "https://api.twilio.com/2010-04-01/Accounts/{account}/"
					   "Messages.json");
		self->content_type = g_strdup(SMD_SMS_FORM);
		self->body = g_strdup("To={to}&From={from}&Body={text}");
		if (self->username == NULL)
			self->username = g_strdup(config->sms_account);
	} else if (g_strcmp0(provider, "messagebird") == 0) {
		/* MessageBird (Bird) REST API: JSON, an access key header */
		self->url =
		    g_strdup(config->sms_url != NULL ? config->sms_url
						     : "https://rest.messagebird.com/messages");
		self->content_type = g_strdup(SMD_SMS_JSON);
		self->body = g_strdup("{\"recipients\": [\"{to}\"], \"originator\": \"{from}\", "
				      "\"body\": \"{text}\"}");
		g_ptr_array_add(headers,
				g_strdup_printf("Authorization: AccessKey %s", config->sms_token));
	} else {
		self->url = g_strdup(config->sms_url);
		self->body = g_strdup(config->sms_body);
		self->content_type = g_strdup(
		    config->sms_content_type != NULL ? config->sms_content_type : SMD_SMS_JSON);
		if (config->sms_token != NULL)
			g_ptr_array_add(headers, g_strdup_printf("Authorization: Bearer %s",
								 config->sms_token));
	}
	for (guint i = 0; config->sms_headers != NULL && config->sms_headers[i] != NULL; i++)
		g_ptr_array_add(headers, g_strdup(config->sms_headers[i]));
	g_ptr_array_add(headers, NULL);
	self->headers = (gchar **)g_ptr_array_steal(headers, NULL);

	if (self->url == NULL || self->body == NULL) {
		g_object_unref(self);
		g_set_error(error, SMD_ERROR, SMD_ERROR_CONFIG,
			    _("[sms] url and body are required"));
		return NULL;
	}
	return SMD_SMS_PROVIDER(self);
}

static void
smd_sms_http_finalize(GObject *object)
{
	SmdSmsHttp *self = SMD_SMS_HTTP(object);
	g_free(self->url);
	g_free(self->method);
	g_strfreev(self->headers);
	g_free(self->body);
	g_free(self->content_type);
	g_free(self->username);
	g_free(self->password);
	g_free(self->from);
	g_free(self->account);
	G_OBJECT_CLASS(smd_sms_http_parent_class)->finalize(object);
}

static void
smd_sms_http_class_init(SmdSmsHttpClass *klass)
{
	G_OBJECT_CLASS(klass)->finalize = smd_sms_http_finalize;
	SMD_SMS_PROVIDER_CLASS(klass)->send = smd_sms_http_send;
}

static void
smd_sms_http_init(SmdSmsHttp *self)
{
}
