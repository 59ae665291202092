/*
 * SecuMailer — GUI test driver: the real admin app, on Xvfb, against the
 * real secumailerd on a private session bus (test-gui.py starts them).
 *
 * It drives the widgets as a person would — selects a request, types a
 * number, presses Submit, switches pages, presses Retry — and checks what
 * the window then shows. Where the test script must act (change a status,
 * stop or start the daemon) it prints "STEP name" and waits for the file
 * name.go in $SMA_SYNC. Checks print "PASS text"; a failure prints
 * "FAIL text" and exits 1. Screenshots of every page go to $SMA_ARTEFACTS.
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <adwaita.h>
#include <glib/gi18n.h>
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "sma-application.h"
#include "sma-deliveries-page.h"
#include "sma-event.h"
#include "sma-log-page.h"
#include "sma-message-model.h"
#include "sma-overview-page.h"
#include "sma-page.h"
#include "sma-window.h"

#define WAIT_SECONDS 30

static SmaWindow *window;

static void
pass(const gchar *what)
{
	g_print("PASS %s\n", what);
}

G_GNUC_NORETURN static void
fail(const gchar *what)
{
	g_print("FAIL %s\n", what);
	exit(EXIT_FAILURE);
}

static void
check(gboolean cond, const gchar *what)
{
	if (!cond)
		fail(what);
	pass(what);
}

/* Runs the main loop until @cond holds, or fails after WAIT_SECONDS. */
#define WAIT_UNTIL(cond, what)                                                                     \
	G_STMT_START                                                                               \
	{                                                                                          \
		gint64 deadline_ = g_get_monotonic_time() + WAIT_SECONDS * G_USEC_PER_SEC;         \
		while (!(cond)) {                                                                  \
			if (g_get_monotonic_time() > deadline_)                                    \
				fail(what);                                                        \
			g_main_context_iteration(NULL, FALSE);                                     \
			g_usleep(2000);                                                            \
		}                                                                                  \
		pass(what);                                                                        \
	}                                                                                          \
	G_STMT_END

static void
settle(guint ms)
{
	gint64 until = g_get_monotonic_time() + ms * 1000;
	while (g_get_monotonic_time() < until) {
		g_main_context_iteration(NULL, FALSE);
		g_usleep(2000);
	}
}

static void
step(const gchar *name)
{
	g_autofree gchar *go = g_strdup_printf("%s/%s.go", g_getenv("SMA_SYNC"), name);
	gint64 deadline = g_get_monotonic_time() + 120 * G_USEC_PER_SEC;

	g_print("STEP %s\n", name);
	/* the window keeps working while the script acts */
	while (!g_file_test(go, G_FILE_TEST_EXISTS)) {
		if (g_get_monotonic_time() > deadline)
			fail("the test script answers");
		g_main_context_iteration(NULL, FALSE);
		g_usleep(5000);
	}
}

static GtkWidget *
find_in(GtkWidget *root, const gchar *name)
{
	if (g_strcmp0(gtk_widget_get_name(root), name) == 0)
		return root;
	for (GtkWidget *c = gtk_widget_get_first_child(root); c != NULL;
	     c = gtk_widget_get_next_sibling(c)) {
		GtkWidget *found = find_in(c, name);
		if (found != NULL)
			return found;
	}
	return NULL;
}

static GtkWidget *
find(const gchar *name)
{
	return find_in(GTK_WIDGET(window), name);
}

/* A visible label in the window whose text starts with @prefix. */
static GtkWidget *
find_label_in(GtkWidget *root, const gchar *prefix)
{
	if (GTK_IS_LABEL(root) && gtk_widget_get_mapped(root) &&
	    g_str_has_prefix(gtk_label_get_label(GTK_LABEL(root)), prefix))
		return root;
	for (GtkWidget *c = gtk_widget_get_first_child(root); c != NULL;
	     c = gtk_widget_get_next_sibling(c)) {
		GtkWidget *found = find_label_in(c, prefix);
		if (found != NULL)
			return found;
	}
	return NULL;
}

static gboolean
shows_label(const gchar *prefix)
{
	return find_label_in(GTK_WIDGET(window), prefix) != NULL;
}

static const gchar *
main_state(void)
{
	return gtk_stack_get_visible_child_name(GTK_STACK(find("main-stack")));
}

static const gchar *
visible_page(void)
{
	return adw_view_stack_get_visible_child_name(ADW_VIEW_STACK(find("view-stack")));
}

