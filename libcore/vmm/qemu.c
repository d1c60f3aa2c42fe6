/* The qemu VMM (--vmm qemu): starts qemu-system-x86_64 on a microvm machine
 * with guest RAM in a shared memfd (so vhost-user back ends can map it),
 * modern virtio-mmio, the serial console on the caller's console fd and one
 * vhost-user device per struct vmm_dev, each served by a vhost-user server
 * of ours on run_dir/NAME.vhost (vhost/server.h, on the caller's device
 * loop; the -device options qemu needs, a NIC's MAC and a share's tag, are
 * read from the device's own config space); then supervises it. A device's
 * session ending other than by qemu hanging up (a protocol error, a
 * device failure) ends the VM: qemu would run on with a dead device. qemu runs in its
 * own process group (terminal signals are voidbox's to forward) and dies with
 * voidbox (PR_SET_PDEATHSIG). The device thread runs the caller's loop, which
 * also watches qemu's pidfd: qemu's exit ends the VM, reported through
 * vmm_finish() with qemu's last stderr line when it failed. qemu runs with
 * its own seccomp sandbox (-sandbox on, plus no obsolete calls, no privilege
 * changes, no spawning, no resource control) when it has one (probed by
 * asking it for its version with the option: 65 ms); the device thread
 * installs voidbox's own list for its kind (base/seccomp.h) first thing. */
#include "vmm/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/seccomp.h"
#include "base/util.h"
#include "image/bzimage.h"
#include "vhost/server.h"

#define QEMU_BIN "qemu-system-x86_64"
#define QEMU_MAX_ARGS 64

struct qemu {
	struct vmm *v;
	const struct vmm_config *c;
	pid_t pid;
	int pidfd;
	int stop_fd;             /* eventfd: wakes the device thread to stop */
	bool reaped;
	int status;              /* qemu's wait status once reaped */
	bool thread_on;
	pthread_t thread;
	struct loop_watch pid_w, stop_w;
	char log_path[512];      /* qemu's stderr */
	char bin[512];
	bool sandbox;            /* qemu takes -sandbox */
	struct vhost_server vh[VMM_MAX_DEVS]; /* one per device, serving it to qemu */
	bool vh_on[VMM_MAX_DEVS];
	char sock[VMM_MAX_DEVS][108];
};

/* A device's vhost-user session ended (device thread). qemu hanging up is
 * its exit, which its pidfd reports; anything else ends the VM. */
static void on_vhost_end(struct vhost_server *s, const char *why)
{
	struct qemu *q = s->user;

	if (!s->peer_closed)
		vmm_finish(q->v, VMM_FAILED, "%s back end: %s", s->dev->name, why);
}

/* Listens for qemu on run_dir/NAME.vhost for each device. Returns 0 or
 * -errno with v->why filled. */
static int serve_devices(struct qemu *q)
{
	const struct vmm_config *c = q->c;
	int r;

	for (unsigned i = 0; i < c->ndevs; i++) {
		if ((size_t)snprintf(q->sock[i], sizeof(q->sock[i]), "%s/%s.vhost", c->run_dir,
				     c->devs[i].name) >= sizeof(q->sock[i])) {
			snprintf(q->v->why, sizeof(q->v->why), "vhost-user socket path too long in %s", c->run_dir);
			return -ENAMETOOLONG;
		}
		if ((r = vhost_server_init(&q->vh[i], c->loop, c->devs[i].dev, q->sock[i]))) {
			snprintf(q->v->why, sizeof(q->v->why), "vhost-user socket %s: %s", q->sock[i], strerror(-r));
			return r;
		}
		q->vh_on[i] = true;
		q->vh[i].on_end = on_vhost_end;
		q->vh[i].user = q;
	}
	return 0;
}

/* What qemu's -device for d needs beyond the socket, read from the
 * device's config space (qemu serves these devices' config itself): a
 * NIC's MAC, a share's tag and queue size. Writes ",k=v..." into out. */
static void device_opts(const struct vdev *d, char *out, size_t len)
{
	uint8_t cfg[40];

	out[0] = 0;
	if (d->ops->device_id == VIRTIO_ID_NET && d->ops->config_size >= 6) {
		d->ops->read_config((struct vdev *)d, 0, cfg, 6);
		snprintf(out, len, ",mac=%02x:%02x:%02x:%02x:%02x:%02x", cfg[0], cfg[1], cfg[2], cfg[3],
			 cfg[4], cfg[5]);
	} else if (d->ops->device_id == VIRTIO_ID_FS && d->ops->config_size >= 36) {
		d->ops->read_config((struct vdev *)d, 0, cfg, 36);
		cfg[36] = 0;
		snprintf(out, len, ",tag=%s,queue-size=%u", (char *)cfg, d->ops->max_queue_size);
	}
}

