/* seccomp.c: filters built from an in-memory spec_seccomp, compiled in the
 * parent (as the runtime does before the start handshake) and loaded in a
 * forked child, which reports through its exit status. TAP output. */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "scmp.h"
#include "tap.h"
#include "utils.h"

/* libseccomp's own <seccomp.h> is shadowed by src/seccomp.h under -Isrc,
 * so the one libseccomp call the test needs is declared here. */
struct scmp_version {
	unsigned int major, minor, micro;
};
const struct scmp_version *seccomp_version(void);

static void diag_err(const struct ocr_error *err)
{
	char buf[OCR_ERROR_MSG_MAX + 128];

	ocr_error_format(err, buf, sizeof(buf));
	printf("# error: %s\n", buf);
}

static bool err_contains(const struct ocr_error *err, const char *needle)
{
	char buf[OCR_ERROR_MSG_MAX + 128];

	ocr_error_format(err, buf, sizeof(buf));
	if (strstr(buf, needle))
		return true;
	printf("# expected `%s` in: %s\n", needle, buf);
	return false;
}

/* ---- helpers ---- */
#define CHILD_PREPARE_FAILED 100
#define CHILD_LOAD_FAILED 101

typedef int (*child_fn)(void);

/* Fork; in the child set no_new_privs (needed when unprivileged, since
 * the filter leaves it to the runtime), load F and run FN. Returns the raw
 * wait status. */
static int run_filtered(struct ocr_seccomp *f, const char *state_json, child_fn fn)
{
	struct rlimit no_core = {0, 0};
	int status = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		struct ocr_error err = {0};
		setrlimit(RLIMIT_CORE, &no_core);
		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
			_exit(CHILD_LOAD_FAILED);
		if (ocr_seccomp_load(f, state_json, &err) < 0) {
			diag_err(&err);
			fflush(stdout);
			_exit(CHILD_LOAD_FAILED);
		}
		_exit(fn());
	}
	if (TEMP_FAILURE_RETRY(waitpid(pid, &status, 0)) < 0)
		return -1;
	return status;
}

