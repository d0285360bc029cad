/* Messages between the runtime and the container's stage1/init over a
 * SOCK_SEQPACKET pair: one record per message, a header and an optional
 * payload (an error text or a state JSON); a payload larger than a record
 * holds goes in SYNC_MORE pieces first, which sync_recv() joins. */
#ifndef OCR_SYNC_H
#define OCR_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "error.h"

enum sync_type {
	SYNC_MAP_REQUEST = 1, /* stage1 -> runtime: write my id maps */
	SYNC_MAP_DONE, /* runtime -> stage1 */
	SYNC_PID, /* stage1 -> runtime: init's pid */
	SYNC_STATE, /* runtime -> init: state JSON, go on */
	SYNC_HOOKS_REQUEST, /* init -> runtime: run prestart/createRuntime */
	SYNC_HOOKS_DONE, /* runtime -> init */
	SYNC_READY, /* init -> runtime: waiting for start */
	SYNC_START, /* runtime/start -> init: exec now */
	SYNC_ERROR, /* either way: payload is the message */
	SYNC_MORE, /* a piece of the next message's payload (sync.c only) */
};

/* A whole payload: a state JSON carries the annotations of a config.json
 * of up to SPEC_MAX_FILE_SIZE (16 MiB), escaped. */
#define SYNC_PAYLOAD_MAX (32u << 20)
/* One record on the socket: below the default socket send buffer. */
#define SYNC_RECORD_MAX (64u << 10)

struct sync_msg {
	int32_t type;
	int32_t err; /* errno of SYNC_ERROR */
	int32_t pid;
	uint32_t len; /* payload bytes that follow in the same record */
	char *payload; /* malloc'd, NUL-terminated, on receive */
};

int sync_send(int fd, int type, pid_t pid, const char *payload, struct ocr_error *err);
int sync_send_error(int fd, const struct ocr_error *e);
/* An error from a lifecycle hook: the runtime must then destroy the
 * container and run the poststop hooks (runtime-spec lifecycle). */
int sync_send_hook_error(int fd, const struct ocr_error *e);
/* Was this SYNC_ERROR sent by sync_send_hook_error()? */
bool sync_is_hook_error(const struct sync_msg *m);
/* Receive one message. Returns 0, or 1 on EOF (peer closed), -1 on error. */
int sync_recv(int fd, struct sync_msg *m, struct ocr_error *err);
/* Receive a message of TYPE; SYNC_ERROR turns into ERR, EOF into EPIPE. */
int sync_expect(int fd, int type, struct sync_msg *m, struct ocr_error *err);
/* Turn a received SYNC_ERROR into ERR; returns -1. */
int sync_error_to(const struct sync_msg *m, struct ocr_error *err);
void sync_msg_clear(struct sync_msg *m);

#endif
