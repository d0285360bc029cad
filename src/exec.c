#include "exec.h"

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "process.h"
#include "spec.h"
#include "state.h"
#include "supervise.h"
#include "sync.h"
#include "terminal.h"
#include "utils.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

static const struct {
	const char *name;
	int type;
} ns_files[] = {
	{"user", CLONE_NEWUSER}, {"ipc", CLONE_NEWIPC},	      {"uts", CLONE_NEWUTS},   {"net", CLONE_NEWNET},
	{"pid", CLONE_NEWPID},	 {"cgroup", CLONE_NEWCGROUP}, {"time", CLONE_NEWTIME}, {"mnt", CLONE_NEWNS},
};

/* What exec owns; freed by exec_job_free(). */
struct exec_job {
	struct spec *spec;
	struct spec_process proc; /* shallow copy of the container's, patched */
	struct spec_caps caps; /* proc.caps with --cap added */
	void *proc_arena; /* when from --process */
	json_t *extra; /* state's "extra": the cgroup record */
	char *state_json; /* the container's state (runtime-spec) */
	char **env, **caps_b, **caps_e, **caps_p, **caps_a;
	uint32_t *gids;
	int sync_fd, console_fd, console_peer;
	pid_t stage, pid;
};

static void exec_job_free(struct exec_job *j)
{
	if (j->spec)
		spec_free(j->spec);
	json_decref(j->extra);
	free(j->state_json);
	if (j->proc_arena)
		spec_arena_free(j->proc_arena);
	free(j->env);
	free(j->caps_b);
	free(j->caps_e);
	free(j->caps_p);
	free(j->caps_a);
	free(j->gids);
	if (j->sync_fd >= 0)
		close(j->sync_fd);
	if (j->console_fd >= 0)
		close(j->console_fd);
	if (j->console_peer >= 0)
		close(j->console_peer);
	if (j->stage > 0) {
		kill(j->stage, SIGKILL);
		TEMP_FAILURE_RETRY(waitpid(j->stage, NULL, 0));
	}
}

/* ENV with each "K=V" of ADD replacing K or appended; pointers borrowed. */
static char **merge_env(char **env, size_t n, char **add)
{
	size_t na = strv_len(add), len = n;
	char **out = xcalloc(n + na + 1, sizeof(char *));

	memcpy(out, env, n * sizeof(char *));
	for (size_t i = 0; i < na; i++) {
		size_t kl = strcspn(add[i], "=");
		size_t k;
		for (k = 0; k < len; k++)
			if (strncmp(out[k], add[i], kl) == 0 && out[k][kl] == '=')
				break;
		out[k] = add[i];
		if (k == len)
			len++;
	}
	return out;
}

static char **append_caps(char **base, size_t n, char **add, size_t *ret_n)
{
	size_t na = strv_len(add);
	char **out = xcalloc(n + na + 1, sizeof(char *));

	memcpy(out, base, n * sizeof(char *));
	memcpy(out + n, add, na * sizeof(char *));
	*ret_n = n + na;
	return out;
}

static int parse_user(const char *s, struct spec_user *u, struct ocr_error *err)
{
	cleanup_free char *copy = xstrdup(s);
	char *colon = strchr(copy, ':');
	uint64_t v;

	if (colon)
		*colon = '\0';
	if (parse_u64(copy, &v) < 0 || v > UINT32_MAX)
		return ocr_fail(err, EINVAL, "--user `%s`: expected UID[:GID] as numbers", s);
	u->uid = (uint32_t)v;
	if (colon) {
		if (parse_u64(colon + 1, &v) < 0 || v > UINT32_MAX)
			return ocr_fail(err, EINVAL, "--user `%s`: expected UID[:GID] as numbers", s);
		u->gid = (uint32_t)v;
	}
	return 0;
}

/* The process to run: --process as given, or the container's own with
 * the command line's changes (as runc builds it). */
