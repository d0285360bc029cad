#include "idmap.h"

#include <fcntl.h>
#include <libgen.h>
#include <pwd.h>
#include <sched.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/wait.h>

#include "utils.h"

int idmap_read_subids(const char *file, const char *user, uid_t uid, struct idmap_range *ret, size_t max, size_t *ret_n,
		      struct ocr_error *err)
{
	return subid_read_file(file, user, uid, ret, max, ret_n, err);
}

int64_t idmap_to_host(const struct spec_idmap *map, size_t n, uint32_t id)
{
	for (size_t i = 0; i < n; i++)
		if (id >= map[i].container_id && (uint64_t)id < (uint64_t)map[i].container_id + map[i].size)
			return (int64_t)map[i].host_id + (id - map[i].container_id);
	return -1;
}

static const char *helper_name(enum subid_kind kind)
{
	return kind == SUBID_UID ? "newuidmap" : "newgidmap";
}

/* ---------------------------------------------------------------- helpers */

/* NAME in the directory of the running binary. */
static bool exe_sibling(const char *name, char *buf, size_t len)
{
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	int w;

	if (n <= 0)
		return false;
	exe[n] = '\0';
	w = snprintf(buf, len, "%s/%s", dirname(exe), name);
	return w > 0 && (size_t)w < len && is_executable_file(buf);
}

static int configured_helper(const char *conf, const char *origin, enum subid_kind kind, struct idmap_helper *ret,
			     struct ocr_error *err)
{
	char *base;

	ret->configured = true;
	ret->found = origin;
	if (strchr(conf, '/') == NULL) {
		if (!find_program(conf, getenv("PATH"), ret->path, sizeof(ret->path)))
			return ocr_fail(err, ENOENT, "%s `%s`: no such program on PATH", origin, conf);
	} else if ((size_t)snprintf(ret->path, sizeof(ret->path), "%s", conf) >= sizeof(ret->path) ||
		   !is_executable_file(ret->path)) {
		return ocr_fail(err, ENOENT, "%s `%s`: not an executable file", origin, conf);
	}
	/* Shadow's newuidmap named directly: its sibling newgidmap maps gids. */
	base = strrchr(ret->path, '/');
	base = base ? base + 1 : ret->path;
	ret->shim = strcmp(base, "newuidmap") != 0;
	if (!ret->shim && kind == SUBID_GID) {
		strcpy(base, "newgidmap");
		if (!is_executable_file(ret->path))
			return ocr_fail(err, ENOENT, "%s `%s`: no newgidmap next to it", origin, conf);
	}
	return 0;
}

/* How the shim was found, for --debug: because shadow's helper is not on
 * PATH or because it cannot work (PASSED_OVER), next to the runtime or on
 * PATH (SIBLING). */
static const char *shim_origin(enum subid_kind kind, bool passed_over, bool sibling)
{
	if (kind == SUBID_UID && passed_over)
		return sibling ? "newuidmap on PATH cannot write maps, newuidmap-shim next to the runtime"
			       : "newuidmap on PATH cannot write maps, newuidmap-shim on PATH";
	if (kind == SUBID_UID)
		return sibling ? "no newuidmap on PATH, newuidmap-shim next to the runtime"
			       : "no newuidmap on PATH, newuidmap-shim on PATH";
	if (passed_over)
		return sibling ? "newgidmap on PATH cannot write maps, newuidmap-shim next to the runtime"
			       : "newgidmap on PATH cannot write maps, newuidmap-shim on PATH";
	return sibling ? "no newgidmap on PATH, newuidmap-shim next to the runtime"
		       : "no newgidmap on PATH, newuidmap-shim on PATH";
}

/* newuidmap-shim next to this binary, else on PATH_ENV, into RET. */
static bool find_shim(enum subid_kind kind, const char *path_env, bool passed_over, struct idmap_helper *ret)
{
	ret->shim = true;
	if (exe_sibling("newuidmap-shim", ret->path, sizeof(ret->path))) {
		ret->found = shim_origin(kind, passed_over, true);
		return true;
	}
	if (find_program("newuidmap-shim", path_env, ret->path, sizeof(ret->path))) {
		ret->found = shim_origin(kind, passed_over, false);
		return true;
	}
	return false;
}

