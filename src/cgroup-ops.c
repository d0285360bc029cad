#include "cgroup-ops.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "cgroup-resources.h"
#include "cgroup.h"
#include "state.h"
#include "utils.h"

#define PS_OUTPUT_MAX (16u << 20)

/* A container opened (and locked) for one operation. */
struct target {
	int rootfd, dirfd;
	struct ocr_state st;
	enum ocr_status status;
	struct ocr_cgroup *cg;
};

static void target_close(struct target *t)
{
	cgroup_free(t->cg);
	state_clear(&t->st);
	if (t->dirfd >= 0)
		close(t->dirfd);
	if (t->rootfd >= 0)
		close(t->rootfd);
	t->cg = NULL;
	t->dirfd = t->rootfd = -1;
}

static int target_open(const struct ocr_ctx *ctx, const char *id, struct target *t, struct ocr_error *err)
{
	memset(t, 0, sizeof(*t));
	t->rootfd = t->dirfd = -1;
	if (state_validate_id(id, err) < 0)
		return -1;
	t->rootfd = state_open_root(ctx, false, err);
	if (t->rootfd < 0) {
		if (err->err == ENOENT)
			ocr_fail(err, ENOENT, "container `%s` does not exist", id);
		return -1;
	}
	t->dirfd = state_open_dir(t->rootfd, id, err);
	if (t->dirfd < 0 || state_read(t->dirfd, id, &t->st, err) < 0)
		return -1;
	t->status = state_status(&t->st);
	return cgroup_load(ctx, id, t->st.extra, &t->cg, err);
}

static int not_status(const struct target *t, const char *want, struct ocr_error *err)
{
	return ocr_fail(err, EINVAL, "container is %s, not %s", state_status_name(t->status), want);
}

int container_pause(const struct ocr_ctx *ctx, const char *id, struct ocr_error *err)
{
	struct target t;
	int rc = -1;

	if (target_open(ctx, id, &t, err) < 0)
		goto out;
	if (t.status != OCR_STATUS_RUNNING && t.status != OCR_STATUS_CREATED) {
		not_status(&t, "running", err);
		goto out;
	}
	if (cgroup_freeze(t.cg, true, err) < 0)
		goto out;
	json_object_set_new(t.st.extra, "paused", json_true());
	if (state_write(t.dirfd, &t.st, err) < 0) {
		struct ocr_error ignored;
		cgroup_freeze(t.cg, false, &ignored);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0)
		ocr_wrap(err, "pause container `%s`", id);
	target_close(&t);
	return rc;
}

int container_resume(const struct ocr_ctx *ctx, const char *id, struct ocr_error *err)
{
	struct target t;
	int rc = -1;

	if (target_open(ctx, id, &t, err) < 0)
		goto out;
	if (t.status != OCR_STATUS_PAUSED) {
		not_status(&t, "paused", err);
		goto out;
	}
	if (cgroup_freeze(t.cg, false, err) < 0)
		goto out;
	json_object_del(t.st.extra, "paused");
	rc = state_write(t.dirfd, &t.st, err);
out:
	if (rc < 0)
		ocr_wrap(err, "resume container `%s`", id);
	target_close(&t);
	return rc;
}

/* Fields of R that v2 cannot express: one warning line. */
static void warn_ignored(const struct ocr_ctx *ctx, const struct spec_resources *r)
{
	struct cg_current unknown = {.memory_max = "max", .cpu_max = "max"};
	struct ocr_error ignored;
	struct cg_plan plan;
	char msg[1024] = "";

	if (cg_plan_build(r, &unknown, &plan, &ignored) < 0)
		return;
	for (size_t i = 0; i < plan.n_ignored; i++) {
		size_t used = strlen(msg);
		snprintf(msg + used, sizeof(msg) - used, "%s%s", i ? ", " : "", plan.ignored[i]);
	}
	if (msg[0])
		ocr_warn(&ctx->log, "update: linux.resources fields cgroup v2 cannot express, ignored: %s", msg);
	cg_plan_clear(&plan);
}

int container_update(const struct ocr_ctx *ctx, const char *id, const struct spec_resources *r, struct ocr_error *err)
{
	struct target t;
	int rc = -1;

	if (target_open(ctx, id, &t, err) < 0)
		goto out;
	if (t.status == OCR_STATUS_STOPPED) {
		not_status(&t, "running", err);
		goto out;
	}
	warn_ignored(ctx, r);
	rc = cgroup_update(t.cg, r, err);
out:
	if (rc < 0)
		ocr_wrap(err, "update container `%s`", id);
	target_close(&t);
	return rc;
}

/* ---- events -------------------------------------------------------------- */

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* oom + oom_kill of memory.events; -1 when there is no such file. */
static long long oom_count(int fd)
{
	char buf[1024], *p;
	long long n = 0;
	ssize_t len;

	if (fd < 0 || (len = pread(fd, buf, sizeof(buf) - 1, 0)) < 0)
		return -1;
	buf[len] = '\0';
	for (p = buf; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
		unsigned long long v;
		if (sscanf(p, "oom %llu", &v) == 1 || sscanf(p, "oom_kill %llu", &v) == 1)
			n += (long long)v;
	}
	return n;
}

