/* The agent's network set-up, over rtnetlink (no `ip` binary in the guest):
 * lo up; the guest interface up with its MTU, address and a default route
 * through the gateway; /etc/resolv.conf and /etc/hosts written to match.
 * The layout comes from the kernel command line (base/net_layout.h). Call it
 * only once the virtio_net module is loaded and the interface exists (the
 * agent waits for it by event first): on a missing interface this fails
 * with -ENODEV instead of silently configuring nothing. */
#ifndef VOIDBOX_AGENT_NETCFG_H
#define VOIDBOX_AGENT_NETCFG_H

#include <stddef.h>

#include "base/net_layout.h"

/* Brings lo up and, when l->enabled, configures ifname per l. Returns 0 or
 * -errno with a one-line reason in why. */
int netcfg_apply(const struct net_layout *l, const char *ifname, char *why, size_t len);
/* Writes etc_dir/resolv.conf (nameserver = l->dns) and etc_dir/hosts
 * (localhost, and the guest's address under hostname), each through a
 * temporary file and rename, creating etc_dir if needed. Without l->enabled
 * only hosts is written. Returns 0 or -errno with why filled. */
int netcfg_write_etc(const struct net_layout *l, const char *etc_dir, const char *hostname,
		     char *why, size_t len);
/* The whole agent step, given the kernel command line: applies the layout
 * voidbox.net= names to ifname and writes /etc; l receives the layout. With
 * no voidbox.net= at all (a guest not started by voidbox run) the defaults
 * apply when ifname exists, else only lo is set up. Returns 1 when ifname
 * was configured, 0 when only lo was (voidbox.net=none, or no parameter
 * and no interface), or -errno with why filled (-ENODEV: voidbox.net=
 * names a network but ifname does not exist). */
int netcfg_agent_setup(const char *cmdline, const char *ifname, struct net_layout *l, char *why,
		       size_t len);

#define NETCFG_CARRIER_TIMEOUT_MS 5000

/* Waits up to timeout_ms for ifname to be operationally up (carrier on,
 * IFF_RUNNING), in 5 ms steps. Returns 0, -ETIMEDOUT, or -errno; *waited_ms
 * says how long it took either way. */
int netcfg_wait_running(const char *ifname, int timeout_ms, int *waited_ms);

/* The agent's boot step (called once the modules are loaded and the
 * network interfaces exist): netcfg_agent_setup() on eth0, then one console
 * line, "voidbox-agent: net: eth0 10.0.2.15/24 via 10.0.2.2 mtu 1500" (or
 * "voidbox-agent: net: lo only"), or the error on stderr. Returns 1 when
 * eth0 was configured, 0 when only lo was, or -errno. */
int agent_net_setup(const char *cmdline);

/* Waits (netcfg_wait_running, NETCFG_CARRIER_TIMEOUT_MS at most) until
 * ifname is running and says so on the console: "voidbox-agent: net: eth0:
 * link up after 12 ms", or "...: no carrier after 5000 ms (why); commands
 * start anyway". The kernel marks a link running only when its link-watch
 * work runs, up to a second after the driver turned the carrier on, so the
 * agent calls this right before commands can start (after its listen line,
 * while the host connects), never earlier than needed. Returns 0 or
 * -errno. */
int agent_net_wait_link(const char *ifname);

#endif