int idmap_helper_find(const struct ocr_ctx *ctx, enum subid_kind kind, struct idmap_helper *ret, struct ocr_error *err)
{
	const char *conf = ctx->idmap_helper;
	const char *origin = "--idmap-helper";
	const char *path_env = getenv("PATH");
	struct idmap_helper shim = {0};

	memset(ret, 0, sizeof(*ret));
	if (conf == NULL || conf[0] == '\0') {
		conf = getenv(IDMAP_HELPER_ENV);
		origin = IDMAP_HELPER_ENV;
	}
	if (conf && conf[0])
		return configured_helper(conf, origin, kind, ret, err);
	if (!find_program(helper_name(kind), path_env, ret->path, sizeof(ret->path))) {
		if (!find_shim(kind, path_env, false, ret))
			memset(ret, 0, sizeof(*ret));
		return 0;
	}
	ret->found = path_env && path_env[0] ? "PATH" : "the default PATH";
	/* Images and distributions that ship shadow's helpers without their
	 * setuid bit (or strip file capabilities on copy) would otherwise
	 * shadow an installed, working shim for good. */
	if (idmap_helper_usable(ret, kind, NULL, 0) || !find_shim(kind, path_env, true, &shim))
		return 0;
	if (!idmap_helper_usable(&shim, kind, NULL, 0)) {
		snprintf(ret->shim_unusable, sizeof(ret->shim_unusable), "%s", shim.path);
		return 0;
	}
	snprintf(shim.passed_over, sizeof(shim.passed_over), "%s", ret->path);
	*ret = shim;
	return 0;
}

bool idmap_helper_usable(const struct idmap_helper *h, enum subid_kind kind, char *why, size_t len)
{
	const char *cap = kind == SUBID_UID ? "cap_setuid" : "cap_setgid";
	const char *want = h->shim ? "cap_setuid,cap_setgid" : cap;
	cap_flag_value_t p = CAP_CLEAR, e = CAP_CLEAR;
	char also[PATH_MAX + 128] = "";
	struct statvfs sv;
	struct stat st;
	cap_t caps;

	if (h->path[0] == '\0') {
		snprintf(why, len,
			 "%s is not installed (Debian/Ubuntu: `sudo apt install uidmap`; Fedora: "
			 "`sudo dnf install shadow-utils`), and no newuidmap-shim was found",
			 helper_name(kind));
		return false;
	}
	if (h->shim_unusable[0])
		snprintf(also, sizeof(also), ", and the newuidmap-shim found at `%s` cannot either", h->shim_unusable);
	if (stat(h->path, &st) < 0) {
		snprintf(why, len, "`%s`: %s", h->path, strerror(errno));
		return false;
	}
	if (statvfs(h->path, &sv) == 0 && (sv.f_flag & ST_NOSUID)) {
		snprintf(why, len,
			 "`%s` is on a filesystem mounted nosuid, where setuid bits and file "
			 "capabilities do not apply%s: install it on another filesystem",
			 h->path, also);
		return false;
	}
	if (st.st_uid == 0 && (st.st_mode & S_ISUID))
		return true;
	caps = cap_get_file(h->path);
	if (caps) {
		cap_get_flag(caps, kind == SUBID_UID ? CAP_SETUID : CAP_SETGID, CAP_PERMITTED, &p);
		cap_get_flag(caps, kind == SUBID_UID ? CAP_SETUID : CAP_SETGID, CAP_EFFECTIVE, &e);
		cap_free(caps);
	}
	/* The shim raises its effective set itself; shadow's helpers need +e. */
	if (p == CAP_SET && (e == CAP_SET || h->shim))
		return true;
	snprintf(why, len,
		 "`%s` is neither setuid root nor has the %s file capability, so it cannot write "
		 "the map%s: run `sudo setcap %s+ep %s`%s",
		 h->path, cap, also, want, h->path,
		 h->shim ? "" : " (or `sudo chmod u+s` it; Debian: `sudo apt install --reinstall uidmap`)");
	return false;
}

