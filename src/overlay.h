/* Layered rootfs: read-only lower directories (top first) and an upper
 * directory, assembled with kernel overlayfs inside the container's user
 * namespace when allowed, fuse-overlayfs otherwise. */
#ifndef OCR_OVERLAY_H
#define OCR_OVERLAY_H

#include <jansson.h>
#include <stdbool.h>

#include "ctx.h"
#include "error.h"
#include "log.h"
#include "spec.h"

struct overlay_options {
	char **layers;      /* --layer DIR (repeatable, top first), NULL-terminated */
	const char *upper;  /* --upper DIR */
	const char *mode;   /* --overlay auto|kernel|fuse */
};

/* What create decided, handed from the runtime to the container's init. */
struct overlay_plan {
	bool enabled;
	char *merged;   /* the mount point, used as the rootfs */
	void *priv;     /* implementation data */
};

/* In the runtime, before the container's init exists: does the bundle
 * (annotations) or the command line ask for layers? Prepare the
 * directories (an ephemeral upper/work in the state directory) and fill
 * PLAN; record in EXTRA (member "overlay") what delete must clean. */
int overlay_plan_make(const struct ocr_ctx *ctx, const struct spec *spec, const struct overlay_options *o,
		      int state_dirfd, const char *state_dir, json_t *extra, struct overlay_plan *plan,
		      struct ocr_error *err);
/* In the container's init, inside its user and mount namespaces, before
 * the rootfs is assembled: mount the overlay at PLAN->merged. */
int overlay_mount(const struct overlay_plan *plan, const struct ocr_log *log, struct ocr_error *err);
/* At delete (and a failed create): unmount/reap and remove what
 * overlay_plan_make made. Idempotent. */
int overlay_cleanup(const struct ocr_ctx *ctx, int state_dirfd, json_t *extra, struct ocr_error *err);
void overlay_plan_clear(struct overlay_plan *plan);

#endif
