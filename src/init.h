/* The container side of create: stage1 (joins/creates namespaces, gets its
 * id maps, forks init) and init (builds the root, waits for start, execs). */
#ifndef OCR_INIT_H
#define OCR_INIT_H

#include <stdbool.h>

#include "ctx.h"
#include "idmap.h"
#include "overlay.h"
#include "spec.h"

struct init_config {
	const struct ocr_ctx *ctx;
	const struct spec *spec;
	const char *rootfs;
	const struct idmap_plan *plan;
	int sync_fd; /* our end of the sync pair */
	int listen_fd; /* start socket, or -1 when start comes on sync_fd */
	int console_fd; /* connected --console-socket, or -1 */
	bool no_pivot;
	bool detach; /* the runtime exits after create: survive it */
	int preserve_fds;
	const struct overlay_plan *overlay;
};

/* Runs in the forked stage1 process; never returns. */
__attribute__((noreturn)) void init_stage1(const struct init_config *ic);

/* Namespace types handled by create, in the order they are joined. */
extern const int init_namespace_order[8];

#endif