/* The helper's command line; PID -1 writes "PID" (for messages). */
static char **helper_argv(const struct idmap_helper *h, enum subid_kind kind, pid_t pid, const struct spec_idmap *m,
			  size_t n)
{
	char **argv = xcalloc(n * 3 + 4, sizeof(char *));
	size_t a = 0;

	argv[a++] = xstrdup(h->path);
	if (h->shim && kind == SUBID_GID)
		argv[a++] = xstrdup("--gid");
	argv[a++] = pid < 0 ? xstrdup("PID") : xasprintf("%d", (int)pid);
	for (size_t i = 0; i < n; i++) {
		argv[a++] = xasprintf("%u", m[i].container_id);
		argv[a++] = xasprintf("%u", m[i].host_id);
		argv[a++] = xasprintf("%u", m[i].size);
	}
	return argv;
}

static void log_argv(const struct ocr_ctx *ctx, const char *what, char **argv)
{
	char line[1024];
	size_t used = 0;

	line[0] = '\0';
	for (size_t i = 0; argv[i] && used < sizeof(line); i++)
		used += (size_t)snprintf(line + used, sizeof(line) - used, "%s%s", i ? " " : "", argv[i]);
	ocr_debug(&ctx->log, "idmap: %s: %s", what, line);
}

void idmap_suggest_subid_line(enum subid_kind kind, const char *user, char *buf, size_t len)
{
	cleanup_free char *text = NULL;
	struct ocr_error ignored;
	size_t tlen;
	uint32_t start;

	if (read_file_at(AT_FDCWD, subid_file(kind), 64u << 20, &text, &tlen, &ignored) < 0)
		text = NULL;
	start = subid_suggest_start(text ? text : "");
	snprintf(buf, len, "%s:%u:65536", user ? user : "USER", start ? start : 100000);
}

/* ------------------------------------------------------------ the policy */

/* Everything beyond "my own id, once" needs the setuid helpers. */
static bool needs_helper(const struct spec_idmap *m, size_t n, uint32_t own)
{
	return !(n == 1 && m[0].host_id == own && m[0].size == 1);
}

/* Append HOST..HOST+COUNT-1 at the next container id, unless it overlaps a
 * host range already mapped (duplicate lines in /etc/subuid). */
static void push_range(struct spec_idmap *m, size_t *n, uint32_t *next, uint64_t host, uint64_t count)
{
	if (count == 0 || *n >= IDMAP_MAX_LINES || (uint64_t)*next + count > UINT32_MAX)
		return;
	for (size_t i = 0; i < *n; i++)
		if (subid_overlap(host, count, m[i].host_id, m[i].size))
			return;
	m[(*n)++] = (struct spec_idmap){.container_id = *next, .host_id = (uint32_t)host, .size = (uint32_t)count};
	*next += (uint32_t)count;
}

size_t idmap_default_map(struct spec_idmap *m, uint32_t own, const struct idmap_range *r, size_t nr)
{
	uint32_t next = 1;
	size_t n = 0;

	m[n++] = (struct spec_idmap){.container_id = 0, .host_id = own, .size = 1};
	for (size_t i = 0; i < nr; i++) {
		uint64_t s = r[i].start, e = (uint64_t)r[i].start + r[i].count;
		if (own >= s && own < e) {
			push_range(m, &n, &next, s, own - s);
			push_range(m, &n, &next, (uint64_t)own + 1, e - own - 1);
		} else {
			push_range(m, &n, &next, s, r[i].count);
		}
	}
	return n;
}

static void no_ranges_why(enum subid_kind kind, const char *user, uid_t uid, char *buf, size_t len)
{
	char line[128];

	idmap_suggest_subid_line(kind, user, line, sizeof(line));
	snprintf(buf, len,
		 "%s (uid %u) has no subordinate %ss (asked libsubid and %s): as root, add `%s` to "
		 "/etc/subuid and /etc/subgid",
		 user ? user : "you", (unsigned)uid, subid_kind_name(kind), subid_file(kind), line);
}

