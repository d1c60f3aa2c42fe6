/* Applet registration. Each applets/NAME.c declares itself once with
 * APPLET(); the linker gathers the records into the "voidbox_applets"
 * section, and applets/main.c walks it to dispatch on argv[0] or argv[1].
 * Nothing else needs editing to add an applet. An applet's options and
 * its --help come from its option table (base/opts.h). */
#ifndef VOIDBOX_APPLET_H
#define VOIDBOX_APPLET_H

struct applet {
	const char *name;
	int (*main)(int argc, char **argv);
	const char *summary; /* one line for `voidbox --help` */
};

#define APPLET(id, fn, sum)                                                   \
	static const struct applet applet_rec_##id                            \
		__attribute__((used, section("voidbox_applets"), aligned(8))) = \
			{ #id, fn, sum }

#endif
