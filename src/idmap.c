#include "idmap.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sys/xattr.h>

#include "utils.h"

int idmap_read_subids(const char *file, const char *user, uid_t uid,
		      struct idmap_range *ret, size_t max, size_t *ret_n,
		      struct ocr_error *err)
{
	cleanup_fclose FILE *f = fopen(file, "re");
	cleanup_free char *line = NULL;
	size_t cap = 0, n = 0;
	char uidstr[32];

	*ret_n = 0;
	if (f == NULL) {
		if (errno == ENOENT)
			return 0;
		return ocr_fail_errno(err, "open `%s`", file);
	}
	snprintf(uidstr, sizeof(uidstr), "%u", (unsigned)uid);
	while (getline(&line, &cap, f) > 0) {
		char *name = line, *start, *count, *save = NULL;
		uint64_t s, c;

		line[strcspn(line, "\n")] = '\0';
		name = strtok_r(line, ":", &save);
		start = strtok_r(NULL, ":", &save);
		count = strtok_r(NULL, ":", &save);
		if (name == NULL || start == NULL || count == NULL || name[0] == '#')
			continue;
		if (!((user && strcmp(name, user) == 0) || strcmp(name, uidstr) == 0))
			continue;
		if (parse_u64(start, &s) < 0 || parse_u64(count, &c) < 0 || c == 0 ||
		    s > UINT32_MAX || c > UINT32_MAX || s + c > (uint64_t)UINT32_MAX)
			continue;
		if (n < max) {
			ret[n].start = (uint32_t)s;
			ret[n].count = (uint32_t)c;
			n++;
		}
	}
	*ret_n = n;
	return 0;
}

int64_t idmap_to_host(const struct spec_idmap *map, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (id >= map[i].container_id && (uint64_t)id < (uint64_t)map[i].container_id + map[i].size)
			return (int64_t)map[i].host_id + (id - map[i].container_id);
	return -1;
}

/* Everything beyond "my own id, once" needs the setuid helpers. */
static bool needs_helper(const struct spec_idmap *m, size_t n, uint32_t own)
{
	return !(n == 1 && m[0].host_id == own && m[0].size == 1);
}

static bool helper_path(const char *name, char *buf, size_t len)
{
	static const char *const dirs[] = {"/usr/bin/", "/bin/", "/usr/local/bin/", "/usr/sbin/"};

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		snprintf(buf, len, "%s%s", dirs[i], name);
		if (access(buf, X_OK) == 0)
			return true;
	}
	return false;
}

static size_t default_map(struct spec_idmap *m, uint32_t own, const struct idmap_range *r, size_t nr)
{
	uint32_t next = 1;
	size_t n = 0;

	m[n++] = (struct spec_idmap){.container_id = 0, .host_id = own, .size = 1};
	for (size_t i = 0; i < nr && n < IDMAP_MAX_LINES; i++) {
		if ((uint64_t)next + r[i].count > UINT32_MAX)
			break;
		m[n++] = (struct spec_idmap){.container_id = next, .host_id = r[i].start, .size = r[i].count};
		next += r[i].count;
	}
	return n;
}

