/* hooks.c: real hooks are run -- /bin/sh, /bin/sleep and this test binary
 * itself in a "hook mode" (argv[1] = --hook-*) that reports exactly what it
 * received. TAP output. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hooks.h"
#include "tap.h"
#include "utils.h"

extern char **environ;

static bool err_contains(const struct ocr_error *err, const char *needle)
{
	char buf[OCR_ERROR_MSG_MAX + 128];

	ocr_error_format(err, buf, sizeof(buf));
	if (strstr(buf, needle))
		return true;
	printf("# expected `%s` in: %s\n", needle, buf);
	return false;
}

static void diag_lines(const char *text)
{
	for (const char *p = text; p && *p;) {
		const char *nl = strchr(p, '\n');
		int len = nl ? (int)(nl - p) : (int)strlen(p);
		printf("# %.*s\n", len, p);
		p += len + (nl ? 1 : 0);
	}
}

/* ---- hook mode: this binary run as a hook ---- */
static int hook_mode(int argc, char **argv)
{
	const char *mode = argv[1];
	FILE *out;

	if (argc < 3)
		return 90;
	out = fopen(argv[2], "w");
	if (out == NULL)
		return 91;
	if (strcmp(mode, "--hook-dump") == 0) {
		/* argv and environ, one per line, exactly */
		for (int i = 0; i < argc; i++)
			fprintf(out, "A:%s\n", argv[i]);
		for (char **e = environ; *e; e++)
			fprintf(out, "E:%s\n", *e);
	} else if (strcmp(mode, "--hook-stdin") == 0) {
		char buf[65536];
		ssize_t n;
		while ((n = read(STDIN_FILENO, buf, sizeof(buf))) > 0)
			fwrite(buf, 1, (size_t)n, out);
	} else if (strcmp(mode, "--hook-fds") == 0) {
		/* open fds (but the one listing them) and the signal state */
		cleanup_dir DIR *d = opendir("/proc/self/fd");
		struct dirent *de;
		char line[256];
		FILE *st;
		while (d && (de = readdir(d)) != NULL)
			if (de->d_name[0] != '.' && atoi(de->d_name) != dirfd(d) && atoi(de->d_name) != fileno(out))
				fprintf(out, "fd:%s\n", de->d_name);
		st = fopen("/proc/self/status", "r");
		while (st && fgets(line, sizeof(line), st))
			if (strncmp(line, "SigBlk:", 7) == 0 || strncmp(line, "SigIgn:", 7) == 0)
				fputs(line, out);
		if (st)
			fclose(st);
	} else {
		return 92;
	}
	return fclose(out) == 0 ? 0 : 93;
}

/* ---- helpers ---- */
static char self_exe[PATH_MAX];
static char tmpdir[] = "/tmp/test-hooks-XXXXXX";
static const char *state_json = "{\"ociVersion\":\"1.2.0\",\"id\":\"c1\",\"status\":\"creating\","
				"\"pid\":42,\"bundle\":\"/b\",\"annotations\":{\"k\":\"v\"}}";

static char *tmp_path(const char *name)
{
	return xasprintf("%s/%s", tmpdir, name);
}

