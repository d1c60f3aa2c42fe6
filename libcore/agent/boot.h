/* The guest agent's boot steps, run as PID 1 from the initramfs: mount the
 * kernel file systems, load the kernel modules the image lists (in order,
 * with module parameters from the kernel command line, as modprobe passes
 * them), wait — by rtnetlink event, bounded — until every virtio network
 * device has its interface (shared folders are mounted once the modules
 * are in, agent/fs.h), and print the ready line on the console. Each
 * step is its own function so other parts (the run applet's request
 * server, test guests) can reuse them; agent_boot() runs them all. */
#ifndef VOIDBOX_AGENT_BOOT_H
#define VOIDBOX_AGENT_BOOT_H

#include <stdbool.h>

#include <stddef.h>

#define AGENT_READY_PREFIX "voidbox-agent: ready: interfaces:"
#define AGENT_NETDEV_TIMEOUT_MS 10000

/* Mounts /proc, /sys, devtmpfs on /dev, /dev/pts, /dev/shm, /tmp and /run
 * (creating the mount points; one already mounted is left as it is; a
 * failure does not stop the rest). Returns 0 or the first -errno with the
 * failing mount in why. */
int agent_mount_all(char *why, size_t len);
/* Reads /proc/cmdline into buf (NUL-terminated, newline dropped).
 * Returns 0 or -errno. */
int agent_read_cmdline(char *buf, size_t len);
/* Writes the parameters cmdline gives module ("virtio_net.napi_tx=1
 * foo=bar" -> "napi_tx=1" for virtio_net; '-' and '_' match) into out,
 * space-separated, quoting values with spaces. Returns 0 or -ENOSPC. */
int agent_module_params(const char *cmdline, const char *module, char *out, size_t outlen);
/* Loads every module listed in list_path (one absolute path a line, '#'
 * comments) with finit_module, compressed ones with
 * MODULE_INIT_COMPRESSED_FILE; an already loaded module is fine. Keeps
 * going after a failure. Returns the number of modules now loaded, or
 * -errno of the first failure with its module and reason in why. A
 * missing list file means nothing to load (returns 0). */
int agent_load_modules(const char *list_path, const char *cmdline, char *why, size_t len);
/* Waits up to timeout_ms until every virtio network device in
 * /sys/bus/virtio/devices has a network interface, then writes the
 * interface names ("lo eth0": lo first, then sorted) into names.
 * Returns the number of interfaces, or -ETIMEDOUT, -ENODEV (devices but
 * no virtio_net driver to bind them) or -errno, with why. */
int agent_wait_netdev(int timeout_ms, char *names, size_t nameslen, char *why, size_t len);
/* Value of the kernel command-line parameter key ("voidbox.exec") copied
 * into out. Returns 1 when present, 0 when absent. */
int agent_cmdline_get(const char *cmdline, const char *key, char *out, size_t outlen);

struct agent_boot {
	char cmdline[4096];
	char ifnames[512];   /* "lo eth0" */
	int n_modules;
	int n_ifaces;
	int failed;          /* a step failed (already reported on stderr) */
	bool net_up;         /* eth0 was configured: wait for its link before commands */
	bool fs_failed;      /* a shared folder is missing: serve no command */
};

/* Runs every step above, reports failures on stderr as one line each, and
 * prints "voidbox-agent: ready: interfaces: lo eth0" on stdout. Returns 0
 * when all went well, else the first step's -errno (the ready line is
 * printed anyway, so the host sees how far the guest got). */
int agent_boot(struct agent_boot *b);
/* Flushes file systems and powers the machine off. Never returns. */
void agent_poweroff(void) __attribute__((noreturn));

#endif
