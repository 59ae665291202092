/*
 * SecuMailer — a main() for the fuzz targets without libFuzzer: runs
 * LLVMFuzzerTestOneInput once on every file of the directories (and on
 * the files) named on the command line, so the seed corpus and every
 * crash found before run as an ordinary test in every build (gcc too).
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#include "config.h"

#include <glib.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static gboolean
run_file(const gchar *path)
{
	g_autofree gchar *contents = NULL;
	g_autofree guint8 *exact = NULL;
	g_autoptr(GError) error = NULL;
	gsize len = 0;

	if (!g_file_get_contents(path, &contents, &len, &error)) {
		fprintf(stderr, "%s\n", error->message);
		return FALSE;
	}
	/* a buffer of exactly the input's size, as libFuzzer gives: the NUL
	 * g_file_get_contents() adds would hide a one-byte over-read */
	exact = g_malloc(MAX(len, 1));
	memcpy(exact, contents, len);
	printf("# %s (%" G_GSIZE_FORMAT " bytes)\n", path, len);
	(void)fflush(stdout);
	LLVMFuzzerTestOneInput(exact, len);
	return TRUE;
}

static gint
compare_names(gconstpointer a, gconstpointer b)
{
	return strcmp(*(const gchar *const *)a, *(const gchar *const *)b);
}

int
main(int argc, char **argv)
{
	guint runs = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s CORPUS-DIR-OR-FILE...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		g_autoptr(GDir) dir = NULL;
		g_autoptr(GPtrArray) names = NULL;
		const gchar *name;

		if (!g_file_test(argv[i], G_FILE_TEST_IS_DIR)) {
			if (!run_file(argv[i]))
				return 1;
			runs++;
			continue;
		}
		dir = g_dir_open(argv[i], 0, NULL);
		if (dir == NULL) {
			fprintf(stderr, "%s: cannot open the directory\n", argv[i]);
			return 1;
		}
		/* in name order: the same run every time */
		names = g_ptr_array_new_with_free_func(g_free);
		while ((name = g_dir_read_name(dir)) != NULL) {
			if (name[0] != '.')
				g_ptr_array_add(names, g_build_filename(argv[i], name, NULL));
		}
		g_ptr_array_sort(names, compare_names);
		for (guint j = 0; j < names->len; j++) {
			const gchar *path = g_ptr_array_index(names, j);
			if (!g_file_test(path, G_FILE_TEST_IS_REGULAR))
				continue;
			if (!run_file(path))
				return 1;
			runs++;
		}
	}
	if (runs == 0) {
		fprintf(stderr, "no inputs found\n");
		return 1;
	}
	printf("%u inputs ran without a finding\n", runs);
	return 0;
}
