/*
 * SecuMailer — a bound on the memory that messages take: how many bytes
 * the daemon holds at once for the messages it is receiving (SMTP) or
 * showing (the portal).
 * SPDX-License-Identifier: GPL-3.0-or-later
 *
 * Messages are held in memory while they come in (they are sealed before
 * they touch the disk) and while the portal opens one (its sealed copy,
 * the opened one, the part being sent). Without a bound, many at once
 * would have the daemon killed for memory, mail and all: a client sending
 * large messages on every session it may open, or a recipient with one
 * valid session opening a large message a thousand times in parallel.
 * A caller takes bytes before it holds them and gives them back after.
 * The SMTP intake takes what fits or says 452 (try_take); the portal waits
 * its turn (take: first come, first served) and says "busy" when it has
 * waited too long or too many wait already. Something always fits when
 * nothing else is held, so a message larger than the bound still goes.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* How many may wait at once; more are told to come back. */
#define SMD_BUDGET_MAX_WAITING 64

typedef struct _SmdBudget SmdBudget;

/* @granted: TRUE when @bytes are now held for the caller, who gives them
 * back with smd_budget_release(); FALSE when the request waited too
 * long or too many waited (nothing is held). @waited: called later, not
 * from smd_budget_take() itself (whoever asked may have gone meanwhile). */
typedef void (*SmdBudgetFunc)(gboolean granted, gboolean waited, gpointer user_data);

/* @wait_seconds: how long smd_budget_take() waits before it gives up */
SmdBudget *smd_budget_new(guint64 limit, guint wait_seconds);
void smd_budget_free(SmdBudget *self);
/* On reload: a lower limit lets what holds memory finish. */
void smd_budget_set_limit(SmdBudget *self, guint64 limit);
/* Calls @func at once when the bytes fit (or cannot wait), else later. */
void smd_budget_take(SmdBudget *self, guint64 bytes, SmdBudgetFunc func, gpointer user_data);
/* TRUE when @bytes more fit now (and are held); never waits. @held: what
 * the caller holds already; who holds all that is held may always grow. */
gboolean smd_budget_try_take(SmdBudget *self, guint64 held, guint64 bytes);
void smd_budget_release(SmdBudget *self, guint64 bytes);
/* At shutdown: every waiting request is told to come back. */
void smd_budget_refuse_waiting(SmdBudget *self);
guint64 smd_budget_in_use(const SmdBudget *self);

G_END_DECLS
