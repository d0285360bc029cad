/* linux.seccomp with libseccomp. The filter is compiled before the start
 * handshake (errors surface at create) and loaded as late as possible,
 * right before execve. */
#ifndef OCR_SECCOMP_H
#define OCR_SECCOMP_H

#include <sys/types.h>

#include "error.h"
#include "log.h"
#include "spec.h"

struct ocr_seccomp; /* opaque: the compiled filter (scmp_filter_ctx) */

int ocr_seccomp_prepare(const struct spec_seccomp *seccomp, const struct ocr_log *log, struct ocr_seccomp **ret,
			struct ocr_error *err);
/* Connect to listenerPath now (when a rule uses SCMP_ACT_NOTIFY): it is a
 * host path, gone once the process is inside the container's root. */
int ocr_seccomp_connect(struct ocr_seccomp *s, struct ocr_error *err);
/* Load the filter into the calling thread. For SCMP_ACT_NOTIFY rules the
 * listener fd is sent with SCM_RIGHTS to linux.seccomp.listenerPath together
 * with STATE_JSON (the container state, with listenerMetadata) as the
 * runtime-spec prescribes. */
int ocr_seccomp_load(struct ocr_seccomp *s, const char *state_json, struct ocr_error *err);
/* The host pid of the process the filter is for, when it is not the
 * container's init (exec): the listener's message names it. */
void ocr_seccomp_set_pid(struct ocr_seccomp *s, pid_t pid);
void ocr_seccomp_free(struct ocr_seccomp *s);

#endif
