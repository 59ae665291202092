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

/* Replaces {to}, {text}, {from} and {account} in @template, each value
 * encoded for @content_type (JSON string, form field, or as is). */
gchar *smd_sms_http_expand(const gchar *template, const gchar *content_type, const gchar *to,
			   const gchar *text, const gchar *from, const gchar *account);

G_END_DECLS