/* The window as it is drawn, to a PNG in the artefacts folder. */
static void
screenshot(const gchar *name)
{
	g_autofree gchar *path = g_strdup_printf("%s/%s.png", g_getenv("SMA_ARTEFACTS"), name);
	GtkWidget *widget = GTK_WIDGET(window);
	g_autoptr(GdkPaintable) paintable = NULL;
	g_autoptr(GskRenderNode) node = NULL;
	g_autoptr(GdkTexture) texture = NULL;
	int w, h;

	settle(500); /* transitions and the first frame of new rows */
	w = gtk_widget_get_width(widget);
	h = gtk_widget_get_height(widget);
	paintable = gtk_widget_paintable_new(widget);
	/* a busy machine may not have drawn the new page yet: give it time */
	for (guint tries = 0; node == NULL && tries < 50; tries++) {
		GtkSnapshot *snapshot = gtk_snapshot_new();
		gdk_paintable_snapshot(paintable, snapshot, w, h);
		node = gtk_snapshot_free_to_node(snapshot);
		if (node == NULL) {
			gtk_widget_queue_draw(widget); /* a frame may have been skipped */
			settle(100);
		}
	}
	if (node == NULL)
		fail("the window draws something");
	texture = gsk_renderer_render_texture(gtk_native_get_renderer(GTK_NATIVE(window)), node,
					      &GRAPHENE_RECT_INIT(0, 0, (float)w, (float)h));
	if (!gdk_texture_save_to_png(texture, path))
		fail("a screenshot is saved");
	g_print("SCREENSHOT %s\n", path);
}

static SmaMessage *
message_to(const gchar *recipient)
{
	SmaDeliveriesPage *page = SMA_DELIVERIES_PAGE(find("deliveries-page"));
	GListModel *model = G_LIST_MODEL(sma_deliveries_page_get_model(page));

	for (guint i = 0; i < g_list_model_get_n_items(model); i++) {
		g_autoptr(SmaMessage) msg = g_list_model_get_item(model, i);
		if (g_strcmp0(sma_message_get_recipient(msg, 0), recipient) == 0)
			return msg; /* the model keeps its reference */
	}
	return NULL;
}

static guint
position_of(const gchar *recipient)
{
	SmaDeliveriesPage *page = SMA_DELIVERIES_PAGE(find("deliveries-page"));
	GListModel *model = G_LIST_MODEL(sma_deliveries_page_get_model(page));

	for (guint i = 0; i < g_list_model_get_n_items(model); i++) {
		g_autoptr(SmaMessage) msg = g_list_model_get_item(model, i);
		if (g_strcmp0(sma_message_get_recipient(msg, 0), recipient) == 0)
			return i;
	}
	return GTK_INVALID_LIST_POSITION;
}

/* The message dialog in front of the window. */
static AdwMessageDialog *
dialog(void)
{
	GListModel *toplevels = gtk_window_get_toplevels(); /* borrowed */

	for (guint i = 0; i < g_list_model_get_n_items(toplevels); i++) {
		g_autoptr(GObject) w = g_list_model_get_item(toplevels, i);
		if (ADW_IS_MESSAGE_DIALOG(w) && gtk_widget_get_mapped(GTK_WIDGET(w)))
			return ADW_MESSAGE_DIALOG(w);
	}
	return NULL;
}

static GtkWidget *
button_in(GtkWidget *root, const gchar *label)
{
	if (GTK_IS_BUTTON(root) && g_strcmp0(gtk_button_get_label(GTK_BUTTON(root)), label) == 0)
		return root;
	for (GtkWidget *c = gtk_widget_get_first_child(root); c != NULL;
	     c = gtk_widget_get_next_sibling(c)) {
		GtkWidget *found = button_in(c, label);
		if (found != NULL)
			return found;
	}
	return NULL;
}

/* Presses the button named @name until a dialog answers: the page may
 * rebuild its rows (a live reload) between finding and pressing. */
static gboolean
press_for_dialog(const gchar *name)
{
	for (guint tries = 0; tries < 10 && dialog() == NULL; tries++) {
		GtkWidget *button = find(name);
		if (button != NULL && gtk_widget_get_mapped(button))
			gtk_widget_activate(button);
		settle(500);
	}
	return dialog() != NULL;
}

/* Presses the dialog's response button labelled @label, as a person would
 * (the dialog closes itself then). */
static void
answer(const gchar *label)
{
	GtkWidget *button = button_in(GTK_WIDGET(dialog()), label);

	if (button == NULL)
		fail("the dialog has its buttons");
	gtk_widget_activate(button);
	WAIT_UNTIL(dialog() == NULL, "the dialog closes");
}

