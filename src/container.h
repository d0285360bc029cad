/* The lifecycle operations the verbs call. */
#ifndef OCR_CONTAINER_H
#define OCR_CONTAINER_H

#include <stdbool.h>
#include <stdio.h>

#include "ctx.h"
#include "error.h"
#include "network.h"
#include "overlay.h"

struct container_opts {
	const char *id;
	const char *bundle; /* default "." */
	const char *pid_file;
	const char *console_socket;
	bool no_pivot;
	bool no_new_keyring;
	int preserve_fds;
	bool detach; /* run -d */
	struct net_options net;
	struct overlay_options overlay;
};

int container_create(const struct ocr_ctx *ctx, const struct container_opts *o, struct ocr_error *err);
/* Foreground run returns the exit status to exit with (128+N on signal N);
 * detached run returns 0. */
int container_run(const struct ocr_ctx *ctx, const struct container_opts *o, int *ret_status, struct ocr_error *err);
int container_start(const struct ocr_ctx *ctx, const char *id, struct ocr_error *err);
int container_state(const struct ocr_ctx *ctx, const char *id, char **ret_json, struct ocr_error *err);
int container_list(const struct ocr_ctx *ctx, bool json, bool quiet, FILE *out, struct ocr_error *err);
int container_kill(const struct ocr_ctx *ctx, const char *id, int sig, bool all, struct ocr_error *err);
int container_delete(const struct ocr_ctx *ctx, const char *id, bool force, struct ocr_error *err);

#endif
