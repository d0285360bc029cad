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
	const char *name; /* "systemd", "cgroupfs", "disabled" */
	int (*create)(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err);
	int (*enter)(struct ocr_cgroup *cg, pid_t pid, struct ocr_error *err);
	int (*update)(struct ocr_cgroup *cg, const struct spec_resources *r, struct ocr_error *err);
	int (*freeze)(struct ocr_cgroup *cg, bool frozen, struct ocr_error *err);
	int (*kill)(struct ocr_cgroup *cg, int sig, struct ocr_error *err);
	int (*pids)(struct ocr_cgroup *cg, pid_t **ret, size_t *ret_n, struct ocr_error *err);
	int (*stats)(struct ocr_cgroup *cg, json_t **ret, struct ocr_error *err);
	int (*destroy)(struct ocr_cgroup *cg, struct ocr_error *err);
};

struct cg_plan;

struct ocr_cgroup {
	const struct cgroup_backend *backend;
	const struct ocr_ctx *ctx;
	char *id;
	char *path; /* absolute cgroupfs path when there is one */
	char *unit; /* systemd unit name when there is one */
	void *priv; /* backend data */
	/* Set by cgroup.c for create: */
	const char *cgroups_path; /* linux.cgroupsPath, may be NULL */
	const struct cg_plan *plan; /* the converted linux.resources */
	/* Filled by a backend's create/update: */
	unsigned missing; /* controllers the plan needs that the cgroup lacks */
	char **unapplied; /* fields whose file does not exist (NULL-terminated) */
	char *bus; /* systemd: "user" or "system" */
	char *reason; /* disabled: why there is no cgroup */
};

/* Choose a manager (ctx->cgroup_manager, then what the host offers), make
 * the container's cgroup, move PID into it and apply SPEC's resources.
 * Rootless with no limits asked: a cgroup that cannot be made is a debug
 * line and the disabled manager. Records what it made into STATE_EXTRA
 * (member "cgroup") for later invocations. */
int cgroup_create(const struct ocr_ctx *ctx, const char *id, const struct spec *spec, pid_t pid, json_t *state_extra,
		  struct ocr_cgroup **ret, struct ocr_error *err);
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

/* Resources of linux.resources that would be applied (not devices). */
bool cgroup_resources_requested(const struct spec_resources *r);
/* Strict mode: OCIRT_CGROUP_STRICT=1 or the annotation
 * run.oci.ocirt.cgroup-strict=true turn "limits cannot be applied" from a
 * warning into an error. */
#define CGROUP_STRICT_ANNOTATION "run.oci.ocirt.cgroup-strict"
#define CGROUP_STRICT_ENV "OCIRT_CGROUP_STRICT"

/* ---- for the backends (cgroup-fs.c, cgroup-systemd.c) ------------------- */

/* Where the runtime moves the processes of its own cgroup when it must
 * enable controllers there (cgroup v2 "no internal processes" rule). */
#define CGROUP_LEAF_NAME "ocirt-leaf"

extern const struct cgroup_backend cgroup_fs_backend;
extern const struct cgroup_backend cgroup_systemd_backend;

/* The cgroup v2 mount: "/sys/fs/cgroup" on a unified host (*RET_UNIFIED),
 * the first cgroup2 mount (e.g. /sys/fs/cgroup/unified) on a hybrid one;
 * ENOENT when there is none. */
int cgroup_fs_mount(char **ret, bool *ret_unified, struct ocr_error *err);
/* PID's cgroup v2 path as a directory under the mount (0 = ourselves). */
int cgroup_fs_pid_dir(pid_t pid, char **ret, struct ocr_error *err);
/* Can we create cgroups below our own cgroup (or below its parent when
 * we live in CGROUP_LEAF_NAME)? Sets *RET_BASE to that directory. */
bool cgroup_fs_own_writable(char **ret_base);
/* Controllers listed in DIR/cgroup.controllers. */
unsigned cgroup_fs_controllers(const char *dir);
/* Write PLAN into DIR: writes of controllers DIR lacks are skipped and
 * reported in CG->missing; files that do not exist go to CG->unapplied;
 * any other failure is an error naming field, file and value. */
int cgroup_fs_apply(struct ocr_cgroup *cg, const char *dir, const struct cg_plan *plan, struct ocr_error *err);
/* The plan for `update`: R merged with DIR's current values (a period
 * alone keeps the quota; swap alone uses the current memory limit), and
 * memory.checkBeforeUpdate checked against memory.current. */
int cgroup_fs_update_plan(const char *dir, const struct spec_resources *r, struct cg_plan *ret, struct ocr_error *err);
int cgroup_fs_enter_dir(const char *dir, pid_t pid, struct ocr_error *err);
int cgroup_fs_freeze_dir(const char *dir, bool frozen, struct ocr_error *err);
int cgroup_fs_kill_dir(const char *dir, int sig, struct ocr_error *err);
int cgroup_fs_pids_dir(const char *dir, pid_t **ret, size_t *ret_n, struct ocr_error *err);
int cgroup_fs_stats_dir(const char *dir, json_t **ret, struct ocr_error *err);
/* Kill what is left and rmdir DIR (and cgroups below it), bounded. */
int cgroup_fs_remove_dir(const char *dir, struct ocr_error *err);

#endif
