#include "init.h"

#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <time.h>

#include <jansson.h>

#include "hooks.h"
#include "process.h"
#include "rootfs.h"
#include "sync.h"
#include "terminal.h"
#include "utils.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* User first (it owns the others), mount last (it changes what paths
 * mean). */
const int init_namespace_order[8] = {CLONE_NEWUSER, CLONE_NEWIPC,    CLONE_NEWUTS,  CLONE_NEWNET,
				     CLONE_NEWPID,  CLONE_NEWCGROUP, CLONE_NEWTIME, CLONE_NEWNS};

static bool has_new_ns(const struct spec *spec, int type)
{
	const struct spec_namespace *ns = spec_namespace(spec, type);
	return ns != NULL && ns->path == NULL;
}

static int join_namespaces(const struct spec *spec, struct ocr_error *err)
{
	int fds[8];
	int rc = 0;

	/* Open every path first: joining the mount namespace changes what a
	 * later path would resolve to. */
	for (size_t i = 0; i < 8; i++) {
		const struct spec_namespace *ns = spec_namespace(spec, init_namespace_order[i]);
		fds[i] = -1;
		if (ns == NULL || ns->path == NULL)
			continue;
		fds[i] = open(ns->path, O_RDONLY | O_CLOEXEC);
		if (fds[i] < 0) {
			rc = ocr_fail_errno(err, "linux.namespaces: %s namespace `%s`",
					    spec_namespace_type_name(ns->type), ns->path);
			break;
		}
	}
	for (size_t i = 0; rc == 0 && i < 8; i++) {
		if (fds[i] < 0)
			continue;
		if (setns(fds[i], init_namespace_order[i]) < 0)
			rc = ocr_fail_errno(err, "linux.namespaces: join %s namespace `%s`",
					    spec_namespace_type_name(init_namespace_order[i]),
					    spec_namespace(spec, init_namespace_order[i])->path);
	}
	for (size_t i = 0; i < 8; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	return rc;
}

static int become_root(struct ocr_error *err)
{
	if (geteuid() == 0 && getegid() == 0)
		return 0;
	if (setresgid(0, 0, 0) < 0)
		return ocr_fail_errno(err, "user namespace: gid 0 is not mapped");
	if (setresuid(0, 0, 0) < 0)
		return ocr_fail_errno(err, "user namespace: uid 0 is not mapped");
	return 0;
}

static int write_time_offsets(const struct spec *spec, struct ocr_error *err)
{
	const struct spec_linux *lx = spec->linux_;
	char buf[256];
	size_t len = 0;

	if (lx == NULL || lx->n_time_offsets == 0)
		return 0;
	for (size_t i = 0; i < lx->n_time_offsets; i++)
		len += (size_t)snprintf(buf + len, sizeof(buf) - len, "%s %lld %u\n",
					lx->time_offsets[i].clock == CLOCK_BOOTTIME ? "boottime" : "monotonic",
					(long long)lx->time_offsets[i].secs, lx->time_offsets[i].nanosecs);
	/* Through /proc as a mount namespace joined by path has it (see
	 * process_apply_oom): it must be the kernel's. */
	if (write_proc_file("/proc/self/timens_offsets", buf, len, err) < 0)
		return ocr_wrap(err, "linux.timeOffsets");
	return 0;
}

static int loopback_up(struct ocr_error *err)
{
	cleanup_close int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	struct ifreq ifr = {0};

	if (fd < 0)
		return ocr_fail_errno(err, "network namespace: socket");
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(fd, SIOCGIFFLAGS, &ifr) < 0)
		return ocr_fail_errno(err, "network namespace: get flags of lo");
	ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
	if (ioctl(fd, SIOCSIFFLAGS, &ifr) < 0)
		return ocr_fail_errno(err, "network namespace: bring lo up");
	return 0;
}

static int set_names(const struct spec *spec, struct ocr_error *err)
{
	bool uts = has_new_ns(spec, CLONE_NEWUTS) || (spec_namespace(spec, CLONE_NEWUTS) != NULL);

	if ((spec->hostname && spec->hostname[0]) || (spec->domainname && spec->domainname[0])) {
		if (!uts)
			return ocr_fail(err, EINVAL, "hostname/domainname need a uts namespace in linux.namespaces");
	}
	if (spec->hostname && spec->hostname[0] && sethostname(spec->hostname, strlen(spec->hostname)) < 0)
		return ocr_fail_errno(err, "hostname `%s`", spec->hostname);
	if (spec->domainname && spec->domainname[0] && setdomainname(spec->domainname, strlen(spec->domainname)) < 0)
		return ocr_fail_errno(err, "domainname `%s`", spec->domainname);
	return 0;
}

