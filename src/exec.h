/* exec: run another process in a running container, joining every one of
 * its namespaces (user first) and taking its process defaults. */
#ifndef OCR_EXEC_H
#define OCR_EXEC_H

#include <stdbool.h>
#include <stdint.h>

#include "ctx.h"
#include "error.h"

struct exec_opts {
	const char *id;
	const char *process_file; /* --process: a runtime-spec process JSON */
	bool tty, detach, no_new_privs;
	const char *console_socket, *pid_file, *cwd, *user, *apparmor, *process_label;
	int preserve_fds;
	char **env; /* --env K=V, NULL-terminated */
	char **caps; /* --cap, NULL-terminated */
	uint32_t *additional_gids;
	size_t n_additional_gids;
	char **args; /* command, NULL-terminated */
};

int container_exec(const struct ocr_ctx *ctx, const struct exec_opts *o, int *ret_status, struct ocr_error *err);

#endif