static char *slurp(const char *path)
{
	char *buf = NULL;
	struct ocr_error err = {0};

	if (read_file_at(AT_FDCWD, path, 16u << 20, &buf, NULL, &err) < 0)
		return NULL;
	return buf;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- tests ---- */
static void test_stdin_intact(void)
{
	cleanup_free char *out = tmp_path("stdin.out");
	cleanup_free char *got = NULL;
	char *args[] = {"hook", "--hook-stdin", out, NULL};
	struct spec_hook h = {.path = self_exe, .args = args};
	struct ocr_error err = {0};
	int r = hooks_run(SPEC_HOOK_CREATE_RUNTIME, &h, 1, state_json, NULL, &err);

	got = slurp(out);
	ok(r == 0 && got && strcmp(got, state_json) == 0, "the state JSON arrives intact on stdin");
}

static void test_args_env_exact(void)
{
	cleanup_free char *out = tmp_path("dump.out");
	cleanup_free char *got = NULL, *want = NULL;
	char *args[] = {"custom-argv0", "--hook-dump", out, "a b", "", "x=$HOME", NULL};
	char *env[] = {"FOO=bar baz", "EMPTY=", "PATH=/nowhere", NULL};
	struct spec_hook h = {.path = self_exe, .args = args, .env = env};
	struct ocr_error err = {0};
	int r;

	r = hooks_run(SPEC_HOOK_PRESTART, &h, 1, state_json, NULL, &err);
	got = slurp(out);
	want = xasprintf("A:custom-argv0\nA:--hook-dump\nA:%s\nA:a b\nA:\nA:x=$HOME\n"
			 "E:FOO=bar baz\nE:EMPTY=\nE:PATH=/nowhere\n",
			 out);
	ok(r == 0 && got && strcmp(got, want) == 0, "args (argv[0] included) and env are passed exactly");
	if (got && strcmp(got, want) != 0)
		diag_lines(got);
}

static void test_null_env_and_args(void)
{
	cleanup_free char *out = tmp_path("null.out");
	cleanup_free char *script = tmp_path("null.sh");
	cleanup_free char *body = xasprintf("#!/bin/sh\necho \"$0|$#\" > \"%s\"\n", out);
	cleanup_free char *got = NULL, *want = NULL;
	char *args[] = {"hook", "--hook-dump", out, NULL};
	struct spec_hook dump = {.path = self_exe, .args = args};
	struct spec_hook h = {.path = script};
	struct ocr_error err = {0};
	int r;

	r = hooks_run(SPEC_HOOK_POSTSTOP, &dump, 1, state_json, NULL, &err);
	got = slurp(out);
	ok(r == 0 && got && str_has_prefix(got, "A:hook\n") && !strstr(got, "E:"),
	   "without env the hook's environment is empty (ours is not inherited)");
	free(got);
	got = NULL;

	if (write_file_atomic(script, body, strlen(body), 0755, &err) < 0) {
		ok(0, "write %s", script);
		return;
	}
	r = hooks_run(SPEC_HOOK_POSTSTOP, &h, 1, state_json, NULL, &err);
	got = slurp(out);
	want = xasprintf("%s|0\n", script);
	ok(r == 0 && got && strcmp(got, want) == 0, "without args the path is argv[0] and nothing else");
}

static void test_failing_hook(void)
{
	cleanup_free char *out = tmp_path("not-run.out");
	char *fail_args[] = {"sh", "-c", "exit 3", NULL};
	char *touch_args[] = {"sh", "-c", "echo run > \"$0\"", out, NULL};
	struct spec_hook h[] = {
		{.path = "/bin/sh", .args = touch_args},
		{.path = "/bin/sh", .args = fail_args},
		{.path = "/bin/sh", .args = touch_args},
	};
	struct ocr_error err = {0};
	int r;

	r = hooks_run(SPEC_HOOK_CREATE_RUNTIME, h, 3, state_json, NULL, &err);
	ok(r < 0 && err_contains(&err, "exited with status 3") && err_contains(&err, "/bin/sh") &&
		   err_contains(&err, "createRuntime hook 1 `/bin/sh`"),
	   "a hook exiting 3 fails with its kind, index, path and status");
	unlink(out);
	h[0] = h[1];
	r = hooks_run(SPEC_HOOK_CREATE_RUNTIME, h, 3, state_json, NULL, &err);
	ok(r < 0 && access(out, F_OK) < 0, "hooks after a failing one do not run");
}

/* runtime-spec: a failing poststart/poststop hook is a warning and the
 * next ones still run. */
static void test_poststop_continues(void)
{
	char path[] = "/tmp/test-hooks-cont-XXXXXX";
	int fd = mkstemp(path);
	char *fail_args[] = {"sh", "-c", "exit 3", NULL};
	char *mark_args[] = {"sh", "-c", "echo ran >\"$0\"", path, NULL};
	struct spec_hook hs[2] = {{.path = "/bin/sh", .args = fail_args}, {.path = "/bin/sh", .args = mark_args}};
	struct ocr_error err = {0};
	cleanup_free char *got = NULL;

	if (fd >= 0)
		close(fd);
	ok(hooks_run(SPEC_HOOK_POSTSTOP, hs, 2, state_json, NULL, &err) == 0,
	   "a failing poststop hook is not an error");
	got = slurp(path);
	ok(got != NULL && strcmp(got, "ran\n") == 0, "the poststop hook after a failing one still runs");
	unlink(path);
}

static void test_signal_and_exec_error(void)
{
	char *kill_args[] = {"sh", "-c", "kill -KILL $$", NULL};
	struct spec_hook h = {.path = "/bin/sh", .args = kill_args};
	struct spec_hook missing = {.path = "/nonexistent/hook"};
	struct ocr_error err = {0};

	ok(hooks_run(SPEC_HOOK_CREATE_RUNTIME, &h, 1, state_json, NULL, &err) < 0 &&
		   err_contains(&err, "killed by signal SIGKILL"),
	   "a hook killed by a signal fails naming the signal");
	ok(hooks_run(SPEC_HOOK_CREATE_RUNTIME, &missing, 1, state_json, NULL, &err) < 0 && err.err == ENOENT &&
		   err_contains(&err, "/nonexistent/hook") && err_contains(&err, "execute: No such file or directory"),
	   "a hook that cannot be executed fails with the exec errno");
}

static void test_timeout(void)
{
	char *args[] = {"sleep", "5", NULL};
	struct spec_hook h = {.path = "/bin/sleep", .args = args, .timeout = {true, 1}};
	struct ocr_error err = {0};
	double t0 = now_s(), dt;
	int r;

	r = hooks_run(SPEC_HOOK_PRESTART, &h, 1, state_json, NULL, &err);
	dt = now_s() - t0;
	ok(r < 0 && err_contains(&err, "timed out after 1 s") && dt >= 0.9 && dt < 3.0,
	   "sleep 5 with timeout 1 fails after ~1 s (%.2f s)", dt);

	h.timeout.v = 10;
	args[1] = "0.1";
	ok(hooks_run(SPEC_HOOK_PRESTART, &h, 1, state_json, NULL, &err) == 0,
	   "a hook finishing within its timeout succeeds");
}

static void test_order(void)
{
	cleanup_free char *out = tmp_path("order.out");
	cleanup_free char *got = NULL;
	char *a[] = {"sh", "-c", "echo A >> \"$0\"", out, NULL};
	char *b[] = {"sh", "-c", "sleep 0.1; echo B >> \"$0\"", out, NULL};
	char *c[] = {"sh", "-c", "echo C >> \"$0\"", out, NULL};
	struct spec_hook h[] = {
		{.path = "/bin/sh", .args = a}, {.path = "/bin/sh", .args = b}, {.path = "/bin/sh", .args = c}};
	struct ocr_error err = {0};
	int r = hooks_run(SPEC_HOOK_START_CONTAINER, h, 3, state_json, NULL, &err);

	got = slurp(out);
	ok(r == 0 && got && strcmp(got, "A\nB\nC\n") == 0, "several hooks run in order, one at a time");
	ok(hooks_run(SPEC_HOOK_START_CONTAINER, NULL, 0, state_json, NULL, &err) == 0, "no hooks: nothing to do");
}

static void test_large_state(void)
{
	size_t big_len = 1u << 20;
	cleanup_free char *big = xmalloc(big_len + 1);
	cleanup_free char *out = tmp_path("big.out");
	cleanup_free char *got = NULL;
	char *true_args[] = {"true", NULL};
	char *sleep_args[] = {"sleep", "0.3", NULL};
	char *stdin_args[] = {"hook", "--hook-stdin", out, NULL};
	struct spec_hook h_true = {.path = "/bin/true", .args = true_args};
	struct spec_hook h_sleep = {.path = "/bin/sleep", .args = sleep_args, .timeout = {true, 5}};
	struct spec_hook h_read = {.path = self_exe, .args = stdin_args};
	struct ocr_error err = {0};
	sigset_t pending;
	size_t got_len;
	double t0, dt;
	int r;

	for (size_t i = 0; i < big_len; i++)
		big[i] = (char)('a' + i % 26);
	big[big_len] = '\0';
	ok(hooks_run(SPEC_HOOK_POSTSTOP, &h_true, 1, big, NULL, &err) == 0,
	   "a hook that exits without reading a 1 MiB state succeeds");
	ok(hooks_run(SPEC_HOOK_POSTSTOP, &h_sleep, 1, big, NULL, &err) == 0,
	   "a hook that lingers without reading a 1 MiB state does not block us");
	sleep_args[1] = "5";
	h_sleep.timeout.v = 1;
	t0 = now_s();
	r = hooks_run(SPEC_HOOK_PRESTART, &h_sleep, 1, big, NULL, &err);
	dt = now_s() - t0;
	ok(r < 0 && err_contains(&err, "timed out") && dt < 3.0,
	   "the timeout holds while a 1 MiB state waits unread (%.2f s)", dt);
	sigpending(&pending);
	ok(sigismember(&pending, SIGPIPE) == 0, "no SIGPIPE is left pending");
	r = hooks_run(SPEC_HOOK_POSTSTOP, &h_read, 1, big, NULL, &err);
	got = slurp(out);
	got_len = got ? strlen(got) : 0;
	ok(r == 0 && got_len == big_len && memcmp(got, big, big_len) == 0,
	   "a hook reading a 1 MiB state gets all of it (%zu bytes)", got_len);
}

/* Every "fd:N" line of a --hook-fds report is 0, 1 or 2. */
static bool only_std_fds(const char *report)
{
	for (const char *p = strstr(report, "fd:"); p; p = strstr(p + 1, "fd:"))
		if (!(p[3] >= '0' && p[3] <= '2' && p[4] == '\n'))
			return false;
	return true;
}

static void test_clean_child(void)
{
	cleanup_free char *out = tmp_path("fds.out");
	cleanup_free char *got = NULL;
	char *args[] = {"hook", "--hook-fds", out, NULL};
	struct spec_hook h = {.path = self_exe, .args = args};
	struct ocr_error err = {0};
	struct sigaction ign = {.sa_handler = SIG_IGN}, old_act;
	sigset_t block, old_mask;
	int null_fd = open("/dev/null", O_RDONLY);
	int leak = fcntl(null_fd, F_DUPFD, 20); /* no O_CLOEXEC on purpose */
	int r;

	sigemptyset(&block);
	sigaddset(&block, SIGUSR1);
	sigprocmask(SIG_BLOCK, &block, &old_mask);
	sigaction(SIGUSR2, &ign, &old_act);
	r = hooks_run(SPEC_HOOK_CREATE_CONTAINER, &h, 1, state_json, NULL, &err);
	sigaction(SIGUSR2, &old_act, NULL);
	sigprocmask(SIG_SETMASK, &old_mask, NULL);
	close(leak);
	close(null_fd);

	got = slurp(out);
	diag_lines(got);
	ok(r == 0 && got && strstr(got, "fd:0\n") && only_std_fds(got),
	   "the hook gets stdin and no other fd of ours (fd %d was open)", leak);
	ok(got && strstr(got, "SigBlk:\t0000000000000000\n") && strstr(got, "SigIgn:\t0000000000000000\n"),
	   "the hook starts with an empty signal mask and default dispositions");
}

int main(int argc, char **argv)
{
	ssize_t n;
	struct ocr_error err = {0};

	if (argc >= 2 && str_has_prefix(argv[1], "--hook-"))
		return hook_mode(argc, argv);

	n = readlink("/proc/self/exe", self_exe, sizeof(self_exe) - 1);
	if (n <= 0 || mkdtemp(tmpdir) == NULL) {
		printf("Bail out! cannot find myself or create a temporary directory\n");
		return 1;
	}
	self_exe[n] = '\0';

	test_stdin_intact();
	test_args_env_exact();
	test_null_env_and_args();
	test_failing_hook();
	test_signal_and_exec_error();
	test_poststop_continues();
	test_timeout();
	test_order();
	test_large_state();
	test_clean_child();

	rm_rf_at(AT_FDCWD, tmpdir, &err);
	return done_testing();
}
