#include "container.h"

#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>

#include "cgroup.h"
#include "hooks.h"
#include "idmap.h"
#include "init.h"
#include "spec.h"
#include "state.h"
#include "supervise.h"
#include "sync.h"
#include "terminal.h"
#include "utils.h"

/* Everything a create owns until it has succeeded; job_abort() undoes it. */
struct create_job {
	const struct ocr_ctx *ctx;
	const struct container_opts *o;
	struct spec *spec;
	char *bundle, *rootfs;
	int rootfd, dirfd;
	bool dir_created;
	pid_t stage1, init;
	int sync_fd, listen_fd, console_fd;
	int console_peer; /* our end when we relay the pty ourselves (run -t) */
	bool foreground; /* run without -d: we stay and supervise */
	bool hook_failed; /* a lifecycle hook failed: poststop runs on abort */
	int listen_fds; /* socket activation fds passed on (LISTEN_FDS) */
	char **env; /* process.env plus LISTEN_* when passed on */
	char listen_env[2][32];
	char *config; /* config.json as read, saved into the state dir */
	size_t config_len;
	struct idmap_plan *plan;
	struct ocr_cgroup *cg;
	struct overlay_plan ov;
	struct ocr_state st;
};

static void job_free(struct create_job *j)
{
	if (j->spec)
		spec_free(j->spec);
	free(j->bundle);
	free(j->rootfs);
	free(j->plan);
	free(j->env);
	free(j->config);
	cgroup_free(j->cg);
	overlay_plan_clear(&j->ov);
	state_clear(&j->st);
	for (int *fd = &j->rootfd; fd <= &j->dirfd; fd++)
		if (*fd >= 0)
			close(*fd);
	if (j->sync_fd >= 0)
		close(j->sync_fd);
	if (j->listen_fd >= 0)
		close(j->listen_fd);
	if (j->console_fd >= 0)
		close(j->console_fd);
	if (j->console_peer >= 0)
		close(j->console_peer);
}

static void reap(pid_t *pid)
{
	if (*pid > 0) {
		kill(*pid, SIGKILL);
		TEMP_FAILURE_RETRY(waitpid(*pid, NULL, 0));
	}
	*pid = 0;
}

static void run_poststop(const struct ocr_ctx *ctx, const struct spec *spec, const struct ocr_state *st);

static void job_abort(struct create_job *j)
{
	struct ocr_error ignored;

	reap(&j->init);
	/* runtime-spec: after a failing prestart, createRuntime,
	 * createContainer or startContainer hook the container is destroyed
	 * and the poststop hooks run. */
	if (j->hook_failed && j->spec)
		run_poststop(j->ctx, j->spec, &j->st);
	reap(&j->stage1);
	if (j->cg)
		cgroup_destroy(j->cg, &ignored);
	if (j->dir_created) {
		network_teardown(j->ctx, j->o->id, j->dirfd, j->st.extra, &ignored);
		overlay_cleanup(j->ctx, j->dirfd, j->st.extra, &ignored);
	}
	if (j->dir_created)
		state_remove_dir(j->rootfd, j->o->id, &ignored);
	j->dir_created = false;
}

static char *state_json_of(const struct ocr_state *st, enum ocr_status status)
{
	char *s = state_spec_json(st, status);
	return s ? s : xstrdup("{}");
}

/* Socket activation, as runc does it: LISTEN_FDS=N of ours are fds 3..
 * 3+N-1; they go to the container, which sees LISTEN_PID=1. */
static void job_listen_fds(struct create_job *j)
{
	struct spec_process *p = j->spec->process;
	const char *s = getenv("LISTEN_FDS");
	uint64_t n;
	size_t k = 0;

	const char *pid = getenv("LISTEN_PID");
	uint64_t lp;

	/* The fds are ours only when LISTEN_PID names us (sd_listen_fds). */
	if (s == NULL || parse_u64(s, &n) < 0 || n == 0 || n > 1024)
		return;
	if (pid == NULL || parse_u64(pid, &lp) < 0 || (pid_t)lp != getpid())
		return;
	j->listen_fds = (int)n;
	j->env = xcalloc(p->n_env + 3, sizeof(char *));
	for (size_t i = 0; i < p->n_env; i++)
		if (!str_has_prefix(p->env[i], "LISTEN_FDS=") && !str_has_prefix(p->env[i], "LISTEN_PID="))
			j->env[k++] = p->env[i];
	snprintf(j->listen_env[0], sizeof(j->listen_env[0]), "LISTEN_FDS=%d", j->listen_fds);
	snprintf(j->listen_env[1], sizeof(j->listen_env[1]), "LISTEN_PID=1");
	j->env[k++] = j->listen_env[0];
	j->env[k++] = j->listen_env[1];
	p->env = j->env;
	p->n_env = k;
}