static bool wants_runtime_hooks(const struct spec *spec)
{
	return spec->hooks.n_hooks[SPEC_HOOK_PRESTART] > 0 || spec->hooks.n_hooks[SPEC_HOOK_CREATE_RUNTIME] > 0;
}

/* The state a hook running in the container's namespaces gets: the pid as
 * seen there (runtime-spec), and STATUS when given. */
static char *container_hook_state(const char *state, const char *status)
{
	json_t *o = json_loads(state, 0, NULL);
	char *s;

	if (o == NULL)
		return xstrdup(state);
	json_object_set_new(o, "pid", json_integer(getpid()));
	if (status)
		json_object_set_new(o, "status", json_string(status));
	s = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	return s ? s : xstrdup(state);
}

static int run_container_hooks(const struct init_config *ic, enum spec_hook_kind kind, const char *state,
			       const char *status, struct ocr_error *err)
{
	const struct spec_hooks *h = &ic->spec->hooks;
	cleanup_free char *json = NULL;

	if (h->n_hooks[kind] == 0)
		return 0;
	json = container_hook_state(state, status);
	return hooks_run(kind, h->hooks[kind], h->n_hooks[kind], json, &ic->ctx->log, err);
}

/* Everything between the namespaces and READY. */
static int init_build(const struct init_config *ic, struct rootfs_ctx *rc, struct process_plan *pp, char **ret_state,
		      bool *ret_hook_failed, struct ocr_error *err)
{
	const struct spec *spec = ic->spec;
	struct sync_msg m;

	if (sync_expect(ic->sync_fd, SYNC_STATE, &m, err) < 0)
		return -1;
	*ret_state = steal_pointer(&m.payload);
	/* From here on nothing in the container may open our /proc/PID/exe
	 * (our binary, while we wait for start) or our fds: non-dumpable
	 * until execve (CVE-2019-5736). The network helper has joined our
	 * namespaces by now; oom_score_adj is ours to write only before. */
	if (process_apply_oom(spec->process, err) < 0)
		return -1;
	prctl(PR_SET_DUMPABLE, 0);
	if (has_new_ns(spec, CLONE_NEWNET) && loopback_up(err) < 0)
		return -1;
	if (set_names(spec, err) < 0)
		return -1;
	if (ic->overlay->enabled && overlay_mount(ic->overlay, &ic->ctx->log, err) < 0)
		return ocr_wrap(err, "layered rootfs");
	if (rootfs_prepare(rc, err) < 0)
		return -1;
	if (wants_runtime_hooks(spec)) {
		if (sync_send(ic->sync_fd, SYNC_HOOKS_REQUEST, 0, NULL, err) < 0 ||
		    sync_expect(ic->sync_fd, SYNC_HOOKS_DONE, &m, err) < 0)
			return -1;
		sync_msg_clear(&m);
	}
	if (run_container_hooks(ic, SPEC_HOOK_CREATE_CONTAINER, *ret_state, NULL, err) < 0) {
		*ret_hook_failed = true;
		return -1;
	}
	/* Sysctls before read-only paths (as runc), through /proc/sys as we
	 * see it now: what a sysctl file refers to is decided by the writer's
	 * namespaces, which are already the container's. A namespace joined
	 * by path (Podman's network) is the container's own as a new one. */
	if (rootfs_sysctl(spec, spec_namespace(spec, CLONE_NEWNET) != NULL, spec_namespace(spec, CLONE_NEWIPC) != NULL,
			  spec_namespace(spec, CLONE_NEWUTS) != NULL, err) < 0)
		return -1;
	/* The listener socket is a host path: connect before pivot_root. */
	if (spec->linux_ && spec->linux_->seccomp &&
	    (ocr_seccomp_prepare(spec->linux_->seccomp, &ic->ctx->log, &pp->seccomp, err) < 0 ||
	     ocr_seccomp_connect(pp->seccomp, err) < 0))
		return ocr_wrap(err, "linux.seccomp");
	if (rootfs_protect(rc, err) < 0 || rootfs_pivot(rc, err) < 0)
		return -1;
	if (process_prepare(pp, err) < 0)
		return -1;
	if (spec->process->terminal) {
		int master = -1;
		if (ic->console_fd < 0)
			return ocr_fail(err, EINVAL, "process.terminal is true but no --console-socket was given");
		if (terminal_setup(spec->process, true, &master, err) < 0)
			return -1;
		if (terminal_send_fd(ic->console_fd, master, err) < 0) {
			close(master);
			return -1;
		}
		close(master);
		close(ic->console_fd);
	}
	return 0;
}

