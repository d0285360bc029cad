#include "cgroup.h"

#include <string.h>

#include "utils.h"

/* The disabled manager: operations that need a cgroup say so. */
static int no_cgroup(struct ocr_error *err, const char *what)
{
	return ocr_fail(err, ENOTSUP, "%s needs a cgroup, and this container has none "
				      "(no delegated cgroup v2 here: see `ocirt-rootless --help` on --cgroup-manager)", what);
}

static int disabled_create(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err)
{
	(void)cg, (void)pid, (void)err;
	return 0;
}

static int disabled_update(struct ocr_cgroup *cg, const struct spec_resources *r, struct ocr_error *err)
{
	(void)cg, (void)r;
	return no_cgroup(err, "update");
}

static int disabled_freeze(struct ocr_cgroup *cg, bool frozen, struct ocr_error *err)
{
	(void)cg;
	return no_cgroup(err, frozen ? "pause" : "resume");
}

static int disabled_kill(struct ocr_cgroup *cg, int sig, struct ocr_error *err)
{
	(void)cg, (void)sig;
	return no_cgroup(err, "kill through the cgroup");
}

static int disabled_pids(struct ocr_cgroup *cg, pid_t **ret, size_t *ret_n, struct ocr_error *err)
{
	(void)cg, (void)ret, (void)ret_n;
	return no_cgroup(err, "listing processes through the cgroup");
}

static int disabled_stats(struct ocr_cgroup *cg, json_t **ret, struct ocr_error *err)
{
	(void)cg, (void)ret;
	return no_cgroup(err, "stats");
}

static int disabled_destroy(struct ocr_cgroup *cg, struct ocr_error *err)
{
	(void)cg, (void)err;
	return 0;
}

static const struct cgroup_backend disabled_backend = {
	.name = "disabled", .create = disabled_create, .enter = disabled_create, .update = disabled_update,
	.freeze = disabled_freeze, .kill = disabled_kill, .pids = disabled_pids, .stats = disabled_stats,
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

int cgroup_create(const struct ocr_ctx *ctx, const char *id, const struct spec *spec, pid_t pid,
		  json_t *state_extra, struct ocr_cgroup **ret, struct ocr_error *err)
{
	struct ocr_cgroup *cg = cgroup_new(ctx, id);
	const struct spec_resources *r = spec->linux_ ? spec->linux_->resources : NULL;

	(void)r;
	if (cg->backend->create(cg, pid, err) < 0) {
		cgroup_free(cg);
		return -1;
	}
	json_object_set_new(state_extra, "cgroup", json_pack("{s:s}", "manager", cg->backend->name));
	*ret = cg;
	return 0;
}

int cgroup_load(const struct ocr_ctx *ctx, const char *id, json_t *state_extra, struct ocr_cgroup **ret,
		struct ocr_error *err)
{
	(void)state_extra, (void)err;
	*ret = cgroup_new(ctx, id);
	return 0;
}

int cgroup_enter(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err)
{
	return cg->backend->enter(cg, pid, err);
}

int cgroup_update(struct ocr_cgroup *cg, const struct spec_resources *r, struct ocr_error *err)
{
	return cg->backend->update(cg, r, err);
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
	free(cg);
}