static int plan_rootless_default(const struct ocr_ctx *ctx, struct idmap_plan *plan, struct ocr_error *err)
{
	struct passwd *pw = getpwuid(ctx->euid);
	cleanup_free char *user = pw ? xstrdup(pw->pw_name) : NULL;
	cleanup_free struct subid_ranges *ur = xcalloc(1, sizeof(*ur));
	cleanup_free struct subid_ranges *gr = xcalloc(1, sizeof(*gr));
	char why[sizeof(plan->single_id_why)];

	if (subid_lookup(SUBID_UID, user, ctx->euid, ur, err) < 0 ||
	    subid_lookup(SUBID_GID, user, ctx->euid, gr, err) < 0)
		return -1;
	if (idmap_helper_find(ctx, SUBID_UID, &plan->uid_tool, err) < 0 ||
	    idmap_helper_find(ctx, SUBID_GID, &plan->gid_tool, err) < 0)
		return -1;
	if (ur->n == 0 || gr->n == 0) {
		no_ranges_why(ur->n == 0 ? SUBID_UID : SUBID_GID, user, ctx->euid, why, sizeof(why));
	} else if (!idmap_helper_usable(&plan->uid_tool, SUBID_UID, why, sizeof(why)) ||
		   !idmap_helper_usable(&plan->gid_tool, SUBID_GID, why, sizeof(why))) {
		if (plan->uid_tool.configured)
			return ocr_fail(err, EPERM, "id map helper: %s", why);
	} else {
		plan->n_uid = idmap_default_map(plan->uid, ctx->euid, ur->r, ur->n);
		plan->n_gid = idmap_default_map(plan->gid, ctx->egid, gr->r, gr->n);
		plan->uid_helper = plan->gid_helper = true;
		ocr_debug(&ctx->log, "idmap: uid ranges from %s, gid ranges from %s; helpers %s (%s), %s (%s)",
			  ur->where, gr->where, plan->uid_tool.path, plan->uid_tool.found, plan->gid_tool.path,
			  plan->gid_tool.found);
		return 0;
	}
	snprintf(plan->single_id_why, sizeof(plan->single_id_why), "%s", why);
	plan->n_uid = idmap_default_map(plan->uid, ctx->euid, NULL, 0);
	plan->n_gid = idmap_default_map(plan->gid, ctx->egid, NULL, 0);
	plan->deny_setgroups = true;
	plan->single_id = true;
	ocr_warn(&ctx->log,
		 "%s; mapping only your own id to root: files owned by other ids and "
		 "process.user other than 0 will not work",
		 why);
	return 0;
}

static const char *map_field(enum subid_kind kind)
{
	return kind == SUBID_UID ? "linux.uidMappings" : "linux.gidMappings";
}

/* Lines of a map: no empty or wrapping line, no overlap on either side. */
static int check_map_shape(enum subid_kind kind, const struct spec_idmap *m, size_t n, struct ocr_error *err)
{
	const char *f = map_field(kind);

	for (size_t i = 0; i < n; i++) {
		if (m[i].size == 0)
			return ocr_fail(err, EINVAL, "config.json: %s[%zu]: size is 0", f, i);
		if ((uint64_t)m[i].container_id + m[i].size > UINT32_MAX ||
		    (uint64_t)m[i].host_id + m[i].size > UINT32_MAX)
			return ocr_fail(err, EINVAL, "config.json: %s[%zu]: ids past 4294967294", f, i);
		for (size_t j = 0; j < i; j++) {
			if (subid_overlap(m[i].container_id, m[i].size, m[j].container_id, m[j].size))
				return ocr_fail(err, EINVAL,
						"config.json: %s[%zu] and %s[%zu] overlap in the "
						"container (containerID %u and %u): each container %s "
						"may be mapped once",
						f, j, f, i, m[j].container_id, m[i].container_id,
						subid_kind_name(kind));
			if (subid_overlap(m[i].host_id, m[i].size, m[j].host_id, m[j].size))
				return ocr_fail(err, EINVAL,
						"config.json: %s[%zu] and %s[%zu] overlap on the host "
						"(hostID %u and %u): each host %s may be mapped once",
						f, j, f, i, m[j].host_id, m[i].host_id, subid_kind_name(kind));
		}
	}
	return 0;
}

