/* run_vm: one command in a fresh VM. Order of events:
 *   pick the VMM (a missing one fails first and fast) -> find and check the
 *   kernel (can that VMM boot it) -> find or build the image -> private
 *   run folder -> the vsock device (control socket: --control or run
 *   folder), the network and shared folders on the device loop, each
 *   named in the VMM's device list -> start the VMM (whatever serves the
 *   devices to its front end is its own business) with the serial
 *   console on a pipe -> the agent prints AGENT_LISTEN_LINE on the console
 *   once it listens -> CONNECT to its port, send the command -> stream
 *   until EXIT -> the agent powers off (bounded wait) -> teardown.
 * Every exit path goes through one teardown: VMM stopped (its processes
 * reaped, its threads joined), sockets and run folder removed, terminal
 * restored. The console is shown with --console, else kept in a ring
 * buffer and printed when the VM fails before the command's end; either
 * way through base/termsafe (guest bytes cannot drive the terminal).
 * Hardening: the process is made non-dumpable with no new privileges
 * before anything starts; once the VM runs this thread takes the main
 * seccomp list (the VMM's threads take theirs as they start). */
#include "run/run.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "base/budget.h"
#include "base/seccomp.h"
#include "base/termsafe.h"
#include "base/util.h"
#include "fs/vm.h"
#include "image/bzimage.h"
#include "net/vm.h"
#include "proto/proto.h"
#include "run/image.h"
#include "run/session.h"
#include "virtio/vsock.h"
#include "vmm/vmm.h"

#define CON_RING (64 << 10)
#define POWEROFF_WAIT_MS 3000
#define LOST_WAIT_MS 2000

struct run_vm {
	const struct run_opts *o;
	struct run_session s;
	bool s_on;
	char dir[64];
	bool dir_made;
	char control[108], kernel[4096], initrd[4096];
	char cmdline[4096];
	struct loop dev_loop;
	bool dev_loop_on;
	struct vsock_dev vs;
	bool vs_on;
	struct net_vm net;              /* virtio-net + SLIRP (net/vm.h) */
	struct budget budget;           /* the guest's fds: vsock and SLIRP */
	struct fs_vm fs;                /* shared folders: virtio-fs (fs/vm.h) */
	const struct vmm_ops *ops;
	struct vmm v;
	bool v_on;
	struct vmm_config c;
	int con_r, con_w;
	struct loop_watch w_con, w_done, w_boot;
	int boot_fd;                    /* timerfd: the agent must be ready by then */
	char ring[CON_RING];            /* the console's last bytes */
	size_t ring_len, ring_pos;
	char line[256];                 /* the console line being assembled */
	struct term_safe con_safe;      /* the live --console stream's escaping */
	char why_safe[4 * 256 + 16];    /* vm_why()'s answer */
	size_t line_len;
	bool ready, vm_ended;
	uint64_t t0;                    /* run_vm's start, for --verbose's timeline */
	bool con_seen;                  /* the console said something */
};

/* --verbose: one timeline line on stderr, milliseconds since run started
 * ("voidbox run: +1234.5 ms: what"). */
static void mark(struct run_vm *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void mark(struct run_vm *r, const char *fmt, ...)
{
	char what[300];
	va_list ap;

	if (!r->o->verbose)
		return;
	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	fprintf(stderr, "voidbox run: +%.1f ms: %s\n", (double)(now_ns() - r->t0) / 1e6, what);
}

/* How the VM ended, escaped (qemu's last log line is in it). */
static const char *vm_why(struct run_vm *r)
{
	return term_safe_str(r->v.why, strnlen(r->v.why, sizeof(r->v.why)), r->why_safe,
			     sizeof(r->why_safe));
}

/* Keeps the console's last CON_RING bytes. */
static void ring_put(struct run_vm *r, const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		r->ring[r->ring_pos] = p[i];
		r->ring_pos = (r->ring_pos + 1) % CON_RING;
	}
	r->ring_len = MIN(r->ring_len + n, CON_RING);
}

/* Writes n guest bytes to stderr, escaped (base/termsafe.h); st carries
 * the stream's state from piece to piece. */
