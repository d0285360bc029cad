/* OCI hooks. Each hook is forked and exec'ed directly (no PATH lookup, no
 * shell) with exactly its args and env, the state JSON on a pipe as stdin
 * and the runtime's stdout/stderr. One poll loop feeds stdin without
 * blocking (a hook need not read it), watches a pidfd for the exit and
 * enforces the timeout. */
#include "hooks.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "signals.h"
#include "utils.h"

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

/* Without a pidfd (kernel < 5.3) the exit is noticed by polling. */
#define HOOK_POLL_FALLBACK_MS 10
/* Far beyond any sensible hook timeout; keeps the arithmetic in range. */
#define HOOK_TIMEOUT_MAX_S (100LL * 365 * 24 * 3600)

const char *hooks_kind_name(enum spec_hook_kind kind)
{
	switch (kind) {
	case SPEC_HOOK_PRESTART:
		return "prestart";
	case SPEC_HOOK_CREATE_RUNTIME:
		return "createRuntime";
	case SPEC_HOOK_CREATE_CONTAINER:
		return "createContainer";
	case SPEC_HOOK_START_CONTAINER:
		return "startContainer";
	case SPEC_HOOK_POSTSTART:
		return "poststart";
	case SPEC_HOOK_POSTSTOP:
		return "poststop";
	case SPEC_HOOK_KIND_COUNT:
	default:
		return "unknown";
	}
}

/* In the forked child: only async-signal-safe calls. Layout before exec:
 * fd 0 = the state pipe, fd 3 = the exec-error pipe (close-on-exec), all
 * other fds >= 3 closed; default signal dispositions, empty mask. */