static gboolean
log_has_kind(const gchar *kind)
{
	GListModel *shown = sma_log_page_get_shown(SMA_LOG_PAGE(find("log-page")));

	for (guint i = 0; i < g_list_model_get_n_items(shown); i++) {
		g_autoptr(SmaEvent) event = g_list_model_get_item(shown, i);
		if (g_strcmp0(sma_event_get_kind(event), kind) == 0)
			return TRUE;
	}
	return FALSE;
}

static void
requests_scenario(void)
{
	GtkWidget *list, *row, *phone, *submit, *error;
	AdwViewStackPage *page;

	WAIT_UNTIL(g_strcmp0(main_state(), "main") == 0, "the app connects to the daemon");
	WAIT_UNTIL(find("pat@plain.test") != NULL, "the pending request is listed");
	check(g_strcmp0(visible_page(), "requests") == 0,
	      "with requests pending, the app opens on the requests page");
	page = adw_view_stack_get_page(ADW_VIEW_STACK(find("view-stack")), find("requests-page"));
	check(adw_view_stack_page_get_badge_number(page) == 1 &&
		  adw_view_stack_page_get_needs_attention(page),
	      "the requests tab has a badge with the count");
	check(shows_label("from doctor@org.test"), "the request names the sender");
	screenshot("requests");

	list = find("requests-list");
	row = find("pat@plain.test");
	gtk_list_box_select_row(GTK_LIST_BOX(list), GTK_LIST_BOX_ROW(row));
	phone = find("requests-phone");
	submit = find("requests-submit");
	error = find("requests-error");
	WAIT_UNTIL(gtk_widget_get_mapped(phone) && gtk_widget_get_mapped(submit),
		   "selecting the request shows a phone field and Submit");
	gtk_editable_set_text(GTK_EDITABLE(phone), "06 1234");
	gtk_widget_activate(submit);
	WAIT_UNTIL(gtk_widget_get_visible(error) && gtk_widget_has_css_class(phone, "error"),
		   "an invalid number gives an inline error on the field");
	check(strlen(gtk_label_get_label(GTK_LABEL(error))) > 10 && find("pat@plain.test") != NULL,
	      "which says what is wrong, and the request stays");
	screenshot("requests-invalid");

	/* a live update while a number is being typed: the field keeps what is
	 * typed, where the cursor is, and the error (it came out scrambled,
	 * "5678" landing before "06 1234": a wrong number could be stored) */
	gtk_widget_grab_focus(phone);
	gtk_editable_set_position(GTK_EDITABLE(phone), -1);
	sma_page_reload(SMA_PAGE(find("requests-page")));
	settle(500);
	check(g_strcmp0(gtk_editable_get_text(GTK_EDITABLE(phone)), "06 1234") == 0 &&
		  gtk_widget_get_visible(error),
	      "a live update keeps the number being typed, and its error");
	{
		int position = gtk_editable_get_position(GTK_EDITABLE(phone));
		gtk_editable_insert_text(GTK_EDITABLE(phone), "5678", -1, &position);
	}
	check(g_strcmp0(gtk_editable_get_text(GTK_EDITABLE(phone)), "06 12345678") == 0,
	      "and the cursor: typing on adds at the end");

	gtk_editable_set_text(GTK_EDITABLE(phone), "06 12345678");
	check(!gtk_widget_get_visible(error), "typing clears the error");
	gtk_widget_activate(submit);
	WAIT_UNTIL(shows_label("Stored: +31 6"), "a valid number gives a Stored toast");
	WAIT_UNTIL(find("pat@plain.test") == NULL, "and the request leaves the list");
	check(adw_view_stack_page_get_badge_number(page) == 0, "the badge goes");
	screenshot("requests-stored");
	step("stored");
	WAIT_UNTIL(find("new@plain.test") != NULL &&
		       adw_view_stack_page_get_badge_number(page) == 1,
		   "a new request appears live, with the badge");
}

