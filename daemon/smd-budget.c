/*
 * SecuMailer — a bound on the memory that messages take (see
 * smd-budget.h).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-budget"

#include "config.h"

#include "smd-budget.h"

typedef struct {
	SmdBudget *budget;
	guint64 bytes;
	SmdBudgetFunc func;
	gpointer user_data;
	guint timeout;
} SmdBudgetWaiter;

struct _SmdBudget {
	guint64 limit;
	guint64 in_use;
	guint wait_seconds;
	GQueue waiting; /* of SmdBudgetWaiter, oldest first */
};

SmdBudget *
smd_budget_new(guint64 limit, guint wait_seconds)
{
	SmdBudget *self = g_new0(SmdBudget, 1);

	self->limit = limit;
	self->wait_seconds = wait_seconds;
	g_queue_init(&self->waiting);
	return self;
}

static void
smd_budget_waiter_free(SmdBudgetWaiter *w)
{
	g_clear_handle_id(&w->timeout, g_source_remove);
	g_free(w);
}

void
smd_budget_refuse_waiting(SmdBudget *self)
{
	SmdBudgetWaiter *w;

	while ((w = g_queue_pop_head(&self->waiting)) != NULL) {
		SmdBudgetFunc func = w->func;
		gpointer user_data = w->user_data;

		smd_budget_waiter_free(w);
		func(FALSE, TRUE, user_data);
	}
}

void
smd_budget_free(SmdBudget *self)
{
	smd_budget_refuse_waiting(self);
	g_free(self);
}

static gboolean
smd_budget_fits(const SmdBudget *self, guint64 held, guint64 bytes)
{
	return self->in_use == held ||
	       (bytes <= self->limit && self->in_use <= self->limit - bytes);
}

/* Oldest first: a large request is not passed forever by small ones. */
static void
smd_budget_grant_waiting(SmdBudget *self)
{
	SmdBudgetWaiter *w;

	while ((w = g_queue_peek_head(&self->waiting)) != NULL &&
	       smd_budget_fits(self, 0, w->bytes)) {
		SmdBudgetFunc func = w->func;
		gpointer user_data = w->user_data;

		g_queue_pop_head(&self->waiting);
		self->in_use += w->bytes;
		smd_budget_waiter_free(w);
		func(TRUE, TRUE, user_data);
	}
}

static gboolean
smd_budget_waiter_timeout_cb(gpointer user_data)
{
	SmdBudgetWaiter *w = user_data;
	SmdBudgetFunc func = w->func;
	gpointer data = w->user_data;

	w->timeout = 0;
	g_queue_remove(&w->budget->waiting, w);
	smd_budget_waiter_free(w);
	func(FALSE, TRUE, data);
	return G_SOURCE_REMOVE;
}

void
smd_budget_take(SmdBudget *self, guint64 bytes, SmdBudgetFunc func, gpointer user_data)
{
	SmdBudgetWaiter *w;

	if (smd_budget_try_take(self, 0, bytes)) {
		func(TRUE, FALSE, user_data);
		return;
	}
	if (self->waiting.length >= SMD_BUDGET_MAX_WAITING) {
		func(FALSE, FALSE, user_data);
		return;
	}
	w = g_new0(SmdBudgetWaiter, 1);
	w->budget = self;
	w->bytes = bytes;
	w->func = func;
	w->user_data = user_data;
	w->timeout = g_timeout_add_seconds(self->wait_seconds, smd_budget_waiter_timeout_cb, w);
	g_queue_push_tail(&self->waiting, w);
}

gboolean
smd_budget_try_take(SmdBudget *self, guint64 held, guint64 bytes)
{
	g_return_val_if_fail(held <= self->in_use, FALSE);
	if (!g_queue_is_empty(&self->waiting) || !smd_budget_fits(self, held, bytes))
		return FALSE;
	self->in_use += bytes;
	return TRUE;
}

void
smd_budget_release(SmdBudget *self, guint64 bytes)
{
	g_return_if_fail(bytes <= self->in_use);
	self->in_use -= bytes;
	smd_budget_grant_waiting(self);
}

void
smd_budget_set_limit(SmdBudget *self, guint64 limit)
{
	self->limit = limit;
	smd_budget_grant_waiting(self);
}

guint64
smd_budget_in_use(const SmdBudget *self)
{
	return self->in_use;
}