static void err_safe(struct term_safe *st, const char *p, size_t n)
{
	char out[TERM_SAFE_ROOM(1024)];

	for (size_t i = 0; i < n; i += 1024) {
		size_t k = term_safe(st, p + i, MIN(n - i, 1024), out);

		if (write_full(2, out, k) < 0)
			return; /* stderr gone: nothing to report it on */
	}
}

/* Prints the kept console to stderr (when the VM failed). */
static void ring_dump(struct run_vm *r)
{
	size_t start = (r->ring_pos + CON_RING - r->ring_len) % CON_RING;
	struct term_safe st = { 0 };
	char end[TERM_SAFE_ROOM(0)];

	if (r->o->console || !r->ring_len)
		return;
	fprintf(stderr, "voidbox run: the guest console said:\n");
	fflush(stderr);
	if (start + r->ring_len <= CON_RING) {
		err_safe(&st, r->ring + start, r->ring_len);
	} else {
		err_safe(&st, r->ring + start, CON_RING - start);
		err_safe(&st, r->ring, r->ring_len - (CON_RING - start));
	}
	if (write_full(2, end, term_safe_end(&st, end)) < 0 || write_full(2, "\n", 1) < 0) {
		/* stderr gone */
	}
}

/* The agent listens: connect and send the command. */
static void agent_ready(struct run_vm *r)
{
	int fd, e;

	r->ready = true;
	loop_del(&r->s.loop, &r->w_boot);
	mark(r, "the agent listens; connecting");
	fd = client_connect_vsock(r->control, PROTO_VSOCK_PORT, 10000);
	if (fd < 0) {
		run_session_end(&r->s, RUN_END_LOST, 0, "connecting to the agent (vsock port %u): %s",
				PROTO_VSOCK_PORT, strerror(-fd));
		return;
	}
	if ((e = run_session_start(&r->s, fd))) {
		run_session_end(&r->s, RUN_END_SETUP, 0, "sending the command: %s", strerror(-e));
		return;
	}
	mark(r, "command sent");
}

static void console_bytes(struct run_vm *r, const char *buf, size_t n);

static void on_console(struct loop_watch *w, uint32_t ev)
{
	struct run_vm *r = w->ctx;
	char buf[4096];
	ssize_t n;

	while ((n = read(w->fd, buf, sizeof(buf))) > 0)
		console_bytes(r, buf, (size_t)n);
	if (n == 0)
		loop_del(&r->s.loop, w);
}

/* Shows/keeps n console bytes and looks for the agent's line in them. */
static void console_bytes(struct run_vm *r, const char *buf, size_t n)
{
	if (r->o->console)
		err_safe(&r->con_safe, buf, n);
	ring_put(r, buf, (size_t)n);
	if (!r->con_seen) {
		r->con_seen = true;
		mark(r, "first console output");
	}
	for (size_t i = 0; i < n && !r->ready; i++) {
		if (buf[i] == '\n' || buf[i] == '\r') {
			r->line[r->line_len] = 0;
			if (!strncmp(r->line, "voidbox-agent:", 14))
				mark(r, "console: %s", r->line);
			if (strstr(r->line, AGENT_LISTEN_LINE))
				agent_ready(r);
			r->line_len = 0;
		} else if (r->line_len < sizeof(r->line) - 1) {
			r->line[r->line_len++] = buf[i];
		}
	}
}

static void on_done(struct loop_watch *w, uint32_t ev)
{
	struct run_vm *r = w->ctx;

	loop_del(&r->s.loop, w);
	r->vm_ended = true;
	if (r->s.cl_on && r->s.cl.done)
		return;
	/* drain what the console still had */
	on_console(&r->w_con, EPOLLIN);
	if (r->v.end == VMM_FAILED)
		run_session_end(&r->s, RUN_END_VMM_FAILED, 0, "the VM failed: %s", vm_why(r));
	else
		run_session_end(&r->s, RUN_END_POWERED_OFF, 0,
				"the VM powered off before the command's exit status arrived");
}

static void on_boot_timeout(struct loop_watch *w, uint32_t ev)
{
	struct run_vm *r = w->ctx;

	run_session_end(&r->s, RUN_END_NOT_READY, 0, "the guest agent was not ready after %u s (--boot-timeout)",
			r->o->boot_timeout_s);
}

/* Checks the kernel is a bzImage or vmlinux the chosen VMM can boot and the
 * initrd fits in memory. Returns 0 or -errno after printing the reason. */
