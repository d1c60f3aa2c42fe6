/* `voidbox agent`: the guest's init. main.c runs it when voidbox is PID 1
 * (as /init in the initramfs) or called as "init". It boots the guest
 * (agent/boot.h: mounts, modules, network interfaces, the ready line),
 * then serves and powers the VM off. What it serves comes from the kernel
 * command line: voidbox.serve=PORT runs the command server on that vsock
 * port (agent/serve.h; `voidbox run` passes it) until the host asks for
 * power-off; voidbox.cmd=CMD runs `sh -c CMD`, voidbox.exec=PATH runs
 * PATH, each printing its exit status on the console. Not as PID 1,
 * `--listen unix:PATH` serves on a Unix socket (for tests on the host). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/boot.h"
#include "agent/netcfg.h"
#include "agent/serve.h"
#include "base/usock.h"
#include "base/applet.h"
#include "base/opts.h"
#include "base/util.h"
#include "proto/proto.h"

struct agent_opts {
	const char *listen; /* --listen unix:PATH, or NULL */
};

static const char *listen_bad(const char *arg)
{
	return strncmp(arg, "unix:", 5) || !arg[5] ? "expected unix:PATH" : NULL;
}

static const struct opt agent_opt_list[] = {
	{ "listen", 'l', OPT_STR, OPT_AT(struct agent_opts, listen), .check = listen_bad,
	  .meta = "unix:PATH",
	  .help = "not as PID 1: serve commands on a Unix socket until a client asks for "
		  "power-off" },
	{ .kind = OPT_END },
};

static const struct opts_table agent_table = { .opts = agent_opt_list };

static const struct opts_spec agent_spec = {
	.applet = "agent",
	.usage = "  (runs as PID 1 inside the guest, from the initramfs)",
	.about = "Mounts /proc /sys /dev /dev/pts /dev/shm /tmp /run, loads the modules listed in\n"
		 "/etc/voidbox/modules.load (parameters from the kernel command line, as\n"
		 "modprobe passes them), waits for the network interfaces and prints\n"
		 "  voidbox-agent: ready: interfaces: lo eth0\n"
		 "on the console; then, from the kernel command line: voidbox.serve=PORT serves\n"
		 "commands on that vsock port (voidbox run), voidbox.cmd=CMD runs sh -c CMD,\n"
		 "voidbox.exec=PATH runs PATH; then it powers the machine off.\n",
	.bad_value_exit = 2,
	.size = sizeof(struct agent_opts),
	.table = &agent_table,
};

/* Runs argv and waits for it; reports how it ended as "voidbox-agent:
 * what: exit N" (or "signal N") on the console. */
static void run_exec(const char *what, char *const argv[])
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execv(argv[0], argv);
		vb_err("agent", -errno, "%s", what);
		_exit(127);
	}
	if (pid < 0) {
		vb_err("agent", -errno, "fork for %s", what);
		return;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		printf("voidbox-agent: %s: exit %d\n", what, WEXITSTATUS(status));
	else
		printf("voidbox-agent: %s: signal %d\n", what, WTERMSIG(status));
	fflush(stdout);
}

/* Serves commands on vsock port until the host asks for power-off. Once
 * the listen line is out (the host connects meanwhile), waits for eth0's
 * link when the network is on, so no command sees it down. */
static void serve_vsock(const char *port_s, const struct agent_boot *b)
{
	uint64_t port;
	int fd, r;

	if (parse_uint(port_s, 1, 0xfffffffe, &port)) {
		vb_err("agent", 0, "voidbox.serve=%s: not a port", port_s);
		return;
	}
	fd = agent_listen_vsock((unsigned)port);
	if (fd < 0) {
		vb_err("agent", fd, "listening on vsock port %s", port_s);
		return;
	}
	printf("%s %s\n", AGENT_LISTEN_LINE, port_s);
	fflush(stdout);
	if (b->net_up)
		agent_net_wait_link("eth0");
	r = agent_serve(fd);
	if (r < 0)
		vb_err("agent", r, "command server");
	close(fd);
}

/* --listen unix:PATH (checked): the command server on the host, for tests. */
static int listen_unix(const char *spec)
{
	int fd, r;

	fd = usock_listen(spec + 5, 16);
	if (fd < 0) {
		vb_err("agent", fd, "listening on %s", spec + 5);
		return 1;
	}
	r = agent_serve(fd);
	close(fd);
	unlink(spec + 5);
	if (r < 0) {
		vb_err("agent", r, "command server");
		return 1;
	}
	return 0;
}

static int agent_main(int argc, char **argv)
{
	struct agent_opts o;
	struct opts_result res;
	struct agent_boot b;
	char exec_path[512], cmd[4096], port[16];
	int rc = opts_parse(&agent_spec, &o, argc, argv, &res);

	if (rc != OPTS_GO_ON)
		return rc;
	if (o.listen)
		return listen_unix(o.listen);
	if (getpid() != 1) {
		vb_err("agent", 0, "must run as PID 1, the guest's init (voidbox mkinitramfs "
		       "puts voidbox at /init)");
		return 2;
	}
	agent_boot(&b);
	if (b.fs_failed) {
		/* the command would run without its files: say so and stop */
		vb_err("agent", 0, "a shared folder could not be mounted: no command is served");
		agent_poweroff();
	}
	if (b.net_up && (agent_cmdline_get(b.cmdline, "voidbox.exec", exec_path, sizeof(exec_path)) ||
			 agent_cmdline_get(b.cmdline, "voidbox.cmd", cmd, sizeof(cmd))))
		agent_net_wait_link("eth0");
	if (agent_cmdline_get(b.cmdline, "voidbox.exec", exec_path, sizeof(exec_path)) &&
	    exec_path[0]) {
		char *const argv[] = { exec_path, NULL };
		char what[600];
		snprintf(what, sizeof(what), "exec %s", exec_path);
		run_exec(what, argv);
	}
	if (agent_cmdline_get(b.cmdline, "voidbox.cmd", cmd, sizeof(cmd)) && cmd[0]) {
		char *const argv[] = { "/bin/sh", "-c", cmd, NULL };
		run_exec("cmd", argv);
	}
	if (agent_cmdline_get(b.cmdline, "voidbox.serve", port, sizeof(port)) && port[0])
		serve_vsock(port, &b);
	agent_poweroff();
}

APPLET(agent, agent_main, "the guest's init: boot steps, ready line, poweroff");
