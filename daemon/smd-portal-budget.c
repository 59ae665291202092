/*
 * SecuMailer — the portal's memory for message contents (see
 * smd-portal-budget.h).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define G_LOG_DOMAIN "smd-portal"

#include "config.h"

#include "smd-portal-budget.h"

typedef struct {
	SmdPortalBudget *budget;
	guint64 bytes;
	SmdPortalBudgetFunc func;
	gpointer user_data;
	guint timeout;
} SmdPortalWaiter;

struct _SmdPortalBudget {
	guint64 limit;
	guint64 in_use;
	guint wait_seconds;
	GQueue waiting; /* of SmdPortalWaiter, oldest first */
};

SmdPortalBudget *
smd_portal_budget_new(guint64 limit, guint wait_seconds)
{
	SmdPortalBudget *self = g_new0(SmdPortalBudget, 1);

	self->limit = limit;
	self->wait_seconds = wait_seconds;
	g_queue_init(&self->waiting);
	return self;
}

static void
smd_portal_waiter_free(SmdPortalWaiter *w)
{
	g_clear_handle_id(&w->timeout, g_source_remove);
	g_free(w);
}

void
smd_portal_budget_refuse_waiting(SmdPortalBudget *self)
{
	SmdPortalWaiter *w;

	while ((w = g_queue_pop_head(&self->waiting)) != NULL) {
		SmdPortalBudgetFunc func = w->func;
		gpointer user_data = w->user_data;

		smd_portal_waiter_free(w);
		func(FALSE, user_data);
	}
}

void
smd_portal_budget_free(SmdPortalBudget *self)
{
	smd_portal_budget_refuse_waiting(self);
	g_free(self);
}

static gboolean
smd_portal_budget_fits(const SmdPortalBudget *self, guint64 bytes)
{
	return self->in_use == 0 || (bytes <= self->limit && self->in_use <= self->limit - bytes);
}

/* Oldest first: a large request is not passed forever by small ones. */
static void
smd_portal_budget_grant_waiting(SmdPortalBudget *self)
{
	SmdPortalWaiter *w;

	while ((w = g_queue_peek_head(&self->waiting)) != NULL &&
	       smd_portal_budget_fits(self, w->bytes)) {
		SmdPortalBudgetFunc func = w->func;
		gpointer user_data = w->user_data;

		g_queue_pop_head(&self->waiting);
		self->in_use += w->bytes;
		smd_portal_waiter_free(w);
		func(TRUE, user_data);
	}
}

static gboolean
smd_portal_waiter_timeout_cb(gpointer user_data)
{
	SmdPortalWaiter *w = user_data;
	SmdPortalBudgetFunc func = w->func;
	gpointer data = w->user_data;

	w->timeout = 0;
	g_queue_remove(&w->budget->waiting, w);
	smd_portal_waiter_free(w);
	func(FALSE, data);
	return G_SOURCE_REMOVE;
}

void
smd_portal_budget_take(SmdPortalBudget *self, guint64 bytes, SmdPortalBudgetFunc func,
		       gpointer user_data)
{
	SmdPortalWaiter *w;

	if (g_queue_is_empty(&self->waiting) && smd_portal_budget_fits(self, bytes)) {
		self->in_use += bytes;
		func(TRUE, user_data);
		return;
	}
	if (self->waiting.length >= SMD_PORTAL_BUDGET_MAX_WAITING) {
		func(FALSE, user_data);
		return;
	}
	w = g_new0(SmdPortalWaiter, 1);
	w->budget = self;
	w->bytes = bytes;
	w->func = func;
	w->user_data = user_data;
	w->timeout = g_timeout_add_seconds(self->wait_seconds, smd_portal_waiter_timeout_cb, w);
	g_queue_push_tail(&self->waiting, w);
}

void
smd_portal_budget_release(SmdPortalBudget *self, guint64 bytes)
{
	g_return_if_fail(bytes <= self->in_use);
	self->in_use -= bytes;
	smd_portal_budget_grant_waiting(self);
}

void
smd_portal_budget_set_limit(SmdPortalBudget *self, guint64 limit)
{
	self->limit = limit;
	smd_portal_budget_grant_waiting(self);
}

guint64
smd_portal_budget_in_use(const SmdPortalBudget *self)
{
	return self->in_use;
}