static int plan_rootless_default(const struct ocr_ctx *ctx, struct idmap_plan *plan, struct ocr_error *err)
{
	struct passwd *pw = getpwuid(ctx->euid);
	const char *user = pw ? pw->pw_name : NULL;
	struct idmap_range ur[IDMAP_MAX_LINES], gr[IDMAP_MAX_LINES];
	size_t nur = 0, ngr = 0;
	char path[64];
	bool have_uid_helper = helper_path("newuidmap", path, sizeof(path));
	bool have_gid_helper = helper_path("newgidmap", path, sizeof(path));

	if (idmap_read_subids("/etc/subuid", user, ctx->euid, ur, ARRAY_SIZE(ur) - 1, &nur, err) < 0 ||
	    idmap_read_subids("/etc/subgid", user, ctx->euid, gr, ARRAY_SIZE(gr) - 1, &ngr, err) < 0)
		return -1;
	if (nur > 0 && ngr > 0 && have_uid_helper && have_gid_helper) {
		plan->n_uid = default_map(plan->uid, ctx->euid, ur, nur);
		plan->n_gid = default_map(plan->gid, ctx->egid, gr, ngr);
		plan->uid_helper = plan->gid_helper = true;
		return 0;
	}
	plan->n_uid = default_map(plan->uid, ctx->euid, NULL, 0);
	plan->n_gid = default_map(plan->gid, ctx->egid, NULL, 0);
	plan->deny_setgroups = true;
	plan->single_id = true;
	ocr_warn(&ctx->log, "%s; mapping only your own id to root: files owned by other ids and "
			    "process.user other than 0 will not work",
		 (nur == 0 || ngr == 0)
			 ? "no subordinate ids for you in /etc/subuid or /etc/subgid"
			 : "newuidmap/newgidmap not installed (Debian: apt install uidmap)");
	return 0;
}

int idmap_plan_build(const struct ocr_ctx *ctx, const struct spec *spec,
		     struct idmap_plan *plan, struct ocr_error *err)
{
	const struct spec_namespace *ns = spec_namespace(spec, CLONE_NEWUSER);
	const struct spec_linux *lx = spec->linux_;
	bool privileged = ctx->euid == 0;

	memset(plan, 0, sizeof(*plan));
	if (ns && ns->path)
		return 0;  /* joining: the namespace has its maps already */
	if (ns == NULL && (privileged || !ctx->initial_userns))
		return 0;  /* as runc: a user namespace only when asked */
	plan->new_userns = true;
	if (lx && (lx->n_uid_mappings > 0 || lx->n_gid_mappings > 0)) {
		if (lx->n_uid_mappings == 0 || lx->n_gid_mappings == 0)
			return ocr_fail(err, EINVAL, "config.json: linux.%s is empty while linux.%s is set",
					lx->n_uid_mappings == 0 ? "uidMappings" : "gidMappings",
					lx->n_uid_mappings == 0 ? "gidMappings" : "uidMappings");
		if (lx->n_uid_mappings > IDMAP_MAX_LINES || lx->n_gid_mappings > IDMAP_MAX_LINES)
			return ocr_fail(err, EINVAL, "config.json: more than %d id mappings", IDMAP_MAX_LINES);
		memcpy(plan->uid, lx->uid_mappings, lx->n_uid_mappings * sizeof(*plan->uid));
		memcpy(plan->gid, lx->gid_mappings, lx->n_gid_mappings * sizeof(*plan->gid));
		plan->n_uid = lx->n_uid_mappings;
		plan->n_gid = lx->n_gid_mappings;
		if (!privileged) {
			plan->uid_helper = needs_helper(plan->uid, plan->n_uid, ctx->euid);
			plan->gid_helper = needs_helper(plan->gid, plan->n_gid, ctx->egid);
			plan->deny_setgroups = !plan->gid_helper;
		}
		return 0;
	}
	if (privileged) {
		/* root asked for a user namespace without maps: identity. */
		plan->uid[0] = plan->gid[0] = (struct spec_idmap){0, 0, UINT32_MAX};
		plan->n_uid = plan->n_gid = 1;
		return 0;
	}
	return plan_rootless_default(ctx, plan, err);
}

static char *format_map(const struct spec_idmap *m, size_t n)
{
	size_t cap = n * 36 + 1, len = 0;
	char *buf = xmalloc(cap);

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%u %u %u\n", m[i].container_id,
					m[i].host_id, m[i].size);
	return buf;
}

struct helper_run {
	pid_t pid;
	int errfd;
	const char *name;
};

static int helper_spawn(const char *name, pid_t target, const struct spec_idmap *m, size_t n,
			struct helper_run *run, struct ocr_error *err)
{
	char path[64];
	char **argv = xcalloc(n * 3 + 3, sizeof(char *));
	int pipefd[2];
	size_t a = 0;