/* What newuidmap/newgidmap and the shim allow: the caller's own id once,
 * or ids covered by the caller's subordinate ranges. */
static int check_map_allowed(const struct ocr_ctx *ctx, enum subid_kind kind, const struct spec_idmap *m, size_t n,
			     struct ocr_error *err)
{
	struct passwd *pw = getpwuid(ctx->euid);
	cleanup_free char *user = pw ? xstrdup(pw->pw_name) : NULL;
	cleanup_free struct subid_ranges *r = xcalloc(1, sizeof(*r));
	uint32_t own = kind == SUBID_UID ? ctx->euid : ctx->egid;
	const char *k = subid_kind_name(kind);
	char have[256];

	if (subid_lookup(kind, user, ctx->euid, r, err) < 0)
		return -1;
	subid_format(r->r, r->n, have, sizeof(have));
	for (size_t i = 0; i < n; i++) {
		if ((m[i].host_id == own && m[i].size == 1) || subid_covers(r->r, r->n, m[i].host_id, m[i].size))
			continue;
		return ocr_fail(err, EPERM,
				"config.json: %s[%zu]: host %ss %u-%u are neither your own %s %u nor "
				"among your subordinate %ss (%s%s%s): map host ids inside those ranges, or "
				"as root add `%s:%u:%u` to %s",
				map_field(kind), i, k, m[i].host_id, (unsigned)((uint64_t)m[i].host_id + m[i].size - 1),
				k, (unsigned)own, k, r->n ? have : "none", r->n ? ", from " : "", r->n ? r->where : "",
				user ? user : "USER", m[i].host_id, m[i].size, subid_file(kind));
	}
	return 0;
}

static int check_config_map(const struct ocr_ctx *ctx, enum subid_kind kind, const struct spec_idmap *m, size_t n,
			    struct idmap_helper *tool, struct ocr_error *err)
{
	char why[512];
	cleanup_strv char **argv = NULL;

	if (idmap_helper_find(ctx, kind, tool, err) < 0)
		return -1;
	argv = helper_argv(tool, kind, -1, m, n);
	log_argv(ctx, "will run", argv);
	if (!idmap_helper_usable(tool, kind, why, sizeof(why)))
		return ocr_fail(err, EPERM, "config.json: %s maps more than your own %s, which needs %s: %s",
				map_field(kind), subid_kind_name(kind),
				tool->shim ? "newuidmap-shim" : helper_name(kind), why);
	return check_map_allowed(ctx, kind, m, n, err);
}

static int plan_from_config(const struct ocr_ctx *ctx, const struct spec_linux *lx, bool privileged,
			    struct idmap_plan *plan, struct ocr_error *err)
{
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
	plan->from_config = true;
	if (check_map_shape(SUBID_UID, plan->uid, plan->n_uid, err) < 0 ||
	    check_map_shape(SUBID_GID, plan->gid, plan->n_gid, err) < 0)
		return -1;
	if (privileged)
		return 0;
	plan->uid_helper = needs_helper(plan->uid, plan->n_uid, ctx->euid);
	plan->gid_helper = needs_helper(plan->gid, plan->n_gid, ctx->egid);
	plan->deny_setgroups = !plan->gid_helper;
	if (plan->uid_helper && check_config_map(ctx, SUBID_UID, plan->uid, plan->n_uid, &plan->uid_tool, err) < 0)
		return -1;
	if (plan->gid_helper && check_config_map(ctx, SUBID_GID, plan->gid, plan->n_gid, &plan->gid_tool, err) < 0)
		return -1;
	return 0;
}

