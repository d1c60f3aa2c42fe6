/* `voidbox run [options] -- CMD [ARGS]`: boots a microVM and runs CMD in it
 * (libcore/run/). The options are declared once, in run's option table
 * (run/opts.c, including the network's and the shared folders'), which
 * also gives --help; this file only checks what the table cannot see and
 * picks the way to run. */
#include "base/applet.h"
#include "base/util.h"
#include "run/run.h"

static int run_main(int argc, char **argv)
{
	struct run_opts o;
	struct opts_result r;
	int rc = opts_parse(&run_opts_spec, &o, argc, argv, &r);

	if (rc != OPTS_GO_ON)
		return rc;
	if (r.next >= argc && !o.dump_boot) {
		vb_err("run", 0, "no command given (voidbox run [options] -- CMD [ARGS])");
		return 2;
	}
	if (o.attach && r.marked) {
		vb_err("run", 0, "--%s: only for a new VM, not with --attach", r.marked->name);
		return RUN_EXIT_SETUP;
	}
	o.argv = argv + r.next;
	o.argc = argc - r.next;
	return o.attach ? run_attach(&o) : run_vm(&o);
}

APPLET(run, run_main, "run a command in a fresh microVM");