/* Finds the qemu binary: $VOIDBOX_QEMU, else QEMU_BIN on PATH. Returns 0 and
 * the path in out, or -ENOENT. */
static int qemu_find(char *out, size_t len)
{
	const char *env = getenv("VOIDBOX_QEMU");
	const char *path = getenv("PATH");

	if (env && *env) {
		snprintf(out, len, "%s", env);
		return access(out, X_OK) ? -errno : 0;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t n = strcspn(path, ":");
		if (n && snprintf(out, len, "%.*s/%s", (int)n, path, QEMU_BIN) < (int)len &&
		    !access(out, X_OK))
			return 0;
		path += n + (path[n] == ':');
	}
	return -ENOENT;
}

static int qemu_probe(char *why, size_t len)
{
	char bin[512];
	int r = qemu_find(bin, sizeof(bin));

	if (r)
		snprintf(why, len, "%s not found (PATH or VOIDBOX_QEMU)", QEMU_BIN);
	return r;
}

/* Copies the last non-empty line of the file at path into out. */
static void last_line(const char *path, char *out, size_t len)
{
	uint8_t *buf;
	size_t n;

	out[0] = 0;
	if (read_file(path, 1 << 20, &buf, &n))
		return;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	size_t s = n;
	while (s && buf[s - 1] != '\n')
		s--;
	snprintf(out, len, "%.*s", (int)(n - s), (char *)buf + s);
	free(buf);
}

/* Reaps qemu (once) and reports how the VM ended. */
static void qemu_reap(struct qemu *q)
{
	char line[200];

	if (q->reaped || waitpid(q->pid, &q->status, WNOHANG) != q->pid)
		return;
	q->reaped = true;
	if (WIFEXITED(q->status) && WEXITSTATUS(q->status) == 0) {
		vmm_finish(q->v, VMM_POWEROFF, NULL);
		return;
	}
	last_line(q->log_path, line, sizeof(line));
	if (WIFSIGNALED(q->status))
		vmm_finish(q->v, VMM_FAILED, "qemu killed by signal %d%s%s",
			   WTERMSIG(q->status), *line ? ": " : "", line);
	else
		vmm_finish(q->v, VMM_FAILED, "qemu exited with status %d%s%s",
			   WEXITSTATUS(q->status), *line ? ": " : "", line);
}

static void on_pidfd(struct loop_watch *w, uint32_t ev)
{
	struct qemu *q = w->ctx;

	loop_del(q->c->loop, w);
	qemu_reap(q);
}

static void on_stop(struct loop_watch *w, uint32_t ev)
{
	struct qemu *q = w->ctx;

	loop_stop(q->c->loop, 0);
}

static void *device_thread(void *arg)
{
	struct qemu *q = arg;
	struct seccomp_params sp = { .child = q->pid };
	int r;

	for (unsigned i = 0; i < q->c->ndevs; i++)
		sp.fs |= q->c->devs[i].dev->ops->device_id == VIRTIO_ID_FS;
	r = seccomp_install(SECCOMP_DEVICE, &sp);

	if (r < 0) {
		vmm_finish(q->v, VMM_FAILED, "device thread: seccomp: %s", strerror(-r));
		return NULL;
	}
	r = loop_run(q->c->loop);
	if (r < 0)
		vmm_finish(q->v, VMM_FAILED, "device loop: %s", strerror(-r));
	return NULL;
}

#define QEMU_SANDBOX "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny"

/* Whether qemu at bin was built with seccomp: it then accepts -sandbox
 * (which it parses before acting on -version). */