static void
deliveries_scenario(void)
{
	SmaMessage *held, *delivered;
	SmaDeliveriesPage *page = SMA_DELIVERIES_PAGE(find("deliveries-page"));

	sma_window_show_page(window, "deliveries");
	WAIT_UNTIL((held = message_to("pat@plain.test")) != NULL &&
		       (delivered = message_to("colleague@org.test")) != NULL,
		   "the deliveries list shows both messages");
	check(g_strcmp0(sma_message_get_subject(held), "Lab results") == 0, "with their subjects");
	WAIT_UNTIL(g_strcmp0(sma_message_get_state(held, 0), "invited") == 0,
		   "the released message is invited");
	check(shows_label("Invited") && shows_label("Delivered over TLS"),
	      "status chips: invited, delivered over TLS");

	gtk_editable_set_text(GTK_EDITABLE(find("deliveries-search")), "colleag");
	WAIT_UNTIL(g_list_model_get_n_items(G_LIST_MODEL(sma_deliveries_page_get_model(page))) ==
			   1 &&
		       message_to("colleague@org.test") != NULL,
		   "typing the beginning of an address narrows the list as you type");
	gtk_editable_set_text(GTK_EDITABLE(find("deliveries-search")), "");
	WAIT_UNTIL((held = message_to("pat@plain.test")) != NULL &&
		       (delivered = message_to("colleague@org.test")) != NULL,
		   "clearing the search shows everything again");
	sma_deliveries_page_select(page, position_of("colleague@org.test"));
	WAIT_UNTIL(shows_label("TLSv1."), "the details show the TLS version of the delivery");
	check(shows_label("Server certificate (SHA-256)"), "and the certificate fingerprint");
	screenshot("deliveries");

	sma_deliveries_page_select(page, position_of("pat@plain.test"));
	WAIT_UNTIL(find("resend-button") != NULL && find("revoke-button") != NULL,
		   "a held message offers Resend invitation and Revoke");
	screenshot("deliveries-held");
	check(press_for_dialog("revoke-button"), "Revoke asks first");
	check(strstr(adw_message_dialog_get_body(dialog()), "“Lab results” from doctor@org.test") !=
		  NULL,
	      "naming the message it would destroy");
	answer("_Cancel");

	/* the script requests a pin on the portal: the recipient is pin-sent */
	step("pin");
	WAIT_UNTIL(g_strcmp0(sma_message_get_state(held, 0), "pin-sent") == 0 &&
		       shows_label("Pin code sent"),
		   "a status change in the daemon appears in the list without a reload");
}

static void
other_pages_scenario(void)
{
	SmaOverviewPage *overview = SMA_OVERVIEW_PAGE(find("overview-page"));
	g_autofree gchar *export_path =
	    g_strdup_printf("%s/log-export.tsv", g_getenv("SMA_ARTEFACTS"));
	g_autoptr(GFile) export_file = g_file_new_for_path(export_path);
	g_autoptr(GError) error = NULL;
	g_autofree gchar *exported = NULL;

	sma_window_show_page(window, "recipients");
	WAIT_UNTIL(find("pat@plain.test") != NULL && shows_label("+31612345678"),
		   "the recipients page lists the number");
	screenshot("recipients");
	check(press_for_dialog("edit:pat@plain.test"), "Change asks for the new number");
	gtk_editable_set_text(GTK_EDITABLE(find_in(GTK_WIDGET(dialog()), "phone-number")), "12");
	answer("_Submit");
	WAIT_UNTIL(
	    dialog() != NULL && find_in(GTK_WIDGET(dialog()), "phone-number") != NULL &&
		gtk_widget_has_css_class(find_in(GTK_WIDGET(dialog()), "phone-number"), "error"),
	    "a wrong number brings the dialog back with the error");
	gtk_editable_set_text(GTK_EDITABLE(find_in(GTK_WIDGET(dialog()), "phone-number")),
			      "06 87654321");
	answer("_Submit");
	WAIT_UNTIL(shows_label("+31687654321"), "a right one changes the number in the list");
	step("changed");
	check(press_for_dialog("recipients-add"), "Add asks for an address and a number");
	gtk_editable_set_text(GTK_EDITABLE(find_in(GTK_WIDGET(dialog()), "phone-address")),
			      "not an address");
	gtk_editable_set_text(GTK_EDITABLE(find_in(GTK_WIDGET(dialog()), "phone-number")),
			      "06 12345678");
	answer("_Submit");
	WAIT_UNTIL(
	    dialog() != NULL && find_in(GTK_WIDGET(dialog()), "phone-address") != NULL &&
		gtk_widget_has_css_class(find_in(GTK_WIDGET(dialog()), "phone-address"), "error") &&
		!gtk_widget_has_css_class(find_in(GTK_WIDGET(dialog()), "phone-number"), "error"),
	    "a wrong address is marked on the address, not on the number");
	answer("_Cancel");
	check(press_for_dialog("remove:pat@plain.test"), "Remove asks first");
	answer("_Remove");
	WAIT_UNTIL(find("pat@plain.test") == NULL, "and the number leaves the directory");
	step("removed");

	sma_window_show_page(window, "log");
	WAIT_UNTIL(log_has_kind("pin-requested"), "the log follows new events");
	check(sma_log_page_get_following(SMA_LOG_PAGE(find("log-page"))),
	      "at the bottom, it follows");
	screenshot("log");
	gtk_editable_set_text(GTK_EDITABLE(find("log-search")), "pin-requested");
	WAIT_UNTIL(
	    g_list_model_get_n_items(sma_log_page_get_shown(SMA_LOG_PAGE(find("log-page")))) == 1,
	    "the text filter narrows the log");
	check(sma_log_page_export_to_file(SMA_LOG_PAGE(find("log-page")), export_file, &error),
	      "the shown events export to a file");
	g_file_get_contents(export_path, &exported, NULL, NULL);
	check(exported != NULL && g_str_has_prefix(exported, "time\tlevel\tkind") &&
		  strstr(exported, "\tpin-requested\t") != NULL &&
		  strstr(exported, "\treceived\t") == NULL,
	      "the export holds the filtered rows only");
	gtk_editable_set_text(GTK_EDITABLE(find("log-search")), "");

	sma_window_show_page(window, "overview");
	WAIT_UNTIL(g_strcmp0(sma_overview_page_get_figure(overview, FALSE, 0), "1") == 0 &&
		       g_strcmp0(sma_overview_page_get_figure(overview, FALSE, 2), "2") == 0,
		   "the overview counts today's delivered and waiting recipients");
	screenshot("overview");
}