static int build_process(struct exec_job *j, const struct exec_opts *o, struct ocr_error *err)
{
	struct spec_process *p = &j->proc;

	if (o->process_file) {
		cleanup_free char *data = NULL;
		struct spec_process *fp = NULL;
		size_t len;
		if (read_file_at(AT_FDCWD, o->process_file, SPEC_MAX_FILE_SIZE, &data, &len, err) < 0 ||
		    spec_parse_process(data, len, o->process_file, &fp, &j->proc_arena, err) < 0)
			return ocr_wrap(err, "--process");
		*p = *fp;
		return 0;
	}
	if (j->spec->process == NULL)
		return ocr_fail(err, EINVAL, "the container's config has no process");
	*p = *j->spec->process;
	if (o->args == NULL || o->args[0] == NULL)
		return ocr_fail(err, EINVAL, "exec: no command given (or use --process FILE)");
	p->args = o->args;
	p->n_args = strv_len(o->args);
	p->terminal = o->tty;
	j->env = merge_env(p->env, p->n_env, o->env);
	p->env = j->env;
	p->n_env = strv_len(j->env);
	if (o->cwd)
		p->cwd = (char *)o->cwd;
	if (o->user && parse_user(o->user, &p->user, err) < 0)
		return -1;
	if (o->n_additional_gids) {
		p->user.additional_gids = o->additional_gids;
		p->user.n_additional_gids = o->n_additional_gids;
	}
	if (o->no_new_privs)
		p->no_new_privileges = true;
	if (o->apparmor)
		p->apparmor_profile = (char *)o->apparmor;
	if (o->process_label)
		p->selinux_label = (char *)o->process_label;
	for (char **c = o->caps; c && *c; c++)
		if (!spec_cap_name_valid(*c))
			return ocr_fail(err, EINVAL,
					"--cap `%s`: not a capability name (CAP_ followed by "
					"upper-case letters, digits or _)",
					*c);
	if (o->caps && o->caps[0] && p->caps) {
		struct spec_caps *c = &j->caps;
		*c = *p->caps;
		j->caps_b = c->bounding = append_caps(p->caps->bounding, p->caps->n_bounding, o->caps, &c->n_bounding);
		j->caps_e = c->effective =
			append_caps(p->caps->effective, p->caps->n_effective, o->caps, &c->n_effective);
		j->caps_p = c->permitted =
			append_caps(p->caps->permitted, p->caps->n_permitted, o->caps, &c->n_permitted);
		j->caps_a = c->ambient = append_caps(p->caps->ambient, p->caps->n_ambient, o->caps, &c->n_ambient);
		p->caps = c;
	}
	return 0;
}

/* Join every namespace of PID that differs from ours, user first. We
 * own the container's user namespace, so joining it gives us the
 * capabilities the others need. */