static int check_inputs(struct run_vm *r)
{
	void *k;
	size_t klen;
	struct bzimage bz;
	const char *why = NULL;
	struct stat st;
	/* mapped, not read: a copy would be 8 MB of our heap for a check */
	int e = map_file(r->kernel, 256 << 20, &k, &klen);

	if (e == -EINVAL) {
		vb_err("run", 0, "kernel %s: not a bzImage or vmlinux: empty or not a regular file", r->kernel);
		return e;
	}
	if (e) {
		vb_err("run", e, "kernel %s", r->kernel);
		return e;
	}
	e = bzimage_parse(k, klen, &bz, &why);
	munmap(k, klen);
	if (e) {
		vb_err("run", 0, "kernel %s: not a bzImage or vmlinux: %s", r->kernel, why ? why : "bad header");
		return -EINVAL;
	}
	if (r->ops && r->ops->check_kernel) {
		char kwhy[256];
		if ((e = r->ops->check_kernel(&bz, kwhy, sizeof(kwhy)))) {
			vb_err("run", 0, "kernel %s: %s", r->kernel, kwhy);
			return e;
		}
	}
	if (r->o->initrd) {
		if (stat(r->o->initrd, &st) < 0) {
			e = -errno;
			vb_err("run", e, "initrd %s", r->o->initrd);
			return e;
		}
		if (!S_ISREG(st.st_mode)) {
			vb_err("run", 0, "initrd %s: not a regular file", r->o->initrd);
			return -EINVAL;
		}
		if ((uint64_t)st.st_size >= r->o->mem_bytes / 2) {
			vb_err("run", 0, "initrd %s (%lld bytes) does not fit in --memory %llu MiB",
			       r->o->initrd, (long long)st.st_size,
			       (unsigned long long)(r->o->mem_bytes >> 20));
			return -E2BIG;
		}
	}
	return 0;
}

/* Everything before the VM starts. Returns 0 or -errno (reported). */
static int vm_setup(struct run_vm *r)
{
	const struct run_opts *o = r->o;
	char why[512];
	int e;

	if (!o->dump_boot && (e = vmm_pick(o->vmm, &r->ops, why, sizeof(why)))) {
		vb_err("run", 0, "%s", why);
		return e;
	}
	if ((e = run_find_kernel(o, r->kernel, sizeof(r->kernel), why, sizeof(why)))) {
		vb_err("run", 0, "no kernel found; looked at: %s (use --kernel or VOIDBOX_KERNEL)", why);
		return e;
	}
	if ((e = check_inputs(r)))
		return e;
	if (o->initrd)
		snprintf(r->initrd, sizeof(r->initrd), "%s", o->initrd);
	else if ((e = run_image_get(r->kernel, fs_vm_modules(&o->fs), r->initrd, sizeof(r->initrd),
				    why, sizeof(why), o->verbose))) {
		vb_err("run", 0, "%s", why);
		return e;
	}
	if (!mkdtemp(r->dir)) {
		e = -errno;
		vb_err("run", e, "run folder %s", r->dir);
		return e;
	}
	r->dir_made = true;
	snprintf(r->control, sizeof(r->control), "%s", o->control ? o->control : "");
	if (!o->control)
		snprintf(r->control, sizeof(r->control), "%s/vsock.sock", r->dir);
	if ((e = loop_init(&r->dev_loop))) {
		vb_err("run", e, "device loop");
		return e;
	}
	r->dev_loop_on = true;
	if ((e = vsock_dev_init(&r->vs, &r->dev_loop, VSOCK_DEFAULT_CID, r->control))) {
		vb_err("run", e, "vsock control socket %s", r->control);
		return e;
	}
	r->vs_on = true;
	/* the guest's share of the fds (base/budget.h), for vsock and SLIRP */
	budget_init(&r->budget, (unsigned long)MAX(budget_raise_nofile(), 64l));
	r->vs.budget = &r->budget;
	r->net.budget = &r->budget;
	/* --console shows the kernel's log too; otherwise only its errors */
	snprintf(r->cmdline, sizeof(r->cmdline), "%spanic=-1 voidbox.serve=%u%s%s",
		 o->console ? "" : "quiet ", PROTO_VSOCK_PORT, o->append ? " " : "",
		 o->append ? o->append : "");
	return 0;
}

