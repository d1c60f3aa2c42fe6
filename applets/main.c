/* The multicall entry point: picks the applet from the name the binary was
 * started as (a link named "mkinitramfs"), or from the first argument
 * ("voidbox mkinitramfs ..."). As PID 1 or under the name "init" it is the
 * guest agent. Applets register themselves (base/applet.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/applet.h"

extern const struct applet __start_voidbox_applets[] __attribute__((weak));
extern const struct applet __stop_voidbox_applets[] __attribute__((weak));

/* Returns the applet called name, or NULL. */
static const struct applet *applet_find(const char *name)
{
	for (const struct applet *a = __start_voidbox_applets; a < __stop_voidbox_applets; a++)
		if (!strcmp(a->name, name))
			return a;
	return NULL;
}

static int cmp_applet(const void *x, const void *y)
{
	return strcmp((*(const struct applet *const *)x)->name,
		      (*(const struct applet *const *)y)->name);
}

/* Prints the sorted list of applets, one line each, to f. */
static void list_applets(FILE *f)
{
	size_t n = (size_t)(__stop_voidbox_applets - __start_voidbox_applets);
	const struct applet *sorted[64];

	if (n > 64)
		n = 64;
	for (size_t i = 0; i < n; i++)
		sorted[i] = &__start_voidbox_applets[i];
	qsort(sorted, n, sizeof(sorted[0]), cmp_applet);
	fputs("usage: voidbox APPLET [ARGS]   (or run through a link named APPLET)\n"
	      "       voidbox APPLET --help\n\napplets:\n", f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "  %-12s %s\n", sorted[i]->name, sorted[i]->summary);
}

/* Runs applet a with argv[0] set to its name, so getopt messages name it. */
static int run_applet(const struct applet *a, int argc, char **argv)
{
	argv[0] = (char *)a->name;
	return a->main(argc, argv);
}

int main(int argc, char **argv)
{
	const char *base = argv[0] ? strrchr(argv[0], '/') : NULL;
	const struct applet *a;

	base = base ? base + 1 : (argv[0] ? argv[0] : "voidbox");
	if (getpid() == 1 || !strcmp(base, "init")) {
		a = applet_find("agent");
		if (a)
			return run_applet(a, argc, argv);
	}
	if (strcmp(base, "voidbox") && (a = applet_find(base)))
		return run_applet(a, argc, argv);
	if (argc < 2) {
		list_applets(stderr);
		return 2;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		list_applets(stdout);
		return 0;
	}
	a = applet_find(argv[1]);
	if (!a) {
		fprintf(stderr, "voidbox: unknown applet '%s' (voidbox --help lists them)\n", argv[1]);
		return 2;
	}
	return run_applet(a, argc - 1, argv + 1);
}
