/* Id-mapping policy: which uid/gid maps a new user namespace gets, and
 * writing them (directly, or through newuidmap/newgidmap when they reach
 * beyond the caller's own id). */
#ifndef OCR_IDMAP_H
#define OCR_IDMAP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctx.h"
#include "error.h"
#include "spec.h"

#define IDMAP_MAX_LINES 340  /* kernel limit on uid_map lines */

struct idmap_range { uint32_t start, count; };

struct idmap_plan {
	bool new_userns;
	struct spec_idmap uid[IDMAP_MAX_LINES], gid[IDMAP_MAX_LINES];
	size_t n_uid, n_gid;
	bool uid_helper, gid_helper;  /* write through newuidmap/newgidmap */
	bool deny_setgroups;          /* single-id gid map written directly */
	bool single_id;               /* fell back to caller -> 0 only */
};

/* Subordinate ranges of USER (or numeric UID) in FILE (/etc/subuid). */
int idmap_read_subids(const char *file, const char *user, uid_t uid,
		      struct idmap_range *ret, size_t max, size_t *ret_n,
		      struct ocr_error *err);

/* Decide the plan for SPEC run by this caller; may log one warning. */
int idmap_plan_build(const struct ocr_ctx *ctx, const struct spec *spec,
		     struct idmap_plan *plan, struct ocr_error *err);

/* Write the maps of PID's user namespace as planned. */
int idmap_apply(const struct ocr_ctx *ctx, pid_t pid,
		const struct idmap_plan *plan, struct ocr_error *err);

/* Host id for container id ID under MAP (-1 when unmapped). */
int64_t idmap_to_host(const struct spec_idmap *map, size_t n, uint32_t id);

#endif
