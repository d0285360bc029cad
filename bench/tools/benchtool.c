/* benchtool: small helpers for bench/run.sh that a shell cannot do.
 *
 *   benchtool reap CMD [ARGS...]
 *       Become a child subreaper, run CMD, reap every orphan that lands on
 *       us while it runs (containers started with `run -d` or `create`).
 *       When CMD exits, any child still alive is a leak: print
 *       "benchtool: leaked pid PID: CMDLINE" on stderr, SIGKILL and reap
 *       it. Exits with CMD's status (or 125 when something leaked and CMD
 *       itself succeeded).
 *
 *   benchtool lifecycle [-n N] [-o FILE] RUNTIME ROOT BUNDLE ID
 *       N times: `RUNTIME --root ROOT create --bundle BUNDLE --pid-file P ID`,
 *       `start ID`, wait for the container's init to exit, `delete ID`.
 *       The container init is reparented to us (we are a subreaper) when
 *       `create` exits, so "wait" is a plain waitpid, as conmon does it.
 *       With -o, writes per-phase times (ms, one line per iteration:
 *       "create start wait delete total") to FILE. A failing step prints
 *       the runtime's output and exits 1. Orphans other than the
 *       container's init are counted and reported as leaks.
 *
 * Never asserts on time; only on exit codes and leaks. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void cmdline_of(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	buf[0] = '\0';
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n <= 0) {
		snprintf(buf, len, "(zombie or kernel)");
		return;
	}
	buf[n] = '\0';
	for (ssize_t i = 0; i < n - 1; i++)
		if (buf[i] == '\0')
			buf[i] = ' ';
}

/* Children of ours that are still there: scan /proc for PPid == us. */
static int kill_leftovers(const char *what)
{
	char path[300], line[256], cmd[256];
	pid_t self = getpid();
	struct dirent *de;
	int leaked = 0;
	DIR *d = opendir("/proc");

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL) {
		pid_t pid = (pid_t)atoi(de->d_name), ppid = -1;
		FILE *f;

		if (pid <= 0 || pid == self)
			continue;
		snprintf(path, sizeof(path), "/proc/%s/status", de->d_name);
		f = fopen(path, "re");
		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "PPid: %d", &ppid) == 1)
				break;
		fclose(f);
		if (ppid != self)
			continue;
		cmdline_of(pid, cmd, sizeof(cmd));
		fprintf(stderr, "benchtool: %s: leaked pid %d: %s\n", what, (int)pid, cmd);
		kill(pid, SIGKILL);
		leaked++;
	}
	closedir(d);
	while (waitpid(-1, NULL, 0) > 0 || errno == EINTR)
		;
	return leaked;
}

