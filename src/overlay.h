/* Layered rootfs: read-only lower directories (top first) and an upper
 * directory, assembled with kernel overlayfs inside the container's user
 * namespace when allowed, fuse-overlayfs otherwise.
 *
 * Requested by the create/run flags (--layer, --upper, --overlay) or, when
 * no --layer is given, by the bundle's annotations:
 *   run.oci.ocirt.layers   colon-separated absolute lower dirs, top first
 *   run.oci.ocirt.upper    persistent upper dir (default: ephemeral)
 *   run.oci.ocirt.overlay  auto (default) | kernel | fuse
 * What the runtime makes lives in STATE/ID/overlay/: upper/ and work/
 * (when ephemeral), merged/ (the rootfs), fuse.log, and `driver`, the
 * one-line file ("kernel" or "fuse") the container's init writes once it
 * has mounted, which overlay_state_note() turns into the state annotation
 * run.oci.ocirt.overlay.driver and extra["overlay"]["driver"]. A
 * persistent upper gets its work dir next to it, ".NAME.work-ID". All of
 * it but the persistent upper goes at delete.
 *
 * Layer directories use the kernel's userxattr format, which
 * fuse-overlayfs reads too: a whiteout is a character device 0/0, an
 * opaque directory carries user.overlay.opaque=y (see image.h). */
#ifndef OCR_OVERLAY_H
#define OCR_OVERLAY_H

#include <jansson.h>
#include <stdbool.h>

#include "ctx.h"
#include "error.h"
#include "idmap.h"
#include "log.h"
#include "spec.h"

#define OVERLAY_ANN_LAYERS "run.oci.ocirt.layers"
#define OVERLAY_ANN_UPPER "run.oci.ocirt.upper"
#define OVERLAY_ANN_MODE "run.oci.ocirt.overlay"
#define OVERLAY_ANN_DRIVER "run.oci.ocirt.overlay.driver"
/* Far below the kernel's 500; the lowerdir= option must fit a page. */
#define OVERLAY_MAX_LAYERS 128
/* How long the init waits for fuse-overlayfs to mount. */
#define OVERLAY_FUSE_TIMEOUT_MS 10000

struct overlay_options {
	char **layers; /* --layer DIR (repeatable, top first), NULL-terminated */
	const char *upper; /* --upper DIR */
	const char *mode; /* --overlay auto|kernel|fuse */
};

/* What create decided, handed from the runtime to the container's init. */
struct overlay_plan {
	bool enabled;
	char *merged; /* the mount point, used as the rootfs */
	void *priv; /* implementation data */
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

/* After the init reported READY: read the driver it used (kernel or fuse)
 * into EXTRA["overlay"]["driver"] and ANNOTATIONS[OVERLAY_ANN_DRIVER]. No-op
 * without layers; returns 0 (the driver name is informative only). */
int overlay_state_note(int state_dirfd, json_t *extra, json_t *annotations);

/* Work on files owned by the caller's subordinate ids (a container's
 * upper dir, image layers): run FN in a child that is uid 0 in a new user
 * namespace with the rootless default mapping (the one create gives a
 * config without mappings). overlay_userns_plan() decides that mapping;
 * new_userns is false when the caller is root or already in a user
 * namespace, and FN then runs in-process. QUIET drops the warning of the
 * single-id fallback. */
typedef int (*overlay_userns_fn)(void *arg, struct ocr_error *err);
int overlay_userns_plan(const struct ocr_ctx *ctx, bool quiet, struct idmap_plan *ret_plan, struct ocr_error *err);
int overlay_userns_run(const struct ocr_ctx *ctx, const struct idmap_plan *plan, overlay_userns_fn fn, void *arg,
		       struct ocr_error *err);

/* Remove NAME under DIRFD recursively, making unreadable directories of
 * ours readable first; does not cross mount points. */
int overlay_remove_tree(int dirfd, const char *name, struct ocr_error *err);

#endif
