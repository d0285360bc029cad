/* Id-mapping policy: which uid/gid maps a new user namespace gets, and
 * writing them (directly, or through newuidmap/newgidmap or the
 * newuidmap-shim when they reach beyond the caller's own id). Ranges come
 * from libsubid, then /etc/subuid and /etc/subgid (subid.h). */
#ifndef OCR_IDMAP_H
#define OCR_IDMAP_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "ctx.h"
#include "error.h"
#include "spec.h"
#include "subid.h"

#define IDMAP_MAX_LINES SUBID_MAX_RANGES /* kernel limit on uid_map lines */

/* The environment variable that names the helper, like --idmap-helper. */
#define IDMAP_HELPER_ENV "OCIRT_IDMAP_HELPER"

/* A program that writes uid_map/gid_map for us. */
struct idmap_helper {
	char path[PATH_MAX]; /* "" when none was found */
	bool shim; /* newuidmap-shim's command line: [--gid] PID ... */
	bool configured; /* from --idmap-helper or OCIRT_IDMAP_HELPER */
	const char *found; /* how it was found, for --debug ("PATH", ...) */
	/* The shim: shadow's helper found first on PATH, which cannot write
	 * maps (no setuid bit or file capability). Else "". */
	char passed_over[PATH_MAX];
	/* Shadow's helper that cannot write maps: a newuidmap-shim that was
	 * found and cannot either, for the message. Else "". */
	char shim_unusable[PATH_MAX];
};

struct idmap_plan {
	bool new_userns;
	struct spec_idmap uid[IDMAP_MAX_LINES], gid[IDMAP_MAX_LINES];
	size_t n_uid, n_gid;
	bool uid_helper, gid_helper; /* write through the helpers below */
	bool deny_setgroups; /* single-id gid map written directly */
	bool single_id; /* fell back to caller -> 0 only */
	bool from_config; /* the maps are linux.uid/gidMappings */
	struct idmap_helper uid_tool, gid_tool;
	char single_id_why[512]; /* why single_id, and its fix */
};

/* Subordinate ranges of USER (or numeric UID) in FILE (/etc/subuid). */
int idmap_read_subids(const char *file, const char *user, uid_t uid, struct idmap_range *ret, size_t max, size_t *ret_n,
		      struct ocr_error *err);

/* Decide the plan for SPEC run by this caller; may log one warning. */
int idmap_plan_build(const struct ocr_ctx *ctx, const struct spec *spec, struct idmap_plan *plan,
		     struct ocr_error *err);

/* Refuse, before anything starts, a process.user uid/gid, additionalGids,
 * mount uid=/gid= option or linux.devices owner that the planned maps do
 * not map; the message names the id and what to change. */
int idmap_check_spec(const struct idmap_plan *plan, const struct spec *spec, struct ocr_error *err);

/* Write the maps of PID's user namespace as planned. */
int idmap_apply(const struct ocr_ctx *ctx, pid_t pid, const struct idmap_plan *plan, struct ocr_error *err);

/* The rootless default map into M (IDMAP_MAX_LINES lines): OWN -> 0, then
 * the ranges R from container id 1 on, with OWN cut out of a range that
 * holds it and ranges overlapping an earlier one skipped (the kernel
 * refuses overlapping host ranges). Returns the number of lines. */
size_t idmap_default_map(struct spec_idmap *m, uint32_t own, const struct idmap_range *r, size_t nr);

/* Host id for container id ID under MAP (-1 when unmapped). */
int64_t idmap_to_host(const struct spec_idmap *map, size_t n, uint32_t id);

/* The helper for KIND: --idmap-helper / OCIRT_IDMAP_HELPER when set, else
 * newuidmap/newgidmap on PATH, else newuidmap-shim next to this binary or
 * on PATH. Shadow's helper on PATH that cannot work (see
 * idmap_helper_usable) gives way to a shim that can. RET->path is empty
 * when there is none; a configured helper that is not executable is an
 * error. */
int idmap_helper_find(const struct ocr_ctx *ctx, enum subid_kind kind, struct idmap_helper *ret, struct ocr_error *err);

/* Can H write maps for KIND: setuid root, or cap_setuid (cap_setgid)
 * file capability, and not on a nosuid mount? When not, WHY (may be NULL
 * with LEN 0) gets the reason and the command that fixes it. */
bool idmap_helper_usable(const struct idmap_helper *h, enum subid_kind kind, char *why, size_t len);

/* Why unshare(CLONE_NEWUSER) (or writing the first map) failed with
 * ERRNUM on this host, naming the knob and the command that changes it:
 * user.max_user_namespaces, kernel.unprivileged_userns_clone,
 * kernel.apparmor_restrict_unprivileged_userns, a seccomp filter, a
 * chroot. BUF always gets a message. */
void idmap_explain_userns_failure(int errnum, char *buf, size_t len);

/* "/etc/subuid" line that would give USER a fresh 65536-id range. */
void idmap_suggest_subid_line(enum subid_kind kind, const char *user, char *buf, size_t len);

#endif
