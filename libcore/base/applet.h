/* Applet registration. Each applets/NAME.c declares itself once with
 * APPLET(); the linker gathers the records into the "voidbox_applets"
 * section, and applets/main.c walks it to dispatch on argv[0] or argv[1].
 * Nothing else needs editing to add an applet. */
#ifndef VOIDBOX_APPLET_H
#define VOIDBOX_APPLET_H

struct applet {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary; /* one line for `voidbox --help` */
	const char *usage;   /* full text for `voidbox NAME --help` */
};

#define APPLET(id, fn, sum, use)                                              \
	static const struct applet applet_rec_##id                            \
		__attribute__((used, section("voidbox_applets"), aligned(8))) = \
			{ #id, fn, sum, use }

/* Prints the applet's usage text to stdout (for --help). Returns 0. */
int applet_help(const char *name);

#endif