static bool exited_ok(int status)
{
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return true;
	if (WIFEXITED(status))
		printf("# child exited with %d\n", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		printf("# child killed by signal %d\n", WTERMSIG(status));
	return false;
}

static struct ocr_seccomp *prepare_ok(const struct spec_seccomp *s, const struct ocr_log *log)
{
	struct ocr_error err = {0};
	struct ocr_seccomp *f = NULL;

	if (ocr_seccomp_prepare(s, log, &f, &err) < 0) {
		diag_err(&err);
		return NULL;
	}
	return f;
}

static int prepare_fails(const struct spec_seccomp *s, struct ocr_error *err)
{
	struct ocr_seccomp *f = NULL;
	int r = ocr_seccomp_prepare(s, NULL, &f, err);

	if (r == 0) {
		ocr_seccomp_free(f);
		return 0;
	}
	return r;
}

/* ---- children (after the filter is loaded; only raw syscalls) ---- */
static int child_getcwd_errno38(void)
{
	char buf[512];
	long r = syscall(SYS_getcwd, buf, sizeof(buf));
	if (r != -1 || errno != 38)
		return 1;
	/* default ALLOW still applies to everything else */
	if (syscall(SYS_getppid) <= 0)
		return 2;
	return 0;
}

static int child_personality(void)
{
	long r = syscall(SYS_personality, 0xffffffffUL);
	if (r != -1 || errno != EACCES)
		return 1;
	r = syscall(SYS_personality, 0UL); /* PER_LINUX: allowed */
	if (r < 0)
		return 2;
	return 0;
}

static int child_umask_or(void)
{
	if (syscall(SYS_umask, 01) != -1 || errno != EXDEV)
		return 1;
	if (syscall(SYS_umask, 02) != -1 || errno != EXDEV)
		return 2;
	if (syscall(SYS_umask, 03) < 0)
		return 3;
	return 0;
}

static int child_umask_masked(void)
{
	/* blocked when (mask & 070) == 020 */
	if (syscall(SYS_umask, 022) != -1 || errno != EXDEV)
		return 1;
	if (syscall(SYS_umask, 0720) != -1 || errno != EXDEV)
		return 2;
	if (syscall(SYS_umask, 077) < 0)
		return 3;
	if (syscall(SYS_umask, 0) < 0)
		return 4;
	return 0;
}

static int child_getppid_killed(void)
{
	syscall(SYS_getppid);
	return 3; /* not reached when the filter works */
}

static int child_default_errno(void)
{
	char buf[512];
	long r = syscall(SYS_getcwd, buf, sizeof(buf));

	/* exit_group directly: everything else is denied, and a sanitizer
	 * runtime's _exit() would make syscalls of its own first. */
	syscall(SYS_exit_group, (r == -1 && errno == ENOTSUP) ? 0 : 1);
	return 2;
}

static int child_notified(void)
{
	/* The listener answers getppid with 12345. */
	long r = syscall(SYS_getppid);
	return r == 12345 ? 0 : 1;
}

static int child_nothing(void)
{
	return 0;
}

/* ---- tests ---- */
static char *names_getcwd[] = {"no_such_syscall_xyz", "getcwd", NULL};
static char *names_unknown[] = {"another_unknown_syscall", NULL};
static char *names_personality[] = {"personality", NULL};
static char *names_umask[] = {"umask", NULL};
static char *names_getppid[] = {"getppid", NULL};
static char *names_exit[] = {"exit_group", "exit", NULL};
static char *names_sendmsg[] = {"sendmsg", NULL};

static void test_errno_and_unknown(void)
{
	struct spec_seccomp_syscall sc[] = {
		{.names = names_getcwd, .n_names = 2, .action = SPEC_SCMP_ERRNO, .errno_ret = {true, 38}},
		{.names = names_unknown, .n_names = 1, .action = SPEC_SCMP_KILL_PROCESS},
	};
	struct spec_seccomp s = {.default_action = SPEC_SCMP_ALLOW, .syscalls = sc, .n_syscalls = ARRAY_SIZE(sc)};
	char logpath[] = "/tmp/test-seccomp-log-XXXXXX";
	struct ocr_log log = {.fd = mkstemp(logpath), .debug = true};
	cleanup_free char *logtext = NULL;
	struct ocr_seccomp *f = prepare_ok(&s, &log);

	ok(f != NULL, "prepare: ERRNO rule with an unknown name in the same entry");
	if (f)
		ok(exited_ok(run_filtered(f, NULL, child_getcwd_errno38)),
		   "getcwd returns -1/errno 38 (errnoRet), other syscalls allowed");
	else
		ok(0, "getcwd returns -1/errno 38 (errnoRet), other syscalls allowed");
	ocr_seccomp_free(f);
	read_file_at(AT_FDCWD, logpath, 1 << 20, &logtext, NULL, NULL);
	ok(logtext && strstr(logtext, "unknown syscall `no_such_syscall_xyz` skipped") &&
		   strstr(logtext, "another_unknown_syscall"),
	   "unknown syscall names are skipped with a debug line");
	close(log.fd);
	unlink(logpath);
}

static void test_arg_condition(void)
{
	struct spec_seccomp_arg args[] = {{.index = 0, .value = 0xffffffffULL, .op = SPEC_SCMP_CMP_EQ}};
	struct spec_seccomp_syscall sc[] = {{.names = names_personality,
					     .n_names = 1,
					     .action = SPEC_SCMP_ERRNO,
					     .errno_ret = {true, EACCES},
					     .args = args,
					     .n_args = 1}};
	struct spec_seccomp s = {.default_action = SPEC_SCMP_ALLOW, .syscalls = sc, .n_syscalls = 1};
	struct ocr_seccomp *f = prepare_ok(&s, NULL);

	ok(f && exited_ok(run_filtered(f, NULL, child_personality)),
	   "personality(0xffffffff) blocked by arg0 == 0xffffffff, personality(0) allowed");
	ocr_seccomp_free(f);
}

static void test_same_index_or(void)
{
	struct spec_seccomp_arg args[] = {
		{.index = 0, .value = 01, .op = SPEC_SCMP_CMP_EQ},
		{.index = 0, .value = 02, .op = SPEC_SCMP_CMP_EQ},
	};
	struct spec_seccomp_syscall sc[] = {{.names = names_umask,
					     .n_names = 1,
					     .action = SPEC_SCMP_ERRNO,
					     .errno_ret = {true, EXDEV},
					     .args = args,
					     .n_args = 2}};
	struct spec_seccomp s = {.default_action = SPEC_SCMP_ALLOW, .syscalls = sc, .n_syscalls = 1};
	struct ocr_seccomp *f = prepare_ok(&s, NULL);

	ok(f && exited_ok(run_filtered(f, NULL, child_umask_or)),
	   "two conditions on the same index are OR-ed (runc): umask(1) and umask(2) blocked");
	ocr_seccomp_free(f);
}

static void test_masked_eq(void)
{
	/* value = mask, valueTwo = datum (runc / Docker profiles) */
	struct spec_seccomp_arg args[] = {
		{.index = 0, .value = 070, .value_two = 020, .op = SPEC_SCMP_CMP_MASKED_EQ},
	};
	struct spec_seccomp_syscall sc[] = {{.names = names_umask,
					     .n_names = 1,
					     .action = SPEC_SCMP_ERRNO,
					     .errno_ret = {true, EXDEV},
					     .args = args,
					     .n_args = 1}};
	struct spec_seccomp s = {.default_action = SPEC_SCMP_ALLOW, .syscalls = sc, .n_syscalls = 1};
	struct ocr_seccomp *f = prepare_ok(&s, NULL);

	ok(f && exited_ok(run_filtered(f, NULL, child_umask_masked)),
	   "MASKED_EQ: value is the mask, valueTwo the datum");
	ocr_seccomp_free(f);
}

static void test_kill(enum spec_seccomp_action action, const char *label)
{
	struct spec_seccomp_syscall sc[] = {{.names = names_getppid, .n_names = 1, .action = action}};
	struct spec_seccomp s = {.default_action = SPEC_SCMP_ALLOW, .syscalls = sc, .n_syscalls = 1};
	struct ocr_seccomp *f = prepare_ok(&s, NULL);
	int status = f ? run_filtered(f, NULL, child_getppid_killed) : 0;

	ok(f && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	   "%s on getppid kills the child with SIGSYS (status 0x%x)", label, status);
	ocr_seccomp_free(f);
}

static void test_default_errno(void)
{
	struct spec_seccomp_syscall sc[] = {
		{.names = names_exit, .n_names = 2, .action = SPEC_SCMP_ALLOW},
		/* same action as the default: skipped, libseccomp would refuse it */
		{.names = names_getcwd + 1, .n_names = 1, .action = SPEC_SCMP_ERRNO, .errno_ret = {true, ENOTSUP}},
	};
	struct spec_seccomp s = {.default_action = SPEC_SCMP_ERRNO,
				 .default_errno_ret = {true, ENOTSUP},
				 .syscalls = sc,
				 .n_syscalls = ARRAY_SIZE(sc)};
	struct ocr_seccomp *f = prepare_ok(&s, NULL);

	ok(f != NULL, "a rule with the default action is skipped, not an error");
	ok(f && exited_ok(run_filtered(f, NULL, child_default_errno)), "defaultAction ERRNO uses defaultErrnoRet");
	ocr_seccomp_free(f);
}

static void test_arches_and_flags(void)
{
	char *arches[] = {"SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"};
	char *bad_arch[] = {"SCMP_ARCH_X86", "SCMP_ARCH_FOO"};
	char *no_prefix[] = {"x86_64"};
	char *good_flags[] = {"SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_LOG"};
	char *bad_flag[] = {"SECCOMP_FILTER_FLAG_BOGUS"};
	char *waitkill[] = {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"};
	struct spec_seccomp_syscall sc[] = {
		{.names = names_getcwd, .n_names = 2, .action = SPEC_SCMP_ERRNO, .errno_ret = {true, 38}}};
	struct spec_seccomp s = {.default_action = SPEC_SCMP_ALLOW,
				 .architectures = arches,
				 .n_architectures = ARRAY_SIZE(arches),
				 .flags = good_flags,
				 .n_flags = ARRAY_SIZE(good_flags),
				 .syscalls = sc,
				 .n_syscalls = 1};
	struct ocr_error err = {0};
	struct ocr_seccomp *f = prepare_ok(&s, NULL);

	ok(f && exited_ok(run_filtered(f, NULL, child_getcwd_errno38)),
	   "several architectures (native included) and TSYNC+LOG flags load and work");
	ocr_seccomp_free(f);

	s.architectures = bad_arch;
	s.n_architectures = ARRAY_SIZE(bad_arch);
	ok(prepare_fails(&s, &err) < 0 && err_contains(&err, "unknown architecture `SCMP_ARCH_FOO`") &&
		   err_contains(&err, "architectures[1]"),
	   "an unknown architecture is an error naming it");
	s.architectures = no_prefix;
	s.n_architectures = 1;
	ok(prepare_fails(&s, &err) < 0 && err_contains(&err, "`x86_64`"),
	   "an architecture without the SCMP_ARCH_ prefix is refused");
	s.n_architectures = 0;

	s.flags = bad_flag;
	s.n_flags = 1;
	ok(prepare_fails(&s, &err) < 0 && err_contains(&err, "SECCOMP_FILTER_FLAG_BOGUS"),
	   "an unknown flag is an error naming it");
	s.flags = waitkill;
	if (seccomp_version()->major == 2 && seccomp_version()->minor < 6)
		ok(prepare_fails(&s, &err) < 0 && err_contains(&err, "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"),
		   "WAIT_KILLABLE_RECV is refused by name with libseccomp < 2.6");
	else
		ok(true, "# SKIP libseccomp >= 2.6 supports WAIT_KILLABLE_RECV");
}

static void test_invalid_specs(void)
{
	struct spec_seccomp_arg bad_index[] = {{.index = 6, .value = 1, .op = SPEC_SCMP_CMP_EQ}};
	struct spec_seccomp_syscall sc[] = {
		{.names = names_getppid, .n_names = 1, .action = SPEC_SCMP_ALLOW, .errno_ret = {true, 1}}};
	struct spec_seccomp s = {.default_action = SPEC_SCMP_KILL, .syscalls = sc, .n_syscalls = 1};
	struct ocr_error err = {0};

	ok(prepare_fails(&s, &err) < 0 && err_contains(&err, "syscalls[0]") && err_contains(&err, "SCMP_ACT_ALLOW"),
	   "errnoRet with SCMP_ACT_ALLOW is refused");
	sc[0].errno_ret.set = false;
	s.default_action = SPEC_SCMP_ALLOW;
	s.default_errno_ret = (struct opt_u64){true, 1};
	ok(prepare_fails(&s, &err) < 0 && err_contains(&err, "defaultAction"),
	   "defaultErrnoRet with defaultAction SCMP_ACT_ALLOW is refused");
	s.default_errno_ret.set = false;
	sc[0].action = SPEC_SCMP_ERRNO;
	sc[0].args = bad_index;
	sc[0].n_args = 1;
	ok(prepare_fails(&s, &err) < 0 && err_contains(&err, "index 6"), "an argument index above 5 is refused");
	sc[0].n_args = 0;

	s.default_action = SPEC_SCMP_NOTIFY;
	s.listener_path = "/tmp/x.sock";
	ok(prepare_fails(&s, &err) < 0 && err_contains(&err, "default action"),
	   "SCMP_ACT_NOTIFY as the default action is refused (as runc)");
	s.default_action = SPEC_SCMP_ALLOW;
	sc[0].action = SPEC_SCMP_NOTIFY;
	sc[0].names = names_sendmsg;
	ok(prepare_fails(&s, &err) < 0 && err_contains(&err, "`sendmsg`"), "SCMP_ACT_NOTIFY on sendmsg is refused");
	sc[0].names = names_getppid;
	s.listener_path = NULL;
	ok(prepare_fails(&s, &err) < 0 && err_contains(&err, "listenerPath"),
	   "SCMP_ACT_NOTIFY without listenerPath is refused");
	ocr_seccomp_free(NULL);
}

/* The listener side: accept one connection, take the fd and the JSON,
 * then answer the child's getppid() with 12345. */
static int listener_serve(int lfd, char **ret_json, int *ret_nfd)
{
	char buf[65536];
	size_t len = 0;
	union {
		char c[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} ctrl;
	struct iovec iov = {.iov_base = buf, .iov_len = sizeof(buf) - 1};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctrl.c, .msg_controllen = sizeof(ctrl.c)};
	struct pollfd p = {.fd = lfd, .events = POLLIN};
	struct cmsghdr *cm;
	ssize_t n;
	int conn;

	*ret_nfd = -1;
	if (poll(&p, 1, 10000) != 1)
		return -1;
	conn = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	if (conn < 0)
		return -1;
	n = recvmsg(conn, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0) {
		close(conn);
		return -1;
	}
	len = (size_t)n;
	for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm))
		if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
			memcpy(ret_nfd, CMSG_DATA(cm), sizeof(int));
	/* the runtime closes the connection after one state */
	while ((n = read(conn, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += (size_t)n;
	close(conn);
	buf[len] = '\0';
	*ret_json = xstrdup(buf);
	return 0;
}

static int answer_notification(int nfd)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	struct pollfd p = {.fd = nfd, .events = POLLIN};

	if (poll(&p, 1, 10000) != 1)
		return -1;
	memset(&req, 0, sizeof(req));
	if (ioctl(nfd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0 || req.data.nr != SYS_getppid)
		return -1;
	memset(&resp, 0, sizeof(resp));
	resp.id = req.id;
	resp.val = 12345;
	return ioctl(nfd, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

static void test_notify(void)
{
	const char *state = "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"creating\","
			    "\"pid\":4242,\"bundle\":\"/b\",\"annotations\":{\"k\":\"v\"}}";
	char dir[] = "/tmp/test-seccomp-XXXXXX";
	char path[100];
	struct spec_seccomp_syscall sc[] = {{.names = names_getppid, .n_names = 1, .action = SPEC_SCMP_NOTIFY}};
	/* TSYNC with a listener needs TSYNC_ESRCH (Linux 5.7), which
	 * libseccomp adds itself */
	char *tsync[] = {"SECCOMP_FILTER_FLAG_TSYNC"};
	struct spec_seccomp s = {.default_action = SPEC_SCMP_ALLOW,
				 .syscalls = sc,
				 .n_syscalls = 1,
				 .flags = tsync,
				 .n_flags = 1,
				 .listener_path = path,
				 .listener_metadata = "hello-meta"};
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	cleanup_free char *json = NULL;
	struct ocr_seccomp *f = NULL;
	json_t *msg = NULL, *state_obj;
	int lfd = -1, nfd = -1, status = -1;
	pid_t pid;

	if (mkdtemp(dir) == NULL) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/listener.sock", dir);

	/* no listener yet: load fails before the filter is installed */
	f = prepare_ok(&s, NULL);
	ok(f && WIFEXITED(status = run_filtered(f, state, child_nothing)) && WEXITSTATUS(status) == CHILD_LOAD_FAILED,
	   "NOTIFY: load fails cleanly when nobody listens on listenerPath");

	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) < 0 || listen(lfd, 1) < 0) {
		ok(0, "listener socket: %s", strerror(errno));
		goto out;
	}
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		struct ocr_error err = {0};
		close(lfd);
		prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
		if (ocr_seccomp_load(f, state, &err) < 0) {
			diag_err(&err);
			fflush(stdout);
			_exit(CHILD_LOAD_FAILED);
		}
		_exit(child_notified());
	}
	ok(listener_serve(lfd, &json, &nfd) == 0 && nfd >= 0,
	   "NOTIFY: the listener receives the state and a fd via SCM_RIGHTS");
	msg = json ? json_loads(json, 0, NULL) : NULL;
	state_obj = json_object_get(msg, "state");
	ok(msg && json_is_array(json_object_get(msg, "fds")) && json_array_size(json_object_get(msg, "fds")) == 1 &&
		   strcmp(json_string_value(json_array_get(json_object_get(msg, "fds"), 0)) ?: "", "seccompFd") == 0,
	   "NOTIFY: \"fds\" is [\"seccompFd\"]");
	ok(msg && json_string_value(json_object_get(msg, "metadata")) &&
		   strcmp(json_string_value(json_object_get(msg, "metadata")), "hello-meta") == 0 &&
		   json_integer_value(json_object_get(msg, "pid")) == 4242 &&
		   json_string_value(json_object_get(msg, "ociVersion")) &&
		   json_string_value(json_object_get(state_obj, "id")) &&
		   strcmp(json_string_value(json_object_get(state_obj, "id")), "c1") == 0,
	   "NOTIFY: metadata, pid, ociVersion and the container state are sent");
	if (json)
		printf("# %s\n", json);
	ok(nfd >= 0 && answer_notification(nfd) == 0, "NOTIFY: the notification arrives on the fd");
	if (nfd >= 0)
		close(nfd); /* a still waiting syscall fails with ENOSYS now */
	nfd = -1;
	status = -1;
	for (int i = 0; i < 500 && waitpid(pid, &status, WNOHANG) == 0; i++)
		usleep(10000);
	if (status == -1) {
		kill(pid, SIGKILL);
		TEMP_FAILURE_RETRY(waitpid(pid, NULL, 0));
	}
	ok(status != -1 && exited_ok(status), "NOTIFY: the child sees the agent's answer");
out:
	json_decref(msg);
	if (nfd >= 0)
		close(nfd);
	if (lfd >= 0)
		close(lfd);
	ocr_seccomp_free(f);
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	test_errno_and_unknown();
	test_arg_condition();
	test_same_index_or();
	test_masked_eq();
	test_kill(SPEC_SCMP_KILL_PROCESS, "SCMP_ACT_KILL_PROCESS");
	test_kill(SPEC_SCMP_KILL, "SCMP_ACT_KILL");
	test_default_errno();
	test_arches_and_flags();
	test_invalid_specs();
	test_notify();
	return done_testing();
}
