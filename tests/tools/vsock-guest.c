/* The guest side of tests/vsock.sh: runs as the guest's init (rdinit=)
 * in a Debian kernel under qemu with voidbox's vhost-user vsock device.
 * It mounts the kernel file systems and loads the image's modules (the
 * agent's boot steps, agent/boot.h), then serves two vsock ports:
 *   1234  echo: every byte read is written back; EOF closes.
 *   1240  control, one command per line, one reply line each:
 *         "DIAL P"     connect to the host (CID 2) port P, reply "DIALED",
 *                      echo on that connection until EOF, then reply
 *                      "DIAL-DONE <bytes echoed>" (or "ERR <errno>").
 *         "DIALFAIL P" connect to host port P, reply "ERR <errno>" or
 *                      "CONNECTED" (the test expects nobody listening).
 *         "EXIT"       reply "BYE" and power the VM off.
 * It prints "VSOCK-GUEST READY" on the console once listening, and
 * "VSOCK-GUEST FAIL <what>" when its set-up fails. Each connection is served
 * by its own child process. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#include "agent/boot.h"
#include "base/util.h"

#define ECHO_PORT 1234
#define CTL_PORT 1240
#define MODULES_LIST "/etc/voidbox/modules.load" /* written by mkinitramfs */

static int vsock_listen(unsigned port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY,
				 .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 16) < 0)
		return -errno;
	return fd;
}

/* Echoes fd until EOF. Returns bytes echoed or -errno. */
static long long echo(int fd)
{
	static char buf[65536];
	long long total = 0;

	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n == 0)
			return total;
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (write_full(fd, buf, (size_t)n) < 0)
			return -errno;
		total += n;
	}
}

/* Connects to host port; returns the fd or -errno. */
static int dial_host(unsigned port)
{
	struct sockaddr_vm a = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST,
				 .svm_port = port };
	int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0), r;

	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

/* Serves the control connection, one line at a time. */
static void control(int fd)
{
	char line[128];
	size_t len = 0;

	for (;;) {
		ssize_t n = read(fd, line + len, 1);
		unsigned port;

		if (n <= 0)
			return;
		if (line[len] != '\n') {
			if (++len == sizeof(line) - 1)
				return;
			continue;
		}
		line[len] = 0;
		len = 0;
		if (sscanf(line, "DIAL %u", &port) == 1) {
			int c = dial_host(port);
			long long done;
			if (c < 0) {
				dprintf(fd, "ERR %d\n", -c);
				continue;
			}
			dprintf(fd, "DIALED\n");
			done = echo(c);
			close(c);
			dprintf(fd, done < 0 ? "ERR %lld\n" : "DIAL-DONE %lld\n", done < 0 ? -done : done);
		} else if (sscanf(line, "DIALFAIL %u", &port) == 1) {
			int c = dial_host(port);
			if (c >= 0) {
				close(c);
				dprintf(fd, "CONNECTED\n");
			} else {
				dprintf(fd, "ERR %d\n", -c);
			}
		} else if (!strcmp(line, "EXIT")) {
			dprintf(fd, "BYE\n");
			close(fd);
			agent_poweroff();
		} else {
			dprintf(fd, "ERR unknown command\n");
		}
	}
}

int main(void)
{
	struct pollfd p[2];
	char why[256], cmdline[4096] = "";
	int r;

	signal(SIGCHLD, SIG_IGN); /* children are reaped by the kernel */
	signal(SIGPIPE, SIG_IGN);
	r = agent_mount_all(why, sizeof(why));
	if (r >= 0) {
		agent_read_cmdline(cmdline, sizeof(cmdline));
		r = agent_load_modules(MODULES_LIST, cmdline, why, sizeof(why));
	}
	if (r < 0) {
		dprintf(1, "VSOCK-GUEST FAIL %s: %s\n", why, strerror(-r));
		goto fail;
	}
	p[0].fd = vsock_listen(ECHO_PORT);
	p[1].fd = vsock_listen(CTL_PORT);
	if (p[0].fd < 0 || p[1].fd < 0) {
		dprintf(1, "VSOCK-GUEST FAIL listen: %s\n", strerror(-MIN(p[0].fd, p[1].fd)));
		goto fail;
	}
	p[0].events = p[1].events = POLLIN;
	dprintf(1, "VSOCK-GUEST READY\n");
	for (;;) {
		if (poll(p, 2, -1) < 0)
			continue;
		for (int i = 0; i < 2; i++) {
			int c;
			if (!(p[i].revents & POLLIN))
				continue;
			c = accept4(p[i].fd, NULL, NULL, SOCK_CLOEXEC);
			if (c < 0)
				continue;
			if (fork() == 0) {
				close(p[0].fd);
				close(p[1].fd);
				if (i == 0)
					echo(c);
				else
					control(c);
				_exit(0);
			}
			close(c);
		}
	}
fail:
	agent_poweroff();
}
