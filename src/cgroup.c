/* Choosing a cgroup manager, recording it for later invocations, and the
 * disabled manager. The systemd and cgroupfs managers live in
 * cgroup-systemd.c and cgroup-fs.c; the resource conversion in
 * cgroup-resources.c. */
#include "cgroup.h"

#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "cgroup-resources.h"
#include "utils.h"

#define FIX_DELEGATE                                                                           \
	"run the runtime in a cgroup v2 subtree delegated to you (a systemd user session, or " \
	"`systemd-run --user --scope -p Delegate=yes ...`)"
#define FIX_DROPIN                                                                                 \
	"create /etc/systemd/system/user@.service.d/delegate.conf with the lines `[Service]` and " \
	"`Delegate=cpu cpuset io memory pids`, run `systemctl daemon-reload` and log in again"
#define STRICT_HINT \
	"set " CGROUP_STRICT_ENV "=1 or the annotation " CGROUP_STRICT_ANNOTATION "=true to make this an error"

/* ---- the disabled manager ------------------------------------------------- */

static int no_cgroup(const struct ocr_cgroup *cg, struct ocr_error *err, const char *what)
{
	return ocr_fail(err, ENOTSUP, "%s needs a cgroup, and this container has none (%s); to have one, " FIX_DELEGATE,
			what, cg->reason ? cg->reason : "it was created without");
}

static int disabled_create(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err)
{
	(void)cg, (void)pid, (void)err;
	return 0;
}

static int disabled_update(struct ocr_cgroup *cg, const struct spec_resources *r, struct ocr_error *err)
{
	(void)r;
	return no_cgroup(cg, err, "update");
}

static int disabled_freeze(struct ocr_cgroup *cg, bool frozen, struct ocr_error *err)
{
	return no_cgroup(cg, err, frozen ? "pause" : "resume");
}

static int disabled_kill(struct ocr_cgroup *cg, int sig, struct ocr_error *err)
{
	(void)sig;
	return no_cgroup(cg, err, "kill through the cgroup");
}

static int disabled_pids(struct ocr_cgroup *cg, pid_t **ret, size_t *ret_n, struct ocr_error *err)
{
	(void)ret, (void)ret_n;
	return no_cgroup(cg, err, "listing processes through the cgroup");
}

static int disabled_stats(struct ocr_cgroup *cg, json_t **ret, struct ocr_error *err)
{
	(void)ret;
	return no_cgroup(cg, err, "stats");
}

static int disabled_destroy(struct ocr_cgroup *cg, struct ocr_error *err)
{
	(void)cg, (void)err;
	return 0;
}

static const struct cgroup_backend disabled_backend = {
	.name = "disabled",
	.create = disabled_create,
	.enter = disabled_create,
	.update = disabled_update,
	.freeze = disabled_freeze,
	.kill = disabled_kill,
	.pids = disabled_pids,
	.stats = disabled_stats,
	.destroy = disabled_destroy,
};

static struct ocr_cgroup *cgroup_new(const struct ocr_ctx *ctx, const char *id)
{
	struct ocr_cgroup *cg = xcalloc(1, sizeof(*cg));
	cg->backend = &disabled_backend;
	cg->ctx = ctx;
	cg->id = xstrdup(id);
	return cg;
}

/* ---- choosing ----------------------------------------------------------------- */

static bool rootless(const struct ocr_ctx *ctx)
{
	return ctx->euid != 0 || !ctx->initial_userns;
}