static void emit(FILE *out, const char *type, const char *id, json_t *data)
{
	json_t *o = json_pack("{s:s,s:s}", "type", type, "id", id);
	char *s;

	if (data)
		json_object_set(o, "data", data);
	s = json_dumps(o, JSON_COMPACT);
	if (s)
		fprintf(out, "%s\n", s);
	fflush(out);
	free(s);
	json_decref(o);
}

/* One tick: print stats; returns 1 when the container has stopped. */
static int events_tick(const struct ocr_ctx *ctx, const char *id, FILE *out, char **ret_dir, struct ocr_error *err)
{
	struct target t;
	json_t *data = NULL;
	int rc = -1;

	if (target_open(ctx, id, &t, err) < 0)
		goto out;
	if (t.status == OCR_STATUS_STOPPED) {
		rc = 1;
		goto out;
	}
	if (cgroup_stats(t.cg, &data, err) < 0)
		goto out;
	emit(out, "stats", id, data);
	json_decref(data);
	if (*ret_dir == NULL && t.cg->path)
		*ret_dir = xstrdup(t.cg->path);
	rc = 0;
out:
	target_close(&t);
	return rc;
}

int container_events(const struct ocr_ctx *ctx, const char *id, const struct events_opts *o, FILE *out,
		     struct ocr_error *err)
{
	cleanup_free char *dir = NULL;
	cleanup_close int fd = -1;
	long long ooms = -1;
	int r = events_tick(ctx, id, out, &dir, err);

	if (r == 1)
		ocr_fail(err, ESRCH, "container is not running");
	if (r != 0)
		return ocr_wrap(err, "events of container `%s`", id);
	if (o->stats_once)
		return 0;
	if (dir) {
		cleanup_free char *path = xasprintf("%s/memory.events", dir);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		ooms = oom_count(fd);
	}
	for (;;) {
		long long deadline = now_ms() + o->interval_ms;
		while (now_ms() < deadline) {
			struct pollfd p = {.fd = fd, .events = POLLPRI};
			long long left = deadline - now_ms(), n;
			/* kernfs wakes POLLPRI when memory.events changes. */
			if (poll(fd >= 0 ? &p : NULL, fd >= 0 ? 1 : 0, (int)(left < 1000 ? left : 1000)) < 0 &&
			    errno != EINTR)
				break;
			n = oom_count(fd);
			if (ooms >= 0 && n > ooms)
				emit(out, "oom", id, NULL);
			if (n >= 0)
				ooms = n;
		}
		r = events_tick(ctx, id, out, &dir, err);
		if (r == 1)
			return 0;
		if (r < 0) {
			/* Deleted meanwhile: the stream simply ends. */
			if (err->err == ENOENT)
				return 0;
			return ocr_wrap(err, "events of container `%s`", id);
		}
	}
}

/* ---- pids and ps ---------------------------------------------------------- */

static int cmp_pid(const void *a, const void *b)
{
	pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
	return (x > y) - (x < y);
}

static void push_pid(pid_t **pids, size_t *n, pid_t pid)
{
	*pids = xrealloc(*pids, (*n + 1) * sizeof(**pids));
	(*pids)[(*n)++] = pid;
}

static bool ns_link(pid_t pid, char *buf, size_t len)
{
	char path[64];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/ns/pid", (int)pid);
	n = readlink(path, buf, len - 1);
	if (n < 0)
		return false;
	buf[n] = '\0';
	return true;
}

static pid_t parent_of(pid_t pid)
{
	char path[64], buf[1024], *p;
	cleanup_close int fd = -1;
	ssize_t n;
	int ppid;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || (n = read_all(fd, buf, sizeof(buf) - 1)) <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');
	return p && sscanf(p, ") %*c %d", &ppid) == 1 ? (pid_t)ppid : 0;
}

/* Without a cgroup: the processes in INIT's pid namespace when it has one
 * of its own, else INIT and its descendants. */
static int pids_without_cgroup(pid_t init, pid_t **ret, size_t *ret_n, struct ocr_error *err)
{
	char want[64], self[64], got[64];
	cleanup_dir DIR *d = opendir("/proc");
	bool own_ns;
	struct dirent *de;
	pid_t *pids = NULL;
	size_t n = 0;

	if (d == NULL)
		return ocr_fail_errno(err, "open /proc");
	if (!ns_link(init, want, sizeof(want)))
		return ocr_fail_errno(err, "read the pid namespace of %d", (int)init);
	own_ns = ns_link(getpid(), self, sizeof(self)) && strcmp(want, self) != 0;
	push_pid(&pids, &n, init);
	while ((de = readdir(d)) != NULL) {
		uint64_t v;
		pid_t pid, p;
		if (parse_u64(de->d_name, &v) < 0 || (pid = (pid_t)v) == init)
			continue;
		if (own_ns) {
			if (ns_link(pid, got, sizeof(got)) && strcmp(got, want) == 0)
				push_pid(&pids, &n, pid);
			continue;
		}
		for (p = parent_of(pid); p > 1; p = parent_of(p))
			if (p == init) {
				push_pid(&pids, &n, pid);
				break;
			}
	}
	*ret = pids;
	*ret_n = n;
	return 0;
}

