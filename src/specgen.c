#include "specgen.h"

#include <fcntl.h>
#include <string.h>

#include "spec.h"
#include "utils.h"

int specgen_write(const struct ocr_ctx *ctx, const char *bundle, bool rootless, struct ocr_error *err)
{
	cleanup_free char *path = xasprintf("%s/config.json", bundle);
	cleanup_free char *json = spec_default_json(rootless, ctx->euid, ctx->egid);
	cleanup_close int fd = -1;

	/* O_EXCL: never overwrite a config someone wrote. */
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			return ocr_fail(err, EEXIST, "spec: `%s` already exists; remove it first", path);
		return ocr_fail_errno(err, "spec: create `%s`", path);
	}
	if (write_all(fd, json, strlen(json)) < 0 || write_all(fd, "\n", 1) < 0 || close(steal_fd(&fd)) < 0)
		return ocr_fail_errno(err, "spec: write `%s`", path);
	return 0;
}
