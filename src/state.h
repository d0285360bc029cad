/* The state store: ROOT/ID/ holds state.json (our own record, written
 * atomically) plus the start socket. The status shown to users is derived
 * from the real process, not only from what was written. */
#ifndef OCR_STATE_H
#define OCR_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <sys/types.h>

#include "ctx.h"
#include "error.h"

#define OCR_ID_MAX 1024
#define OCR_STATE_FILE "state.json"
#define OCR_START_SOCKET "start.sock"
#define OCR_OCI_VERSION "1.2.0"
/* state.json holds the annotations of a config.json (SPEC_MAX_FILE_SIZE). */
#define OCR_STATE_MAX (32u << 20)

enum ocr_status {
	OCR_STATUS_CREATING,
	OCR_STATUS_CREATED,
	OCR_STATUS_RUNNING,
	OCR_STATUS_PAUSED,
	OCR_STATUS_STOPPED,
};

struct ocr_state {
	char *id;
	char *bundle;
	char *rootfs;
	char *created; /* RFC 3339 */
	pid_t pid; /* 0 while unknown */
	unsigned long long pid_starttime;
	bool ready; /* init finished create */
	bool started; /* start handed over to the user process */
	bool has_poststart, has_poststop;
	json_t *annotations; /* object, owned */
	json_t *extra; /* object for other modules (cgroup, net), owned */
	uid_t owner;
};

/* Reject ids that are empty, start with "." (so also "." and ".."), are
 * longer than OCR_ID_MAX or contain anything but [A-Za-z0-9_+.-]. */
int state_validate_id(const char *id, struct ocr_error *err);

/* Create ROOT (0700) if needed and check it is ours and private. Returns
 * an O_DIRECTORY fd. */
int state_open_root(const struct ocr_ctx *ctx, bool create, struct ocr_error *err);

/* Exclusively create ROOT/ID, which appears already locked; fails with
 * EEXIST "container `ID` already exists". Returns the directory fd. */
int state_create_dir(int rootfd, const char *id, struct ocr_error *err);
/* Open and lock (flock, exclusive) an existing container directory. */
int state_open_dir(int rootfd, const char *id, struct ocr_error *err);
/* For readers (`state`, `list`), which must never wait for a slow create
 * or delete: a shared lock if free at once, else *RET_BUSY and the
 * directory unlocked (state.json is replaced atomically, so it can still
 * be read). */
int state_open_dir_nowait(int rootfd, const char *id, bool *ret_busy, struct ocr_error *err);

/* Durable records of what create has set up, one per resource, made as the
 * resource is made: a symlink NAME.rec whose target is VALUE (at most
 * PATH_MAX - 1 bytes). One syscall, created whole or not at all, written
 * once; state.json can be lost (a create killed before it is written) or
 * tampered with and `delete --force` still finds the init, its cgroup and
 * the network helper. "init" is "PID STARTTIME"; the others are members
 * of ocr_state.extra as compact JSON. */
#define STATE_REC_INIT "init"
int state_record(int dirfd, const char *name, const char *value, struct ocr_error *err);
/* Record EXTRA[MEMBER], when present. */
int state_record_extra(int dirfd, const json_t *extra, const char *member, struct ocr_error *err);
/* A state built from the records alone, for a state.json that is missing
 * or corrupt: id, the init's pid and start time (0 when unrecorded), extra
 * from the records; ready and started, so its status is running while the
 * recorded init lives and stopped after. */
void state_recover(int dirfd, const char *id, struct ocr_state *st);

int state_write(int dirfd, const struct ocr_state *st, struct ocr_error *err);
int state_read(int dirfd, const char *id, struct ocr_state *st, struct ocr_error *err);
void state_clear(struct ocr_state *st);

/* Status from the record and the process (pid alive with the same start
 * time). */
enum ocr_status state_status(const struct ocr_state *st);
const char *state_status_name(enum ocr_status s);

/* runtime-spec state JSON (+ created, owner, rootfs as runc prints);
 * malloc'd. PRETTY: indented for `state`, compact for hooks. */
/* The user name of the container's owner, or its uid in decimal (runc's
 * "owner"); the caller frees it. */
char *state_owner_name(const struct ocr_state *st);
char *state_oci_json(const struct ocr_state *st, enum ocr_status status, bool pretty);

/* Exactly the runtime-spec state (hooks, a seccomp listener): no owner
 * lookup (NSS may be slow), compact; malloc'd. */
char *state_spec_json(const struct ocr_state *st, enum ocr_status status);

/* Remove ROOT/ID entirely. */
int state_remove_dir(int rootfd, const char *id, struct ocr_error *err);

#endif
