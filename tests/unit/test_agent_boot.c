/* agent/boot: the kernel command-line parsing the agent does as PID 1
 * (module parameters as modprobe passes them, voidbox.* keys), and module
 * loading's handling of a list it cannot use. The boot itself is tested
 * in a real guest by tests/boot.sh. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "agent/boot.h"
#include "t.h"

static void test_module_params(void)
{
	const char *cl = "console=ttyS0 quiet virtio_net.napi_tx=1 virtio-net.foo=\"a b\" "
			 "virtio_netx.bad=1 vsock.x virtio_mmio.device=1@2:3 =odd .=odd "
			 "\"virtio_net.quoted=q\" virtio_net.";
	char out[256];

	T_CHECK(agent_module_params(cl, "virtio_net", out, sizeof(out)) == 0, "ok");
	T_CHECK(!strcmp(out, "napi_tx=1 foo=\"a b\" quoted=q"), "virtio_net: '%s'", out);
	T_CHECK(agent_module_params(cl, "vsock", out, sizeof(out)) == 0 && !strcmp(out, "x"),
		"flag parameter: '%s'", out);
	T_CHECK(agent_module_params(cl, "virtio_mmio", out, sizeof(out)) == 0 &&
		!strcmp(out, "device=1@2:3"), "mmio: '%s'", out);
	T_CHECK(agent_module_params(cl, "virtio", out, sizeof(out)) == 0 && !out[0],
		"prefix must not match: '%s'", out);
	T_CHECK(agent_module_params(cl, "virtio_net", out, 8) == -ENOSPC, "no space");
	T_CHECK(agent_module_params("", "x", out, sizeof(out)) == 0 && !out[0], "empty");
}

static void test_cmdline_get(void)
{
	const char *cl = "a=1 voidbox.exec=/x voidbox.execx=/y voidbox.flag b voidbox.exec=\"/z w\"";
	char out[64];

	T_CHECK(agent_cmdline_get(cl, "voidbox.exec", out, sizeof(out)) == 1 &&
		!strcmp(out, "/z w"), "last wins, quotes dropped: '%s'", out);
	T_CHECK(agent_cmdline_get(cl, "voidbox.flag", out, sizeof(out)) == 1 && !out[0], "flag");
	T_CHECK(agent_cmdline_get(cl, "voidbox.none", out, sizeof(out)) == 0, "absent");
	T_CHECK(agent_cmdline_get(cl, "a", out, sizeof(out)) == 1 && !strcmp(out, "1"), "a");
}

static void test_load_modules_bad_list(void)
{
	char path[] = "/tmp/vb-image-agent.XXXXXX", why[256] = "";
	int fd = mkstemp(path);
	const char list[] = "# comment\n\n/nonexistent/dir/foo.ko\n/nonexistent/not-a-module\n";

	T_REQUIRE(fd >= 0, "mkstemp");
	T_CHECK(write(fd, list, sizeof(list) - 1) == (ssize_t)sizeof(list) - 1, "write");
	close(fd);
	/* both lines fail (missing file, not a module name) and are reported;
	 * nothing is loaded (and as non-root nothing could be) */
	T_CHECK(agent_load_modules(path, "", why, sizeof(why)) == -ENOENT && strstr(why, "foo"),
		"first failure: %s", why);
	unlink(path);
	T_CHECK(agent_load_modules("/nonexistent/list", "", why, sizeof(why)) == 0, "no list");
}

int main(void)
{
	T_RUN(test_module_params);
	T_RUN(test_cmdline_get);
	T_RUN(test_load_modules_bad_list);
	T_EXIT();
}