static int job_load(struct create_job *j, struct ocr_error *err)
{
	const char *bundle = j->o->bundle ? j->o->bundle : ".";

	if (state_validate_id(j->o->id, err) < 0)
		return -1;
	j->bundle = realpath(bundle, NULL);
	if (j->bundle == NULL)
		return ocr_fail_errno(err, "bundle `%s`", bundle);
	if (spec_load_keep(j->bundle, &j->spec, &j->config, &j->config_len, err) < 0)
		return -1;
	if (j->spec->process == NULL)
		return ocr_fail(err, EINVAL, "config.json: process: required to create a container");
	if (j->spec->process->terminal && j->o->console_socket == NULL && !j->foreground)
		return ocr_fail(err, EINVAL,
				"process.terminal is true: pass --console-socket "
				"(or set \"terminal\": false in config.json)");
	job_listen_fds(j);
	return 0;
}

/* The rootfs: the overlay's merged directory when layers were asked for,
 * else root.path (relative to the bundle). */
static int job_rootfs(struct create_job *j, struct ocr_error *err)
{
	cleanup_free char *state_dir = xasprintf("%s/%s", j->ctx->root, j->o->id);
	cleanup_free char *rootfs = NULL;
	struct stat sb;

	if (overlay_plan_make(j->ctx, j->spec, &j->o->overlay, j->dirfd, state_dir, j->st.extra, &j->ov, err) < 0)
		return -1;
	if (j->ov.enabled) {
		j->rootfs = xstrdup(j->ov.merged);
		return 0;
	}
	if (j->spec->root_path == NULL || j->spec->root_path[0] == '\0')
		return ocr_fail(err, EINVAL, "config.json: root.path: required");
	rootfs = j->spec->root_path[0] == '/' ? xstrdup(j->spec->root_path)
					      : xasprintf("%s/%s", j->bundle, j->spec->root_path);
	j->rootfs = realpath(rootfs, NULL);
	if (j->rootfs == NULL)
		return ocr_fail_errno(err, "config.json: root.path `%s`", rootfs);
	if (stat(j->rootfs, &sb) < 0 || !S_ISDIR(sb.st_mode))
		return ocr_fail(err, ENOTDIR, "config.json: root.path `%s` is not a directory", rootfs);
	return 0;
}

static int job_listen(struct create_job *j, struct ocr_error *err)
{
	struct sockaddr_un sun = {.sun_family = AF_UNIX};

	/* Through /proc/self/fd so a long --root still fits sun_path. */
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d/" OCR_START_SOCKET, j->dirfd);
	j->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (j->listen_fd < 0)
		return ocr_fail_errno(err, "socket");
	if (bind(j->listen_fd, (struct sockaddr *)&sun, sizeof(sun)) < 0 || listen(j->listen_fd, 1) < 0)
		return ocr_fail_errno(err, "start socket");
	return 0;
}