static bool is_socket(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* A systemd to talk to: systemd is PID 1, and for a user its session bus
 * ($DBUS_SESSION_BUS_ADDRESS, else $XDG_RUNTIME_DIR/bus) is there. Only
 * looks at the file system: nothing is loaded or connected here. */
static bool systemd_bus_present(const struct ocr_ctx *ctx)
{
	const char *addr = getenv("DBUS_SESSION_BUS_ADDRESS");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	struct stat st;

	if (stat("/run/systemd/system", &st) < 0 || !S_ISDIR(st.st_mode))
		return false;
	if (!rootless(ctx))
		return true;
	if (addr && addr[0]) {
		const char *p = strstr(addr, "unix:path=");
		cleanup_free char *path = NULL;
		if (p == NULL)
			return true; /* abstract or tcp: let sd-bus try */
		path = xstrdup(p + strlen("unix:path="));
		path[strcspn(path, ",;")] = '\0';
		return is_socket(path);
	}
	if (xdg && xdg[0] == '/') {
		cleanup_free char *path = xasprintf("%s/bus", xdg);
		return is_socket(path);
	}
	return false;
}

static bool truthy(const char *s)
{
	return s && (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0);
}

static bool strict_mode(const struct spec *spec)
{
	return truthy(getenv(CGROUP_STRICT_ENV)) || truthy(spec_annotation(spec, CGROUP_STRICT_ANNOTATION));
}

bool cgroup_resources_requested(const struct spec_resources *r)
{
	struct cg_plan plan;
	struct ocr_error ignored;
	bool requested;

	if (cg_plan_build(r, NULL, &plan, &ignored) < 0)
		return true;
	requested = cg_plan_requested(&plan);
	cg_plan_clear(&plan);
	return requested;
}

/* What the host offers, for messages. */
struct host_cgroups {
	char *mount; /* cgroup v2 mount, NULL when none */
	bool unified; /* cgroup v2 only (not hybrid) */
};

static void host_cgroups_clear(struct host_cgroups *h)
{
	free(h->mount);
}

static void append(char *buf, size_t len, const char *sep, const char *s)
{
	size_t used = strlen(buf);

	if (used > 0 && used < len)
		used += (size_t)snprintf(buf + used, len - used, "%s", sep);
	if (used < len)
		snprintf(buf + used, len - used, "%s", s);
}

/* The one line that says which limits are not applied, why and the fix.
 * NO_CGROUP_REASON: there is no cgroup at all (else CG's findings). */
static char *limits_message(const struct ocr_ctx *ctx, const struct host_cgroups *h, const struct cg_plan *plan,
			    const struct ocr_cgroup *cg, const char *no_cgroup_reason)
{
	char msg[2048] = "";
	cleanup_free char *ctls = NULL;
	unsigned lost = no_cgroup_reason ? plan->controllers : cg->missing;

	if (lost != 0 || (no_cgroup_reason && plan->n_writes > 0)) {
		char part[1536];
		ctls = cg_controllers_format(lost);
		if (h->mount == NULL || !h->unified)
			snprintf(part, sizeof(part),
				 "cgroup v1/hybrid host: linux.resources limits (%s) are not applied (%s); limits need "
				 "a "
				 "host with cgroup v2 only (systemd.unified_cgroup_hierarchy=1)",
				 ctls[0] ? ctls : "cgroup",
				 no_cgroup_reason ? no_cgroup_reason : "cgroup v2 has no such controller here");
		else if (no_cgroup_reason)
			snprintf(part, sizeof(part), "linux.resources limits (%s) are not applied: %s; " FIX_DELEGATE,
				 ctls[0] ? ctls : "cgroup", no_cgroup_reason);
		else if (lost & (CG_CPU | CG_CPUSET | CG_IO | CG_MEMORY | CG_PIDS))
			snprintf(part, sizeof(part),
				 "controllers %s are not delegated to uid %u (cgroup `%s` has none of them), so those "
				 "linux.resources limits are not applied; " FIX_DROPIN,
				 ctls, (unsigned)ctx->euid, cg->path);
		else
			snprintf(part, sizeof(part),
				 "controllers %s are not available in cgroup `%s` (systemd delegates only cpu, cpuset, "
				 "io, "
				 "memory and pids), so those linux.resources limits are not applied",
				 ctls, cg->path);
		append(msg, sizeof(msg), "; ", part);
	}
	if (cg && cg->unapplied) {
		char part[1024] = "not applied, the kernel has no such file: ";
		for (char **u = cg->unapplied; *u; u++)
			append(part, sizeof(part), u == cg->unapplied ? "" : ", ", *u);
		append(msg, sizeof(msg), "; ", part);
	}
	if (plan->n_ignored > 0) {
		char part[1024] = "linux.resources fields cgroup v2 cannot express, ignored: ";
		for (size_t i = 0; i < plan->n_ignored; i++)
			append(part, sizeof(part), i ? ", " : "", plan->ignored[i]);
		append(msg, sizeof(msg), "; ", part);
	}
	return msg[0] ? xstrdup(msg) : NULL;
}

/* Warn once, or fail in strict mode. */
static int report_limits(const struct ocr_ctx *ctx, char *msg, bool strict, struct ocr_error *err)
{
	int rc = 0;

	if (msg == NULL)
		return 0;
	if (strict)
		rc = ocr_fail(err, EPERM, "cgroup strict mode: %s", msg);
	else
		ocr_warn(&ctx->log, "%s (%s)", msg, STRICT_HINT);
	free(msg);
	return rc;
}

static void record(json_t *state_extra, const struct ocr_cgroup *cg)
{
	json_t *o = json_pack("{s:s}", "manager", cg->backend->name);

	if (cg->path)
		json_object_set_new(o, "path", json_string(cg->path));
	if (cg->unit)
		json_object_set_new(o, "unit", json_string(cg->unit));
	if (cg->bus)
		json_object_set_new(o, "bus", json_string(cg->bus));
	if (cg->reason)
		json_object_set_new(o, "reason", json_string(cg->reason));
	json_object_set_new(state_extra, "cgroup", o);
}

/* The managers to try, in order; REASON says why there are none. A
 * cgroupsPath that is a path (not slice:prefix:name) means cgroupfs, as it
 * does for runc without --systemd-cgroup. */
static size_t candidates(const struct ocr_ctx *ctx, const struct host_cgroups *h, const char *cgroups_path,
			 const struct cgroup_backend **c, char *reason, size_t len)
{
	cleanup_free char *base = NULL;
	cleanup_free char *own = NULL;
	struct ocr_error ignored;
	size_t n = 0;

	switch (ctx->cgroup_manager) {
	case OCR_CGROUP_SYSTEMD:
		c[n++] = &cgroup_systemd_backend;
		break;
	case OCR_CGROUP_CGROUPFS:
		c[n++] = &cgroup_fs_backend;
		break;
	case OCR_CGROUP_DISABLED:
		snprintf(reason, len, "--cgroup-manager disabled");
		break;
	case OCR_CGROUP_AUTO:
	default:
		if (h->mount == NULL) {
			snprintf(reason, len, "no cgroup v2 is mounted");
			break;
		}
		if ((cgroups_path == NULL || cgroups_path[0] == '\0' || strchr(cgroups_path, ':')) &&
		    systemd_bus_present(ctx))
			c[n++] = &cgroup_systemd_backend;
		if (cgroup_fs_own_writable(&base))
			c[n++] = &cgroup_fs_backend;
		else if (n == 0 && cgroup_fs_pid_dir(0, &own, &ignored) == 0)
			snprintf(reason, len,
				 "our cgroup `%s` is not writable by uid %u and there is no systemd user bus", own,
				 (unsigned)ctx->euid);
		else if (n == 0)
			snprintf(reason, len, "no writable cgroup v2 and no systemd user bus");
		break;
	}
	return n;
}

/* Try each candidate; on success *RET is the cgroup, else NULL with
 * REASON (and ERR) saying why the last one failed. */
static int try_create(const struct ocr_ctx *ctx, const char *id, const struct spec *spec, pid_t pid,
		      const struct cg_plan *plan, const struct cgroup_backend **c, size_t n, char *reason, size_t len,
		      struct ocr_cgroup **ret, struct ocr_error *err)
{
	*ret = NULL;
	for (size_t i = 0; i < n; i++) {
		struct ocr_cgroup *cg = cgroup_new(ctx, id);
		struct ocr_error ignored;
		char msg[OCR_ERROR_MSG_MAX + 256];

		cg->backend = c[i];
		cg->cgroups_path = spec->linux_ ? spec->linux_->cgroups_path : NULL;
		cg->plan = plan;
		if (c[i]->create(cg, pid, err) == 0) {
			*ret = cg;
			return 0;
		}
		/* A bad value (cgroupsPath, a limit the kernel refuses) is the
		 * config's fault, not the host's: no fallback hides it. */
		if (err->err == EINVAL) {
			if (cg->path || cg->unit)
				c[i]->destroy(cg, &ignored);
			cgroup_free(cg);
			return -2;
		}
		ocr_error_format(err, msg, sizeof(msg));
		ocr_debug(&ctx->log, "cgroup manager %s: %s", c[i]->name, msg);
		snprintf(reason, len, "%s manager: %s", c[i]->name, msg);
		if (cg->path || cg->unit)
			c[i]->destroy(cg, &ignored);
		cgroup_free(cg);
	}
	return n > 0 ? -1 : 0;
}

int cgroup_create(const struct ocr_ctx *ctx, const char *id, const struct spec *spec, pid_t pid, json_t *state_extra,
		  struct ocr_cgroup **ret, struct ocr_error *err)
{
	const struct spec_resources *r = spec->linux_ ? spec->linux_->resources : NULL;
	const struct cgroup_backend *c[2];
	struct host_cgroups h = {0};
	struct ocr_cgroup *cg = NULL;
	struct ocr_error ignored;
	struct cg_plan plan;
	char reason[OCR_ERROR_MSG_MAX + 512] = "";
	bool strict = strict_mode(spec);
	size_t n;
	int rc = -1;

	if (cg_plan_build(r, NULL, &plan, err) < 0)
		return -1;
	if (cgroup_fs_mount(&h.mount, &h.unified, &ignored) < 0)
		h.mount = NULL;
	n = candidates(ctx, &h, spec->linux_ ? spec->linux_->cgroups_path : NULL, c, reason, sizeof(reason));
	rc = try_create(ctx, id, spec, pid, &plan, c, n, reason, sizeof(reason), &cg, err);
	if (rc == -2)
		goto fail;
	if (rc < 0) {
		bool explicit = ctx->cgroup_manager == OCR_CGROUP_SYSTEMD || ctx->cgroup_manager == OCR_CGROUP_CGROUPFS;
		/* Root asked for a manager: that it failed is an error. */
		if (explicit && !rootless(ctx))
			goto fail;
		ocr_error_clear(err);
	}
	rc = -1;
	if (cg == NULL) {
		cg = cgroup_new(ctx, id);
		cg->reason = xstrdup(reason);
		if (cg_plan_requested(&plan)) {
			if (report_limits(ctx, limits_message(ctx, &h, &plan, cg, reason), strict, err) < 0)
				goto fail;
		} else {
			ocr_debug(&ctx->log, "container `%s` runs without a cgroup: %s", id, reason);
		}
	} else if (report_limits(ctx, limits_message(ctx, &h, &plan, cg, NULL), strict, err) < 0) {
		cg->backend->destroy(cg, &ignored);
		goto fail;
	}
	cg->plan = NULL;
	record(state_extra, cg);
	*ret = steal_pointer(&cg);
	rc = 0;
fail:
	cgroup_free(cg);
	cg_plan_clear(&plan);
	host_cgroups_clear(&h);
	return rc < 0 ? -1 : 0;
}

static const char *member_str(json_t *o, const char *key)
{
	return json_string_value(json_object_get(o, key));
}

int cgroup_load(const struct ocr_ctx *ctx, const char *id, json_t *state_extra, struct ocr_cgroup **ret,
		struct ocr_error *err)
{
	json_t *o = json_object_get(state_extra, "cgroup");
	const char *manager = member_str(o, "manager"), *path = member_str(o, "path");
	struct ocr_cgroup *cg = cgroup_new(ctx, id);

	(void)err;
	cg->unit = xstrdup(member_str(o, "unit"));
	cg->bus = xstrdup(member_str(o, "bus"));
	cg->reason = xstrdup(member_str(o, "reason"));
	if (manager && path && path[0] == '/' && strstr(path, "/..") == NULL) {
		if (strcmp(manager, "cgroupfs") == 0)
			cg->backend = &cgroup_fs_backend;
		else if (strcmp(manager, "systemd") == 0)
			cg->backend = &cgroup_systemd_backend;
		if (cg->backend != &disabled_backend)
			cg->path = xstrdup(path);
	}
	*ret = cg;
	return 0;
}

/* ---- dispatch ------------------------------------------------------------------- */

int cgroup_enter(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err)
{
	return cg->backend->enter(cg, pid, err);
}

int cgroup_update(struct ocr_cgroup *cg, const struct spec_resources *r, struct ocr_error *err)
{
	char msg[2048] = "";

	cg->missing = 0;
	if (cg->backend->update(cg, r, err) < 0)
		return -1;
	/* `update` is an explicit request: what cannot be applied fails it. */
	if (cg->missing) {
		cleanup_free char *ctls = cg_controllers_format(cg->missing);
		cleanup_free char *mnt = NULL;
		struct ocr_error ignored;
		bool unified = false;
		bool multi = strchr(ctls, ',') != NULL;

		if (cgroup_fs_mount(&mnt, &unified, &ignored) == 0 && !unified)
			return ocr_fail(
				err, ENOTSUP,
				"cgroup v1/hybrid host: cgroup `%s` has no %s controller%s (the v1 controllers are "
				"not usable rootless); limits need a host with cgroup v2 only "
				"(systemd.unified_cgroup_hierarchy=1)",
				cg->path, ctls, multi ? "s" : "");
		return ocr_fail(err, ENOTSUP,
				"cgroup `%s` has no %s controller%s (not delegated to uid %u); " FIX_DROPIN, cg->path,
				ctls, multi ? "s" : "", (unsigned)cg->ctx->euid);
	}
	for (char **u = cg->unapplied; u && *u; u++)
		append(msg, sizeof(msg), ", ", *u);
	if (msg[0])
		return ocr_fail(err, ENOTSUP, "not applied, the kernel has no such file: %s", msg);
	return 0;
}

int cgroup_freeze(struct ocr_cgroup *cg, bool frozen, struct ocr_error *err)
{
	return cg->backend->freeze(cg, frozen, err);
}

int cgroup_kill(struct ocr_cgroup *cg, int sig, struct ocr_error *err)
{
	return cg->backend->kill(cg, sig, err);
}

int cgroup_pids(struct ocr_cgroup *cg, pid_t **ret, size_t *ret_n, struct ocr_error *err)
{
	return cg->backend->pids(cg, ret, ret_n, err);
}

int cgroup_stats(struct ocr_cgroup *cg, json_t **ret, struct ocr_error *err)
{
	return cg->backend->stats(cg, ret, err);
}

int cgroup_destroy(struct ocr_cgroup *cg, struct ocr_error *err)
{
	return cg->backend->destroy(cg, err);
}

bool cgroup_enabled(const struct ocr_cgroup *cg)
{
	return cg != NULL && cg->backend != &disabled_backend;
}

void cgroup_free(struct ocr_cgroup *cg)
{
	if (cg == NULL)
		return;
	free(cg->id);
	free(cg->path);
	free(cg->unit);
	free(cg->priv);
	strv_free(cg->unapplied);
	free(cg->bus);
	free(cg->reason);
	free(cg);
}