static int wait_for_start(const struct init_config *ic, int *ret_conn, struct ocr_error *err)
{
	struct sync_msg m;
	int conn = ic->sync_fd;

	if (ic->listen_fd >= 0) {
		conn = TEMP_FAILURE_RETRY(accept4(ic->listen_fd, NULL, NULL, SOCK_CLOEXEC));
		if (conn < 0)
			return ocr_fail_errno(err, "wait for start");
		close(ic->listen_fd);
		close(ic->sync_fd);
	}
	*ret_conn = conn;
	if (sync_expect(conn, SYNC_START, &m, err) < 0)
		return -1;
	sync_msg_clear(&m);
	return 0;
}

__attribute__((noreturn)) static void init_main(const struct init_config *ic)
{
	struct ocr_error err = {0};
	struct rootfs_ctx rc = {.spec = ic->spec,
				.rootfs = ic->rootfs,
				.log = &ic->ctx->log,
				.own_netns = has_new_ns(ic->spec, CLONE_NEWNET),
				.own_cgroupns = spec_namespace(ic->spec, CLONE_NEWCGROUP) != NULL,
				.no_pivot = ic->no_pivot,
				.rootfd = -1};
	struct process_plan pp = {.p = ic->spec->process,
				  .log = &ic->ctx->log,
				  .setgroups_denied = ic->plan->deny_setgroups,
				  .preserve_fds = ic->preserve_fds,
				  .create_cwd = true,
				  .cwd_fd = -1};
	cleanup_free char *state = NULL;
	int conn = ic->sync_fd;
	bool hook_failed = false;

	/* Dies with the runtime until create is done. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	process_note_self(&pp);
	if (init_build(ic, &rc, &pp, &state, &hook_failed, &err) < 0)
		goto fail;
	if (rc.rootfd >= 0)
		close(rc.rootfd);
	if (ic->detach)
		prctl(PR_SET_PDEATHSIG, 0);
	if (sync_send(ic->sync_fd, SYNC_READY, 0, NULL, &err) < 0)
		_exit(1);
	if (wait_for_start(ic, &conn, &err) < 0)
		goto fail;
	prctl(PR_SET_PDEATHSIG, 0);
	if (run_container_hooks(ic, SPEC_HOOK_START_CONTAINER, state, "created", &err) < 0) {
		hook_failed = true;
		goto fail;
	}
	if (process_apply_limits(ic->spec->process, &err) < 0)
		goto fail;
	process_exec(&pp, state, &err);
fail:
	if (hook_failed)
		sync_send_hook_error(conn, &err);
	else
		sync_send_error(conn, &err);
	_exit(1);
}

static int new_ns_flags(const struct spec *spec)
{
	int flags = 0;

	for (size_t i = 1; i < 8; i++)
		if (has_new_ns(spec, init_namespace_order[i]))
			flags |= init_namespace_order[i];
	return flags;
}

static int stage1_run(const struct init_config *ic, struct ocr_error *err)
{
	struct sync_msg m;
	sigset_t none;
	int flags;
	pid_t pid;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (join_namespaces(ic->spec, err) < 0)
		return -1;
	if (ic->plan->new_userns && unshare(CLONE_NEWUSER) < 0) {
		int saved = errno;
		char why[512];
		/* Name the exact knob that forbids it (FIELD-NOTES row 12). */
		idmap_explain_userns_failure(saved, why, sizeof(why));
		return ocr_fail(err, saved, "create user namespace: %s: %s", strerror(saved), why);
	}
	if (sync_send(ic->sync_fd, SYNC_MAP_REQUEST, getpid(), NULL, err) < 0 ||
	    sync_expect(ic->sync_fd, SYNC_MAP_DONE, &m, err) < 0)
		return -1;
	sync_msg_clear(&m);
	if ((ic->plan->new_userns || spec_namespace(ic->spec, CLONE_NEWUSER)) && become_root(err) < 0)
		return -1;
	flags = new_ns_flags(ic->spec);
	if (flags && unshare(flags) < 0)
		return ocr_fail_errno(err, "create namespaces");
	if ((flags & CLONE_NEWTIME) && write_time_offsets(ic->spec, err) < 0)
		return -1;
	/* CLONE_PARENT: init becomes the runtime's child, so `run` can wait
	 * for it and a failed create can reap it. */
	pid = (pid_t)syscall(SYS_clone, CLONE_PARENT | SIGCHLD, NULL, NULL, NULL, NULL);
	if (pid < 0)
		return ocr_fail_errno(err, "clone container init");
	if (pid == 0)
		init_main(ic);
	return sync_send(ic->sync_fd, SYNC_PID, pid, NULL, err);
}

void init_stage1(const struct init_config *ic)
{
	struct ocr_error err = {0};

	if (stage1_run(ic, &err) < 0) {
		sync_send_error(ic->sync_fd, &err);
		_exit(1);
	}
	_exit(0);
}
