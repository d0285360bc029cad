/* The container's user process: checks done at create (executable, cwd),
 * and the last steps before execve (rlimits, user, capabilities,
 * no_new_privs, seccomp). */
#ifndef OCR_PROCESS_H
#define OCR_PROCESS_H

#include <stdbool.h>
#include <sys/types.h>

#include "error.h"
#include "log.h"
#include "scmp.h"
#include "spec.h"

struct process_plan {
	const struct spec_process *p;
	const struct ocr_log *log;
	char *exec_path; /* resolved at create, malloc'd */
	struct ocr_seccomp *seccomp;
	bool setgroups_denied; /* single-id user namespace */
	int preserve_fds; /* fds 3..3+N-1 stay open */
	bool create_cwd; /* make a missing cwd (create does, as runc) */
	int cwd_fd; /* process.cwd resolved inside the root, or -1 */
	dev_t self_dev; /* the runtime's own binary, never exec'd */
	ino_t self_ino; /* inside a container (CVE-2019-5736) */
};

/* Record the runtime's own binary in PP (call before entering the
 * container's mount namespace). */
void process_note_self(struct process_plan *pp);
/* Resolve args[0] against the process PATH inside the (pivoted) root and
 * check cwd; errors name what is missing. */
int process_prepare(struct process_plan *pp, struct ocr_error *err);
/* rlimits, ioPriority, scheduler: while still privileged. */
int process_apply_limits(const struct spec_process *p, struct ocr_error *err);
/* oomScoreAdj: before the process turns non-dumpable (its /proc files
 * then belong to root) and before it enters the container. */
int process_apply_oom(const struct spec_process *p, struct ocr_error *err);
/* User switch, capabilities, cwd, umask, no_new_privs, seccomp, execve.
 * Returns only on failure. STATE_JSON is for a seccomp listener. */
int process_exec(struct process_plan *pp, const char *state_json, struct ocr_error *err);
void process_plan_clear(struct process_plan *pp);

#endif
