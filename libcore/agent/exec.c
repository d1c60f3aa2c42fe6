/* Command start-up for the agent; see agent/exec.h. The child reports any
 * failure before exec through a close-on-exec pipe as {stage, errno}, so the
 * host learns "not found" or "permission denied" exactly. */
#include "agent/exec.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

enum stage { ST_USER = 1, ST_WORKDIR, ST_EXEC, ST_PTY };

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

/* mkdir -p path, each new folder owned by uid:gid. Returns 0 or -errno. */
static int mkdir_p(const char *path, uid_t uid, gid_t gid)
{
	char buf[4096];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	for (char *p = buf + 1; ; p++) {
		if (*p == '/' || !*p) {
			char c = *p;
			*p = 0;
			if (mkdir(buf, 0755) == 0) {
				if (chown(buf, uid, gid) < 0)
					return -errno;
			} else if (errno != EEXIST) {
				return -errno;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	return 0;
}

/* Whether envp sets key (the part before '='). */
static int env_has(char **envp, const char *key)
{
	size_t n = strlen(key);

	for (; *envp; envp++)
		if (!strncmp(*envp, key, n) && (*envp)[n] == '=')
			return 1;
	return 0;
}

/* Reports {stage, errno} to the parent and ends the child. */
static void __attribute__((noreturn)) child_fail(int fd, int stage, int err)
{
	int v[2] = { stage, err };

	if (write(fd, v, sizeof(v)) < 0) {
		/* the parent then sees EOF and a dead child: reported as 127 */
	}
	_exit(127);
}

static void __attribute__((noreturn))
child_run(const struct proto_exec *e, int errfd, int fds[3], const char *pts)
{
	char *env[PROTO_MAX_STRINGS + 8];
	char home_kv[4200], user_kv[64], logname_kv[80];
	const char *home = e->uid == 0 ? "/root" : "/workspace";
	const char *dir;
	size_t n = 0;
	sigset_t all;
	gid_t gid = e->gid;
	extern char **environ;

	for (int s = 1; s < NSIG; s++)
		signal(s, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	setsid();
	if (pts) {
		int t = open(pts, O_RDWR);
		if (t < 0 || ioctl(t, TIOCSCTTY, 0) < 0)
			child_fail(errfd, ST_PTY, errno);
		fds[0] = fds[1] = fds[2] = t;
	}
	for (int i = 0; i < 3; i++)
		if (dup2(fds[i], i) < 0)
			child_fail(errfd, ST_PTY, errno);
	for (int i = 0; i < 3; i++)
		if (fds[i] > 2)
			close(fds[i]);

	dir = e->workdir[0] ? e->workdir : home;
	if (chdir(dir) < 0) {
		int r = errno == ENOENT ? mkdir_p(dir, e->uid, e->gid) : -errno;
		if (r || chdir(dir) < 0)
			child_fail(errfd, ST_WORKDIR, r ? -r : errno);
	}
	if (setgroups(1, &gid) < 0 || setgid(e->gid) < 0 || setuid(e->uid) < 0)
		child_fail(errfd, ST_USER, errno);

	snprintf(home_kv, sizeof(home_kv), "HOME=%s", home);
	snprintf(user_kv, sizeof(user_kv), "USER=%s", e->uid == 0 ? "root" : e->uid == 1000 ? "sandbox" : "user");
	snprintf(logname_kv, sizeof(logname_kv), "LOGNAME=%s", user_kv + 5);
	if (!env_has(e->envp, "PATH"))
		env[n++] = "PATH=" DEFAULT_PATH;
	if (!env_has(e->envp, "HOME"))
		env[n++] = home_kv;
	if (!env_has(e->envp, "USER"))
		env[n++] = user_kv;
	if (!env_has(e->envp, "LOGNAME"))
		env[n++] = logname_kv;
	for (uint32_t i = 0; i < e->envc; i++)
		env[n++] = e->envp[i];
	env[n] = NULL;
	environ = env;
	execvp(e->argv[0], e->argv);
	child_fail(errfd, ST_EXEC, errno);
}

static void set_nonblock(int fd)
{
	fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
}

/* Opens a pty master (non-blocking, close-on-exec) sized rows x cols and
 * puts its slave's name in pts. Returns the master or -errno. */
static int open_pty(uint16_t rows, uint16_t cols, char *pts, size_t len)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
	struct winsize ws = { .ws_row = rows ? rows : 24, .ws_col = cols ? cols : 80 };

	if (m < 0)
		return -errno;
	if (grantpt(m) < 0 || unlockpt(m) < 0 || ptsname_r(m, pts, len) != 0) {
		int e = errno;
		close(m);
		return -e;
	}
	ioctl(m, TIOCSWINSZ, &ws);
	set_nonblock(m);
	return m;
}

/* Turns the child's {stage, errno} into an exit code and a message. */
static int child_error(const struct proto_exec *e, const int v[2], char *msg, size_t len)
{
	const char *why = strerror(v[1]);

	switch (v[0]) {
	case ST_EXEC:
		snprintf(msg, len, "%s: %s", e->argv[0], why);
		return v[1] == ENOENT || v[1] == ENOTDIR ? 127 : 126;
	case ST_WORKDIR:
		snprintf(msg, len, "workdir %s: %s", e->workdir[0] ? e->workdir : "(home)", why);
		return 125;
	case ST_USER:
		snprintf(msg, len, "switching to uid %u gid %u: %s", e->uid, e->gid, why);
		return 125;
	default:
		snprintf(msg, len, "setting up the terminal: %s", why);
		return 125;
	}
}

int agent_exec(const struct proto_exec *e, struct agent_child *c, char *msg, size_t len)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, err[2] = { -1, -1 }, ep[2];
	int fds[3], v[2], m = -1;
	char pts[64];
	ssize_t r;
	bool pty = e->flags & PROTO_EXEC_PTY;

	*c = (struct agent_child){ .pid = -1, .in_fd = -1, .out_fd = -1, .err_fd = -1, .pty_fd = -1 };
	if (pipe2(ep, O_CLOEXEC) < 0)
		goto sys;
	if (pty) {
		m = open_pty(e->rows, e->cols, pts, sizeof(pts));
		if (m < 0) {
			errno = -m;
			goto sys_ep;
		}
	} else if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
		   pipe2(err, O_CLOEXEC) < 0) {
		goto sys_pipes;
	}
	fds[0] = in[0];
	fds[1] = out[1];
	fds[2] = err[1];
	c->pid = fork();
	if (c->pid < 0)
		goto sys_pipes;
	if (c->pid == 0) {
		close(ep[0]);
		child_run(e, ep[1], fds, pty ? pts : NULL);
	}
	close(ep[1]);
	if (!pty) {
		close(in[0]);
		close(out[1]);
		close(err[1]);
	}
	do
		r = read(ep[0], v, sizeof(v));
	while (r < 0 && errno == EINTR);
	close(ep[0]);
	if (r == sizeof(v)) {
		/* the child has exited (or will): the caller's reaper collects it */
		if (pty)
			close(m);
		else {
			close(in[1]);
			close(out[0]);
			close(err[0]);
		}
		c->pid = -1;
		return child_error(e, v, msg, len);
	}
	if (pty) {
		c->out_fd = m;
		c->pty_fd = m;
		c->in_fd = fcntl(m, F_DUPFD_CLOEXEC, 3);
	} else {
		c->in_fd = in[1];
		c->out_fd = out[0];
		c->err_fd = err[0];
		set_nonblock(in[1]);
		set_nonblock(out[0]);
		set_nonblock(err[0]);
	}
	return 0;

sys_pipes:;
	int e1 = errno;
	for (int i = 0; i < 2; i++) {
		if (in[i] >= 0) close(in[i]);
		if (out[i] >= 0) close(out[i]);
		if (err[i] >= 0) close(err[i]);
	}
	if (m >= 0)
		close(m);
	errno = e1;
sys_ep:;
	int e2 = errno;
	close(ep[0]);
	close(ep[1]);
	errno = e2;
sys:
	snprintf(msg, len, "starting the command: %s", strerror(errno));
	return 125;
}