static int cmd_reap(char **argv)
{
	pid_t child, pid;
	int status = 0, child_status = -1;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("benchtool: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	child = fork();
	if (child < 0) {
		perror("benchtool: fork");
		return 1;
	}
	if (child == 0) {
		execvp(argv[0], argv);
		fprintf(stderr, "benchtool: exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	while ((pid = waitpid(-1, &status, 0)) != -1 || errno == EINTR) {
		if (pid == child) {
			child_status = status;
			break;
		}
	}
	if (kill_leftovers("after the benchmark") > 0 && WIFEXITED(child_status) &&
	    WEXITSTATUS(child_status) == 0)
		return 125;
	if (WIFEXITED(child_status))
		return WEXITSTATUS(child_status);
	return 128 + (WIFSIGNALED(child_status) ? WTERMSIG(child_status) : 0);
}

/* Run RUNTIME --root ROOT ARGS..., output into OUTFD (rewound first). */
static int run_step(int outfd, const char *rt, const char *root, const char *const *args)
{
	const char *argv[16];
	size_t n = 0;
	int status;
	pid_t pid;

	argv[n++] = rt;
	argv[n++] = "--root";
	argv[n++] = root;
	for (size_t i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (ftruncate(outfd, 0) < 0 || lseek(outfd, 0, SEEK_SET) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		dup2(null, 0);
		dup2(outfd, 1);
		dup2(outfd, 2);
		execv(rt, (char **)argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static void dump_output(int outfd, const char *step)
{
	char buf[4096];
	ssize_t n;

	fprintf(stderr, "benchtool: `%s` failed; its output:\n", step);
	lseek(outfd, 0, SEEK_SET);
	while ((n = read(outfd, buf, sizeof(buf))) > 0)
		fwrite(buf, 1, (size_t)n, stderr);
}

static pid_t read_pid(const char *path)
{
	char buf[32] = {0};
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? (pid_t)atoi(buf) : -1;
}

/* The init is our child once `create` has exited; if a runtime kept it
 * under a process of its own, fall back to a pidfd. */
static int wait_init(pid_t pid)
{
	int status, pfd;

	for (;;) {
		if (waitpid(pid, &status, 0) == pid)
			return 0;
		if (errno != EINTR)
			break;
	}
	if (errno != ECHILD)
		return -1;
	pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pfd < 0)
		return errno == ESRCH ? 0 : -1;
	{
		struct pollfd p = {.fd = pfd, .events = POLLIN};
		int r;
		while ((r = poll(&p, 1, 10000)) < 0 && errno == EINTR)
			;
		close(pfd);
		return r == 1 ? 0 : -1;
	}
}

static int cmd_lifecycle(int argc, char **argv)
{
	const char *out = NULL, *rt, *root, *bundle, *id;
	char pidfile[4096];
	long n = 1;
	int opt, outfd, leaks = 0;
	FILE *of = NULL;

	while ((opt = getopt(argc, argv, "+n:o:")) != -1) {
		switch (opt) {
		case 'n': n = strtol(optarg, NULL, 10); break;
		case 'o': out = optarg; break;
		default: return 2;
		}
	}
	if (argc - optind != 4 || n < 1) {
		fprintf(stderr, "usage: benchtool lifecycle [-n N] [-o FILE] RUNTIME ROOT BUNDLE ID\n");
		return 2;
	}
	rt = argv[optind];
	root = argv[optind + 1];
	bundle = argv[optind + 2];
	id = argv[optind + 3];
	snprintf(pidfile, sizeof(pidfile), "%s.lifecycle.pid", bundle);
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		perror("benchtool: PR_SET_CHILD_SUBREAPER");
		return 1;
	}
	outfd = memfd_create("benchtool-out", MFD_CLOEXEC);
	if (outfd < 0) {
		perror("benchtool: memfd_create");
		return 1;
	}
	if (out && (of = fopen(out, "ae")) == NULL) {
		perror(out);
		return 1;
	}
	for (long i = 0; i < n; i++) {
		const char *create[] = {"create", "--bundle", bundle, "--pid-file", pidfile, id, NULL};
		const char *start[] = {"start", id, NULL};
		const char *del[] = {"delete", id, NULL};
		double t0, t1, t2, t3, t4;
		pid_t init, pid;
		int status;

		unlink(pidfile);
		t0 = now_ms();
		if (run_step(outfd, rt, root, create) < 0) {
			dump_output(outfd, "create");
			return 1;
		}
		t1 = now_ms();
		init = read_pid(pidfile);
		if (init <= 0) {
			fprintf(stderr, "benchtool: no pid in %s after create\n", pidfile);
			return 1;
		}
		if (run_step(outfd, rt, root, start) < 0) {
			dump_output(outfd, "start");
			return 1;
		}
		t2 = now_ms();
		if (wait_init(init) < 0) {
			fprintf(stderr, "benchtool: waiting for container init %d: %s\n", (int)init, strerror(errno));
			return 1;
		}
		t3 = now_ms();
		if (run_step(outfd, rt, root, del) < 0) {
			dump_output(outfd, "delete");
			return 1;
		}
		t4 = now_ms();
		/* Anything else that landed on us is a process the runtime left. */
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			fprintf(stderr, "benchtool: lifecycle: orphan pid %d exited after delete\n", (int)pid);
			leaks++;
		}
		if (of)
			fprintf(of, "%.3f %.3f %.3f %.3f %.3f\n", t1 - t0, t2 - t1, t3 - t2, t4 - t3, t4 - t0);
	}
	unlink(pidfile);
	if (of)
		fclose(of);
	leaks += kill_leftovers("lifecycle");
	return leaks ? 125 : 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && strcmp(argv[1], "reap") == 0)
		return cmd_reap(argv + 2);
	if (argc >= 2 && strcmp(argv[1], "lifecycle") == 0)
		return cmd_lifecycle(argc - 1, argv + 1);
	fprintf(stderr, "usage: benchtool reap CMD [ARGS...]\n"
			"       benchtool lifecycle [-n N] [-o FILE] RUNTIME ROOT BUNDLE ID\n");
	return 2;
}
