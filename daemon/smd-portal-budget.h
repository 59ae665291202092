/*
 * SecuMailer — the portal's memory for message contents: how many bytes of
 * messages being shown or downloaded the daemon holds at once.
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * A message is shown from memory: its sealed copy, the opened one, the
 * parsed MIME tree and the part being sent. Without a bound, a recipient
 * with one valid session could open a large message a thousand times in
 * parallel and have the daemon killed for memory, mail and all. A request
 * takes its bytes before the body is loaded; one that does not fit waits
 * its turn (first come, first served), and gets "busy" when it has waited
 * too long or too many wait already. A request always fits when nothing
 * else holds memory, so a message larger than the limit can still be read.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How long a request waits for memory before it is told to come back. */
#define SMD_PORTAL_BUDGET_WAIT_SECONDS 30
/* How many requests may wait at once; more are told to come back. */
#define SMD_PORTAL_BUDGET_MAX_WAITING 64

typedef struct _SmdPortalBudget SmdPortalBudget;

/* @granted: TRUE when @bytes are now held for the caller, who gives them
 * back with smd_portal_budget_release(); FALSE when the request waited too
 * long or too many waited (nothing is held). */
typedef void (*SmdPortalBudgetFunc)(gboolean granted, gpointer user_data);

/* @wait_seconds: SMD_PORTAL_BUDGET_WAIT_SECONDS but in tests */
SmdPortalBudget *smd_portal_budget_new(guint64 limit, guint wait_seconds);
void smd_portal_budget_free(SmdPortalBudget *self);
/* On reload: a lower limit lets what holds memory finish. */
void smd_portal_budget_set_limit(SmdPortalBudget *self, guint64 limit);
/* Calls @func at once when the bytes fit (or cannot wait), else later. */
void smd_portal_budget_take(SmdPortalBudget *self, guint64 bytes, SmdPortalBudgetFunc func,
			    gpointer user_data);
void smd_portal_budget_release(SmdPortalBudget *self, guint64 bytes);
/* At shutdown: every waiting request is told to come back. */
void smd_portal_budget_refuse_waiting(SmdPortalBudget *self);
guint64 smd_portal_budget_in_use(const SmdPortalBudget *self);

G_END_DECLS