static bool qemu_has_sandbox(const char *bin)
{
	int st = -1, null;
	pid_t pid = fork();

	if (pid == 0) {
		null = open("/dev/null", O_RDWR);
		if (null < 0 || dup2(null, 1) < 0 || dup2(null, 2) < 0)
			_exit(127);
		execl(bin, bin, "-sandbox", QEMU_SANDBOX, "-version", (char *)NULL);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return false;
	return WIFEXITED(st) && WEXITSTATUS(st) == 0;
}

/* Appends a printf-formatted argument to argv (storage from a fixed pool).
 * Returns 0 or -E2BIG. */
struct argbuf {
	char *argv[QEMU_MAX_ARGS + 1];
	int n;
	char pool[8192];
	size_t used;
};

static int arg_add(struct argbuf *a, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static int arg_add(struct argbuf *a, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (a->n >= QEMU_MAX_ARGS)
		return -E2BIG;
	va_start(ap, fmt);
	n = vsnprintf(a->pool + a->used, sizeof(a->pool) - a->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(a->pool) - a->used)
		return -E2BIG;
	a->argv[a->n++] = a->pool + a->used;
	a->argv[a->n] = NULL;
	a->used += (size_t)n + 1;
	return 0;
}

/* Builds qemu's command line for config c. Returns 0 or -errno (why set). */
static int qemu_argv(struct qemu *q, struct argbuf *a)
{
	const struct vmm_config *c = q->c;
	unsigned long khz = vmm_host_tsc_khz();
	uint64_t mib = c->mem_bytes >> 20;
	bool kvm = vmm_host_hw_virt() && access("/dev/kvm", R_OK | W_OK) == 0;
	int r = 0;

	r |= arg_add(a, "%s", q->bin);
	r |= arg_add(a, "-M");
	r |= arg_add(a, "microvm,acpi=on");
	r |= arg_add(a, "-accel");
	r |= arg_add(a, "%s", kvm ? "kvm" : "tcg");
	r |= arg_add(a, "-cpu");
	r |= arg_add(a, "%s", kvm ? "host" : "max");
	r |= arg_add(a, "-smp");
	r |= arg_add(a, "%u", c->cpus);
	r |= arg_add(a, "-m");
	r |= arg_add(a, "%lluM", (unsigned long long)mib);
	r |= arg_add(a, "-object");
	r |= arg_add(a, "memory-backend-memfd,id=mem,size=%lluM,share=on", (unsigned long long)mib);
	r |= arg_add(a, "-numa");
	r |= arg_add(a, "node,memdev=mem");
	r |= arg_add(a, "-global");
	r |= arg_add(a, "virtio-mmio.force-legacy=false");
	r |= arg_add(a, "-nodefaults");
	r |= arg_add(a, "-no-user-config");
	r |= arg_add(a, "-display");
	r |= arg_add(a, "none");
	r |= arg_add(a, "-no-reboot");
	if (q->sandbox) {
		r |= arg_add(a, "-sandbox");
		r |= arg_add(a, "%s", QEMU_SANDBOX);
	}
	r |= arg_add(a, "-chardev");
	r |= arg_add(a, "stdio,id=con,signal=off");
	r |= arg_add(a, "-serial");
	r |= arg_add(a, "chardev:con");
	r |= arg_add(a, "-kernel");
	r |= arg_add(a, "%s", c->kernel);
	if (c->initrd) {
		r |= arg_add(a, "-initrd");
		r |= arg_add(a, "%s", c->initrd);
	}
	/* Under TCG the guest's TSC follows the host's clock, but a busy host
	 * can make the clocksource watchdog (measured against jiffies) mark it
	 * unstable, leaving the guest on 4 ms jiffies: tsc=reliable. */
	r |= arg_add(a, "-append");
	if (khz)
		r |= arg_add(a, "console=ttyS0 tsc_early_khz=%lu%s %s", khz,
			     kvm ? "" : " tsc=reliable", c->cmdline ? c->cmdline : "");
	else
		r |= arg_add(a, "console=ttyS0%s %s", kvm ? "" : " tsc=reliable",
			     c->cmdline ? c->cmdline : "");
	for (unsigned i = 0; i < c->ndevs; i++) {
		const struct vmm_dev *d = &c->devs[i];
		char extra[96];

		device_opts(d->dev, extra, sizeof(extra));
		r |= arg_add(a, "-chardev");
		r |= arg_add(a, "socket,id=vd%u,path=%s", i, q->sock[i]);
		switch (d->dev->ops->device_id) {
		case VIRTIO_ID_VSOCK:
			r |= arg_add(a, "-device");
			r |= arg_add(a, "vhost-user-vsock-device,chardev=vd%u%s", i, extra);
			break;
		case VIRTIO_ID_NET:
			r |= arg_add(a, "-netdev");
			r |= arg_add(a, "vhost-user,id=net%u,chardev=vd%u", i, i);
			r |= arg_add(a, "-device");
			r |= arg_add(a, "virtio-net-device,netdev=net%u%s", i, extra);
			break;
		case VIRTIO_ID_FS:
			r |= arg_add(a, "-device");
			r |= arg_add(a, "vhost-user-fs-device,chardev=vd%u%s", i, extra);
			break;
		default:
			snprintf(q->v->why, sizeof(q->v->why),
				 "qemu: no vhost-user device for virtio id %u",
				 d->dev->ops->device_id);
			return -EINVAL;
		}
	}
	if (r) {
		snprintf(q->v->why, sizeof(q->v->why), "qemu: command line too long");
		return -E2BIG;
	}
	return 0;
}

/* The child side of fork(): own process group, dies with voidbox, stdin
 * from /dev/null, stdout = console, stderr = log; then exec. */
static void qemu_child(struct qemu *q, char **argv)
{
	int null = open("/dev/null", O_RDWR);
	int log = open(q->log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	int con = q->c->console_fd >= 0 ? q->c->console_fd : null;

	setpgid(0, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() == 1)
		_exit(127);
	if (null < 0 || log < 0 || dup2(null, 0) < 0 || dup2(con, 1) < 0 || dup2(log, 2) < 0)
		_exit(127);
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(argv[0], argv);
	dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
	_exit(127);
}

static int qemu_start(struct vmm *v, const struct vmm_config *c)
{
	struct qemu *q = calloc(1, sizeof(*q));
	struct argbuf *a;
	int r;

	if (!q)
		return -ENOMEM;
	v->priv = q;
	q->v = v;
	q->c = c;
	q->pid = -1;
	q->pidfd = -1;
	q->stop_fd = -1;
	if ((r = qemu_find(q->bin, sizeof(q->bin)))) {
		snprintf(v->why, sizeof(v->why), "%s not found (PATH or VOIDBOX_QEMU)", QEMU_BIN);
		return r;
	}
	snprintf(q->log_path, sizeof(q->log_path), "%s/qemu.log", c->run_dir);
	q->sandbox = qemu_has_sandbox(q->bin);
	if ((r = serve_devices(q)))
		return r;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	if ((r = qemu_argv(q, a))) {
		free(a);
		return r;
	}
	if (c->verbose) {
		fprintf(stderr, "voidbox run: starting");
		for (int i = 0; i < a->n; i++)
			fprintf(stderr, " %s", a->argv[i]);
		fputc('\n', stderr);
	}
	q->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (q->stop_fd < 0) {
		r = -errno;
		free(a);
		snprintf(v->why, sizeof(v->why), "eventfd: %s", strerror(-r));
		return r;
	}
	q->pid = fork();
	if (q->pid == 0)
		qemu_child(q, a->argv);
	r = -errno;
	free(a);
	if (q->pid < 0) {
		snprintf(v->why, sizeof(v->why), "fork: %s", strerror(-r));
		return r;
	}
	v->pid = q->pid;
	q->pidfd = (int)syscall(SYS_pidfd_open, q->pid, 0);
	if (q->pidfd < 0) {
		r = -errno;
		snprintf(v->why, sizeof(v->why), "pidfd_open: %s", strerror(-r));
		return r;
	}
	fcntl(q->pidfd, F_SETFD, FD_CLOEXEC);
	q->pid_w = (struct loop_watch){ .fd = q->pidfd, .cb = on_pidfd, .ctx = q };
	q->stop_w = (struct loop_watch){ .fd = q->stop_fd, .cb = on_stop, .ctx = q };
	if ((r = loop_add(c->loop, &q->pid_w, EPOLLIN)) ||
	    (r = loop_add(c->loop, &q->stop_w, EPOLLIN))) {
		snprintf(v->why, sizeof(v->why), "epoll: %s", strerror(-r));
		return r;
	}
	if ((r = -pthread_create(&q->thread, NULL, device_thread, q))) {
		snprintf(v->why, sizeof(v->why), "device thread: %s", strerror(-r));
		return r;
	}
	q->thread_on = true;
	return 0;
}

static void qemu_stop(struct vmm *v)
{
	struct qemu *q = v->priv;

	if (!q)
		return;
	if (q->pid > 0 && !q->reaped)
		kill(q->pid, SIGKILL);
	if (q->thread_on) {
		eventfd_poke(q->stop_fd);
		pthread_join(q->thread, NULL);
	}
	if (q->pid > 0 && !q->reaped && waitpid(q->pid, &q->status, 0) == q->pid)
		q->reaped = true;
	if (q->pid > 0)
		vmm_finish(v, VMM_FAILED, "qemu stopped by voidbox");
	if (q->pidfd >= 0) {
		loop_del(q->c->loop, &q->pid_w);
		close(q->pidfd);
	}
	if (q->stop_fd >= 0) {
		loop_del(q->c->loop, &q->stop_w);
		close(q->stop_fd);
	}
	for (unsigned i = 0; i < VMM_MAX_DEVS; i++)
		if (q->vh_on[i])
			vhost_server_fini(&q->vh[i]);
	if (q->c->run_dir)
		unlink(q->log_path);
	free(q);
	v->priv = NULL;
}

/* qemu boots an ELF vmlinux only through its PVH entry note. */
static int qemu_check_kernel(const struct bzimage *bz, char *why, size_t len)
{
	if (bz->elf && !bz->pvh_entry) {
		snprintf(why, len, "an ELF vmlinux without a PVH entry note, which qemu needs "
			 "(build it with CONFIG_PVH, or use --vmm kvm)");
		return -EINVAL;
	}
	return 0;
}

VMM_BACKEND(qemu, .name = "qemu", .priority = 20, .probe = qemu_probe,
	    .check_kernel = qemu_check_kernel, .start = qemu_start, .stop = qemu_stop);
