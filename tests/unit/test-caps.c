/* caps.c: each case runs in a forked child that first unshares a user
 * namespace (it then holds every capability there, also when the test runs
 * unprivileged), applies a spec_caps and checks /proc/self/status. TAP. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "caps.h"
#include "tap.h"
#include "utils.h"

static void skip(const char *why)
{
	ok(true, "# SKIP %s", why);
}

/* ---- helpers ---- */
#define BIT(n) (1ULL << (n))
#define C_CHOWN 0
#define C_KILL 5
#define C_SETPCAP 8
#define C_NET_BIND 10

struct capsets {
	unsigned long long inh, prm, eff, bnd, amb;
};

static int read_capsets(struct capsets *c)
{
	cleanup_fclose FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	int found = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		found += sscanf(line, "CapInh: %llx", &c->inh);
		found += sscanf(line, "CapPrm: %llx", &c->prm);
		found += sscanf(line, "CapEff: %llx", &c->eff);
		found += sscanf(line, "CapBnd: %llx", &c->bnd);
		found += sscanf(line, "CapAmb: %llx", &c->amb);
	}
	return found == 5 ? 0 : -1;
}

static bool userns_works(void)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0)
		_exit(unshare(CLONE_NEWUSER) == 0 ? 0 : 1);
	return pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

typedef int (*child_fn)(void);

/* Run FN in a child inside a new user namespace; 0 when it returned 0. */
static int in_userns(child_fn fn)
{
	int status = 0;
	pid_t pid;

	fflush(stdout);
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		if (unshare(CLONE_NEWUSER) < 0)
			_exit(99);
		_exit(fn());
	}
	if (waitpid(pid, &status, 0) != pid)
		return -1;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		printf("# child status 0x%x\n", status);
		return -1;
	}
	return 0;
}

static void child_diag(const struct ocr_error *err)
{
	char buf[OCR_ERROR_MSG_MAX + 128];

	ocr_error_format(err, buf, sizeof(buf));
	printf("# child error: %s\n", buf);
	fflush(stdout);
}

static char logpath[] = "/tmp/test-caps-log-XXXXXX";
static int log_fd = -1;

static struct ocr_log debug_log(void)
{
	struct ocr_log log = {.fd = log_fd, .debug = true, .to_stderr = false};
	return log;
}

static bool log_has(const char *needle)
{
	cleanup_free char *text = NULL;

	if (read_file_at(AT_FDCWD, logpath, 1 << 20, &text, NULL, NULL) < 0)
		return false;
	if (strstr(text, needle))
		return true;
	printf("# log lacks `%s`\n", needle);
	return false;
}

/* ---- children ---- */
static char *bounding[] = {"CAP_CHOWN", "CAP_KILL", "CAP_SETPCAP", "CAP_NO_SUCH_CAP", "CAP_NET_BIND_SERVICE ",
			   "12",	NULL};

static int child_bounding(void)
{
	struct spec_caps caps = {.bounding = bounding, .n_bounding = 6};
	struct ocr_log log = debug_log();
	struct ocr_error err = {0};
	struct capsets c;

	if (caps_drop_bounding(&caps, &log, &err) < 0) {
		child_diag(&err);
		return 1;
	}
	if (read_capsets(&c) < 0)
		return 2;
	if (c.bnd != (BIT(C_CHOWN) | BIT(C_KILL) | BIT(C_SETPCAP))) {
		printf("# CapBnd %llx\n", c.bnd);
		return 3;
	}
	/* dropping again (nothing left to drop) is fine */
	return caps_drop_bounding(&caps, &log, &err) < 0 ? 4 : 0;
}

static char *eff[] = {"CAP_CHOWN", NULL};
static char *prm[] = {"CAP_CHOWN", "CAP_KILL", NULL};
static char *inh[] = {"CAP_KILL", "CAP_NO_SUCH_CAP", NULL};
static char *amb[] = {"CAP_KILL", "CAP_CHOWN", NULL};

