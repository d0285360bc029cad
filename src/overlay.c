#include "overlay.h"

#include <errno.h>
#include <stdlib.h>

int overlay_plan_make(const struct ocr_ctx *ctx, const struct spec *spec, const struct overlay_options *o,
		      int state_dirfd, const char *state_dir, json_t *extra, struct overlay_plan *plan,
		      struct ocr_error *err)
{
	(void)ctx, (void)state_dirfd, (void)state_dir, (void)extra;
	plan->enabled = false;
	if ((o && o->layers && o->layers[0]) || spec_annotation(spec, "run.oci.ocirt.layers"))
		return ocr_fail(err, ENOTSUP, "layered rootfs: not supported by this build");
	return 0;
}

int overlay_mount(const struct overlay_plan *plan, const struct ocr_log *log, struct ocr_error *err)
{
	(void)plan, (void)log, (void)err;
	return 0;
}

int overlay_cleanup(const struct ocr_ctx *ctx, int state_dirfd, json_t *extra, struct ocr_error *err)
{
	(void)ctx, (void)state_dirfd, (void)extra, (void)err;
	return 0;
}

void overlay_plan_clear(struct overlay_plan *plan)
{
	free(plan->merged);
	free(plan->priv);
	plan->merged = NULL;
	plan->priv = NULL;
}
