/* The VMM-independent part of vmm.h: the registry of back ends (the
 * "voidbox_vmms" section VMM_BACKEND() fills), choosing one (--vmm NAME or
 * auto), --dump-boot, the done_fd life cycle, and host facts back ends need
 * (hardware virtualisation, the TSC rate for tsc_early_khz=). */
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

extern const struct vmm_ops __start_voidbox_vmms[] __attribute__((weak));
extern const struct vmm_ops __stop_voidbox_vmms[] __attribute__((weak));

/* The registered back ends sorted by priority into out (max). Returns how
 * many. */
static size_t sorted(const struct vmm_ops **out, size_t max)
{
	size_t n = 0;

	for (const struct vmm_ops *o = __start_voidbox_vmms; o < __stop_voidbox_vmms && n < max; o++) {
		size_t i = n++;
		while (i > 0 && out[i - 1]->priority > o->priority) {
			out[i] = out[i - 1];
			i--;
		}
		out[i] = o;
	}
	return n;
}

#define VMM_MAX_BACKENDS 16

const struct vmm_ops *vmm_find(const char *name)
{
	for (const struct vmm_ops *o = __start_voidbox_vmms; o < __stop_voidbox_vmms; o++)
		if (!strcmp(o->name, name))
			return o;
	return NULL;
}

void vmm_names(char *buf, size_t len)
{
	const struct vmm_ops *v[VMM_MAX_BACKENDS];
	size_t n = sorted(v, VMM_MAX_BACKENDS), used = 0;

	if (len)
		buf[0] = 0;
	for (size_t i = 0; i < n && used < len; i++) {
		int k = snprintf(buf + used, len - used, "%s%s", i ? ", " : "", v[i]->name);
		if (k < 0)
			break;
		used += (size_t)k;
	}
}

int vmm_pick(const char *name, const struct vmm_ops **out, char *why, size_t len)
{
	const struct vmm_ops *v[VMM_MAX_BACKENDS];
	size_t n, used;
	char names[128], one[200];

	if (strcmp(name, "auto")) {
		const struct vmm_ops *o = vmm_find(name);
		int r;

		if (!o) {
			vmm_names(names, sizeof(names));
			snprintf(why, len, "unknown VMM '%s' (%s or auto)", name, names);
			return -EINVAL;
		}
		if ((r = o->probe(why, len)))
			return r;
		*out = o;
		return 0;
	}
	n = sorted(v, VMM_MAX_BACKENDS);
	used = (size_t)snprintf(why, len, "no VMM can run here:");
	for (size_t i = 0; i < n; i++) {
		if (!v[i]->probe(one, sizeof(one))) {
			*out = v[i];
			return 0;
		}
		if (used < len)
			used += (size_t)snprintf(why + used, len - used, "%s %s: %s", i ? ";" : "", v[i]->name,
						 one);
	}
	return -ENODEV;
}

int vmm_dump_boot(const char *name, const struct vmm_config *c, const char *dir, char *why,
		  size_t len)
{
	const struct vmm_ops *v[VMM_MAX_BACKENDS];
	size_t n;

	if (strcmp(name, "auto")) {
		const struct vmm_ops *o = vmm_find(name);
		char names[128];

		if (!o) {
			vmm_names(names, sizeof(names));
			snprintf(why, len, "unknown VMM '%s' (%s or auto)", name, names);
			return -EINVAL;
		}
		if (!o->dump_boot) {
			snprintf(why, len, "the %s VMM has no boot data of its own to write", name);
			return -ENOTSUP;
		}
		return o->dump_boot(c, dir, why, len);
	}
	n = sorted(v, VMM_MAX_BACKENDS);
	for (size_t i = 0; i < n; i++)
		if (v[i]->dump_boot)
			return v[i]->dump_boot(c, dir, why, len);
	snprintf(why, len, "no VMM writes boot data");
	return -ENOTSUP;
}