	if (!helper_path(name, path, sizeof(path))) {
		free(argv);
		return ocr_fail(err, ENOENT, "%s is not installed but the id mappings need it "
					      "(Debian: apt install uidmap)", name);
	}
	argv[a++] = xstrdup(path);
	argv[a++] = xasprintf("%d", (int)target);
	for (size_t i = 0; i < n; i++) {
		argv[a++] = xasprintf("%u", m[i].container_id);
		argv[a++] = xasprintf("%u", m[i].host_id);
		argv[a++] = xasprintf("%u", m[i].size);
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		strv_free(argv);
		return ocr_fail_errno(err, "pipe");
	}
	run->name = name;
	run->pid = fork();
	if (run->pid < 0) {
		strv_free(argv);
		close(pipefd[0]);
		close(pipefd[1]);
		return ocr_fail_errno(err, "fork %s", name);
	}
	if (run->pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		execv(argv[0], argv);
		_exit(127);
	}
	strv_free(argv);
	close(pipefd[1]);
	run->errfd = pipefd[0];
	return 0;
}

static int helper_wait(struct helper_run *run, const struct spec_idmap *m, size_t n, struct ocr_error *err)
{
	char out[1024];
	ssize_t len = read_all(run->errfd, out, sizeof(out) - 1);
	int status = 0;

	close(run->errfd);
	out[len > 0 ? len : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	if (TEMP_FAILURE_RETRY(waitpid(run->pid, &status, 0)) < 0)
		return ocr_fail_errno(err, "wait for %s", run->name);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	{
		cleanup_free char *map = format_map(m, n);
		for (char *p = map; *p; p++)
			if (*p == '\n')
				*p = p[1] ? ',' : '\0';
		return ocr_fail(err, EPERM, "%s failed for mapping [%s]: %s (check /etc/sub%cid and that %s is setuid root)",
				run->name, map, out[0] ? out : "no message",
				strcmp(run->name, "newuidmap") == 0 ? 'u' : 'g', run->name);
	}
}

static int write_proc(pid_t pid, const char *file, const char *data, struct ocr_error *err)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if (write_file_at(AT_FDCWD, path, data, strlen(data), err) < 0)
		return ocr_wrap(err, "user namespace");
	return 0;
}

int idmap_apply(const struct ocr_ctx *ctx, pid_t pid, const struct idmap_plan *plan,
		struct ocr_error *err)
{
	struct helper_run uid_run = {.pid = -1}, gid_run = {.pid = -1};
	int rc = 0;

	(void)ctx;
	/* Both helpers run at once: each is a setuid exec costing ~1 ms. */
	if (plan->uid_helper && helper_spawn("newuidmap", pid, plan->uid, plan->n_uid, &uid_run, err) < 0)
		return -1;
	if (plan->gid_helper && helper_spawn("newgidmap", pid, plan->gid, plan->n_gid, &gid_run, err) < 0)
		rc = -1;
	if (uid_run.pid > 0 && helper_wait(&uid_run, plan->uid, plan->n_uid, err) < 0)
		rc = -1;
	if (gid_run.pid > 0) {
		struct ocr_error tmp;
		if (helper_wait(&gid_run, plan->gid, plan->n_gid, rc < 0 ? &tmp : err) < 0)
			rc = -1;
	}
	if (rc < 0)
		return -1;
	if (!plan->uid_helper) {
		cleanup_free char *map = format_map(plan->uid, plan->n_uid);
		if (write_proc(pid, "uid_map", map, err) < 0)
			return -1;
	}
	if (!plan->gid_helper) {
		cleanup_free char *map = format_map(plan->gid, plan->n_gid);
		if (plan->deny_setgroups && write_proc(pid, "setgroups", "deny", err) < 0)
			return -1;
		if (write_proc(pid, "gid_map", map, err) < 0)
			return -1;
	}
	return 0;
}
