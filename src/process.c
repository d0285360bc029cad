#include "process.h"

#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include "caps.h"
#include "lsm.h"
#include "resolve.h"
#include "utils.h"

static const char default_path[] = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

static const char *env_get(char *const *env, const char *key)
{
	size_t kl = strlen(key);
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], key, kl) == 0 && env[i][kl] == '=')
			return env[i] + kl + 1;
	return NULL;
}

void process_note_self(struct process_plan *pp)
{
	struct stat st;

	if (stat("/proc/self/exe", &st) == 0) {
		pp->self_dev = st.st_dev;
		pp->self_ino = st.st_ino;
	}
}

static int check_executable(const struct process_plan *pp, const char *path, struct ocr_error *err)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return ocr_fail_errno(err, "executable `%s`", path);
	/* Running the runtime itself inside the container would let the
	 * container reach its binary through /proc/PID/exe and rewrite it
	 * (CVE-2019-5736), whatever path leads to it. */
	if (pp->self_ino != 0 && st.st_dev == pp->self_dev && st.st_ino == pp->self_ino)
		return ocr_fail(err, EPERM, "executable `%s` is the runtime's own binary: refused", path);
	if (S_ISDIR(st.st_mode))
		return ocr_fail(err, EISDIR, "executable `%s` is a directory", path);
	if (!S_ISREG(st.st_mode) || (st.st_mode & 0111) == 0)
		return ocr_fail(err, EACCES, "executable `%s`: not an executable file", path);
	return 0;
}

/* Resolve process.cwd inside the root we are in, refusing magic links: a
 * cwd of /proc/self/fd/N would otherwise land on an fd inherited from the
 * host (CVE-2024-21626). */
static int open_cwd(const char *cwd, bool create, struct ocr_error *err)
{
	cleanup_close int root = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int fd;

	if (root < 0)
		return ocr_fail_errno(err, "open /");
	fd = resolve_in_root(root, cwd, O_PATH | O_DIRECTORY);
	if (fd < 0 && errno == ENOENT && create) {
		if (mkdir_p(cwd, 0755, err) < 0)
			return ocr_wrap(err, "process.cwd");
		fd = resolve_in_root(root, cwd, O_PATH | O_DIRECTORY);
	}
	if (fd < 0 && errno == ENOTDIR)
		return ocr_fail(err, ENOTDIR, "process.cwd `%s` is not a directory", cwd);
	if (fd < 0 && errno == ELOOP)
		return ocr_fail(err, ELOOP, "process.cwd `%s` goes through a magic link or too many symlinks", cwd);
	if (fd < 0)
		return ocr_fail_errno(err, "process.cwd `%s`", cwd);
	return fd;
}

int process_prepare(struct process_plan *pp, struct ocr_error *err)
{
	const struct spec_process *p = pp->p;
	const char *arg0 = p->args[0];
	const char *path_env;
	cleanup_free char *copy = NULL;
	char *save = NULL;
	struct stat st;

	if (lsm_check(p, err) < 0)
		return -1;
	if (p->cwd == NULL || p->cwd[0] != '/')
		return ocr_fail(err, EINVAL, "process.cwd `%s` must be an absolute path", p->cwd ? p->cwd : "");
	pp->cwd_fd = open_cwd(p->cwd, pp->create_cwd, err);
	if (pp->cwd_fd < 0)
		return -1;
	if (strchr(arg0, '/') != NULL) {
		if (check_executable(pp, arg0, err) < 0)
			return ocr_wrap(err, "process.args[0]");
		pp->exec_path = xstrdup(arg0);
		return 0;
	}
	path_env = env_get(p->env, "PATH");
	copy = xstrdup(path_env ? path_env : default_path);
	for (char *dir = strtok_r(copy, ":", &save); dir; dir = strtok_r(NULL, ":", &save)) {
		cleanup_free char *cand = xasprintf("%s/%s", *dir ? dir : ".", arg0);
		if (stat(cand, &st) == 0 && S_ISREG(st.st_mode) && (st.st_mode & 0111)) {
			if (check_executable(pp, cand, err) < 0)
				return ocr_wrap(err, "process.args[0]");
			pp->exec_path = steal_pointer(&cand);
			return 0;
		}
	}
	return ocr_fail(err, ENOENT, "process.args[0]: executable `%s` not found in $PATH (%s)", arg0,
			path_env ? path_env : default_path);
}

