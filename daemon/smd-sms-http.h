/*
 * SecuMailer — SMS through an HTTP API with libcurl: a generic provider
 * (URL, method, headers, body template) and presets for Twilio and
 * MessageBird (Bird) built on it.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "smd-sms-provider.h"

G_BEGIN_DECLS

#define SMD_TYPE_SMS_HTTP (smd_sms_http_get_type())
G_DECLARE_FINAL_TYPE(SmdSmsHttp, smd_sms_http, SMD, SMS_HTTP, SmdSmsProvider)

/* For providers http, twilio and messagebird. */
SmdSmsProvider *smd_sms_http_new(const SmdConfig *config, GError **error);

/* Whether the http provider knows how to encode values for @content_type:
 * application/json or application/x-www-form-urlencoded (any case, maybe
 * with parameters). */
gboolean smd_sms_http_content_type_known(const gchar *content_type);

/* Replaces {to}, {text}, {from} and {account} in @template, each value
 * encoded for @content_type (JSON string or form field). */
gchar *smd_sms_http_expand(const gchar *template, const gchar *content_type, const gchar *to,
			   const gchar *text, const gchar *from, const gchar *account);

G_END_DECLS
