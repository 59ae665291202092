/*
 * SecuMailer — the development SMS provider: appends one JSON object per
 * line, {"to": "+31612345678", "text": "…"}, to a file.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include "smd-sms-provider.h"

G_BEGIN_DECLS

#define SMD_TYPE_SMS_FILE (smd_sms_file_get_type())
G_DECLARE_FINAL_TYPE(SmdSmsFile, smd_sms_file, SMD, SMS_FILE, SmdSmsProvider)

SmdSmsProvider *smd_sms_file_new(const gchar *path, GError **error);

G_END_DECLS