static void
unreachable_scenario(void)
{
	step("stop-daemon");
	WAIT_UNTIL(g_strcmp0(main_state(), "unreachable") == 0,
		   "with the daemon stopped, the app says it cannot reach the service");
	check(shows_label("The SecuMailer service"), "and why");
	screenshot("unreachable");
	step("start-daemon");
	gtk_widget_activate(find("retry-button"));
	WAIT_UNTIL(g_strcmp0(main_state(), "main") == 0, "Retry reconnects once it runs again");
}

/* Whether @widget lies wholly inside the window's visible area. */
static gboolean
in_view(GtkWidget *widget)
{
	graphene_rect_t r;
	GtkWidget *top = GTK_WIDGET(window);

	return gtk_widget_get_mapped(widget) && gtk_widget_compute_bounds(widget, top, &r) &&
	       r.size.height > 0 && r.size.width > 0 && r.origin.y >= 0 &&
	       r.origin.y + r.size.height <= gtk_widget_get_height(top) && r.origin.x >= 0 &&
	       r.origin.x + r.size.width <= gtk_widget_get_width(top);
}

/* The log holds more than fits, and shows its end. */
static gboolean
log_shows_newest(void)
{
	GtkWidget *scrolled = gtk_widget_get_ancestor(find("log-list"), GTK_TYPE_SCROLLED_WINDOW);
	GtkAdjustment *adj = gtk_scrolled_window_get_vadjustment(GTK_SCROLLED_WINDOW(scrolled));
	gdouble page = gtk_adjustment_get_page_size(adj);
	gdouble upper = gtk_adjustment_get_upper(adj);

	return page > 0 && upper > page && gtk_adjustment_get_value(adj) >= upper - page - 4;
}

/* Many requests: whichever one is chosen, the number field and Submit
 * are on screen (they were below the list, out of sight). */
static void
many_requests_scenario(void)
{
	GtkListBox *list;
	GtkListBoxRow *row;
	GtkWidget *phone, *submit;

	adw_view_stack_set_visible_child_name(ADW_VIEW_STACK(find("view-stack")), "requests");
	step("many-requests");
	list = GTK_LIST_BOX(find("requests-list"));
	WAIT_UNTIL(gtk_list_box_get_row_at_index(list, 30) != NULL, "31 requests are listed");
	phone = find("requests-phone");
	submit = find("requests-submit");
	for (int i = 0; i <= 30; i += 15) {
		g_autofree gchar *what = NULL;
		row = gtk_list_box_get_row_at_index(list, i);
		gtk_list_box_select_row(list, row);
		settle(300);
		what = g_strdup_printf(
		    "request %d of 31 chosen: the number field and Submit are in view", i + 1);
		if (i == 0)
			screenshot("requests-many");
		check(in_view(phone) && in_view(submit), what);
	}
	sma_window_show_page(window, "deliveries");
	WAIT_UNTIL(shows_label("Awaiting registration ×30"),
		   "a message to 30 recipients in one state has one status chip, with the count");
	screenshot("deliveries-many");
}