int container_pids(const struct ocr_ctx *ctx, const char *id, pid_t **ret, size_t *ret_n, struct ocr_error *err)
{
	struct target t;
	int rc = -1;

	if (target_open(ctx, id, &t, err) < 0)
		goto out;
	if (t.status == OCR_STATUS_STOPPED) {
		not_status(&t, "running", err);
		goto out;
	}
	if (cgroup_enabled(t.cg))
		rc = cgroup_pids(t.cg, ret, ret_n, err);
	else
		rc = pids_without_cgroup(t.st.pid, ret, ret_n, err);
	if (rc == 0)
		qsort(*ret, *ret_n, sizeof(**ret), cmp_pid);
out:
	if (rc < 0)
		ocr_wrap(err, "processes of container `%s`", id);
	target_close(&t);
	return rc;
}

/* Run `ps ARGS...` and return its standard output. */
static int run_ps(char *const *args, char **ret, struct ocr_error *err)
{
	cleanup_free char *buf = NULL;
	size_t len = 0, cap = 0;
	int fds[2], status;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return ocr_fail_errno(err, "pipe");
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return ocr_fail_errno(err, "fork");
	}
	if (pid == 0) {
		size_t n = strv_len(args);
		char **argv = xcalloc(n + 2, sizeof(*argv));
		argv[0] = (char *)"ps";
		for (size_t i = 0; i < n; i++)
			argv[i + 1] = args[i];
		dup2(fds[1], STDOUT_FILENO);
		execvp("ps", argv);
		_exit(127);
	}
	close(fds[1]);
	for (;;) {
		ssize_t r;
		if (len + 4096 > cap) {
			cap = cap ? cap * 2 : 65536;
			buf = xrealloc(buf, cap + 1);
		}
		r = TEMP_FAILURE_RETRY(read(fds[0], buf + len, cap - len));
		if (r <= 0)
			break;
		len += (size_t)r;
		if (len > PS_OUTPUT_MAX)
			break;
	}
	close(fds[0]);
	TEMP_FAILURE_RETRY(waitpid(pid, &status, 0));
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return ocr_fail(err, EIO, "`ps` failed (exit status %d); check the ps options",
				WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
	if (buf == NULL)
		buf = xstrdup("");
	buf[len] = '\0';
	*ret = steal_pointer(&buf);
	return 0;
}

/* Which whitespace-separated column of HEADER is "PID". */
static int pid_column(const char *header)
{
	int col = 0;

	for (const char *p = header; *p;) {
		size_t n;
		p += strspn(p, " \t");
		n = strcspn(p, " \t\n");
		if (n == 0)
			break;
		if (n == 3 && strncmp(p, "PID", 3) == 0)
			return col;
		col++;
		p += n;
	}
	return -1;
}

static pid_t field_pid(const char *line, int col)
{
	const char *p = line;
	uint64_t v;
	char buf[32];
	size_t n = 0;

	for (int i = 0; i <= col; i++) {
		p += strspn(p, " \t");
		n = strcspn(p, " \t\n");
		if (i < col)
			p += n;
	}
	if (n == 0 || n >= sizeof(buf))
		return 0;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return parse_u64(buf, &v) == 0 ? (pid_t)v : 0;
}

int container_ps(const struct ocr_ctx *ctx, const char *id, bool json, char *const *ps_args, FILE *out,
		 struct ocr_error *err)
{
	static char *const default_args[] = {(char *)"-ef", NULL};
	cleanup_free pid_t *pids = NULL;
	cleanup_free char *text = NULL;
	char *line, *save = NULL;
	size_t n = 0;
	int col;

	if (container_pids(ctx, id, &pids, &n, err) < 0)
		return -1;
	if (json) {
		fputc('[', out);
		for (size_t i = 0; i < n; i++)
			fprintf(out, "%s%d", i ? "," : "", (int)pids[i]);
		fputs("]\n", out);
		return 0;
	}
	if (run_ps(ps_args && ps_args[0] ? ps_args : default_args, &text, err) < 0)
		return ocr_wrap(err, "ps of container `%s`", id);
	line = strtok_r(text, "\n", &save);
	if (line == NULL || (col = pid_column(line)) < 0)
		return ocr_fail(err, EINVAL, "ps of container `%s`: the ps output has no PID column", id);
	fprintf(out, "%s\n", line);
	while ((line = strtok_r(NULL, "\n", &save)) != NULL) {
		pid_t pid = field_pid(line, col);
		if (pid > 0 && bsearch(&pid, pids, n, sizeof(*pids), cmp_pid))
			fprintf(out, "%s\n", line);
	}
	return 0;
}
