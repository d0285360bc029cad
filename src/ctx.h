/* Global options of one invocation, built by main() and passed down: the
 * only place where per-run settings live (no mutable globals). */
#ifndef OCR_CTX_H
#define OCR_CTX_H

#include <stdbool.h>
#include <sys/types.h>

#include "log.h"

enum ocr_cgroup_manager {
	OCR_CGROUP_AUTO,
	OCR_CGROUP_SYSTEMD,
	OCR_CGROUP_CGROUPFS,
	OCR_CGROUP_DISABLED,
};

struct ocr_ctx {
	const char *root; /* state root, resolved */
	struct ocr_log log;
	enum ocr_cgroup_manager cgroup_manager;
	uid_t euid;
	gid_t egid;
	bool initial_userns; /* running in the host's user namespace */
	const char *idmap_helper; /* --idmap-helper, or NULL */
};

#endif
