/* base/seccomp: the lists build into valid programs and their counts are
 * what docs/security.md says; in a child process, a thread under a list
 * makes its allowed calls, and one outside it (or with a refused argument:
 * a netlink socket, an executable mapping, a writable open, a signal to
 * any process but its child) kills the process (SIGSYS), or with
 * VOIDBOX_SECCOMP=trap prints one line naming the thread and the call and
 * exits 159; other threads are not bound by a thread's list; the thread has
 * no new privileges and no capabilities. The children use raw syscall()
 * only (this is a glibc build: its wrappers may differ from musl's). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/seccomp.h"
#include "base/util.h"
#include "t.h"

/* Runs fn in a child with stderr on a pipe; returns the wait status and
 * the child's stderr in err. */
static int in_child(void (*fn)(void *), void *arg, char *err, size_t len)
{
	int p[2], st = -1;
	ssize_t n, used = 0;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		dup2(p[1], 2);
		close(p[0]);
		fn(arg);
		syscall(SYS_exit_group, 0);
	}
	close(p[1]);
	while (used < (ssize_t)len - 1 && (n = read(p[0], err + used, len - 1 - (size_t)used)) > 0)
		used += n;
	err[used] = 0;
	close(p[0]);
	waitpid(pid, &st, 0);
	return st;
}

#define SECCOMP_FS_EXTRA 26 /* docs/security.md: the host folders' calls */

static void test_seccomp_lists(void)
{
	static struct seccomp_prog p;
	struct seccomp_params sp = { .child = 1234 };
	char names[4096];

	for (int k = 0; k < SECCOMP_KINDS; k++) {
		for (int m = SECCOMP_MODE_KILL; m <= SECCOMP_MODE_LOG; m++)
			T_CHECK(seccomp_build(k, m, &sp, &p) == 0 && p.len > 10 && p.len < SECCOMP_MAX_INSNS,
				"%s: program of %u instructions", seccomp_kind_name(k), p.len);
		seccomp_list(k, true, names, sizeof(names));
		T_CHECK(!strstr(names, "execve") && !strstr(names, "clone") && !strstr(names, "fork") &&
				!strstr(names, "ptrace") && !strstr(names, "mprotect") && !strstr(names, "?"),
			"%s lists: %.300s", seccomp_kind_name(k), names);
		printf("# seccomp %s: %u system calls (%u with host folders): %s\n", seccomp_kind_name(k),
		       seccomp_count(k, false), seccomp_count(k, true), names);
	}
	/* the numbers docs/security.md gives */
	T_CHECK(seccomp_count(SECCOMP_MAIN, false) == 50 && seccomp_count(SECCOMP_DEVICE, false) == 44 &&
			seccomp_count(SECCOMP_IO, false) == 43 && seccomp_count(SECCOMP_VCPU, false) == 26,
		"counts %u/%u/%u/%u differ from docs/security.md", seccomp_count(SECCOMP_MAIN, false),
		seccomp_count(SECCOMP_DEVICE, false), seccomp_count(SECCOMP_IO, false),
		seccomp_count(SECCOMP_VCPU, false));
	/* host folders add their calls to the device threads only */
	T_CHECK(seccomp_count(SECCOMP_MAIN, true) == 50 && seccomp_count(SECCOMP_VCPU, true) == 26 &&
			seccomp_count(SECCOMP_DEVICE, true) == 44 + SECCOMP_FS_EXTRA &&
			seccomp_count(SECCOMP_IO, true) == 43 + SECCOMP_FS_EXTRA,
		"with shares: %u/%u/%u/%u", seccomp_count(SECCOMP_MAIN, true), seccomp_count(SECCOMP_DEVICE, true),
		seccomp_count(SECCOMP_IO, true), seccomp_count(SECCOMP_VCPU, true));
	T_CHECK(!strcmp(seccomp_syscall_name(SYS_socket), "socket") &&
			!strcmp(seccomp_syscall_name(99999), "?"),
		"names");
}

struct job {
	enum seccomp_kind kind;
	const char *mode;
	pid_t child;
	int step; /* what the child tries after the allowed calls */
};

static void *other_thread(void *arg)
{
	long fd = syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0);

	if (fd >= 0)
		syscall(SYS_close, fd);
	return (void *)(fd >= 0 ? 1L : 0L);
}

/* The child: install, make allowed calls (reporting each on stderr with
 * raw writes), then the step's refused one. */
static void child_job(void *arg)
{
	struct job *j = arg;
	struct seccomp_params sp = { .child = j->child };
	pthread_t th;
	void *ok = NULL;
	long r;

	setenv("VOIDBOX_SECCOMP", j->mode, 1);
	if (j->step == 5 && pthread_create(&th, NULL, other_thread, NULL) != 0)
		syscall(SYS_exit_group, 3);
	if (seccomp_install(j->kind, &sp) != 0)
		syscall(SYS_exit_group, 2);
	syscall(SYS_write, 2, "installed\n", 10);
	if (syscall(SYS_getpid) <= 0 || syscall(SYS_gettid) <= 0)
		syscall(SYS_exit_group, 4);
	switch (j->step) {
	case 0: /* a netlink socket */
		r = syscall(SYS_socket, AF_INET, SOCK_DGRAM, 0);
		if (r < 0)
			syscall(SYS_exit_group, 5);
		syscall(SYS_write, 2, "inet ok\n", 8);
		syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0);
		break;
	case 1: /* an executable mapping */
		r = syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (r == -1)
			syscall(SYS_exit_group, 5);
		syscall(SYS_write, 2, "mmap ok\n", 8);
		syscall(SYS_mmap, 0, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		break;
	case 2: /* open for writing */
		r = syscall(SYS_openat, AT_FDCWD, "/dev/null", O_RDONLY | O_CLOEXEC);
		if (r < 0)
			syscall(SYS_exit_group, 5);
		syscall(SYS_write, 2, "open ok\n", 8);
		syscall(SYS_openat, AT_FDCWD, "/dev/null", O_WRONLY | O_CLOEXEC);
		break;
	case 3: /* a signal to someone else than the child */
		if (syscall(SYS_kill, j->child, 0) != 0)
			syscall(SYS_exit_group, 5);
		syscall(SYS_write, 2, "kill ok\n", 8);
		syscall(SYS_kill, getppid(), 0);
		break;
	case 4: /* exec */
		syscall(SYS_execve, "/bin/true", (char *[]){ "true", NULL }, (char *[]){ NULL });
		break;
	case 5: /* another thread is not bound by this one's list */
		pthread_join(th, &ok); /* futex: allowed */
		if (ok)
			syscall(SYS_write, 2, "thread ok\n", 10);
		syscall(SYS_socket, AF_NETLINK, SOCK_RAW, 0);
		break;
	}
	syscall(SYS_write, 2, "survived\n", 9);
}

