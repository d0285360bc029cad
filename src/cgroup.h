/* Cgroup managers behind one interface: systemd (transient scope with
 * Delegate=yes over D-Bus), cgroupfs (a delegated cgroup v2 subtree) and
 * disabled. The runtime only talks to this header. */
#ifndef OCR_CGROUP_H
#define OCR_CGROUP_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"
#include "error.h"
#include "spec.h"

struct ocr_cgroup;

struct cgroup_backend {
	const char *name;  /* "systemd", "cgroupfs", "disabled" */
	int (*create)(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err);
	int (*enter)(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err);
	int (*update)(struct ocr_cgroup *cg, const struct spec_resources *r, struct ocr_error *err);
	int (*freeze)(struct ocr_cgroup *cg, bool frozen, struct ocr_error *err);
	int (*kill)(struct ocr_cgroup *cg, int sig, struct ocr_error *err);
	int (*pids)(struct ocr_cgroup *cg, pid_t **ret, size_t *ret_n, struct ocr_error *err);
	int (*stats)(struct ocr_cgroup *cg, json_t **ret, struct ocr_error *err);
	int (*destroy)(struct ocr_cgroup *cg, struct ocr_error *err);
};

struct ocr_cgroup {
	const struct cgroup_backend *backend;
	const struct ocr_ctx *ctx;
	char *id;
	char *path;       /* absolute cgroupfs path when there is one */
	char *unit;       /* systemd unit name when there is one */
	void *priv;       /* backend data */
};

/* Choose a manager (ctx->cgroup_manager, then what the host offers), make
 * the container's cgroup, move PID into it and apply SPEC's resources.
 * Rootless with no limits asked: a cgroup that cannot be made is a debug
 * line and the disabled manager. Records what it made into STATE_EXTRA
 * (member "cgroup") for later invocations. */
int cgroup_create(const struct ocr_ctx *ctx, const char *id, const struct spec *spec, pid_t pid,
		  json_t *state_extra, struct ocr_cgroup **ret, struct ocr_error *err);
/* The manager recorded by cgroup_create (disabled when none). */
int cgroup_load(const struct ocr_ctx *ctx, const char *id, json_t *state_extra, struct ocr_cgroup **ret,
		struct ocr_error *err);
int cgroup_enter(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err);
int cgroup_update(struct ocr_cgroup *cg, const struct spec_resources *r, struct ocr_error *err);
int cgroup_freeze(struct ocr_cgroup *cg, bool frozen, struct ocr_error *err);
int cgroup_kill(struct ocr_cgroup *cg, int sig, struct ocr_error *err);
int cgroup_pids(struct ocr_cgroup *cg, pid_t **ret, size_t *ret_n, struct ocr_error *err);
int cgroup_stats(struct ocr_cgroup *cg, json_t **ret, struct ocr_error *err);
int cgroup_destroy(struct ocr_cgroup *cg, struct ocr_error *err);
bool cgroup_enabled(const struct ocr_cgroup *cg);
void cgroup_free(struct ocr_cgroup *cg);

#endif