/* Starts the VM with the console on a pipe into the main loop. */
static int vm_start(struct run_vm *r)
{
	int p[2], e;

	if (pipe2(p, O_CLOEXEC) < 0) {
		e = -errno;
		vb_err("run", e, "console pipe");
		return e;
	}
	/* our read side only (the write side stays blocking for qemu):
	 * we hold a write end too, for the KVM monitor, so reads never
	 * see EOF and must not block */
	fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
	r->con_r = p[0];
	r->con_w = p[1];
	r->c = (struct vmm_config){
		.kernel = r->kernel, .initrd = r->initrd, .cmdline = r->cmdline,
		.cpus = r->o->cpus, .mem_bytes = r->o->mem_bytes, .console_fd = r->con_w,
		.run_dir = r->dir, .loop = &r->dev_loop, .ndevs = 1,
		.devs = { { .dev = vsock_dev_vdev(&r->vs), .name = "vsock" } },
		.verbose = r->o->verbose,
	};
	{
		/* the network: device, kernel parameters */
		char why[256];
		if ((e = net_vm_setup(&r->net, &r->o->net, &r->c, r->cmdline, sizeof(r->cmdline), why,
				      sizeof(why)))) {
			vb_err("run", 0, "%s", why);
			return e;
		}
		/* the shared folders: devices, mount parameters */
		if ((e = fs_vm_setup(&r->fs, &r->o->fs, r->o->uid, r->o->gid, &r->c, r->cmdline,
				     sizeof(r->cmdline), why, sizeof(why)))) {
			vb_err("run", 0, "%s", why);
			return e;
		}
	}
	if (r->o->dump_boot) { /* --dump-boot: the VMM's view of r->c, no VM */
		if ((e = vmm_dump_boot(r->o->vmm, &r->c, r->o->dump_boot, r->v.why, sizeof(r->v.why))))
			vb_err("run", 0, "--dump-boot: %s", r->v.why);
		return e;
	}
	if ((e = vmm_init(&r->v, r->ops))) {
		vb_err("run", e, "VMM");
		return e;
	}
	r->v_on = true;
	r->w_con = (struct loop_watch){ .fd = r->con_r, .cb = on_console, .ctx = r };
	r->w_done = (struct loop_watch){ .fd = r->v.done_fd, .cb = on_done, .ctx = r };
	if ((e = loop_add(&r->s.loop, &r->w_con, EPOLLIN)) ||
	    (e = loop_add(&r->s.loop, &r->w_done, EPOLLIN))) {
		vb_err("run", e, "epoll");
		return e;
	}
	r->boot_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (r->boot_fd >= 0) {
		struct itimerspec it = { .it_value.tv_sec = r->o->boot_timeout_s };
		timerfd_settime(r->boot_fd, 0, &it, NULL);
		r->w_boot = (struct loop_watch){ .fd = r->boot_fd, .cb = on_boot_timeout, .ctx = r };
		loop_add(&r->s.loop, &r->w_boot, EPOLLIN);
	}
	mark(r, "starting the VM (%s)", r->ops->name);
	if ((e = r->ops->start(&r->v, &r->c))) {
		vb_err("run", 0, "starting the VM (%s): %s", r->ops->name, r->v.why);
		return e;
	}
	mark(r, "VM started");
	/* qemu has its copy of the console's write end */
	return 0;
}

/* After the command: let the agent power off (it does once we close), but
 * no longer than POWEROFF_WAIT_MS; the VMM's stop() ends it regardless. */
static void vm_wait_poweroff(struct run_vm *r)
{
	uint64_t deadline = now_ns() + (uint64_t)POWEROFF_WAIT_MS * 1000000;

	if (!r->v_on || r->vm_ended)
		return;
	if (r->s.cl_on)
		client_fini(&r->s.cl);
	r->s.cl_on = false;
	while (!r->vm_ended && now_ns() < deadline) {
		struct pollfd pf = { .fd = r->v.done_fd, .events = POLLIN };
		if (poll(&pf, 1, (int)((deadline - now_ns()) / 1000000) + 1) == 1)
			r->vm_ended = true;
	}
}

/* The agent's connection broke: usually because the VM died (the vsock
 * device then drops its connections first); wait a moment for the VMM to
 * say so, and record the better reason. */
