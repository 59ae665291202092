/*
 * SecuMailer — store operations of the portal: who is invited, who must
 * be asked for a number, links, pins and their limits. Each is an
 * SmdStoreFunc (see smd-store.h); data structs carry inputs and outputs.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#pragma once

#include <glib.h>
#include <sqlite3.h>

G_BEGIN_DECLS

/* Recipient states of the portal path (DESIGN.md, "Data and states"). */
#define SMD_STATE_AWAITING_REGISTRATION "awaiting-registration"
#define SMD_STATE_INVITED "invited"
#define SMD_STATE_PIN_SENT "pin-sent"
#define SMD_STATE_OPENED "opened"
#define SMD_STATE_DOWNLOADED "downloaded"

/* Pin and link rules (issue 3). */
#define SMD_PIN_LIFETIME (10 * 60)
#define SMD_PIN_MAX_TRIES 5
#define SMD_LINK_MAX_FAILURES 10
#define SMD_SMS_PER_LINK_INTERVAL 60
#define SMD_SMS_PER_LINK_HOUR 5
#define SMD_SMS_PER_NUMBER_HOUR 10
#define SMD_SMS_PER_CLIENT_HOUR 20

typedef enum {
	SMD_NOTICE_INVITATION,	 /* to the recipient: a message waits for you */
	SMD_NOTICE_REGISTRATION, /* to the sender: give us the recipient's number */
} SmdNoticeKind;

/* An e-mail to send because of a store change; holds the only plaintext
 * copy of the link token. */
typedef struct {
	SmdNoticeKind kind;
	gchar *to;	 /* who gets the e-mail */
	gchar *address;	 /* the recipient concerned */
	gchar *sender;	 /* the original sender */
	gchar *token;	 /* for the link */
	gchar *queue_id; /* the message it is about */
	gint64 received_at;
	gchar *subject; /* of the message, only with [portal] show-subject */
} SmdNotice;

void smd_notice_free(SmdNotice *notice);

typedef struct {
	/* in */
	gint64 message_id;
	gchar *queue_id;
	gchar *sender;
	gint64 received_at;
	GPtrArray *recipients; /* SmdRecipient with outcome HELD */
	gint64 expires_at;
	/* out */
	GPtrArray *notices;
	GPtrArray *events;
} SmdHeldUpdate;

void smd_held_update_free(SmdHeldUpdate *update);
gboolean smd_portal_store_held(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	gint64 id;
	gchar *kind;
	gchar *address;
	gint64 message_id;
	gint64 recipient_id;
	gchar *requested_by;
	gint64 expires_at;
	guint failures;
	gboolean locked;
	/* the message, for recipient links */
	gchar *queue_id;
	gchar *sender;
	gint64 received_at;
	gboolean body_present;
	gint64 size;		/* of the message as received */
	gchar *recipient_state; /* of recipient links */
	gint64 pin_until;	/* expiry of a pin that may still be tried, or 0 */
	/* the directory entry of address, if any */
	gchar *number;
	/* registration links: the messages waiting (sender, time) */
	GPtrArray *waiting; /* of gchar* "sender\ttime" */
} SmdLink;

void smd_link_free(SmdLink *link);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SmdLink, smd_link_free)

typedef struct {
	gchar *token_hash; /* in */
	SmdLink *link;	   /* out; NULL when no such, or an expired, link */
} SmdLinkLookup;

void smd_link_lookup_free(SmdLinkLookup *lookup);
gboolean smd_portal_store_lookup(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	/* in */
	gchar *token_hash;
	gchar *number; /* E.164 */
	gchar *client_address;
	guint retention; /* how long the released messages' links live */
	/* out */
	gchar *address;
	GPtrArray *notices;
	GPtrArray *events;
} SmdRegistration;

void smd_registration_free(SmdRegistration *reg);
/* SMD_ERROR_NOT_FOUND for an unknown or expired registration link. */
gboolean smd_portal_store_register(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	/* in */
	gchar *address;
	gchar *number; /* E.164; NULL removes the number */
	gchar *by;     /* who did it, for the log */
	guint retention;
	/* out */
	GPtrArray *notices;
	GPtrArray *events;
} SmdPhoneChange;

void smd_phone_change_free(SmdPhoneChange *change);
/* Staff set or remove a number; setting releases waiting messages.
 * SMD_ERROR_NOT_FOUND when removing a number that is not there. */
gboolean smd_portal_store_change_phone(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	/* in */
	gchar *queue_id;
	gchar *address;
	guint retention;
	/* out */
	GPtrArray *notices;
	GPtrArray *events;
} SmdResend;

void smd_resend_free(SmdResend *resend);
/* A new invitation for a held message; SMD_ERROR_NOT_FOUND when there is
 * none for that recipient or no registered number. */
gboolean smd_portal_store_resend(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	/* in */
	gint64 link_id;
	gchar *pin_mac;
	gchar *client_address;
	/* out */
	gchar *number;
	gboolean hourly_limit; /* with SMD_ERROR_TEMPORARY: not within the hour */
	gboolean no_number;    /* with SMD_ERROR_NOT_FOUND: staff removed it */
	GPtrArray *events;
} SmdPinRequest;

void smd_pin_request_free(SmdPinRequest *req);
/* SMD_ERROR_TEMPORARY when a rate limit says not now, SMD_ERROR_NOT_FOUND
 * when the link is locked or its number gone. */
gboolean smd_portal_store_pin_request(sqlite3 *db, gpointer data, GError **error);

typedef enum {
	SMD_PIN_OK,
	SMD_PIN_WRONG,	/* wrong, expired or no pin */
	SMD_PIN_LOCKED, /* too many failures: the link is locked */
} SmdPinVerdict;

typedef struct {
	/* in */
	gint64 link_id;
	gchar *pin_mac;
	gchar *client_address;
	/* out */
	SmdPinVerdict verdict;
	GPtrArray *events;
} SmdPinCheck;

void smd_pin_check_free(SmdPinCheck *check);
gboolean smd_portal_store_pin_check(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	gint64 recipient_id;
	const gchar *state;	/* static string */
	gint64 unsent_pin_link; /* a link whose pin's SMS failed: the pin goes */
	GPtrArray *events;
} SmdPortalMark;

void smd_portal_mark_free(SmdPortalMark *mark);
/* Moves a recipient forward (opened, downloaded), forgets a pin that never
 * went out, and records events. */
gboolean smd_portal_store_mark(sqlite3 *db, gpointer data, GError **error);

typedef struct {
	guint retention;   /* in: seconds a held message is kept */
	GPtrArray *events; /* out */
} SmdExpiry;

void smd_expiry_free(SmdExpiry *expiry);
/* Expires held recipients older than the retention and destroys the
 * bodies nobody needs any more. */
gboolean smd_portal_store_expire(sqlite3 *db, gpointer data, GError **error);

/* Every link lives until its message's arrival + @data (the retention, a
 * guint in a pointer): a reload that changes [store] retention moves the
 * links already sent with it, as it moves when their bodies are destroyed. */
gboolean smd_portal_store_set_retention(sqlite3 *db, gpointer data, GError **error);

G_END_DECLS