__attribute__((noreturn)) static void hook_child(const char *path, char *const argv[], char *const envp[], int in_fd,
						 int err_fd)
{
	int e, in2, err2, report_fd = err_fd;

	/* First above 3 so that the dup2()s below cannot clobber them. */
	in2 = fcntl(in_fd, F_DUPFD, 4);
	err2 = fcntl(err_fd, F_DUPFD_CLOEXEC, 4);
	if (in2 < 0 || err2 < 0 || dup2(in2, STDIN_FILENO) < 0 || dup3(err2, 3, O_CLOEXEC) < 0)
		goto fail;
	report_fd = 3;
	close_fds_from(4, false);

	reset_signals();
	/* A hook dies with whoever runs it: a killed runtime leaves no hook
	 * behind (delete --force could not find it). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);

	execve(path, argv, envp);
fail:
	e = errno;
	(void)!write(report_fd, &e, sizeof(e));
	_exit(127);
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Feed DATA to *IN_FD while it accepts it; a hook that exits or closes its
 * stdin early (EPIPE) is fine. The fd is closed once done. */
static int feed_stdin(int *in_fd, const char *data, size_t len, size_t *off, struct ocr_error *err)
{
	while (*off < len) {
		ssize_t w = write(*in_fd, data + *off, len - *off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return 0;
		if (w < 0 && errno != EPIPE)
			return ocr_fail_errno(err, "write the state to stdin");
		if (w < 0)
			break;
		*off += (size_t)w;
	}
	close(*in_fd);
	*in_fd = -1;
	return 0;
}

/* Wait for *PID while feeding its stdin; returns its wait status, or -1
 * on timeout (the hook is killed and reaped) or error. *PID is 0 once
 * reaped. */
static int hook_wait(pid_t *pid, int in_fd, const char *data, const struct opt_i64 *timeout, int *ret_status,
		     struct ocr_error *err)
{
	cleanup_close int pidfd = (int)syscall(SYS_pidfd_open, *pid, 0);
	cleanup_close int in = in_fd;
	size_t len = data ? strlen(data) : 0, off = 0;
	long long deadline = -1;

	if (timeout->set && timeout->v > 0)
		deadline = now_ms() + (timeout->v > HOOK_TIMEOUT_MAX_S ? HOOK_TIMEOUT_MAX_S : timeout->v) * 1000;
	if (fcntl(in, F_SETFL, O_NONBLOCK) < 0)
		return ocr_fail_errno(err, "set the stdin pipe non-blocking");
	if (feed_stdin(&in, data, len, &off, err) < 0)
		return -1;
	for (;;) {
		struct pollfd p[2];
		nfds_t n = 0;
		int wait_ms = -1, r;

		if (pidfd < 0) {
			pid_t w = (pid_t)TEMP_FAILURE_RETRY(waitpid(*pid, ret_status, WNOHANG));
			if (w < 0)
				return ocr_fail_errno(err, "waitpid");
			if (w == *pid)
				break;
			wait_ms = HOOK_POLL_FALLBACK_MS;
		}
		if (deadline >= 0) {
			long long left = deadline - now_ms();
			if (left <= 0) {
				kill(*pid, SIGKILL);
				TEMP_FAILURE_RETRY(waitpid(*pid, NULL, 0));
				*pid = 0;
				return ocr_fail(err, ETIMEDOUT, "timed out after %lld s", (long long)timeout->v);
			}
			if (wait_ms < 0 || left < wait_ms)
				wait_ms = left > INT_MAX ? INT_MAX : (int)left;
		}
		if (pidfd >= 0)
			p[n++] = (struct pollfd){.fd = pidfd, .events = POLLIN};
		if (in >= 0)
			p[n++] = (struct pollfd){.fd = in, .events = POLLOUT};
		r = poll(p, n, wait_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return ocr_fail_errno(err, "poll");
		if (in >= 0 && p[n - 1].revents != 0 && feed_stdin(&in, data, len, &off, err) < 0)
			return -1;
		if (pidfd >= 0 && p[0].revents != 0) {
			if (TEMP_FAILURE_RETRY(waitpid(*pid, ret_status, 0)) < 0)
				return ocr_fail_errno(err, "waitpid");
			break;
		}
	}
	*pid = 0;
	return 0;
}

static int hook_status(int status, int exec_errno, struct ocr_error *err)
{
	if (exec_errno != 0) {
		errno = exec_errno;
		return ocr_fail_errno(err, "execute");
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		return ocr_fail(err, 0, "exited with status %d", WEXITSTATUS(status));
	if (WIFSIGNALED(status)) {
		const char *name = signal_name(WTERMSIG(status));
		if (name)
			return ocr_fail(err, 0, "killed by signal SIG%s", name);
		return ocr_fail(err, 0, "killed by signal %d", WTERMSIG(status));
	}
	return 0;
}

/* Run one hook with SIGPIPE blocked in this thread, so that writing to a
 * hook that does not read its stdin yields EPIPE instead of killing us. */
static int hook_run_one(const struct spec_hook *h, const char *state_json, struct ocr_error *err)
{
	char *default_argv[2] = {h->path, NULL};
	char *empty_env[1] = {NULL};
	char *const *argv = (h->args && h->args[0]) ? h->args : default_argv;
	char *const *envp = h->env ? h->env : empty_env;
	cleanup_close int in_r = -1, err_r = -1, err_w = -1;
	cleanup_pid pid_t pid = 0;
	int in_p[2], err_p[2], status = 0, exec_errno = 0, r;
	sigset_t sigpipe, old, pending;
	bool pipe_was_pending;

	if (pipe2(in_p, O_CLOEXEC) < 0)
		return ocr_fail_errno(err, "pipe");
	in_r = in_p[0];
	if (pipe2(err_p, O_CLOEXEC) < 0) {
		close(in_p[1]);
		return ocr_fail_errno(err, "pipe");
	}
	err_r = err_p[0];
	err_w = err_p[1];

	sigemptyset(&sigpipe);
	sigaddset(&sigpipe, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &sigpipe, &old);
	sigpending(&pending);
	pipe_was_pending = sigismember(&pending, SIGPIPE) == 1;

	pid = fork();
	if (pid < 0) {
		r = ocr_fail_errno(err, "fork");
		close(in_p[1]);
	} else if (pid == 0) {
		hook_child(h->path, argv, envp, in_r, err_w);
	} else {
		close(steal_fd(&in_r));
		close(steal_fd(&err_w));
		r = hook_wait(&pid, in_p[1], state_json, &h->timeout, &status, err);
	}

	if (!pipe_was_pending && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
		struct timespec zero = {0, 0};
		TEMP_FAILURE_RETRY(sigtimedwait(&sigpipe, NULL, &zero));
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r < 0)
		return -1;

	/* The child wrote errno here if execve() failed; EOF means it ran. */
	if (TEMP_FAILURE_RETRY(read(err_r, &exec_errno, sizeof(exec_errno))) != sizeof(exec_errno))
		exec_errno = 0;
	return hook_status(status, exec_errno, err);
}

int hooks_run(enum spec_hook_kind kind, const struct spec_hook *hooks, size_t n, const char *state_json,
	      const struct ocr_log *log, struct ocr_error *err)
{
	/* runtime-spec: a failing poststart or poststop hook is a warning and
	 * the remaining hooks still run; any other kind stops the lifecycle. */
	bool warn_only = kind == SPEC_HOOK_POSTSTART || kind == SPEC_HOOK_POSTSTOP;

	for (size_t i = 0; i < n; i++) {
		ocr_debug(log, "running %s hook %zu `%s`", hooks_kind_name(kind), i, hooks[i].path);
		if (hook_run_one(&hooks[i], state_json, err) == 0)
			continue;
		ocr_wrap(err, "%s hook %zu `%s`", hooks_kind_name(kind), i, hooks[i].path);
		if (!warn_only)
			return -1;
		{
			char msg[OCR_ERROR_MSG_MAX + 256];
			ocr_error_format(err, msg, sizeof(msg));
			ocr_warn(log, "%s", msg);
			ocr_error_clear(err);
		}
	}
	return 0;
}
