/* The VMM-independent part of vmm.h: choosing a VMM (--vmm kvm|qemu|auto),
 * the done_fd life cycle, and host facts both VMMs need (hardware
 * virtualisation, the TSC rate for tsc_early_khz=). */
#include "vmm/vmm.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/util.h"

int vmm_init(struct vmm *v, const struct vmm_ops *ops)
{
	memset(v, 0, sizeof(*v));
	v->ops = ops;
	v->done_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return v->done_fd < 0 ? -errno : 0;
}

void vmm_fini(struct vmm *v)
{
	if (v->ops && v->ops->stop)
		v->ops->stop(v);
	v->ops = NULL;
	if (v->done_fd >= 0)
		close(v->done_fd);
	v->done_fd = -1;
}

void vmm_finish(struct vmm *v, enum vmm_end end, const char *fmt, ...)
{
	enum vmm_end expect = VMM_RUNNING;

	if (!__atomic_compare_exchange_n(&v->end, &expect, end, false,
					 __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST))
		return;
	if (fmt) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(v->why, sizeof(v->why), fmt, ap);
		va_end(ap);
	}
	eventfd_poke(v->done_fd); /* fails only when already readable */
}

/* Returns true when /proc/cpuinfo's flags line lists flag. */
static bool cpu_has_flag(const char *flag)
{
	FILE *f = fopen("/proc/cpuinfo", "re");
	char line[4096];
	bool found = false;
	size_t n = strlen(flag);

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "flags", 5))
			continue;
		for (char *p = strstr(line, flag); p; p = strstr(p + 1, flag))
			if (p[-1] == ' ' && (p[n] == ' ' || p[n] == '\n' || !p[n]))
				found = true;
		break;
	}
	fclose(f);
	return found;
}

bool vmm_host_hw_virt(void)
{
	return cpu_has_flag("vmx") || cpu_has_flag("svm");
}

/* Looks for "tsc: Detected N.M MHz" in the kernel log (/dev/kmsg, read
 * without blocking). Returns kHz or 0. */
static unsigned long tsc_from_kmsg(void)
{
	int fd = open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
	char rec[2048];
	unsigned long khz = 0;

	if (fd < 0)
		return 0;
	for (int i = 0; i < 100000 && !khz; i++) {
		ssize_t r = read(fd, rec, sizeof(rec) - 1);
		if (r < 0 && errno == EPIPE)
			continue; /* record overwritten while reading */
		if (r <= 0)
			break;
		rec[r] = 0;
		char *p = strstr(rec, "tsc: Detected ");
		unsigned long mhz, frac;
		if (p && sscanf(p, "tsc: Detected %lu.%3lu MHz", &mhz, &frac) == 2)
			khz = mhz * 1000 + frac;
	}
	close(fd);
	return khz;
}

unsigned long vmm_host_tsc_khz(void)
{
	unsigned long khz = tsc_from_kmsg();
	FILE *f;
	char line[256];

	if (khz)
		return khz;
	f = fopen("/proc/cpuinfo", "re");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		double mhz;
		if (sscanf(line, "cpu MHz : %lf", &mhz) == 1) {
			khz = (unsigned long)(mhz * 1000);
			break;
		}
	}
	fclose(f);
	return khz;
}

/* Whether KVM looks usable for a stock kernel: /dev/kvm opens and the CPU
 * has vmx/svm (PVM hosts have /dev/kvm without them). */
static int kvm_usable(char *why, size_t len)
{
	int fd;

	fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(why, len, "/dev/kvm: %s", strerror(e));
		return -e;
	}
	close(fd);
	if (!vmm_host_hw_virt()) {
		snprintf(why, len, "/dev/kvm opens but the CPU has no vmx/svm (nested or PVM KVM cannot run a stock kernel)");
		return -ENODEV;
	}
	return vmm_kvm_ops.probe ? vmm_kvm_ops.probe(why, len) : 0;
}

int vmm_pick(const char *name, const struct vmm_ops **out, char *why, size_t len)
{
	char kwhy[160], qwhy[160];
	int r;

	if (!strcmp(name, "kvm")) {
		r = kvm_usable(why, len);
		if (!r)
			*out = &vmm_kvm_ops;
		return r;
	}
	if (!strcmp(name, "qemu")) {
		r = vmm_qemu_ops.probe(why, len);
		if (!r)
			*out = &vmm_qemu_ops;
		return r;
	}
	if (strcmp(name, "auto")) {
		snprintf(why, len, "unknown VMM '%s' (kvm, qemu or auto)", name);
		return -EINVAL;
	}
	if (!kvm_usable(kwhy, sizeof(kwhy))) {
		*out = &vmm_kvm_ops;
		return 0;
	}
	if (!vmm_qemu_ops.probe(qwhy, sizeof(qwhy))) {
		*out = &vmm_qemu_ops;
		return 0;
	}
	snprintf(why, len, "no VMM: kvm: %s; qemu: %s", kwhy, qwhy);
	return -ENODEV;
}