int idmap_plan_build(const struct ocr_ctx *ctx, const struct spec *spec, struct idmap_plan *plan, struct ocr_error *err)
{
	const struct spec_namespace *ns = spec_namespace(spec, CLONE_NEWUSER);
	const struct spec_linux *lx = spec->linux_;
	bool privileged = ctx->euid == 0;

	memset(plan, 0, sizeof(*plan));
	if (ns && ns->path)
		return 0; /* joining: the namespace has its maps already */
	if (ns == NULL && (privileged || !ctx->initial_userns))
		return 0; /* as runc: a user namespace only when asked */
	plan->new_userns = true;
	if (lx && (lx->n_uid_mappings > 0 || lx->n_gid_mappings > 0))
		return plan_from_config(ctx, lx, privileged, plan, err);
	if (privileged) {
		/* root asked for a user namespace without maps: identity. */
		plan->uid[0] = plan->gid[0] = (struct spec_idmap){0, 0, UINT32_MAX};
		plan->n_uid = plan->n_gid = 1;
		return 0;
	}
	return plan_rootless_default(ctx, plan, err);
}

/* ------------------------------------------------ ids the config uses */

/* "0, 1-65536" from the container side of a map. */
static void format_container_side(const struct spec_idmap *m, size_t n, char *buf, size_t len)
{
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && used < len; i++) {
		uint64_t last = (uint64_t)m[i].container_id + m[i].size - 1;
		if (last == m[i].container_id)
			used += (size_t)snprintf(buf + used, len - used, "%s%u", i ? ", " : "", m[i].container_id);
		else
			used += (size_t)snprintf(buf + used, len - used, "%s%u-%u", i ? ", " : "", m[i].container_id,
						 (unsigned)last);
	}
}

static int check_id(const struct idmap_plan *plan, enum subid_kind kind, uint64_t id, const char *what,
		    struct ocr_error *err)
{
	const struct spec_idmap *m = kind == SUBID_UID ? plan->uid : plan->gid;
	size_t n = kind == SUBID_UID ? plan->n_uid : plan->n_gid;
	const char *k = subid_kind_name(kind);
	char mapped[256], fix[768];

	if (id <= UINT32_MAX && idmap_to_host(m, n, (uint32_t)id) >= 0)
		return 0;
	format_container_side(m, n, mapped, sizeof(mapped));
	if (plan->single_id)
		snprintf(fix, sizeof(fix), "only your own %s is mapped (to 0) because %s", k, plan->single_id_why);
	else if (plan->from_config)
		snprintf(fix, sizeof(fix),
			 "add a %s entry whose containerID..containerID+size-1 covers %llu, or "
			 "change %s",
			 map_field(kind), (unsigned long long)id, what);
	else
		snprintf(fix, sizeof(fix), "use a %s in that range, or give yourself more subordinate %ss in %s", k, k,
			 subid_file(kind));
	return ocr_fail(err, EINVAL,
			"config.json: %s %llu is not mapped in the container's user namespace (mapped "
			"container %ss: %s): %s",
			what, (unsigned long long)id, k, mapped, fix);
}

/* uid=N / gid=N mount options (tmpfs, fuse, vfat...). devpts is left out:
 * its gid=5 is dropped by the mount code when gid 5 is unmapped. */
static int check_mount_options(const struct idmap_plan *plan, const struct spec *spec, struct ocr_error *err)
{
	for (size_t i = 0; i < spec->n_mounts; i++) {
		const struct spec_mount *mnt = &spec->mounts[i];
		if (mnt->type && strcmp(mnt->type, "devpts") == 0)
			continue;
		for (size_t j = 0; j < mnt->n_options; j++) {
			const char *o = mnt->options[j];
			bool is_uid = str_has_prefix(o, "uid="), is_gid = str_has_prefix(o, "gid=");
			char what[512];
			uint64_t v;
			if ((!is_uid && !is_gid) || parse_u64(o + 4, &v) < 0)
				continue;
			snprintf(what, sizeof(what), "mounts[%zu] (`%s`) option %.4s", i, mnt->destination, o);
			if (check_id(plan, is_uid ? SUBID_UID : SUBID_GID, v, what, err) < 0)
				return -1;
		}
	}
	return 0;
}