/* The bus the app talks to goes away (a restart of dbus): the app stays,
 * and says so. Run with the daemon's bus as the "system" bus, so that the
 * app's own (session) bus stays. */
static void
bus_gone_scenario(void)
{
	WAIT_UNTIL(g_strcmp0(main_state(), "main") == 0, "the app connects over the system bus");
	step("kill-bus");
	WAIT_UNTIL(g_strcmp0(main_state(), "unreachable") == 0,
		   "with the bus gone, the app stays and says it cannot reach the service");
	check(shows_label("The message bus of this computer cannot be reached."), "and why");
	screenshot("bus-gone");
}

/* Under LANGUAGE=nl: the page titles people see are Dutch. */
static void
dutch_scenario(void)
{
	const struct {
		const gchar *page;
		const gchar *title;
	} titles[] = {{"overview-page", "Overzicht"},
		      {"requests-page", "Aanvragen"},
		      {"deliveries-page", "Bezorging"},
		      {"recipients-page", "Ontvangers"},
		      {"log-page", "Logboek"}};
	AdwViewStack *stack;

	WAIT_UNTIL(g_strcmp0(main_state(), "main") == 0, "the Dutch app connects");
	stack = ADW_VIEW_STACK(find("view-stack"));
	for (guint i = 0; i < G_N_ELEMENTS(titles); i++) {
		AdwViewStackPage *page = adw_view_stack_get_page(stack, find(titles[i].page));
		g_autofree gchar *what = g_strdup_printf("the page title is %s", titles[i].title);
		check(g_strcmp0(adw_view_stack_page_get_title(page), titles[i].title) == 0, what);
	}
	sma_window_show_page(window, "overview");
	WAIT_UNTIL(shows_label("Bezorgd via TLS") && shows_label("Vandaag"),
		   "the overview speaks Dutch");
	screenshot("overview-nl");
	sma_window_show_page(window, "deliveries");
	WAIT_UNTIL(shows_label("Vastgehouden") || shows_label("Wacht op registratie") ||
		       shows_label("Pincode verstuurd") || shows_label("Bezorgd via TLS"),
		   "status chips in Dutch");
	screenshot("deliveries-nl");
	/* the daemon stores them in English */
	sma_window_show_page(window, "log");
	WAIT_UNTIL(shows_label("Bericht ontvangen"), "the log's events in Dutch");
	/* more events than fit (the many requests): the newest show */
	WAIT_UNTIL(log_shows_newest(), "the log opens at its newest events");
	screenshot("log-nl");
}

int
main(int argc, char **argv)
{
	g_autoptr(SmaApplication) app = NULL;
	g_autoptr(GError) error = NULL;

	setlocale(LC_ALL, "");
	bindtextdomain(GETTEXT_PACKAGE, g_getenv("SECUMAILER_LOCALEDIR"));
	bind_textdomain_codeset(GETTEXT_PACKAGE, "UTF-8");
	textdomain(GETTEXT_PACKAGE);
	gtk_init();
	app = sma_application_new();
	/* its own id: the test never meets a running admin app */
	g_application_set_application_id(G_APPLICATION(app), "org.secumailer.AdminTest");
	g_application_set_flags(G_APPLICATION(app), G_APPLICATION_NON_UNIQUE);
	sma_application_set_bus_type(app, argc > 1 && g_str_equal(argv[1], "bus-gone")
					      ? G_BUS_TYPE_SYSTEM
					      : G_BUS_TYPE_SESSION);
	if (!g_application_register(G_APPLICATION(app), NULL, &error))
		fail(error->message);
	g_application_activate(G_APPLICATION(app));
	window = SMA_WINDOW(gtk_application_get_active_window(GTK_APPLICATION(app)));
	check(window != NULL, "the main window opens");

	if (argc > 1 && g_str_equal(argv[1], "dutch")) {
		dutch_scenario();
	} else if (argc > 1 && g_str_equal(argv[1], "bus-gone")) {
		bus_gone_scenario();
	} else {
		requests_scenario();
		deliveries_scenario();
		other_pages_scenario();
		unreachable_scenario();
		many_requests_scenario();
	}

	gtk_window_destroy(GTK_WINDOW(window));
	settle(100);
	g_print("DONE\n");
	return EXIT_SUCCESS;
}