int process_apply_limits(const struct spec_process *p, struct ocr_error *err)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		struct rlimit rl = {.rlim_cur = p->rlimits[i].soft, .rlim_max = p->rlimits[i].hard};
		if (setrlimit((__rlimit_resource_t)p->rlimits[i].resource, &rl) < 0)
			return ocr_fail_errno(err, "process.rlimits: %s soft %llu hard %llu", p->rlimits[i].name,
					      (unsigned long long)rl.rlim_cur, (unsigned long long)rl.rlim_max);
	}
	if (p->io_priority.set) {
		long prio = ((long)p->io_priority.klass << 13) | p->io_priority.priority;
		if (syscall(SYS_ioprio_set, 1 /* IOPRIO_WHO_PROCESS */, 0, prio) < 0)
			return ocr_fail_errno(err, "process.ioPriority");
	}
	if (p->scheduler.set) {
		struct sched_param sp = {.sched_priority = p->scheduler.priority};
		if (p->scheduler.policy == SCHED_OTHER || p->scheduler.policy == SCHED_BATCH ||
		    p->scheduler.policy == SCHED_IDLE || p->scheduler.policy == SCHED_FIFO ||
		    p->scheduler.policy == SCHED_RR) {
			if (sched_setscheduler(0, p->scheduler.policy, &sp) < 0)
				return ocr_fail_errno(err, "process.scheduler.policy");
			if (p->scheduler.nice != 0 && setpriority(PRIO_PROCESS, 0, p->scheduler.nice) < 0)
				return ocr_fail_errno(err, "process.scheduler.nice");
		} else {
			return ocr_fail(err, EINVAL, "process.scheduler.policy: not supported by this runtime");
		}
	}
	return 0;
}

int process_apply_oom(const struct spec_process *p, struct ocr_error *err)
{
	char buf[32];
	int n;

	if (!p->oom_score_adj.set)
		return 0;
	n = snprintf(buf, sizeof(buf), "%lld", (long long)p->oom_score_adj.v);
	/* No mount of the config is made yet, but the init's /proc is that of
	 * a mount namespace joined by path when the config names one, where
	 * the processes of that namespace may have mounted over it. */
	if (write_proc_file("/proc/self/oom_score_adj", buf, (size_t)n, err) < 0)
		return ocr_wrap(err, "process.oomScoreAdj %lld (lowering it needs privileges the caller lacks)",
				(long long)p->oom_score_adj.v);
	return 0;
}

static int switch_user(const struct process_plan *pp, struct ocr_error *err)
{
	const struct spec_user *u = &pp->p->user;

	if (u->n_additional_gids > 0) {
		if (pp->setgroups_denied)
			return ocr_fail(err, EPERM,
					"process.user.additionalGids: setgroups is denied in a "
					"single-id user namespace (install uidmap and add /etc/subgid ranges)");
		if (setgroups(u->n_additional_gids, u->additional_gids) < 0)
			return ocr_fail_errno(err, "process.user.additionalGids");
	} else if (!pp->setgroups_denied && setgroups(0, NULL) < 0 && errno != EPERM) {
		return ocr_fail_errno(err, "setgroups");
	}
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return ocr_fail_errno(err, "process.user.gid %u%s", u->gid,
				      errno == EINVAL ? " is not mapped in the container's user namespace" : "");
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return ocr_fail_errno(err, "process.user.uid %u%s", u->uid,
				      errno == EINVAL ? " is not mapped in the container's user namespace" : "");
	return 0;
}

int process_exec(struct process_plan *pp, const char *state_json, struct ocr_error *err)
{
	const struct spec_process *p = pp->p;
	static char *const empty_env[] = {NULL};

	/* Without no_new_privs the kernel wants CAP_SYS_ADMIN to load a
	 * filter: do it while we still have it (as runc does); with it, as
	 * late as possible. */
	if (pp->seccomp && !p->no_new_privileges && ocr_seccomp_load(pp->seccomp, state_json, err) < 0)
		return ocr_wrap(err, "linux.seccomp");
	if (caps_drop_bounding(p->caps, pp->log, err) < 0)
		return -1;
	if (caps_keep_on_setuid(p->caps, err) < 0)
		return -1;
	if (switch_user(pp, err) < 0)
		return -1;
	if (caps_apply(p->caps, pp->log, err) < 0)
		return -1;
	if (fchdir(pp->cwd_fd) < 0)
		return ocr_fail_errno(err, "process.cwd `%s`", p->cwd);
	if (p->user.umask.set)
		umask((mode_t)p->user.umask.v);
	if (lsm_apply_on_exec(p, err) < 0)
		return -1;
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return ocr_fail_errno(err, "process.noNewPrivileges");
	/* Every fd but stdio and the preserved ones closes at exec; none of
	 * the runtime's may reach the container. */
	if (close_fds_from(3 + pp->preserve_fds, true) < 0)
		return ocr_fail_errno(err, "mark fds close-on-exec");
	for (int fd = 3; fd < 3 + pp->preserve_fds; fd++)
		if (fcntl(fd, F_SETFD, 0) < 0)
			return ocr_fail_errno(err, "--preserve-fds: fd %d", fd);
	reset_signals();
	if (pp->seccomp && p->no_new_privileges && ocr_seccomp_load(pp->seccomp, state_json, err) < 0)
		return ocr_wrap(err, "linux.seccomp");
	execve(pp->exec_path, p->args, p->env ? p->env : empty_env);
	return ocr_fail_errno(err, "exec `%s`", pp->exec_path);
}

void process_plan_clear(struct process_plan *pp)
{
	if (pp->cwd_fd >= 0)
		close(pp->cwd_fd);
	pp->cwd_fd = -1;
	free(pp->exec_path);
	pp->exec_path = NULL;
	if (pp->seccomp)
		ocr_seccomp_free(pp->seccomp);
	pp->seccomp = NULL;
}