static int child_apply(void)
{
	struct spec_caps caps = {.bounding = prm,
				 .n_bounding = 2,
				 .effective = eff,
				 .n_effective = 1,
				 .permitted = prm,
				 .n_permitted = 2,
				 .inheritable = inh,
				 .n_inheritable = 2,
				 .ambient = amb,
				 .n_ambient = 2};
	struct ocr_log log = debug_log();
	struct ocr_error err = {0};
	struct capsets c;

	if (caps_drop_bounding(&caps, &log, &err) < 0 || caps_keep_on_setuid(&caps, &err) < 0) {
		child_diag(&err);
		return 1;
	}
	if (prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) != 1)
		return 2;
	if (caps_apply(&caps, &log, &err) < 0) {
		child_diag(&err);
		return 3;
	}
	if (read_capsets(&c) < 0)
		return 4;
	if (c.eff != BIT(C_CHOWN) || c.prm != (BIT(C_CHOWN) | BIT(C_KILL)) || c.inh != BIT(C_KILL) ||
	    c.amb != BIT(C_KILL) || c.bnd != (BIT(C_CHOWN) | BIT(C_KILL))) {
		printf("# eff %llx prm %llx inh %llx amb %llx bnd %llx\n", c.eff, c.prm, c.inh, c.amb, c.bnd);
		return 5;
	}
	if (prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) != 0)
		return 6;
	return 0;
}

static int child_null(void)
{
	struct ocr_error err = {0};
	struct capsets after;

	if (caps_drop_bounding(NULL, NULL, &err) < 0 || caps_keep_on_setuid(NULL, &err) < 0 ||
	    caps_apply(NULL, NULL, &err) < 0)
		return 2;
	if (read_capsets(&after) < 0 || after.bnd != 0 || after.eff != 0 || after.prm != 0 || after.inh != 0 ||
	    after.amb != 0)
		return 3;
	return prctl(PR_GET_KEEPCAPS, 0, 0, 0, 0) == 0 ? 0 : 4;
}

static char *eff_bad[] = {"CAP_NET_BIND_SERVICE", NULL};

static int child_eff_not_permitted(void)
{
	struct spec_caps caps = {.effective = eff_bad, .n_effective = 1, .permitted = prm, .n_permitted = 2};
	struct ocr_error err = {0};

	if (caps_apply(&caps, NULL, &err) == 0)
		return 1;
	child_diag(&err);
	return (err.err == EPERM && strstr(err.msg, "not in the permitted set")) ? 0 : 2;
}

static int child_empty(void)
{
	struct spec_caps caps = {0};
	struct ocr_error err = {0};
	struct capsets c;

	if (caps_drop_bounding(&caps, NULL, &err) < 0 || caps_apply(&caps, NULL, &err) < 0) {
		child_diag(&err);
		return 1;
	}
	if (read_capsets(&c) < 0)
		return 2;
	return (c.eff | c.prm | c.inh | c.amb | c.bnd) == 0 ? 0 : 3;
}

int main(void)
{
	cleanup_free char *text = NULL;
	uint64_t last = 0;

	if (read_file_at(AT_FDCWD, "/proc/sys/kernel/cap_last_cap", 64, &text, NULL, NULL) == 0) {
		text[strcspn(text, "\n")] = '\0';
		parse_u64(text, &last);
	}
	ok(caps_last_cap() == (int)last && last > 0, "caps_last_cap() reads the kernel's (%d)", caps_last_cap());

	log_fd = mkstemp(logpath);
	if (log_fd < 0 || !userns_works()) {
		for (int i = 0; i < 7; i++)
			skip("unshare(CLONE_NEWUSER) is not permitted here");
	} else {
		ok(in_userns(child_null) == 0, "caps == NULL leaves no capability in any set");
		ok(in_userns(child_bounding) == 0, "the bounding set keeps exactly the listed known capabilities");
		ok(log_has("capability CAP_NO_SUCH_CAP is not known to this kernel, skipped") &&
			   log_has("capability 12 is not known") &&
			   log_has("capability CAP_NET_BIND_SERVICE  is not known"),
		   "unknown and malformed names are skipped with a debug line");
		ok(in_userns(child_apply) == 0, "effective/permitted/inheritable/ambient are set, keep-caps cleared");
		ok(log_has("cannot raise ambient capability CAP_CHOWN"),
		   "an ambient capability that is not inheritable is a warning, as in runc");
		ok(in_userns(child_eff_not_permitted) == 0,
		   "an effective capability outside the permitted set is an error");
		ok(in_userns(child_empty) == 0, "empty lists drop every capability");
	}
	if (log_fd >= 0) {
		close(log_fd);
		unlink(logpath);
	}
	return done_testing();
}
