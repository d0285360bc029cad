#include "network.h"

#include <errno.h>
#include <string.h>

int network_setup(const struct ocr_ctx *ctx, const char *id, const struct spec *spec,
		  const struct net_options *o, pid_t pid, int state_dirfd, json_t *extra,
		  struct ocr_error *err)
{
	const char *ann = spec_annotation(spec, "run.oci.ocirt.network");
	const char *mode = o && o->mode ? o->mode : ann;

	(void)ctx, (void)id, (void)pid, (void)state_dirfd, (void)extra;
	if (mode == NULL || strcmp(mode, "none") == 0)
		return 0;
	return ocr_fail(err, ENOTSUP, "--network `%s`: not supported by this build", mode);
}

int network_teardown(const struct ocr_ctx *ctx, const char *id, int state_dirfd, json_t *extra,
		     struct ocr_error *err)
{
	(void)ctx, (void)id, (void)state_dirfd, (void)extra, (void)err;
	return 0;
}
