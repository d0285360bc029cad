/* OCI hooks: each runs with the container state JSON on stdin, its own
 * args and env, and its timeout. The caller decides in which namespaces a
 * kind runs (by calling from the right process). */
#ifndef OCR_HOOKS_H
#define OCR_HOOKS_H

#include "error.h"
#include "log.h"
#include "spec.h"

/* Run HOOKS[0..N) in order; stop at the first failure (non-zero exit,
 * killed, timeout) and return -1 with an error naming the hook kind,
 * index and path ("createRuntime hook 0 `/bin/x`: exited with status 3").
 * poststart and poststop failures are warnings: the rest still run and
 * the result is 0, as the runtime-spec says. */
int hooks_run(enum spec_hook_kind kind, const struct spec_hook *hooks, size_t n, const char *state_json,
	      const struct ocr_log *log, struct ocr_error *err);

const char *hooks_kind_name(enum spec_hook_kind kind);

#endif