static int join_container(pid_t pid, struct ocr_error *err)
{
	int fds[ARRAY_SIZE(ns_files)];
	int rc = 0;

	for (size_t i = 0; i < ARRAY_SIZE(ns_files); i++) {
		char path[64], self[64];
		struct stat a, b;
		snprintf(path, sizeof(path), "/proc/%d/ns/%s", (int)pid, ns_files[i].name);
		snprintf(self, sizeof(self), "/proc/self/ns/%s", ns_files[i].name);
		fds[i] = -1;
		if (stat(path, &a) < 0 || (stat(self, &b) == 0 && a.st_ino == b.st_ino && a.st_dev == b.st_dev))
			continue;
		fds[i] = open(path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0 && rc == 0)
			rc = ocr_fail_errno(err, "open %s namespace of the container", ns_files[i].name);
	}
	for (size_t i = 0; rc == 0 && i < ARRAY_SIZE(ns_files); i++)
		if (fds[i] >= 0 && setns(fds[i], ns_files[i].type) < 0)
			rc = ocr_fail_errno(err, "join %s namespace of the container", ns_files[i].name);
	for (size_t i = 0; i < ARRAY_SIZE(ns_files); i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

struct exec_child {
	const struct ocr_ctx *ctx;
	const struct spec *spec;
	struct spec_process *proc;
	const struct exec_opts *o;
	int sync_fd, console_fd;
	pid_t target;
	dev_t self_dev; /* noted before joining the container's mounts */
	ino_t self_ino;
	const char *state_json; /* the container's state, for a seccomp listener */
	struct ocr_seccomp *seccomp; /* compiled and connected by the stage */
	int pid_fd; /* the stage writes our host pid here */
};

__attribute__((noreturn)) static void exec_final(const struct exec_child *c)
{
	struct ocr_error err = {0};
	struct process_plan pp = {.p = c->proc,
				  .log = &c->ctx->log,
				  .preserve_fds = c->o->preserve_fds,
				  .self_dev = c->self_dev,
				  .self_ino = c->self_ino,
				  .cwd_fd = -1,
				  .seccomp = c->seccomp};
	int32_t host_pid = 0;
	int master = -1;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (read_all(c->pid_fd, &host_pid, sizeof(host_pid)) != (ssize_t)sizeof(host_pid)) {
		ocr_fail(&err, EPIPE, "exec: no pid from the joining process");
		goto fail;
	}
	close(c->pid_fd);
	if (pp.seccomp)
		ocr_seccomp_set_pid(pp.seccomp, host_pid);
	/* setgroups is "deny" in a single-id namespace: read, not guessed */
	{
		char buf[16] = "";
		cleanup_close int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
		if (fd >= 0 && read(fd, buf, sizeof(buf) - 1) > 0)
			pp.setgroups_denied = strncmp(buf, "deny", 4) == 0;
	}
	if (process_prepare(&pp, &err) < 0)
		goto fail;
	if (c->proc->terminal) {
		if (terminal_setup(c->proc, false, &master, &err) < 0 ||
		    terminal_send_fd(c->console_fd, master, &err) < 0)
			goto fail;
		close(master);
		close(c->console_fd);
	}
	if (process_apply_limits(c->proc, &err) < 0)
		goto fail;
	prctl(PR_SET_PDEATHSIG, 0);
	process_exec(&pp, c->state_json ? c->state_json : "{}", &err);
fail:
	sync_send_error(c->sync_fd, &err);
	_exit(1);
}

/* The first child joins the namespaces; joining a pid namespace only
 * applies to children, so it clones the process that execs (as our child,
 * CLONE_PARENT, so we can wait for it). */
__attribute__((noreturn)) static void exec_stage(struct exec_child *c)
{
	struct ocr_error err = {0};
	sigset_t none;
	int pfd[2];
	pid_t pid;

	/* Before turning non-dumpable (our /proc files then belong to root)
	 * and while host paths still mean the host: oom_score_adj, the
	 * seccomp filter and its listener connection. */
	if (process_apply_oom(c->proc, &err) < 0)
		goto fail;
	if (c->spec->linux_ && c->spec->linux_->seccomp &&
	    (ocr_seccomp_prepare(c->spec->linux_->seccomp, &c->ctx->log, &c->seccomp, &err) < 0 ||
	     ocr_seccomp_connect(c->seccomp, &err) < 0)) {
		ocr_wrap(&err, "linux.seccomp");
		goto fail;
	}
	/* Non-dumpable: nothing in the container may open our /proc/PID/exe
	 * (CVE-2019-5736) or our fds while we are inside its namespaces. */
	prctl(PR_SET_DUMPABLE, 0);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	{
		/* Into the container's cgroup before anything runs. */
		struct sync_msg m;
		if (sync_send(c->sync_fd, SYNC_MAP_REQUEST, getpid(), NULL, &err) < 0 ||
		    sync_expect(c->sync_fd, SYNC_MAP_DONE, &m, &err) < 0)
			goto fail;
		sync_msg_clear(&m);
	}
	if (join_container(c->target, &err) < 0)
		goto fail;
	if (pipe2(pfd, O_CLOEXEC) < 0) {
		ocr_fail_errno(&err, "pipe");
		goto fail;
	}
	pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0) {
		ocr_fail_errno(&err, "clone");
		goto fail;
	}
	if (pid == 0) {
		close(pfd[1]);
		c->pid_fd = pfd[0];
		exec_final(c);
	}
	close(pfd[0]);
	{
		int32_t p32 = pid;
		(void)!write(pfd[1], &p32, sizeof(p32));
		close(pfd[1]);
	}
	if (sync_send(c->sync_fd, SYNC_PID, pid, NULL, &err) < 0)
		_exit(1);
	_exit(0);
fail:
	sync_send_error(c->sync_fd, &err);
	_exit(1);
}

static int open_target(const struct ocr_ctx *ctx, const char *id, struct exec_job *j, pid_t *ret_pid,
		       struct ocr_error *err)
{
	cleanup_close int rootfd = -1;
	cleanup_close int dirfd = -1;
	cleanup_free char *data = NULL;
	struct ocr_state st;
	enum ocr_status status;
	size_t len;

	if (state_validate_id(id, err) < 0)
		return -1;
	rootfd = state_open_root(ctx, false, err);
	if (rootfd < 0)
		return err->err == ENOENT ? ocr_fail(err, ENOENT, "container `%s` does not exist", id) : -1;
	dirfd = state_open_dir(rootfd, id, err);
	if (dirfd < 0 || state_read(dirfd, id, &st, err) < 0)
		return -1;
	status = state_status(&st);
	*ret_pid = st.pid;
	j->extra = json_incref(st.extra);
	j->state_json = state_spec_json(&st, status);
	state_clear(&st);
	/* A created container's init is still our binary and non-dumpable:
	 * nothing may join it before start. */
	if (status == OCR_STATUS_CREATED)
		return ocr_fail(err, EINVAL, "container is created but not started: start it first");
	if (status != OCR_STATUS_RUNNING)
		return ocr_fail(err, EINVAL, "container is %s", state_status_name(status));
	if (read_file_at(dirfd, "config.json", SPEC_MAX_FILE_SIZE, &data, &len, err) < 0 ||
	    spec_parse(data, len, "config.json", &j->spec, err) < 0)
		return -1;
	return 0;
}

static int setup_console(struct exec_job *j, const struct exec_opts *o, struct ocr_error *err)
{
	int sv[2];

	if (!j->proc.terminal)
		return 0;
	if (o->console_socket) {
		j->console_fd = terminal_connect(o->console_socket, err);
		return j->console_fd < 0 ? -1 : 0;
	}
	if (o->detach)
		return ocr_fail(err, EINVAL, "a terminal with --detach needs --console-socket");
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return ocr_fail_errno(err, "socketpair");
	j->console_peer = sv[0];
	j->console_fd = sv[1];
	return 0;
}

static int spawn(const struct ocr_ctx *ctx, struct exec_job *j, const struct exec_opts *o, pid_t target,
		 struct ocr_error *err)
{
	struct exec_child c = {.ctx = ctx,
			       .spec = j->spec,
			       .proc = &j->proc,
			       .o = o,
			       .target = target,
			       .console_fd = j->console_fd,
			       .state_json = j->state_json,
			       .pid_fd = -1};
	struct process_plan self = {0};
	struct sync_msg m;
	int sv[2], r;

	process_note_self(&self);
	c.self_dev = self.self_dev;
	c.self_ino = self.self_ino;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return ocr_fail_errno(err, "socketpair");
	j->stage = fork();
	if (j->stage < 0)
		return ocr_fail_errno(err, "fork");
	if (j->stage == 0) {
		close(sv[0]);
		c.sync_fd = sv[1];
		exec_stage(&c);
	}
	close(sv[1]);
	j->sync_fd = sv[0];
	if (sync_expect(j->sync_fd, SYNC_MAP_REQUEST, &m, err) < 0)
		return -1;
	sync_msg_clear(&m);
	{
		struct ocr_cgroup *cg = NULL;
		int rc = cgroup_load(ctx, o->id, j->extra, &cg, err);
		if (rc == 0)
			rc = cgroup_enter(cg, j->stage, err);
		cgroup_free(cg);
		if (rc < 0 || sync_send(j->sync_fd, SYNC_MAP_DONE, 0, NULL, err) < 0)
			return -1;
	}
	if (sync_expect(j->sync_fd, SYNC_PID, &m, err) < 0)
		return -1;
	j->pid = m.pid;
	sync_msg_clear(&m);
	TEMP_FAILURE_RETRY(waitpid(j->stage, NULL, 0));
	j->stage = 0;
	/* EOF: the exec happened and closed its end; a record: it failed. */
	r = sync_recv(j->sync_fd, &m, err);
	if (r < 0)
		return -1;
	if (r == 0) {
		if (m.type == SYNC_ERROR)
			sync_error_to(&m, err);
		else
			ocr_fail(err, EPROTO, "unexpected message from exec");
		sync_msg_clear(&m);
		TEMP_FAILURE_RETRY(waitpid(j->pid, NULL, 0));
		return -1;
	}
	return 0;
}

int container_exec(const struct ocr_ctx *ctx, const struct exec_opts *o, int *ret_status, struct ocr_error *err)
{
	struct exec_job j = {.sync_fd = -1, .console_fd = -1, .console_peer = -1};
	cleanup_close int master = -1;
	sigset_t set;
	pid_t target = 0;
	int rc = -1;

	*ret_status = 0;
	if (open_target(ctx, o->id, &j, &target, err) < 0 || build_process(&j, o, err) < 0 ||
	    setup_console(&j, o, err) < 0)
		goto out;
	if (!o->detach)
		supervise_block_signals(&set);
	if (spawn(ctx, &j, o, target, err) < 0)
		goto out;
	if (j.console_peer >= 0 && terminal_recv_fd(j.console_peer, &master, err) < 0)
		goto out;
	if (o->pid_file) {
		char buf[32];
		int n = snprintf(buf, sizeof(buf), "%d", (int)j.pid);
		if (write_file_atomic(o->pid_file, buf, (size_t)n, 0644, err) < 0)
			goto out;
	}
	if (!o->detach) {
		if (j.console_fd >= 0) {
			close(j.console_fd);
			j.console_fd = -1;
		}
		*ret_status = supervise(j.pid, master, &set);
	}
	rc = 0;
out:
	if (rc < 0)
		ocr_wrap(err, "exec in container `%s`", o->id);
	exec_job_free(&j);
	return rc;
}
