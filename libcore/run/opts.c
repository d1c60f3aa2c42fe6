/* Option helpers of `voidbox run` that need no VM: --user parsing and the
 * kernel look-up order. */
#include "run/run.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "base/util.h"

int run_parse_user(const char *s, uint32_t *uid, uint32_t *gid)
{
	uint64_t u, g;
	char buf[32];
	char *colon;

	if (!strcmp(s, "sandbox")) {
		*uid = *gid = 1000;
		return 0;
	}
	if (!strcmp(s, "root")) {
		*uid = *gid = 0;
		return 0;
	}
	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	colon = strchr(buf, ':');
	if (colon)
		*colon = 0;
	if (parse_uint(buf, 0, 0xfffffffe, &u))
		return -EINVAL;
	g = u;
	if (colon && parse_uint(colon + 1, 0, 0xfffffffe, &g))
		return -EINVAL;
	*uid = (uint32_t)u;
	*gid = (uint32_t)g;
	return 0;
}

/* Appends "path (why)" to the list of places tried. */
static void tried(char *why, size_t wlen, const char *path, const char *reason)
{
	size_t n = strlen(why);

	snprintf(why + n, wlen - n, "%s%s (%s)", n ? ", " : "", path, reason);
}

int run_find_kernel(const struct run_opts *o, char *out, size_t len, char *why, size_t wlen)
{
	const char *env = getenv("VOIDBOX_KERNEL");
	char self[4096], cand[4200];
	struct utsname u;
	ssize_t n;

	why[0] = 0;
	if (o->kernel) {
		snprintf(out, len, "%s", o->kernel);
		return 0; /* an explicit choice: its errors are reported as they are */
	}
	if (env && *env) {
		if (!access(env, R_OK)) {
			snprintf(out, len, "%s", env);
			return 0;
		}
		tried(why, wlen, env, "VOIDBOX_KERNEL, unreadable");
	}
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		char *slash = strrchr(self, '/');
		if (slash)
			*slash = 0;
		/* make kernel's own kernel first, then make guest's Debian one */
		static const char *const beside[] = { "kernel/vmlinux", "guest/vmlinuz" };
		for (unsigned i = 0; i < 2; i++) {
			snprintf(cand, sizeof(cand), "%s/%s", self, beside[i]);
			if (!access(cand, R_OK)) {
				snprintf(out, len, "%s", cand);
				return 0;
			}
			tried(why, wlen, cand, "missing");
		}
	}
	if (uname(&u) == 0) {
		snprintf(cand, sizeof(cand), "/boot/vmlinuz-%s", u.release);
		if (!access(cand, R_OK)) {
			snprintf(out, len, "%s", cand);
			return 0;
		}
		tried(why, wlen, cand, "missing");
	}
	return -ENOENT;
}