static void connection_lost(struct run_vm *r)
{
	struct pollfd pf = { .fd = r->v.done_fd, .events = POLLIN };

	if (!r->vm_ended && poll(&pf, 1, LOST_WAIT_MS) == 1) {
		r->vm_ended = true;
		loop_del(&r->s.loop, &r->w_done);
	}
	if (r->vm_ended && r->v.end == VMM_FAILED)
		run_end_explain_lost(&r->s.end, RUN_END_VMM_FAILED, "the VM failed: %s", vm_why(r));
	else if (r->vm_ended)
		run_end_explain_lost(&r->s.end, RUN_END_POWERED_OFF,
				     "the VM powered off before the command's exit status arrived");
}

/* Says how the run ended, when it was one of voidbox's own failures, and
 * shows the guest's kept console where the guest's side of it is there
 * (it died, powered off, never listened, or could not be reached). */
static void report_end(struct run_vm *r)
{
	const struct run_end *e = &r->s.end;

	run_end_report(e);
	if (e->kind == RUN_END_VMM_FAILED || e->kind == RUN_END_POWERED_OFF || e->kind == RUN_END_NOT_READY ||
	    (e->kind == RUN_END_LOST && !r->s.cl_on))
		ring_dump(r);
}

static void vm_teardown(struct run_vm *r)
{
	if (r->v_on)
		vmm_fini(&r->v);
	{
		/* the device thread is gone: counters (--net-stats), capture */
		char why[256];
		if (net_vm_finish(&r->net, &r->o->net, stderr, why, sizeof(why)))
			vb_err("run", 0, "%s", why);
	}
	fs_vm_finish(&r->fs);
	if (r->vs_on)
		vsock_dev_fini(&r->vs);
	if (r->dev_loop_on)
		loop_fini(&r->dev_loop);
	if (r->con_r >= 0)
		close(r->con_r);
	if (r->con_w >= 0)
		close(r->con_w);
	if (r->boot_fd >= 0)
		close(r->boot_fd);
	if (r->s_on)
		run_session_fini(&r->s);
	if (r->dir_made) /* what the VMM and devices put there, they removed */
		rmdir(r->dir);
}

int run_vm(const struct run_opts *o)
{
	struct run_vm *r = calloc(1, sizeof(*r));
	int code = RUN_EXIT_SETUP, e;

	if (!r) {
		vb_err("run", -ENOMEM, "starting");
		return RUN_EXIT_SETUP;
	}
	r->o = o;
	r->t0 = now_ns();
	r->con_r = r->con_w = r->boot_fd = -1;
	snprintf(r->dir, sizeof(r->dir), "/tmp/vb-run-XXXXXX");
	/* signals are blocked before the device thread exists */
	if ((e = run_session_init(&r->s, o))) {
		vb_err("run", e, "setting up");
		goto out;
	}
	r->s_on = true;
	r->s.poweroff_after = true;
	if ((e = seccomp_harden_process())) {
		vb_err("run", e, "hardening the process");
		goto out;
	}
	if (vm_setup(r) || vm_start(r))
		goto out;
	if (o->dump_boot) {
		code = 0;
		goto out;
	}
	/* the VM runs: from here this thread only talks to the agent, the
	 * terminal and (at the end) tears down (base/seccomp.h) */
	if ((e = seccomp_install(SECCOMP_MAIN, &(struct seccomp_params){ .child = r->v.pid }))) {
		vb_err("run", e, "seccomp");
		goto out;
	}
	run_session_wait(&r->s);
	if (r->s.end.kind == RUN_END_LOST && r->s.cl_on)
		connection_lost(r);
	code = run_end_code(&r->s.end);
	mark(r, "the command ended: exit %d", code);
	report_end(r);
	if (r->s.end.kind == RUN_END_EXITED || r->s.end.kind == RUN_END_REFUSED)
		vm_wait_poweroff(r);
out:
	if (o->verbose && r->v_on)
		fprintf(stderr, "voidbox run: +%.1f ms: VM ended: %s\n", (double)(now_ns() - r->t0) / 1e6,
			r->v.end == VMM_POWEROFF ? "powered off" :
			r->v.end == VMM_FAILED ? r->v.why : "stopped by voidbox");
	vm_teardown(r);
	free(r);
	return code;
}