static void test_seccomp_kill(void)
{
	static const struct {
		enum seccomp_kind kind;
		int step;
		const char *ok;
	} cases[] = {
		{ SECCOMP_DEVICE, 0, "inet ok" },  { SECCOMP_IO, 1, "mmap ok" },
		{ SECCOMP_DEVICE, 2, "open ok" },  { SECCOMP_MAIN, 3, "kill ok" },
		{ SECCOMP_VCPU, 4, "installed" }, { SECCOMP_VCPU, 5, "thread ok" },
	};
	char err[512];
	pid_t sleeper = fork();

	if (sleeper == 0) {
		pause();
		_exit(0);
	}
	for (unsigned i = 0; i < ARRAY_SIZE(cases); i++) {
		struct job j = { cases[i].kind, "kill", sleeper, cases[i].step };
		int st = in_child(child_job, &j, err, sizeof(err));

		T_CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS && strstr(err, cases[i].ok) &&
				!strstr(err, "survived"),
			"%s step %d: status 0x%x, stderr '%.200s'", seccomp_kind_name(cases[i].kind),
			cases[i].step, st, err);
	}
	kill(sleeper, SIGKILL);
	waitpid(sleeper, NULL, 0);
}

static void test_seccomp_trap_message(void)
{
	struct job j = { SECCOMP_VCPU, "trap", 0, 0 };
	char err[512];
	int st = in_child(child_job, &j, err, sizeof(err));

	/* the vCPU list has no socket at all */
	T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 159, "status 0x%x", st);
	T_CHECK(strstr(err, "voidbox: seccomp: the vcpu thread called socket (system call 41)"),
		"stderr '%.300s'", err);
	j = (struct job){ SECCOMP_DEVICE, "log", 0, 0 };
	st = in_child(child_job, &j, err, sizeof(err));
	T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0 && strstr(err, "survived"),
		"log mode: status 0x%x, stderr '%.300s'", st, err);
}

/* The thread's state under a list: read from /proc while it waits. */
static void test_seccomp_thread_state(void)
{
	int go[2], p[2];
	char buf[4096];
	ssize_t n;
	pid_t pid;
	int st;

	T_REQUIRE(pipe(go) == 0 && pipe(p) == 0, "pipes");
	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		char c;

		setenv("VOIDBOX_SECCOMP", "kill", 1);
		if (seccomp_install(SECCOMP_MAIN, &(struct seccomp_params){ 0 }) != 0)
			syscall(SYS_exit_group, 2);
		syscall(SYS_write, p[1], "i", 1);
		syscall(SYS_read, go[0], &c, 1);
		syscall(SYS_exit_group, 0);
	}
	T_REQUIRE(read(p[0], buf, 1) == 1, "the child did not install");
	snprintf(buf, sizeof(buf), "/proc/%d/status", pid);
	{
		FILE *f = fopen(buf, "r");

		n = f ? (ssize_t)fread(buf, 1, sizeof(buf) - 1, f) : 0;
		buf[n > 0 ? n : 0] = 0;
		if (f)
			fclose(f);
	}
	T_CHECK(strstr(buf, "NoNewPrivs:\t1") && strstr(buf, "Seccomp:\t2") &&
			strstr(buf, "CapEff:\t0000000000000000") && strstr(buf, "CapPrm:\t0000000000000000"),
		"the thread's status lacks NoNewPrivs 1 / Seccomp 2 / no capabilities");
	T_CHECK(write(go[1], "g", 1) == 1, "go");
	waitpid(pid, &st, 0);
	T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status 0x%x", st);
	close(go[0]);
	close(go[1]);
	close(p[0]);
	close(p[1]);
}

/* The process-wide part: not dumpable, no core files, no new privileges. */
static void test_seccomp_harden_process(void)
{
	int st = -1;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid == 0) {
		struct rlimit rl;

		if (seccomp_harden_process() != 0)
			_exit(2);
		if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
			_exit(3);
		if (getrlimit(RLIMIT_CORE, &rl) != 0 || rl.rlim_cur != 0 || rl.rlim_max != 0)
			_exit(4);
		if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
			_exit(5);
		_exit(0);
	}
	T_REQUIRE(pid > 0, "fork");
	waitpid(pid, &st, 0);
	T_CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0,
		"status 0x%x (3: dumpable, 4: core limit, 5: no NO_NEW_PRIVS)", st);
}

int main(void)
{
	T_RUN(test_seccomp_lists);
	T_RUN(test_seccomp_kill);
	T_RUN(test_seccomp_trap_message);
	T_RUN(test_seccomp_thread_state);
	T_RUN(test_seccomp_harden_process);
	T_EXIT();
}