static int job_prepare(struct create_job *j, bool with_listener, struct ocr_error *err)
{
	j->rootfd = state_open_root(j->ctx, true, err);
	if (j->rootfd < 0)
		return -1;
	j->dirfd = state_create_dir(j->rootfd, j->o->id, err);
	if (j->dirfd < 0)
		return -1;
	j->dir_created = true;
	j->st.extra = json_object();
	if (job_rootfs(j, err) < 0 || state_record_extra(j->dirfd, j->st.extra, "overlay", err) < 0)
		return -1;
	j->plan = xcalloc(1, sizeof(*j->plan));
	if (idmap_plan_build(j->ctx, j->spec, j->plan, err) < 0)
		return -1;
	if (idmap_check_spec(j->plan, j->spec, err) < 0)
		return -1;
	if (with_listener && job_listen(j, err) < 0)
		return -1;
	if (j->o->console_socket && j->spec->process->terminal) {
		j->console_fd = terminal_connect(j->o->console_socket, err);
		if (j->console_fd < 0)
			return -1;
	} else if (j->spec->process->terminal) {
		/* Foreground run: the pty master comes to us and we relay it. */
		int sv[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
			return ocr_fail_errno(err, "socketpair");
		j->console_peer = sv[0];
		j->console_fd = sv[1];
	}
	j->st.id = xstrdup(j->o->id);
	j->st.bundle = xstrdup(j->bundle);
	j->st.rootfs = xstrdup(j->rootfs);
	j->st.created = xmalloc(64);
	format_timestamp(j->st.created, 64);
	j->st.annotations = json_object();
	for (size_t i = 0; i < j->spec->n_annotations; i++)
		json_object_set_new(j->st.annotations, j->spec->annotations[i].key,
				    json_string(j->spec->annotations[i].value));
	j->st.has_poststart = j->spec->hooks.n_hooks[SPEC_HOOK_POSTSTART] > 0;
	j->st.has_poststop = j->spec->hooks.n_hooks[SPEC_HOOK_POSTSTOP] > 0;
	return 0;
}

/* exec, poststart and poststop need the config later, and the bundle may
 * change meanwhile: keep the copy create used. */
static int job_save_config(struct create_job *j, struct ocr_error *err)
{
	cleanup_free char *dst = xasprintf("/proc/self/fd/%d/config.json", j->dirfd);

	return write_file_atomic(dst, j->config, j->config_len, 0600, err);
}

static int on_pid(struct create_job *j, pid_t pid, struct ocr_error *err)
{
	cleanup_free char *json = NULL;
	char rec[64];

	j->init = pid;
	TEMP_FAILURE_RETRY(waitpid(j->stage1, NULL, 0));
	j->stage1 = 0;
	j->st.pid = pid;
	if (proc_stat(pid, &j->st.pid_starttime, NULL) < 0)
		return ocr_fail_errno(err, "container init %d vanished", (int)pid);
	/* Before anything else can take time: a create killed from here on
	 * leaves `delete --force` the init to kill (and so the network
	 * helper, which exits with it). */
	snprintf(rec, sizeof(rec), "%d %llu", (int)pid, j->st.pid_starttime);
	if (state_record(j->dirfd, STATE_REC_INIT, rec, err) < 0)
		return -1;
	/* The network helper joins init's namespaces before init turns
	 * non-dumpable on SYNC_STATE; the state is written while init
	 * already builds the root. network_setup records the helper
	 * (network.rec) itself, as soon as it has forked it. */
	if (network_setup(j->ctx, j->o->id, j->spec, &j->o->net, pid, j->dirfd, j->st.extra, err) < 0)
		return -1;
	json = state_json_of(&j->st, OCR_STATUS_CREATING);
	if (sync_send(j->sync_fd, SYNC_STATE, 0, json, err) < 0)
		return -1;
	return state_write(j->dirfd, &j->st, err);
}

static int run_hook_kind(const struct spec *spec, const struct ocr_ctx *ctx, enum spec_hook_kind kind, const char *json,
			 struct ocr_error *err)
{
	return hooks_run(kind, spec->hooks.hooks[kind], spec->hooks.n_hooks[kind], json, &ctx->log, err);
}

static int job_wait_ready(struct create_job *j, struct ocr_error *err)
{
	for (;;) {
		struct sync_msg m;
		int r = sync_recv(j->sync_fd, &m, err);
		int rc = 0;

		if (r < 0)
			return -1;
		if (r == 1)
			return ocr_fail(err, EPIPE, "container init exited before it was ready");
		switch (m.type) {
		case SYNC_MAP_REQUEST:
			/* stage1 has not unshared the cgroup namespace yet: placing
			 * it now roots that namespace at the container's cgroup. */
			if (j->plan->new_userns && idmap_apply(j->ctx, m.pid, j->plan, err) < 0)
				rc = -1;
			else if (cgroup_create(j->ctx, j->o->id, j->spec, m.pid, j->st.extra, &j->cg, err) < 0)
				rc = -1;
			/* Nothing else tells delete --force of a cgroup made
			 * before state.json: record it now (no-op without one). */
			else if (cgroup_enabled(j->cg) && state_record_extra(j->dirfd, j->st.extra, "cgroup", err) < 0)
				rc = -1;
			else
				rc = sync_send(j->sync_fd, SYNC_MAP_DONE, 0, NULL, err);
			break;
		case SYNC_PID:
			rc = on_pid(j, m.pid, err);
			break;
		case SYNC_HOOKS_REQUEST: {
			cleanup_free char *json = state_json_of(&j->st, OCR_STATUS_CREATING);
			if (run_hook_kind(j->spec, j->ctx, SPEC_HOOK_PRESTART, json, err) < 0 ||
			    run_hook_kind(j->spec, j->ctx, SPEC_HOOK_CREATE_RUNTIME, json, err) < 0) {
				j->hook_failed = true;
				rc = -1;
			} else
				rc = sync_send(j->sync_fd, SYNC_HOOKS_DONE, 0, NULL, err);
			break;
		}
		case SYNC_READY:
			sync_msg_clear(&m);
			return 0;
		case SYNC_ERROR:
			j->hook_failed = sync_is_hook_error(&m);
			rc = sync_error_to(&m, err);
			break;
		default:
			rc = ocr_fail(err, EPROTO, "unexpected message %d from container init", m.type);
			break;
		}
		sync_msg_clear(&m);
		if (rc < 0)
			return -1;
	}
}

static int job_spawn(struct create_job *j, struct ocr_error *err)
{
	int sv[2];
	struct init_config ic = {
		.ctx = j->ctx,
		.spec = j->spec,
		.rootfs = j->rootfs,
		.plan = j->plan,
		.listen_fd = j->listen_fd,
		.console_fd = j->console_fd,
		.no_pivot = j->o->no_pivot,
		.detach = j->listen_fd >= 0 || j->o->detach,
		.preserve_fds = j->listen_fds + j->o->preserve_fds,
		.overlay = &j->ov,
	};

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return ocr_fail_errno(err, "socketpair");
	j->stage1 = fork();
	if (j->stage1 < 0) {
		close(sv[0]);
		close(sv[1]);
		return ocr_fail_errno(err, "fork");
	}
	if (j->stage1 == 0) {
		/* The state dir fd carries the flock: it must not outlive us
		 * in the container's init. */
		close(j->dirfd);
		close(j->rootfd);
		close(sv[0]);
		ic.sync_fd = sv[1];
		init_stage1(&ic);
	}
	close(sv[1]);
	j->sync_fd = sv[0];
	return 0;
}

static int write_pid_file(const char *path, pid_t pid, struct ocr_error *err)
{
	char buf[32];
	int n = snprintf(buf, sizeof(buf), "%d", (int)pid);

	if (path == NULL)
		return 0;
	if (write_file_atomic(path, buf, (size_t)n, 0644, err) < 0)
		return ocr_wrap(err, "--pid-file");
	return 0;
}

/* Create up to READY. With WITH_LISTENER the init waits on the start
 * socket for a later `start`, else on the sync socket. */
static int job_create(struct create_job *j, bool with_listener, struct ocr_error *err)
{
	if (job_load(j, err) < 0 || job_prepare(j, with_listener, err) < 0)
		return -1;
	if (job_save_config(j, err) < 0 || job_spawn(j, err) < 0 || job_wait_ready(j, err) < 0)
		return -1;
	j->st.ready = true;
	overlay_state_note(j->dirfd, j->st.extra, j->st.annotations);
	/* run writes once, after start (a state write costs up to ~0.5 ms
	 * on a disk file system); the lock keeps readers out meanwhile. */
	if (!with_listener)
		return 0;
	return state_write(j->dirfd, &j->st, err);
}

#define JOB_INIT(ctx_, o_)                                                                                             \
	{                                                                                                              \
		.ctx = (ctx_), .o = (o_), .rootfd = -1, .dirfd = -1, .sync_fd = -1, .listen_fd = -1, .console_fd = -1, \
		.console_peer = -1                                                                                     \
	}

int container_create(const struct ocr_ctx *ctx, const struct container_opts *o, struct ocr_error *err)
{
	struct create_job j = JOB_INIT(ctx, o);
	int rc = job_create(&j, true, err);

	if (rc == 0)
		rc = write_pid_file(o->pid_file, j.init, err);
	if (rc < 0) {
		job_abort(&j);
		ocr_wrap(err, "create container `%s`", o->id);
	}
	job_free(&j);
	return rc;
}

/* Hand over to the user process: SYNC_START, then EOF (the connection
 * closed on exec) means it runs; SYNC_ERROR carries why it did not. */
static int send_start(int fd, bool *ret_hook_failed, struct ocr_error *err)
{
	struct sync_msg m;
	int r;

	if (sync_send(fd, SYNC_START, 0, NULL, err) < 0)
		return -1;
	r = sync_recv(fd, &m, err);
	if (r < 0)
		return -1;
	if (r == 1)
		return 0;
	*ret_hook_failed = sync_is_hook_error(&m);
	if (m.type == SYNC_ERROR)
		sync_error_to(&m, err);
	else
		ocr_fail(err, EPROTO, "unexpected message %d from container init", m.type);
	sync_msg_clear(&m);
	return -1;
}

/* poststart and poststop failures are warnings (hooks_run logs them). */
static void run_warn_hooks(const struct ocr_ctx *ctx, const struct spec *spec, enum spec_hook_kind kind,
			   const struct ocr_state *st, enum ocr_status status)
{
	struct ocr_error ignored = {0};
	cleanup_free char *json = NULL;

	if (spec->hooks.n_hooks[kind] == 0)
		return;
	json = state_json_of(st, status);
	run_hook_kind(spec, ctx, kind, json, &ignored);
}

static void run_poststart(const struct ocr_ctx *ctx, const struct spec *spec, const struct ocr_state *st)
{
	run_warn_hooks(ctx, spec, SPEC_HOOK_POSTSTART, st, OCR_STATUS_RUNNING);
}

static void run_poststop(const struct ocr_ctx *ctx, const struct spec *spec, const struct ocr_state *st)
{
	run_warn_hooks(ctx, spec, SPEC_HOOK_POSTSTOP, st, OCR_STATUS_STOPPED);
}

static int delete_stopped(const struct ocr_ctx *ctx, int rootfd, int dirfd, const struct ocr_state *st, const char *id,
			  struct ocr_error *err);

int container_run(const struct ocr_ctx *ctx, const struct container_opts *o, int *ret_status, struct ocr_error *err)
{
	struct create_job j = JOB_INIT(ctx, o);
	cleanup_close int master = -1;
	sigset_t set;
	int rc;

	*ret_status = 0;
	j.foreground = !o->detach;
	rc = job_create(&j, false, err);
	if (rc == 0 && !o->detach)
		supervise_block_signals(&set);
	if (rc == 0 && j.console_peer >= 0) {
		rc = terminal_recv_fd(j.console_peer, &master, err);
		close(j.console_fd);
		j.console_fd = -1;
		/* before the process runs, so it never sees a 0x0 terminal */
		if (rc == 0 && !j.spec->process->has_console_size)
			terminal_copy_winsize(STDIN_FILENO, master);
	}
	if (rc == 0)
		rc = send_start(j.sync_fd, &j.hook_failed, err);
	if (rc == 0) {
		j.st.started = true;
		rc = state_write(j.dirfd, &j.st, err);
	}
	if (rc == 0)
		rc = write_pid_file(o->pid_file, j.init, err);
	if (rc < 0) {
		job_abort(&j);
		ocr_wrap(err, "run container `%s`", o->id);
		job_free(&j);
		return -1;
	}
	run_poststart(ctx, j.spec, &j.st);
	if (!o->detach) {
		struct ocr_error derr = {0};
		/* Let `state`, `kill` and `exec` in while we wait. */
		flock(j.dirfd, LOCK_UN);
		*ret_status = supervise(j.init, master, &set);
		j.init = 0;
		flock(j.dirfd, LOCK_EX);
		if (delete_stopped(ctx, j.rootfd, j.dirfd, &j.st, o->id, &derr) < 0) {
			char msg[OCR_ERROR_MSG_MAX + 256];
			ocr_error_format(&derr, msg, sizeof(msg));
			ocr_warn(&ctx->log, "%s", msg);
		}
	}
	job_free(&j);
	return 0;
}

/* An opened, locked container: what start/kill/delete work on. */
struct opened {
	int rootfd, dirfd;
	struct ocr_state st;
	enum ocr_status status;
	bool busy; /* a reader found it locked: st is what was on disk */
};

static void opened_close(struct opened *op)
{
	if (op->dirfd >= 0)
		close(op->dirfd);
	if (op->rootfd >= 0)
		close(op->rootfd);
	state_clear(&op->st);
}

/* A container another runtime holds (a create in a slow hook, a delete):
 * what its state.json says, else only that it is being created. */
static int read_busy(int dirfd, const char *id, struct opened *op, struct ocr_error *err)
{
	struct ocr_error ignored = {0};

	if (state_read(dirfd, id, &op->st, &ignored) == 0) {
		op->status = state_status(&op->st);
		return 0;
	}
	if (faccessat(dirfd, OCR_STATE_FILE, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return state_read(dirfd, id, &op->st, err);
	state_recover(dirfd, id, &op->st);
	op->status = OCR_STATUS_CREATING;
	return 0;
}

/* NOWAIT: for readers, which answer from what is on disk rather than wait
 * for the lock. */
static int open_container_how(const struct ocr_ctx *ctx, const char *id, bool nowait, struct opened *op,
			      struct ocr_error *err)
{
	memset(&op->st, 0, sizeof(op->st));
	op->rootfd = op->dirfd = -1;
	op->busy = false;
	if (state_validate_id(id, err) < 0)
		return -1;
	op->rootfd = state_open_root(ctx, false, err);
	if (op->rootfd < 0) {
		if (err->err == ENOENT)
			ocr_fail(err, ENOENT, "container `%s` does not exist", id);
		return -1;
	}
	op->dirfd =
		nowait ? state_open_dir_nowait(op->rootfd, id, &op->busy, err) : state_open_dir(op->rootfd, id, err);
	if (op->dirfd < 0)
		return -1;
	if (op->busy)
		return read_busy(op->dirfd, id, op, err);
	if (state_read(op->dirfd, id, &op->st, err) < 0)
		return -1;
	op->status = state_status(&op->st);
	return 0;
}

static int open_container(const struct ocr_ctx *ctx, const char *id, struct opened *op, struct ocr_error *err)
{
	return open_container_how(ctx, id, false, op, err);
}

static struct spec *load_saved_config(int dirfd, struct ocr_error *err)
{
	cleanup_free char *data = NULL;
	struct spec *spec = NULL;
	size_t len;

	if (read_file_at(dirfd, "config.json", SPEC_MAX_FILE_SIZE, &data, &len, err) < 0 ||
	    spec_parse(data, len, "config.json", &spec, err) < 0)
		return NULL;
	return spec;
}

static int wait_gone(const struct ocr_state *st, int timeout_ms, struct ocr_error *err);

/* A startContainer hook failed: the container is stopped and deleted
 * (poststop hooks included), as the runtime-spec's lifecycle says. */
static void destroy_after_hook(const struct ocr_ctx *ctx, struct opened *op, const char *id)
{
	struct ocr_error ignored = {0};

	kill(op->st.pid, SIGKILL);
	wait_gone(&op->st, 5000, &ignored);
	delete_stopped(ctx, op->rootfd, op->dirfd, &op->st, id, &ignored);
}

int container_start(const struct ocr_ctx *ctx, const char *id, struct ocr_error *err)
{
	bool hook_failed = false;
	struct opened op;
	struct sockaddr_un sun = {.sun_family = AF_UNIX};
	cleanup_close int fd = -1;
	int rc = -1;

	if (open_container(ctx, id, &op, err) < 0)
		goto out;
	if (op.status != OCR_STATUS_CREATED) {
		ocr_fail(err, EINVAL, "container is %s, not created", state_status_name(op.status));
		goto out;
	}
	snprintf(sun.sun_path, sizeof(sun.sun_path), "/proc/self/fd/%d/" OCR_START_SOCKET, op.dirfd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		ocr_fail_errno(err, "connect to the container's init");
		goto out;
	}
	/* Recorded before START is sent: once init has it, the process is
	 * on its way (startContainer hooks, exec) even if we are killed. */
	op.st.started = true;
	if (state_write(op.dirfd, &op.st, err) < 0)
		goto out;
	if (send_start(fd, &hook_failed, err) < 0) {
		if (hook_failed)
			destroy_after_hook(ctx, &op, id);
		goto out;
	}
	unlinkat(op.dirfd, OCR_START_SOCKET, 0);
	if (op.st.has_poststart) {
		struct spec *spec = load_saved_config(op.dirfd, err);
		if (spec == NULL)
			goto out;
		run_poststart(ctx, spec, &op.st);
		spec_free(spec);
	}
	rc = 0;
out:
	if (rc < 0)
		ocr_wrap(err, "start container `%s`", id);
	opened_close(&op);
	return rc;
}

int container_state(const struct ocr_ctx *ctx, const char *id, char **ret_json, struct ocr_error *err)
{
	struct opened op;
	int rc = -1;

	if (open_container_how(ctx, id, true, &op, err) == 0) {
		*ret_json = state_oci_json(&op.st, op.status, true);
		rc = *ret_json ? 0 : ocr_fail(err, ENOMEM, "encode state");
	}
	opened_close(&op);
	return rc;
}

/* A container whose state.json is missing (its create was killed) or
 * corrupt: "creating" (it never finished) or "unknown", with the init the
 * records name while it lives. */
static void list_unreadable(const char *id, int dirfd, bool json, bool quiet, json_t *arr, FILE *out)
{
	bool missing = faccessat(dirfd, OCR_STATE_FILE, F_OK, AT_SYMLINK_NOFOLLOW) < 0 && errno == ENOENT;
	const char *status = missing ? "creating" : "unknown";
	struct ocr_state st;
	pid_t pid;

	state_recover(dirfd, id, &st);
	pid = state_status(&st) == OCR_STATUS_STOPPED ? 0 : st.pid;
	state_clear(&st);
	if (quiet)
		fprintf(out, "%s\n", id);
	else if (json)
		json_array_append_new(arr, json_pack("{s:s,s:s,s:i}", "id", id, "status", status, "pid", (int)pid));
	else
		fprintf(out, "%-12s %-10d %-10s %-40s %-30s %s\n", id, (int)pid, status, "-", "-", "-");
}

static int list_one(const struct ocr_ctx *ctx, const char *id, bool json, bool quiet, json_t *arr, FILE *out)
{
	struct ocr_error err = {0};
	struct opened op;

	if (open_container_how(ctx, id, true, &op, &err) < 0) {
		char msg[OCR_ERROR_MSG_MAX + 256];
		ocr_error_format(&err, msg, sizeof(msg));
		ocr_debug(&ctx->log, "list: %s", msg);
		/* Its directory (and maybe processes) exist: show it, honestly,
		 * so `delete --force` is not forgotten. */
		if (err.err != ENOENT && op.dirfd >= 0)
			list_unreadable(id, op.dirfd, json, quiet, arr, out);
		opened_close(&op);
		return 0;
	}
	if (quiet) {
		fprintf(out, "%s\n", id);
	} else if (json) {
		cleanup_free char *s = state_oci_json(&op.st, op.status, false);
		json_t *o = s ? json_loads(s, 0, NULL) : NULL;
		if (o)
			json_array_append_new(arr, o);
	} else {
		pid_t pid = op.status == OCR_STATUS_STOPPED ? 0 : op.st.pid;
		cleanup_free char *owner = state_owner_name(&op.st);

		fprintf(out, "%-12s %-10d %-10s %-40s %-30s %s\n", id, (int)pid, state_status_name(op.status),
			op.st.bundle, op.st.created, owner);
	}
	opened_close(&op);
	return 0;
}

int container_list(const struct ocr_ctx *ctx, bool json, bool quiet, FILE *out, struct ocr_error *err)
{
	cleanup_dir DIR *d = opendir(ctx->root);
	json_t *arr = json_array();
	struct dirent *de;

	if (d == NULL && errno != ENOENT) {
		json_decref(arr);
		return ocr_fail_errno(err, "state root `%s`", ctx->root);
	}
	if (!json && !quiet)
		fprintf(out, "%-12s %-10s %-10s %-40s %-30s %s\n", "ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER");
	while (d && (de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR)
			continue;
		list_one(ctx, de->d_name, json, quiet, arr, out);
	}
	if (json && !quiet) {
		char *s = json_dumps(arr, JSON_COMPACT);
		fprintf(out, "%s\n", s ? s : "[]");
		free(s);
	}
	json_decref(arr);
	return 0;
}

/* Processes of the container when it has its own pid namespace: those
 * whose /proc/PID/ns/pid matches its init's. We own the container's user
 * namespace, so we may read and signal them even under other uids. */
static int signal_all(pid_t init, int sig, struct ocr_error *err)
{
	char path[64], want[64], got[64];
	cleanup_dir DIR *d = NULL;
	struct dirent *de;
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)init);
	n = readlink(path, want, sizeof(want) - 1);
	if (n < 0)
		return ocr_fail_errno(err, "read pid namespace of %d", (int)init);
	want[n] = '\0';
	d = opendir("/proc");
	if (d == NULL)
		return ocr_fail_errno(err, "open /proc");
	while ((de = readdir(d)) != NULL) {
		uint64_t pid;
		if (parse_u64(de->d_name, &pid) < 0 || (pid_t)pid == getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
		n = readlink(path, got, sizeof(got) - 1);
		if (n < 0)
			continue;
		got[n] = '\0';
		if (strcmp(got, want) == 0)
			kill((pid_t)pid, sig);
	}
	return 0;
}

static bool own_pidns(pid_t pid)
{
	char a[64], b[64], path[64];
	ssize_t n1, n2;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	n1 = readlink(path, a, sizeof(a) - 1);
	n2 = readlink("/proc/self/ns/pid", b, sizeof(b) - 1);
	return n1 > 0 && n2 > 0 && (n1 != n2 || memcmp(a, b, (size_t)n1) != 0);
}

/* Without a pid namespace of its own (and, until cgroups, without a
 * cgroup) the container's other processes cannot be told from the host's:
 * only its init is signalled. */
static int kill_container(const struct ocr_ctx *ctx, const struct ocr_state *st, int sig, bool all,
			  struct ocr_error *err)
{
	if (all) {
		struct ocr_cgroup *cg = NULL;
		int rc = 1;
		if (cgroup_load(ctx, st->id, st->extra, &cg, err) < 0)
			return -1;
		if (cgroup_enabled(cg))
			rc = cgroup_kill(cg, sig, err);
		cgroup_free(cg);
		if (rc <= 0)
			return rc;
	}
	/* kill(0) or kill(-1) would hit the caller's process group or
	 * every process of the user. */
	if (st->pid <= 0)
		return ocr_fail(err, ESRCH, "container has no known init");
	if (all && own_pidns(st->pid))
		return signal_all(st->pid, sig, err);
	if (kill(st->pid, sig) < 0)
		return ocr_fail_errno(err, "kill %d", (int)st->pid);
	return 0;
}

int container_kill(const struct ocr_ctx *ctx, const char *id, int sig, bool all, struct ocr_error *err)
{
	struct opened op;
	int rc = -1;

	if (open_container(ctx, id, &op, err) == 0) {
		if (op.status == OCR_STATUS_STOPPED)
			ocr_fail(err, ESRCH, "container is not running");
		else
			rc = kill_container(ctx, &op.st, sig, all, err);
	}
	if (rc < 0)
		ocr_wrap(err, "kill container `%s`", id);
	opened_close(&op);
	return rc;
}

/* Wait (bounded) until PID has exited; it is not our child, so poll a
 * pidfd rather than waitpid. */
static int wait_gone(const struct ocr_state *st, int timeout_ms, struct ocr_error *err)
{
	cleanup_close int pfd = (int)syscall(SYS_pidfd_open, st->pid, 0);
	struct pollfd p = {.fd = pfd, .events = POLLIN};

	if (pfd < 0)
		return 0; /* already gone */
	if (state_status(st) == OCR_STATUS_STOPPED)
		return 0;
	if (TEMP_FAILURE_RETRY(poll(&p, 1, timeout_ms)) <= 0)
		return ocr_fail(err, ETIMEDOUT, "container init %d did not exit", (int)st->pid);
	return 0;
}

static int delete_stopped(const struct ocr_ctx *ctx, int rootfd, int dirfd, const struct ocr_state *st, const char *id,
			  struct ocr_error *err)
{
	struct ocr_cgroup *cg = NULL;

	if (cgroup_load(ctx, id, st->extra, &cg, err) < 0)
		return -1;
	if (cgroup_destroy(cg, err) < 0) {
		cgroup_free(cg);
		return -1;
	}
	cgroup_free(cg);
	if (network_teardown(ctx, id, dirfd, st->extra, err) < 0 || overlay_cleanup(ctx, dirfd, st->extra, err) < 0)
		return -1;
	if (st->has_poststop) {
		struct spec *spec = load_saved_config(dirfd, err);
		if (spec == NULL)
			return -1;
		run_poststop(ctx, spec, st);
		spec_free(spec);
	}
	return state_remove_dir(rootfd, id, err);
}

int container_delete(const struct ocr_ctx *ctx, const char *id, bool force, struct ocr_error *err)
{
	struct opened op;
	int rc = -1;

	if (open_container(ctx, id, &op, err) < 0) {
		/* A missing or corrupt state.json must still be removable, and
		 * what it described killed: the records say what was made. */
		if (!force || op.dirfd < 0 || err->err != EINVAL)
			goto out;
		ocr_error_clear(err);
		state_clear(&op.st);
		state_recover(op.dirfd, id, &op.st);
		op.status = state_status(&op.st);
	}
	if (op.status == OCR_STATUS_RUNNING || op.status == OCR_STATUS_PAUSED) {
		if (!force) {
			ocr_fail(err, EBUSY, "container is %s: stop it first or use --force",
				 state_status_name(op.status));
			goto out;
		}
	}
	if (op.status != OCR_STATUS_STOPPED) {
		/* SIGKILL to a pid namespace's init takes the whole namespace. */
		if (kill_container(ctx, &op.st, SIGKILL, true, err) < 0 && err->err != ESRCH)
			goto out;
		if (wait_gone(&op.st, 10000, err) < 0)
			goto out;
	}
	rc = delete_stopped(ctx, op.rootfd, op.dirfd, &op.st, id, err);
out:
	if (rc < 0)
		ocr_wrap(err, "delete container `%s`", id);
	opened_close(&op);
	return rc;
}