int idmap_check_spec(const struct idmap_plan *plan, const struct spec *spec, struct ocr_error *err)
{
	const struct spec_process *p = spec->process;
	const struct spec_linux *lx = spec->linux_;
	char what[512];

	if (!plan->new_userns)
		return 0;
	if (p && (check_id(plan, SUBID_UID, p->user.uid, "process.user.uid", err) < 0 ||
		  check_id(plan, SUBID_GID, p->user.gid, "process.user.gid", err) < 0))
		return -1;
	for (size_t i = 0; p && i < p->user.n_additional_gids; i++) {
		snprintf(what, sizeof(what), "process.user.additionalGids[%zu]", i);
		if (check_id(plan, SUBID_GID, p->user.additional_gids[i], what, err) < 0)
			return -1;
	}
	if (check_mount_options(plan, spec, err) < 0)
		return -1;
	for (size_t i = 0; lx && i < lx->n_devices; i++) {
		const struct spec_device *d = &lx->devices[i];
		snprintf(what, sizeof(what), "linux.devices[%zu] (`%s`) uid", i, d->path);
		if (d->uid.set && check_id(plan, SUBID_UID, d->uid.v, what, err) < 0)
			return -1;
		snprintf(what, sizeof(what), "linux.devices[%zu] (`%s`) gid", i, d->path);
		if (d->gid.set && check_id(plan, SUBID_GID, d->gid.v, what, err) < 0)
			return -1;
	}
	return 0;
}

/* ------------------------------------------------------- writing maps */

static long read_knob(const char *path)
{
	char buf[64];
	cleanup_close int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read_all(fd, buf, sizeof(buf) - 1) : -1;

	if (n <= 0)
		return -1;
	buf[n] = '\0';
	return strtol(buf, NULL, 10);
}

static bool seccomp_filtered(void)
{
	cleanup_fclose FILE *f = fopen("/proc/self/status", "re");
	char line[256];

	while (f && fgets(line, sizeof(line), f))
		if (str_has_prefix(line, "Seccomp:"))
			return strtol(line + 8, NULL, 10) == 2;
	return false;
}

void idmap_explain_userns_failure(int errnum, char *buf, size_t len)
{
	long max_ns = read_knob("/proc/sys/user/max_user_namespaces");
	long clone = read_knob("/proc/sys/kernel/unprivileged_userns_clone");
	long aa = read_knob("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");

	if (max_ns == 0)
		snprintf(buf, len,
			 "user namespaces are disabled: user.max_user_namespaces is 0; enable them with "
			 "`sudo sysctl -w user.max_user_namespaces=15000` (and a file in /etc/sysctl.d/ "
			 "to keep it)");
	else if (errnum == ENOSPC)
		snprintf(buf, len,
			 "the user namespace limit is reached (user.max_user_namespaces is %ld, or 32 "
			 "nested levels): raise it with `sudo sysctl -w user.max_user_namespaces=%ld`",
			 max_ns, max_ns > 0 ? max_ns * 2 : 15000);
	else if (clone == 0)
		snprintf(buf, len,
			 "unprivileged user namespaces are disabled: kernel.unprivileged_userns_clone "
			 "is 0; enable them with `sudo sysctl -w kernel.unprivileged_userns_clone=1`");
	else if (aa == 1)
		snprintf(buf, len,
			 "AppArmor restricts unprivileged user namespaces "
			 "(kernel.apparmor_restrict_unprivileged_userns is 1): give ocirt-rootless an "
			 "AppArmor profile with `userns,` or run `sudo sysctl -w "
			 "kernel.apparmor_restrict_unprivileged_userns=0`");
	else if (errnum == EPERM && seccomp_filtered())
		snprintf(buf, len,
			 "a seccomp filter on this process refuses unshare(CLONE_NEWUSER) (are you inside a "
			 "container? give it a profile that allows user namespaces)");
	else if (errnum == EPERM)
		snprintf(buf, len,
			 "user.max_user_namespaces, kernel.unprivileged_userns_clone and "
			 "kernel.apparmor_restrict_unprivileged_userns allow it: a chroot, an LSM policy "
			 "or a seccomp filter of a parent refuses it (see `ocirt-rootless doctor`)");
	else
		snprintf(buf, len, "%s (see `ocirt-rootless doctor`)", strerror(errnum));
}

