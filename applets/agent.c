/* `voidbox agent`: the guest's init. main.c runs it when voidbox is PID 1
 * (as /init in the initramfs) or called as "init". It boots the guest
 * (agent/boot.h: mounts, modules, network interfaces, the ready line),
 * then serves — in this first version: runs the program named by the
 * kernel parameter voidbox.exec=PATH, if any — and powers the VM off. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "agent/boot.h"
#include "base/applet.h"
#include "base/util.h"

static const char usage[] =
	"usage: voidbox agent   (runs as PID 1 inside the guest, from the initramfs)\n"
	"Mounts /proc /sys /dev /dev/pts /dev/shm /tmp /run, loads the modules listed in\n"
	"/etc/voidbox/modules.load (parameters from the kernel command line, as\n"
	"modprobe passes them), waits for the network interfaces and prints\n"
	"  voidbox-agent: ready: interfaces: lo eth0\n"
	"on the console; then runs voidbox.exec=PATH from the kernel command line,\n"
	"if given, and powers the machine off.\n"
	"  -h, --help   this text\n";

/* Runs path (no arguments) and waits for it; reports how it ended. */
static void run_exec(const char *path)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		execl(path, path, (char *)NULL);
		vb_err("agent", -errno, "voidbox.exec=%s", path);
		_exit(127);
	}
	if (pid < 0) {
		vb_err("agent", -errno, "fork for voidbox.exec=%s", path);
		return;
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status))
		printf("voidbox-agent: exec %s: exit %d\n", path, WEXITSTATUS(status));
	else
		printf("voidbox-agent: exec %s: signal %d\n", path, WTERMSIG(status));
	fflush(stdout);
}

static int agent_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct agent_boot b;
	char exec_path[512];
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'h')
			return applet_help("agent");
		return 2;
	}
	if (getpid() != 1) {
		vb_err("agent", 0, "must run as PID 1, the guest's init (voidbox mkinitramfs "
		       "puts voidbox at /init)");
		return 2;
	}
	agent_boot(&b);
	/* Serving goes here: the run applet's request server, between boot
	 * and poweroff. For now, voidbox.exec= runs one program. */
	if (agent_cmdline_get(b.cmdline, "voidbox.exec", exec_path, sizeof(exec_path)) &&
	    exec_path[0])
		run_exec(exec_path);
	agent_poweroff();
}

APPLET(agent, agent_main, "the guest's init: boot steps, ready line, poweroff", usage);