static char *format_map(const struct spec_idmap *m, size_t n)
{
	size_t cap = n * 36 + 1, len = 0;
	char *buf = xmalloc(cap);

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(buf + len, cap - len, "%u %u %u\n", m[i].container_id, m[i].host_id, m[i].size);
	return buf;
}

struct helper_run {
	pid_t pid;
	int errfd;
	enum subid_kind kind;
	char **argv;
};

static int helper_spawn(const struct ocr_ctx *ctx, const struct idmap_helper *h, enum subid_kind kind, pid_t target,
			const struct spec_idmap *m, size_t n, struct helper_run *run, struct ocr_error *err)
{
	int pipefd[2];

	run->kind = kind;
	run->argv = helper_argv(h, kind, target, m, n);
	log_argv(ctx, "running", run->argv);
	if (pipe2(pipefd, O_CLOEXEC) < 0)
		return ocr_fail_errno(err, "pipe");
	run->pid = fork();
	if (run->pid < 0) {
		close(pipefd[0]);
		close(pipefd[1]);
		return ocr_fail_errno(err, "fork %s", run->argv[0]);
	}
	if (run->pid == 0) {
		dup2(pipefd[1], STDERR_FILENO);
		dup2(pipefd[1], STDOUT_FILENO);
		execv(run->argv[0], run->argv);
		dprintf(pipefd[1], "exec: %s", strerror(errno));
		_exit(127);
	}
	close(pipefd[1]);
	run->errfd = pipefd[0];
	return 0;
}

static int helper_wait(const struct ocr_ctx *ctx, struct helper_run *run, struct ocr_error *err)
{
	char out[1024];
	ssize_t len = read_all(run->errfd, out, sizeof(out) - 1);
	cleanup_strv char **argv = steal_pointer(&run->argv);
	int status = 0;

	close(run->errfd);
	out[len > 0 ? len : 0] = '\0';
	out[strcspn(out, "\n")] = '\0';
	if (TEMP_FAILURE_RETRY(waitpid(run->pid, &status, 0)) < 0)
		return ocr_fail_errno(err, "wait for %s", argv[0]);
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	log_argv(ctx, "failed", argv);
	return ocr_fail(err, EPERM, "%s map: `%s` failed: %s (run with --debug for its command line)",
			subid_kind_name(run->kind), argv[0], out[0] ? out : "no message");
}

static int write_proc(pid_t pid, const char *file, const char *data, struct ocr_error *err)
{
	char path[64], why[512];

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, file);
	if (write_file_at(AT_FDCWD, path, data, strlen(data), err) < 0) {
		if (err->err != EPERM || read_knob("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") != 1)
			return ocr_wrap(err, "user namespace");
		idmap_explain_userns_failure(EPERM, why, sizeof(why));
		return ocr_fail(err, EPERM, "user namespace: write %s: %s", file, why);
	}
	return 0;
}

int idmap_apply(const struct ocr_ctx *ctx, pid_t pid, const struct idmap_plan *plan, struct ocr_error *err)
{
	struct helper_run uid_run = {.pid = -1}, gid_run = {.pid = -1};
	int rc = 0;

	/* Both helpers run at once: each is a setuid exec costing ~1 ms. */
	if (plan->uid_helper &&
	    helper_spawn(ctx, &plan->uid_tool, SUBID_UID, pid, plan->uid, plan->n_uid, &uid_run, err) < 0)
		rc = -1;
	if (rc == 0 && plan->gid_helper &&
	    helper_spawn(ctx, &plan->gid_tool, SUBID_GID, pid, plan->gid, plan->n_gid, &gid_run, err) < 0)
		rc = -1;
	if (uid_run.pid > 0 && helper_wait(ctx, &uid_run, err) < 0)
		rc = -1;
	if (gid_run.pid > 0) {
		struct ocr_error tmp;
		if (helper_wait(ctx, &gid_run, rc < 0 ? &tmp : err) < 0)
			rc = -1;
	}
	strv_free(uid_run.argv);
	strv_free(gid_run.argv);
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
